#!/usr/bin/env bash
# Real feeds load as typed indicators (issue 9), over ../shared/corpus:
# - every Maltrail and Talos list loads with no untyped entry: nothing is
#   loaded as a text IOC, every skipped value is reported "not an
#   indicator", and each feed ends with its hygiene summary;
# - a scan of every corpus log (not the binary .evtx files) with all of them
#   raises no event whose matched text is a bare word or number;
# - the address of every Maltrail `ip:port` entry, planted with the port in
#   a field of its own and as A:P, is found with threat.indicator.port, and
#   '2' + address + ':port' is not;
# - signature-base's filename-iocs.txt (line 2060 does not compile) loads,
#   says which line it skipped, and scans; --strict refuses it.
# Skipped (77) when ../shared is absent.
. "$(dirname "$0")/lib_e2e.sh"

corpus="$S/../shared/corpus"
if [ ! -d "$corpus/iocs/maltrail" ] || [ ! -d "$corpus/logs" ]; then
    echo "e2e_realfeeds: $corpus absent, skipped"
    exit 77
fi

feeds=()
while IFS= read -r -d '' f; do
    feeds+=(-i "$f")
done < <(find "$corpus/iocs/maltrail" "$corpus/iocs/talos" -name '*.txt' \
    -type f -print0 | sort -z)
[ "${#feeds[@]}" -ge 80 ] || fail "only $((${#feeds[@]} / 2)) lists found"

# 1. iocs --explain: typed values only, skips reported, one summary per feed.
run "$B" iocs --explain "${feeds[@]}" >"$W/explain.tsv" 2>"$W/err.txt"
[ "$rc" -le 1 ] || fail "iocs --explain exited $rc: $(cat "$W/err.txt")"
python3 - "$W/explain.tsv" $((${#feeds[@]} / 2)) <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
nfeeds = int(sys.argv[2])
rows = [l.split("\t") for l in lines[1:] if not l.startswith("# ")]
summaries = [l for l in lines if l.startswith("# ")]
typed = {"ipv4", "ipv6", "cidr", "domain", "url", "email", "md5", "sha1",
         "sha256", "sha512", "filename"}
loaded = [r for r in rows if r[1] != "-"]
bad = [r for r in loaded if r[1] not in typed]
if bad:
    sys.exit("untyped values loaded: %s" % bad[:5])
skipped = [r for r in rows if r[1] == "-"]
why = {r[4] for r in skipped}
if why != {"skipped: not an indicator; load text IOCs with --strings FILE"}:
    sys.exit("unexpected skip reasons: %s" % sorted(why)[:5])
values = {r[2] for r in skipped}
for header in ("usernames:", "ip addresses:", "passwords:"):
    if header not in values:
        sys.exit("Talos section header %r was not skipped" % header)
# The rules of issue 9 on the lists' own entries.
by_value = {r[2]: r[1] for r in loaded}
for v, t in (("unwomen.org/jquery-3.3.1.min.js", "url"),
             ("ando.co.kr/service/s_top.asp", "url"),
             ("144.34.218.157", "ipv4")):
    if by_value.get(v) != t:
        sys.exit("%s: loaded as %s, want %s" % (v, by_value.get(v), t))
if len(summaries) != nfeeds or not all("; skipped: not an indicator" in s
                                       for s in summaries):
    sys.exit("%d hygiene summaries for %d feeds" % (len(summaries), nfeeds))
if len(loaded) < 100000:
    sys.exit("only %d values loaded" % len(loaded))
PY

# 2. Every corpus log with every list: no bare word or number matched.
mapfile -d '' logs < <(find "$corpus/logs" -type f ! -name '*.evtx' -print0 |
    sort -z)
[ "${#logs[@]}" -gt 50 ] || fail "only ${#logs[@]} logs"
run "$B" scan --no-cache "${feeds[@]}" --format json "${logs[@]}" \
    >"$W/corpus.jsonl" 2>"$W/err.txt"
[ "$rc" -le 1 ] || fail "corpus scan exited $rc: $(tail -3 "$W/err.txt")"
python3 - "$W/corpus.jsonl" <<'PY'
import json, re, sys
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    m = e["threat"]["enrichments"][0]["matched"]["atomic"]
    n += 1
    if re.fullmatch(r"[A-Za-z_-]+|[0-9]+", m):
        sys.exit("bare word or number matched: %r in %s" %
                 (m, e["log"]["file"]["path"]))
print("corpus scan: %d events, none a bare word or number" % n)
PY

# 3. ip:port entries: the address wherever the log writes the port.
python3 - "$corpus/iocs/maltrail" "$W/ports.log" "$W/ports.want" <<'PY'
import os, re, sys
src, log, want = sys.argv[1:]
pat = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})\s*(?:#.*)?$")
ports = {}
for name in sorted(os.listdir(src)):
    for l in open(os.path.join(src, name), encoding="utf-8", errors="replace"):
        m = pat.match(l.strip())
        if m and all(0 <= int(o) <= 255 and (o == "0" or o[0] != "0")
                     for o in m.group(1).split(".")) and 0 < int(m.group(2)) < 65536:
            ports.setdefault(m.group(1), set()).add(int(m.group(2)))
if len(ports) < 1000:
    sys.exit("only %d ip:port addresses" % len(ports))
with open(log, "w") as f, open(want, "w") as w:
    n = 0
    for a, ps in sorted(ports.items()):
        p = min(ps)
        n += 1
        f.write("2026-11-22T00:00:00Z fw: SrcIP: 10.1.1.1, DstIP: %s, DstPort: %d\n" % (a, p))
        w.write("%d %s %s\n" % (n, a, ",".join(map(str, sorted(ps)))))
        n += 1
        f.write("2026-11-22T00:00:00Z proxy: CONNECT %s:%d HTTP/1.1\n" % (a, p))
        w.write("%d %s %s\n" % (n, a, ",".join(map(str, sorted(ps)))))
        if int(a.split(".")[0]) >= 56:  # "2" + octet is no octet at all
            n += 1
            f.write("2026-11-22T00:00:00Z proxy: CONNECT 2%s:%d HTTP/1.1\n" % (a, p))
            w.write("%d - -\n" % n)
PY
run "$B" scan --no-cache "${feeds[@]}" --format json "$W/ports.log" \
    >"$W/ports.jsonl" 2>"$W/err.txt"
[ "$rc" -eq 0 ] || fail "ip:port scan exited $rc: $(tail -3 "$W/err.txt")"
python3 - "$W/ports.jsonl" "$W/ports.want" <<'PY'
import json, sys
got = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    ind = e["threat"]["enrichments"][0]["indicator"]
    got.setdefault(e["iocstream"]["line"], []).append(ind)
missing, wrong, bad_port = [], [], []
found = 0
for l in open(sys.argv[2]):
    n, a, ps = l.split()
    evs = got.get(int(n), [])
    if a == "-":
        if evs:
            wrong.append((n, [x.get("ip") for x in evs]))
        continue
    hit = [x for x in evs if x.get("ip") == a]
    if not hit:
        missing.append(a)
        continue
    found += 1
    if not any(x.get("port") in set(map(int, ps.split(","))) for x in hit):
        bad_port.append((a, [x.get("port") for x in hit]))
if missing or wrong or bad_port:
    sys.exit("ip:port: %d missing %s, %d wrong %s, %d without port %s" %
             (len(missing), missing[:3], len(wrong), wrong[:3],
              len(bad_port), bad_port[:3]))
print("ip:port: %d planted addresses found, none past a '2'" % found)
PY

# 4. One expression Hyperscan cannot compile never stops a load.
fn="$corpus/iocs/signature-base/filename-iocs.txt"
if [ -f "$fn" ]; then
    printf 'x C:\\Windows\\Temp\\mimikatz.exe y\n' >"$W/fn.log"
    run "$B" scan --no-cache -i "$fn" --format json "$W/fn.log" \
        >"$W/fn.jsonl" 2>"$W/err.txt"
    [ "$rc" -le 1 ] || fail "filename-iocs scan exited $rc"
    grep -q "filename-iocs.txt:2060: Hyperscan" "$W/err.txt" ||
        fail "line 2060 not reported: $(head -3 "$W/err.txt")"
    run "$B" scan --no-cache --strict -i "$fn" "$W/fn.log" >/dev/null 2>&1
    expect_status 2 "--strict with a line Hyperscan refuses"
fi
echo "e2e_realfeeds: ok"
