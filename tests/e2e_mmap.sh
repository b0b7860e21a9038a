#!/usr/bin/env bash
# Mapped files (pipeline/reader.h, "Mapped files"): with -j 1 or more,
# plain files are mapped, not copied. The events are those of --no-mmap
# and of -j 0 (which copies), byte for byte minus the scan times, at
# several slab sizes. A file cut while mapped (cut at a fixed point of
# the scan by tests/shrink_shim.c, an LD_PRELOAD library) is reported
# ("file shrank while being read", exit 2), and no event comes from the
# zeros read past the cut: every event is one of the whole file's, none
# is the cut token's, and the events well before the cut are all there.
. "$(dirname "$0")/lib_e2e.sh"

PY=/usr/bin/python3
SHIM=${IOCS_SHRINK_SHIM:-}
# Under TSan the shim's mmap is not the one the binary calls (TSan's
# interceptor is): scripts/test.sh sets IOCS_E2E_NO_SHIM there, and part 2
# is skipped after part 1 (the mapped scans across worker threads) ran.
[ -z "${IOCS_E2E_NO_SHIM:-}" ] || SHIM=

"$PY" "$S/scripts/genlogs.py" --seed 31 --size 6M --iocs 1000 \
    --hit-rate 0.03 --builtin --long-lines 2 --crlf-file --no-final-newline \
    --files 2 --out "$W/g" -q
printf '%s\n' $BUILTIN_VALUES >>"$W/g/iocs.txt"

# normalise EVENTS.jsonl: the events minus their scan times, one a line.
normalise() {
    "$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l); del e["event"]["created"]
    if e["iocstream"]["time"] != "line":
        del e["@timestamp"]
    print(json.dumps(e, sort_keys=True))' "$1"
}

# 1. Same events, mapped or copied, newlines counted by the reading thread
# or the workers, at any -j and slab size (333: windows that start off a
# page; 4096: a window per page).
for slab in 1M 64K 4096 333; do
    for j in 0 1 2 4 8; do
        # -j 4: the workers count on copied bytes; -j 8: auto maps
        modes=("--mmap on" --no-mmap)
        [ "$j" -lt 4 ] || modes=("--mmap auto")
        for m in "${modes[@]}"; do
            run "$B" scan -i "$W/g/iocs.txt" -j "$j" --slab-size "$slab" $m \
                -o "$W/ev.jsonl" "$W/g/logs" 2>"$W/err.txt"
            expect_status 0 "slab $slab -j $j ${m:-mapped}"
            normalise "$W/ev.jsonl" >"$W/ev.norm"
            [ -s "$W/ev.norm" ] || fail "no events (slab $slab -j $j $m)"
            if [ ! -f "$W/ref.$slab" ]; then
                mv "$W/ev.norm" "$W/ref.$slab"
            else
                cmp -s "$W/ref.$slab" "$W/ev.norm" ||
                    fail "slab $slab -j $j ${m:-mapped}: events differ"
            fi
        done
    done
    cmp -s "$W/ref.1M" "$W/ref.$slab" || fail "slab $slab: events differ from 1M"
done

# 2. A file cut while mapped.
[ -n "$SHIM" ] && [ -f "$SHIM" ] || {
    echo "no shrink_shim library: skipped"
    exit 77
}
# Filler lines, a hit every 50 lines, and near 3.5 MiB (inside the 1 MiB
# window at 3 MiB) a line "GET http://evil-mmap.example.au/x": the cut
# falls right after "evil-mmap.example", so the bytes past it (zeros, once
# cut) would make that truncated token a hit. Prints the cut offset.
cut=$("$PY" - "$W/cut.log" <<'PY'
import sys
out, n, cut = bytearray(), 0, None
while len(out) < 6 << 20:
    n += 1
    if cut is None and len(out) >= 3584 << 10:
        line = b"GET http://evil-mmap.example.au/x HTTP/1.1\n"
        cut = len(out) + line.index(b".au")
    elif n % 50 == 0:
        line = b"line %d connect from 203.0.113.77 port %d\n" % (n, n % 65536)
    else:
        line = b"line %d nothing to see here, just filler text\n" % n
    out += line
open(sys.argv[1], "wb").write(out)
print(cut)
PY
)
printf '203.0.113.77\nevil-mmap.example\n' >"$W/cut_iocs.txt"
cp "$W/cut.log" "$W/cut.orig"
run "$B" scan -i "$W/cut_iocs.txt" -j 1 --no-mmap -o "$W/full.jsonl" "$W/cut.log"
expect_status 0 "the whole file"
normalise "$W/full.jsonl" >"$W/full.norm"
path=$(realpath "$W/cut.log")
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
for j in 1 2; do
    cp "$W/cut.orig" "$W/cut.log" # in place: the same inode, the same ids
    run env LD_PRELOAD="$SHIM" IOCS_SHRINK_PATH="$path" IOCS_SHRINK_AT="$cut" \
        "$B" scan -i "$W/cut_iocs.txt" -j "$j" --mmap on -o "$W/cut.jsonl" "$W/cut.log" \
        2>"$W/cut.err"
    [ "$(stat -c %s "$W/cut.log")" = "$cut" ] || fail "-j $j: the shim did not cut"
    expect_status 2 "-j $j, cut while mapped: $(cat "$W/cut.err")"
    grep -q "cut.log: file shrank while being read" "$W/cut.err" ||
        fail "-j $j: the cut is not reported: $(cat "$W/cut.err")"
    normalise "$W/cut.jsonl" >"$W/cut.norm"
    "$PY" - "$W/full.norm" "$W/cut.norm" <<'PY' || fail "-j $j: events after the cut"
import json, sys
full = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
keys = {json.dumps(e, sort_keys=True) for e in full}
bad = [e for e in got if json.dumps(e, sort_keys=True) not in keys]
if bad:
    sys.exit("not an event of the whole file: %s" % bad[0]["event"]["original"][:80])
if any("evil-mmap" in e["event"]["original"] for e in got):
    sys.exit("the cut token made a hit")
early = [e for e in full if e["log"]["offset"] < 2 << 20]
have = {json.dumps(e, sort_keys=True) for e in got}
missing = [e for e in early if json.dumps(e, sort_keys=True) not in have]
if not early or missing:
    sys.exit("%d of %d events before 2 MiB missing" % (len(missing), len(early)))
PY
done
echo "ok"
