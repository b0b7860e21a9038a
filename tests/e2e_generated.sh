#!/usr/bin/env bash
# End to end on generated logs: every event equals the generator's ground
# truth (line, IOC, count, leftmost atomic), at several slab sizes, with and
# without io_uring, from files and from a pipe. Planted IOCs straddle slab
# boundaries at the small sizes; lines longer than 200 kB are included.
. "$(dirname "$0")/lib_e2e.sh"

python3 "$S/scripts/genlogs.py" --seed 11 --size 16M --iocs 2000 \
    --hit-rate 0.02 --builtin --long-lines 3 --crlf-file --no-final-newline \
    --files 2 --out "$W/g" -q
printf '%s\n' $BUILTIN_VALUES >"$W/builtin.txt"

# check_truth DIR WHAT: decode $W/ev.mp into $W/ev.jsonl and compare every
# event with DIR's ground truth.
check_truth() {
    "$B" decode "$W/ev.mp" >"$W/ev.jsonl"
    python3 "$S/scripts/truthcheck.py" -q --truth "$1/truth.jsonl" \
        --events "$W/ev.jsonl" --root "$1" ||
        fail "events differ from the truth ($2)"
}

# normalise EVENTS.jsonl: the events minus their scan times, one per line.
normalise() {
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l); del e["@timestamp"]; del e["event"]["created"]
    print(json.dumps(e, sort_keys=True))' "$1"
}
# text_iocs DIR: the generator's plain list mixes typed values with text
# IOCs (user agents, phrases); a plain list loads no text (issue 9), so
# those lines go to DIR/strings.txt, loaded with --strings.
text_iocs() {
    run "$B" iocs --explain -i "$1/iocs.txt" >"$1/explain.tsv" 2>/dev/null
    [ "$rc" -le 1 ] || fail "iocs --explain $1/iocs.txt exited $rc"
    awk -F'\t' '$5 ~ /^skipped: not an indicator/ { print $3 }' \
        "$1/explain.tsv" >"$1/strings.txt"
}
text_iocs "$W/g"
rows=$(wc -l <"$W/g/truth.jsonl")
[ "$rows" -gt 1000 ] || fail "only $rows truth rows"

# Slab size x reader x threads (-j 0: scanned on the reading thread; one
# and three workers in a pool, whose events must come out exactly as the
# reading thread's, in the same order).
for slab in 1M 65536 4096 333 64; do
    for reader in "" --no-uring; do
        for j in 0 1 3; do
            run "$B" scan -i "$W/g/iocs.txt" --strings "$W/g/strings.txt" -i "$W/builtin.txt" -j "$j" \
                --slab-size "$slab" $reader -o "$W/ev.mp" "$W/g/logs"
            expect_status 0 "slab $slab $reader -j $j"
            check_truth "$W/g" "slab $slab $reader -j $j"
            # Order: the events minus their scan times, byte for byte.
            normalise "$W/ev.jsonl" >"$W/ev.$j.norm"
        done
        for j in 1 3; do
            cmp -s "$W/ev.0.norm" "$W/ev.$j.norm" ||
                fail "-j $j events differ from -j 0 (content or order), slab $slab"
        done
    done
done

# O_DIRECT reads (cold replays) give the same events.
for slab in 1M 4096; do
    run "$B" scan -i "$W/g/iocs.txt" --strings "$W/g/strings.txt" -i "$W/builtin.txt" --direct \
        --slab-size "$slab" -o "$W/ev.mp" "$W/g/logs"
    expect_status 0 "--direct, slab $slab"
    check_truth "$W/g" "--direct, slab $slab"
done
run "$B" scan --direct --slab-size 1000 "$W/g/logs" 2>/dev/null
expect_status 2 "--direct with an unaligned slab size"

# Many small files: packed several to a slab and opened through io_uring
# ahead of the one being read, with an empty file among them (the files
# are 2 to 16 KB). Every way of reading gives the truth, and the same
# events in the same order. With a 6K pack limit packed and unpacked files
# mix; at 4K slabs (1K limit) none is packed.
python3 "$S/scripts/genlogs.py" --seed 12 --size 3M --iocs 500 \
    --hit-rate 0.05 --files 60 --out "$W/m" -q
text_iocs "$W/m"
nfiles=$(find "$W/m/logs" -type f | wc -l)
[ "$nfiles" -ge 400 ] || fail "only $nfiles small files"
: >"$W/m/logs/linux/0-empty.log"
small=$(python3 -c 'import collections,json,sys
c = collections.Counter(json.loads(l)["path"] for l in open(sys.argv[1]))
print(c.most_common(1)[0][0])' "$W/m/truth.jsonl")
for how in "" "-j 0" "--no-uring" "--pack-max 0" "--pack-max 6K" \
    "--pack-max 6K --no-uring -j 3" "--slab-size 4K -j 3" "--direct" \
    "--direct -j 0"; do
    run "$B" scan -i "$W/m/iocs.txt" --strings "$W/m/strings.txt" $how -o "$W/ev.mp" "$W/m/logs"
    expect_status 0 "small files $how"
    check_truth "$W/m" "small files $how"
    normalise "$W/ev.jsonl" >"$W/ev.norm"
    if [ -z "$how" ]; then
        mv "$W/ev.norm" "$W/ev.small.norm"
    else
        cmp -s "$W/ev.small.norm" "$W/ev.norm" ||
            fail "small files: $how events differ from the default's"
    fi
done
# A missing file named between two others is reported in its place; the
# others are still scanned.
run "$B" scan -i "$W/m/iocs.txt" --strings "$W/m/strings.txt" --format json "$W/m/$small" \
    "$W/m/logs/no-such.log" "$W/m/$small" >"$W/two.jsonl" 2>"$W/two.err"
expect_status 2 "small files with a missing one"
grep -q "no-such.log: " "$W/two.err" || fail "missing file not reported"
run "$B" scan -i "$W/m/iocs.txt" --strings "$W/m/strings.txt" --format json "$W/m/$small" >"$W/one.jsonl"
expect_status 0 "one small file"
n1=$(grep -c . "$W/one.jsonl")
n2=$(grep -c . "$W/two.jsonl")
[ "$n2" = $((2 * n1)) ] || fail "small files: $n2 events for a file given twice, want 2 x $n1"

# One file through a pipe (stdin): same events as the truth for that file.
f=logs/windows/sysmon-01.jsonl
[ -f "$W/g/$f" ] || f=$(cd "$W/g" && ls logs/windows/*.jsonl | head -1)
grep -F "\"path\": \"$f\"" "$W/g/truth.jsonl" |
    sed "s#\"path\": \"$f\"#\"path\": \"-\"#" >"$W/pipe_truth.jsonl"
cat "$W/g/$f" | {
    run "$B" scan -i "$W/g/iocs.txt" --strings "$W/g/strings.txt" -i "$W/builtin.txt" --slab-size 4096 \
        --format json >"$W/pipe.jsonl"
    expect_status 0 "stdin"
}
python3 "$S/scripts/truthcheck.py" -q --truth "$W/pipe_truth.jsonl" \
    --events "$W/pipe.jsonl" --root "$W" || fail "stdin events differ"

# The built-in pack alone finds every planted BeyondTrust address.
run "$B" scan --format json "$W/g/logs" >"$W/builtin.jsonl"
expect_status 0 "builtin pack"
python3 - "$W" $BUILTIN_VALUES <<'PY'
import json, sys
w, vals = sys.argv[1], set(sys.argv[2:])
want = {(r["path"], r["line"], r["ioc"], r["count"])
        for r in map(json.loads, open(w + "/g/truth.jsonl")) if r["ioc"] in vals}
got = set()
for e in map(json.loads, open(w + "/builtin.jsonl")):
    ind = e["threat"]["enrichments"][0]["indicator"]
    if ind["name"] in vals:
        got.add((e["log"]["file"]["path"].split(w + "/g/", 1)[1],
                 e["iocstream"]["line"], ind["name"], e["iocstream"]["count"]))
if got != want or not want:
    sys.exit("builtin: missing %s unexpected %s" % (sorted(want - got)[:5], sorted(got - want)[:5]))
print("builtin: %d events match the truth" % len(got))
PY
echo "e2e_generated: ok ($rows truth rows)"
