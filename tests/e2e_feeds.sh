#!/usr/bin/env bash
# Every feed in ../shared/corpus/iocs loads, and values taken from each,
# planted in a log, are found by a scan with that feed. Then the database
# subcommands: compile -> scan --db, the cache (a second start reuses it, a
# corrupt cache file is rebuilt), regex rules, allowlists, iocs --explain
# and --builtin. Skipped when ../shared is absent.
. "$(dirname "$0")/lib_e2e.sh"

corpus="$S/../shared/corpus/iocs"
if [ ! -d "$corpus" ]; then
    echo "e2e_feeds: $corpus absent, skipped"
    exit 77
fi

n=0
while IFS= read -r -d '' feed; do
    case "$feed" in
    *.xml | *.ioc | *README* | */stix1/*) continue ;; # not IOC feeds we read
    esac
    n=$((n + 1))
    run "$B" iocs --explain --all-attributes -i "$feed" >"$W/explain.tsv" 2>"$W/err.txt"
    [ "$rc" -le 1 ] || fail "iocs --explain $feed exited $rc: $(cat "$W/err.txt")"
    # Up to 4 values of each plantable type, each in a line of its own.
    python3 - "$W/explain.tsv" "$W/plant.log" "$W/want.txt" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
by_type = {}
for r in rows:
    if len(r) < 5 or r[4].startswith("skipped") or r[4].startswith("duplicate"):
        continue
    typ, val = r[1], r[2]
    if typ in ("regex", "string", "cidr") or not val.isascii():
        continue
    by_type.setdefault(typ, []).append(val)
want = []
with open(sys.argv[2], "w") as f:
    for typ, vals in sorted(by_type.items()):
        for v in vals[:4]:
            text = v.split("://", 1)[-1] if typ == "url" else v
            f.write("2026-11-22T00:00:00Z host app: saw %s here\n" % text)
            want.append(v)
open(sys.argv[3], "w").write("".join(v + "\n" for v in want))
PY
    [ -s "$W/want.txt" ] || continue
    run "$B" scan --no-cache --all-attributes -i "$feed" --format json \
        "$W/plant.log" >"$W/ev.jsonl" 2>"$W/err.txt"
    expect_status 0 "scan with $feed"
    python3 - "$W/ev.jsonl" "$W/want.txt" "$feed" <<'PY'
import json, sys
got = set()
for l in open(sys.argv[1]):
    e = json.loads(l)
    got.add((e["iocstream"]["line"], e["threat"]["enrichments"][0]["indicator"]["name"]))
want = [v.strip() for v in open(sys.argv[2])]
missing = [v for i, v in enumerate(want, 1) if (i, v) not in got]
if missing:
    sys.exit("%s: planted values not found: %s" % (sys.argv[3], missing[:5]))
PY
done < <(find "$corpus" -type f -print0 | sort -z)
[ "$n" -gt 60 ] || fail "only $n feeds tried"

# The 3,926 indicators of the Talos STIX bundle all load.
"$B" compile -i "$corpus/stix2/talos_2024-04_vpn-ssh-bruteforce.stix2.json" \
    -o "$W/talos.db" >"$W/compile.txt"
grep -q "3926" "$W/compile.txt" || fail "STIX bundle: $(cat "$W/compile.txt")"

# compile -> scan --db finds what scan -i finds.
printf 'x 193.142.147.148 y\n' >"$W/one.log"
talos_ip=$(python3 -c 'import json,sys
b=json.load(open(sys.argv[1]))
for o in b["objects"]:
    p=o.get("pattern","")
    if "value = " in p:
        print(p.split("value = ")[1].split("\x27")[1]); break' \
    "$corpus/stix2/talos_2024-04_vpn-ssh-bruteforce.stix2.json")
printf 'x %s y\n' "$talos_ip" >"$W/one.log"
run "$B" scan --db "$W/talos.db" --format json "$W/one.log" >"$W/db.jsonl"
expect_status 0 "scan --db"
grep -q "\"$talos_ip\"" "$W/db.jsonl" || fail "scan --db missed $talos_ip"
printf 'garbage' >"$W/bad.db"
run "$B" scan --db "$W/bad.db" "$W/one.log" 2>"$W/err.txt"
expect_status 2 "scan --db with a bad file"
grep -q "bad.db" "$W/err.txt" || fail "bad --db not named"

# The cache: the second start is a hit; a corrupt cache file is rebuilt.
feed="$corpus/signature-base/c2-iocs.txt"
"$B" scan --stats -i "$feed" "$W/one.log" -o /dev/null 2>"$W/s1.txt" || true
"$B" scan --stats -i "$feed" "$W/one.log" -o /dev/null 2>"$W/s2.txt" || true
grep -qi "cache" "$W/s2.txt" || fail "no cache line in --stats: $(cat "$W/s2.txt")"
for f in "$XDG_CACHE_HOME"/iocstream/*.db; do
    printf 'XXXX' | dd of="$f" bs=1 seek=200 conv=notrunc status=none
done
run "$B" scan --stats -i "$feed" "$W/one.log" -o /dev/null 2>"$W/s3.txt"
[ "$rc" -le 1 ] || fail "a corrupt cache broke the scan: $(cat "$W/s3.txt")"

# Regex rules and allowlists.
printf 'bt-1 90 /ingredi support desk customer thin/i BeyondTrust exploit\n' >"$W/rules.txt"
printf 'GET /nw Sec-WebSocket-Protocol: Ingredi Support Desk Customer Thin\n' >"$W/ws.log"
run "$B" scan --rules "$W/rules.txt" --format json "$W/ws.log" >"$W/rule.jsonl"
expect_status 0 "regex rule"
printf 'bad 90 /a(b/ broken\n' >"$W/badrules.txt"
run "$B" scan --strict --rules "$W/badrules.txt" "$W/ws.log" 2>"$W/err.txt"
expect_status 2 "bad regex rule"
grep -q "badrules.txt:1" "$W/err.txt" || fail "bad rule not reported as file:line"
printf 'evil.example\n10.9.0.0/16\n' >"$W/iocs.txt"
printf '10.9.0.53\n' >"$W/allow.txt"
printf 'a 10.9.0.53 b\nc 10.9.1.1 d\n' >"$W/net.log"
run "$B" scan -i "$W/iocs.txt" --allow "$W/allow.txt" --format json "$W/net.log" >"$W/allow.jsonl"
expect_status 0 "allowlist"
[ "$(wc -l <"$W/allow.jsonl")" -eq 1 ] || fail "allowlisted address alerted: $(cat "$W/allow.jsonl")"
grep -q '"10.9.1.1"' "$W/allow.jsonl" || fail "the other address did not alert"

# iocs --builtin lists the pack, every entry with a reference.
"$B" iocs --builtin >"$W/pack.tsv"
python3 - "$W/pack.tsv" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
assert len(rows) > 30, len(rows)
assert all(r[-1].strip() for r in rows), "an entry without a reference"
assert any("24.144.114.85" in r[1] for r in rows)
PY
echo "e2e_feeds: ok ($n feeds)"
