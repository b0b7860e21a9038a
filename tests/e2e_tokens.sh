#!/usr/bin/env bash
# The token path (--tokens on: the typed token index beside a Hyperscan
# database of the rest) gives exactly the events of the all-Hyperscan path
# (--tokens off), in the same order, minus scan times:
# - generated logs (IOCs of every type, near misses, lines longer than a
#   slab) at two slab sizes, through database files made by `compile`
#   (which keep the choice) and through -i with the cache (a cached
#   database made for the other path is compiled again); both equal the
#   generator's truth;
# - a small hand-made set on boundary cases, and a CIDR IOC with an
#   allowlisted address in its range;
# - IPv6 ranges: the one documented difference (matchers/tokens.h): the
#   token path also finds an address of a range written with mixed zero
#   padding, which the range's literals do not cover; exactly those events
#   are extra;
# - the real corpus: its logs with real feeds, and with real-feed IOCs
#   planted (both equal scripts/plant_corpus.py's truth).
# --tokens and $IOCSTREAM_TOKENS refuse other values.
. "$(dirname "$0")/lib_e2e.sh"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# normalise EVENTS.jsonl: the events minus their scan times (event.created,
# and @timestamp where the line has no time of its own), one per line, in
# the order they came.
normalise() {
    "$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l); del e["event"]["created"]
    if e["iocstream"]["time"] != "line":
        del e["@timestamp"]
    print(json.dumps(e, sort_keys=True))' "$1"
}

# same OFF ON WHAT: the two event files are equal, event for event.
same() {
    normalise "$1" >"$1.norm"
    normalise "$2" >"$2.norm"
    cmp -s "$1.norm" "$2.norm" ||
        fail "$3: --tokens on events differ from --tokens off: $(diff "$1.norm" "$2.norm" | head -c 1500)"
}

# --- generated logs ---
"$PY" "$S/scripts/genlogs.py" --seed tok --size 6M --iocs 20000 \
    --hit-rate 0.05 --near-miss-rate 0.02 --builtin --long-lines 1 \
    --out "$W/g" -q
printf '%s\n' $BUILTIN_VALUES >"$W/builtin.txt"
# The plain list's text IOCs go to --strings (as in e2e_generated).
run "$B" iocs --explain -i "$W/g/iocs.txt" >"$W/g/explain.tsv" 2>/dev/null
[ "$rc" -le 1 ] || fail "iocs --explain exited $rc"
awk -F'\t' '$5 ~ /^skipped: not an indicator/ { print $3 }' \
    "$W/g/explain.tsv" >"$W/g/strings.txt"
iocs=(-i "$W/g/iocs.txt" --strings "$W/g/strings.txt" -i "$W/builtin.txt")

for m in off on; do
    run "$B" compile --tokens "$m" "${iocs[@]}" -o "$W/$m.db" \
        >"$W/compile.$m.txt" 2>/dev/null
    expect_status 0 "compile --tokens $m"
done
grep -q '^token index: [0-9]* IOCs' "$W/compile.on.txt" ||
    fail "compile --tokens on made no token index"
! grep -q '^token index' "$W/compile.off.txt" ||
    fail "compile --tokens off made a token index"
for slab in 1M 4096; do
    for m in off on; do
        run "$B" scan --db "$W/$m.db" --slab-size "$slab" -j 2 \
            --format json "$W/g/logs" >"$W/g.$m.$slab.jsonl"
        expect_status 0 "scan --db $m.db, slab $slab"
        "$PY" "$S/scripts/truthcheck.py" -q --truth "$W/g/truth.jsonl" \
            --events "$W/g.$m.$slab.jsonl" --root "$W/g" ||
            fail "--db $m.db, slab $slab: events differ from the truth"
    done
    same "$W/g.off.$slab.jsonl" "$W/g.on.$slab.jsonl" "generated, slab $slab"
done
# Through -i and the cache: on (compiled, cached), then off (the cached
# database has the token path: compiled again), then on from the cache.
for m in on off on; do
    run "$B" scan --tokens "$m" "${iocs[@]}" --format json "$W/g/logs" \
        >"$W/gc.$m.jsonl" 2>/dev/null
    expect_status 0 "scan -i --tokens $m (cache)"
done
same "$W/g.off.1M.jsonl" "$W/gc.off.jsonl" "-i --tokens off after on"
same "$W/g.off.1M.jsonl" "$W/gc.on.jsonl" "-i --tokens on from the cache"
IOCSTREAM_TOKENS=on run "$B" scan --no-cache "${iocs[@]}" --format json \
    "$W/g/logs" >"$W/ge.on.jsonl" 2>/dev/null
expect_status 0 "IOCSTREAM_TOKENS=on"
same "$W/g.off.1M.jsonl" "$W/ge.on.jsonl" "IOCSTREAM_TOKENS=on"

# --- small set: boundary cases, CIDR with an allowlisted address ---
cat >"$W/small.csv" <<'EOF'
type,value
ipv4,192.81.209.168
ipv6,2604:a880:400:d1::7716:1
cidr,10.20.0.0/16
cidr,2001:db8:abcd::/48
domain,evil.example
email,a@evil.example
sha256,8b448f47e36909f3a921b4ff803cf3a61985d8a10f0fe594b405b92ed0fc21f1
url,http://bad.example/x.php?id=1
filename,mimikatz.exe
EOF
cat >"$W/small.log" <<'EOF'
Dec  5 03:14:15 h sshd[1]: from 192.81.209.168 port 22 and 192.81.209.1689 x1192.81.209.168 192.81.209.168.7
Dec  5 03:14:16 h a 2604:A880:0400:00d1:0:0:7716:0001 b 2604:a880:400:d1::7716:12 evil.example.au a.EVIL.example
Dec  5 03:14:17 h src=10.20.3.4 dst=10.20.9.9 x10.20.1.1 10.20.1.1.1 2001:db8:abcd::1 2001:DB8:ABCD:0:0:0:0:ff
Dec  5 03:14:18 h mail from ba@evil.example to a@evil.example; 8B448F47E36909F3A921B4FF803CF3A61985D8A10F0FE594B405B92ED0FC21F1
Dec  5 03:14:19 h GET http://BAD.example/x.php?id=1 by mimikatz.exe at 12:34:56 ::
no time here evil.example:443 [2604:a880:400:d1::7716:1]:8080 mailto:a@evil.example.
EOF
printf '10.20.3.4\n' >"$W/allow.txt"
for m in off on; do
    run "$B" scan --no-cache --tokens "$m" -i "$W/small.csv" \
        --allow "$W/allow.txt" --format json "$W/small.log" >"$W/s.$m.jsonl"
    expect_status 0 "small set, --tokens $m"
done
same "$W/s.off.jsonl" "$W/s.on.jsonl" "small set"
"$PY" - "$W/s.on.jsonl" <<'PY' || fail "small set: events differ from the expected"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
got = sorted((e["iocstream"]["line"],
              e["threat"]["enrichments"][0]["matched"]["atomic"],
              e["iocstream"]["count"]) for e in ev)
want = sorted([(1, "192.81.209.168", 1), (2, "2604:A880:0400:00d1:0:0:7716:0001", 1),
               (2, "EVIL.example", 1), (3, "10.20.9.9", 2),
               (3, "2001:db8:abcd::1", 2), (4, "a@evil.example", 1),
               (4, "evil.example", 2),
               (4, "8B448F47E36909F3A921B4FF803CF3A61985D8A10F0FE594B405B92ED0FC21F1", 1),
               (5, "BAD.example/x.php?id=1", 1), (5, "mimikatz.exe", 1),
               (6, "evil.example", 2), (6, "2604:a880:400:d1::7716:1", 1),
               (6, "a@evil.example", 1)])
if got != want:
    sys.exit("small set: got %s\nwant %s" % (got, want))
PY

# --- IPv6 ranges in mixed zero padding: only the token path finds them ---
printf '2001:db8:1::/48\n' >"$W/v6.txt"
cat >"$W/v6.log" <<'EOF'
a 2001:db8:1::5 b
a 2001:db8:0001::5 b
a 2001:0db8:0001::5 b
a 2001:0db8:1:0:0:0:0:5 b
a 2001:db8:2::5 b
EOF
for m in off on; do
    run "$B" scan --no-cache --tokens "$m" -i "$W/v6.txt" --format json \
        "$W/v6.log" >"$W/v6.$m.jsonl"
    expect_status 0 "IPv6 ranges, --tokens $m"
done
"$PY" - "$W/v6.off.jsonl" "$W/v6.on.jsonl" <<'PY' || fail "IPv6 ranges"
import json, sys
def atoms(p):
    return [(json.loads(l)["iocstream"]["line"],
             json.loads(l)["threat"]["enrichments"][0]["matched"]["atomic"])
            for l in open(p)]
off, on = atoms(sys.argv[1]), atoms(sys.argv[2])
if off != [(1, "2001:db8:1::5"), (3, "2001:0db8:0001::5")]:
    sys.exit("IPv6 ranges, off: %s" % off)
if on != [(1, "2001:db8:1::5"), (2, "2001:db8:0001::5"),
          (3, "2001:0db8:0001::5"), (4, "2001:0db8:1:0:0:0:0:5")]:
    sys.exit("IPv6 ranges, on: %s" % on)
PY

# --- the real corpus ---
corpus="$S/../shared/corpus"
if [ -d "$corpus/logs" ]; then
    # Real feeds (those that give events on the untouched logs among them).
    feeds=()
    while IFS= read -r -d '' f; do
        feeds+=(-i "$f")
    done < <(find "$corpus/iocs/talos" "$corpus/iocs/volexity" \
        "$corpus/iocs/stix2" "$corpus/iocs/signature-base/hash-iocs.txt" \
        "$corpus/iocs/signature-base/c2-iocs.txt" \
        "$corpus/iocs/signature-base/filename-iocs.txt" \
        "$corpus"/iocs/maltrail/mass_scanner*.txt -type f -print0 | sort -z)
    for m in off on; do
        run "$B" scan --no-cache --tokens "$m" "${feeds[@]}" -j 2 \
            --format json "$corpus/logs" >"$W/c.$m.jsonl" 2>/dev/null
        [ "$rc" -le 1 ] || fail "corpus with real feeds, --tokens $m: exit $rc"
    done
    same "$W/c.off.jsonl" "$W/c.on.jsonl" "corpus with real feeds"
    [ "$(wc -l <"$W/c.on.jsonl")" -gt 10 ] || fail "corpus: too few events"
    # Real-feed IOCs planted in the corpus logs.
    "$PY" "$S/scripts/plant_corpus.py" --corpus "$corpus" --out "$W/p" \
        --seed 5 >/dev/null
    for m in off on; do
        run "$B" scan --no-cache --tokens "$m" -i "$W/p/iocs.txt" \
            --slab-size 4096 --format json "$W/p/logs" >"$W/p.$m.jsonl"
        expect_status 0 "planted corpus, --tokens $m"
        "$PY" "$S/scripts/truthcheck.py" -q --truth "$W/p/truth.jsonl" \
            --events "$W/p.$m.jsonl" --root "$W/p" ||
            fail "planted corpus, --tokens $m: events differ from the truth"
    done
    same "$W/p.off.jsonl" "$W/p.on.jsonl" "planted corpus"
else
    echo "e2e_tokens: $corpus absent, corpus part skipped"
fi

# --- bad values ---
run "$B" scan --tokens yes -i "$W/small.csv" "$W/small.log" 2>"$W/err.txt"
expect_status 2 "--tokens yes"
grep -q "not auto, on or off" "$W/err.txt" || fail "--tokens yes: no reason"
IOCSTREAM_TOKENS=1 run "$B" scan -i "$W/small.csv" "$W/small.log" \
    2>"$W/err.txt"
expect_status 2 "IOCSTREAM_TOKENS=1"
echo "e2e_tokens: ok"
