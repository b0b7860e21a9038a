#!/usr/bin/env bash
# Compressed history (issue 10): the generated corpus stored every way
# (plain; gzip, single and multi-member cut mid-line; zstd multi-frame;
# bzip2; xz; gzip with no suffix; all of them mixed in one run) gives the
# events of the plain scan, in the same order, but for log.file.path, with
# -j 0, 1 and 2, packed or not, at two buffer sizes. Damaged files (cut
# short, flipped bytes, a bad CRC; a zero-length .gz) are errors for that
# file only: the message, the intact part's hits, the others scanned, exit
# 2. A decompression bomb (2 GiB of empty lines) is scanned in bounded
# memory, and a hit past 2^31 bytes has its 64-bit offset and line number.
. "$(dirname "$0")/lib_e2e.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

for t in gzip zstd bzip2 xz; do
    command -v "$t" >/dev/null || {
        echo "e2e_replay: $t absent, skipped"
        exit 77
    }
done

"$PY" "$S/scripts/genlogs.py" --seed 10 --size 6M --iocs 1500 \
    --hit-rate 0.03 --builtin --long-lines 2 --crlf-file --no-final-newline \
    --files 2 --out "$W/g" -q
printf '%s\n' $BUILTIN_VALUES >"$W/builtin.txt"
(cd "$W/g/logs" && find . -type f | sort) >"$W/files"
nfiles=$(wc -l <"$W/files")
[ "$nfiles" -ge 8 ] || fail "only $nfiles generated files"

# normalise EVENTS.mp ROOT: decoded events, one per line, minus the two
# scan times and event.id (it comes from the file's identity: another file
# holding the same lines has other ids), with log.file.path relative to
# ROOT and without the suffix the storage added.
normalise() {
    "$B" decode "$1" | "$PY" -c 'import json, sys
root = sys.argv[1].rstrip("/") + "/"
for l in sys.stdin:
    e = json.loads(l)
    del e["@timestamp"], e["event"]["created"]
    e["event"].pop("id", None)
    p = e["log"]["file"]["path"]
    assert p.startswith(root), p
    p = p[len(root):]
    for suf in (".gz", ".zst", ".bz2", ".xz", ".raw"):
        if p.endswith(suf):
            p = p[: -len(suf)]
    e["log"]["file"]["path"] = p
    print(json.dumps(e, sort_keys=True))' "$2"
}

# scan ROOT OUT ARGS...: scan the files of $W/files under ROOT, in that
# order (each with the suffix its storage gave it), into OUT.mp.
scan() {
    local root=$1 out=$2
    shift 2
    local paths=()
    while read -r f; do
        f=${f#./}
        for suf in "" .gz .zst .bz2 .xz .raw; do
            if [ -e "$root/$f$suf" ]; then
                paths+=("$root/$f$suf")
                break
            fi
        done
    done <"$W/files"
    run "$B" scan -i "$W/g/iocs.txt" -i "$W/builtin.txt" "$@" \
        -o "$out.mp" "${paths[@]}" 2>"$out.err"
}

scan "$W/g/logs" "$W/plain" -j 0
plain_rc=$rc
[ "$plain_rc" -le 1 ] || fail "plain scan: status $rc: $(cat "$W/plain.err")"
normalise "$W/plain.mp" "$W/g/logs" >"$W/plain.norm"
nplain=$(wc -l <"$W/plain.norm")
[ "$nplain" -gt 500 ] || fail "only $nplain events on the plain files"

# piece FILE OFFSET LEN: LEN bytes of FILE from OFFSET (fewer at its end).
piece() {
    dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=64k \
        status=none
}

# store WAY FILE DEST: FILE stored as WAY at DEST (without suffix).
store() {
    local size cut1 cut2
    case $1 in
    gz) gzip -c -6 "$2" >"$3.gz" ;;
    gzmulti)
        # Three members, cut mid-line (at a third and two thirds).
        size=$(stat -c %s "$2")
        cut1=$((size / 3 + 7))
        cut2=$((2 * size / 3 + 13))
        {
            head -c "$cut1" "$2" | gzip -c -1
            piece "$2" "$cut1" $((cut2 - cut1)) | gzip -c -9
            piece "$2" "$cut2" "$size" | gzip -c
        } >"$3.gz"
        ;;
    zst)
        size=$(stat -c %s "$2")
        cut1=$((size / 2 + 3))
        {
            head -c "$cut1" "$2" | zstd -q -c -3
            piece "$2" "$cut1" "$size" | zstd -q -c -1
        } >"$3.zst"
        ;;
    bz2) bzip2 -c -1 "$2" >"$3.bz2" ;; # 100 kB blocks: a cut keeps some
    xz) xz -c -0 -T1 "$2" >"$3.xz" ;;
    nosuffix) gzip -c "$2" >"$3.raw" ;; # .raw: no codec suffix
    esac
}

ways="gz gzmulti zst bz2 xz nosuffix"
for way in $ways mixed; do
    i=0
    while read -r f; do
        f=${f#./}
        mkdir -p "$(dirname "$W/st/$way/$f")"
        if [ "$way" = mixed ]; then
            # Plain files between the others: packs of mixed parts.
            set -- plain $ways
            shift $((i % 7))
            w=$1
            i=$((i + 1))
            if [ "$w" = plain ]; then
                cp "$W/g/logs/$f" "$W/st/$way/$f"
                continue
            fi
        else
            w=$way
        fi
        store "$w" "$W/g/logs/$f" "$W/st/$way/$f"
    done <"$W/files"
    for j in 0 1 2; do
        for opt in "" "--pack-max 0 --slab-size 65536"; do
            what="$way -j $j $opt"
            scan "$W/st/$way" "$W/ev" -j "$j" $opt
            expect_status "$plain_rc" "$what: $(cat "$W/ev.err")"
            [ ! -s "$W/ev.err" ] || fail "$what: $(cat "$W/ev.err")"
            normalise "$W/ev.mp" "$W/st/$way" >"$W/ev.norm"
            cmp -s "$W/plain.norm" "$W/ev.norm" ||
                fail "$what: events differ from the plain scan"
            # event.id keys on the file's identity, never on how it was
            # read: packed or not, whatever -j and buffer size.
            "$B" decode "$W/ev.mp" | "$PY" -c 'import json, sys
for l in sys.stdin:
    print(json.loads(l)["event"]["id"])' >"$W/ev.ids"
            if [ "$j$opt" = 0 ]; then
                mv "$W/ev.ids" "$W/ref.ids"
            else
                cmp -s "$W/ref.ids" "$W/ev.ids" ||
                    fail "$what: event.id differs from -j 0's"
            fi
        done
    done
done

# ---- many events: a file job hands its events off in partial batches ----
# 30000 hits per file (over IOCS_WORKERS_HANDOFF_AT of events), in three
# gzip files and one plain file between them: the same events, in order,
# whatever -j.
mkdir -p "$W/many/plain" "$W/many/gz"
"$PY" - "$W/many/plain" <<'EOF'
import sys
for k in range(4):
    with open("%s/many-%d.log" % (sys.argv[1], k), "w") as f:
        for i in range(30000):
            f.write("Dec  5 03:14:%02d host%d sshd[%d]: from 192.81.209.168"
                    " port %d\n" % (i % 60, k, i, i))
EOF
for k in 0 1 3; do gzip -1 -c "$W/many/plain/many-$k.log" >"$W/many/gz/many-$k.log.gz"; done
cp "$W/many/plain/many-2.log" "$W/many/gz/"
many() { # DIR OUT J
    run "$B" scan -i "$W/builtin.txt" -j "$3" -o "$2.mp" "$1"/many-0* \
        "$1"/many-1* "$1"/many-2* "$1"/many-3*
    [ "$rc" -le 1 ] || fail "many events $1 -j $3: status $rc"
    normalise "$2.mp" "$1" >"$2.norm"
}
many "$W/many/plain" "$W/many/p" 0
[ "$(wc -l <"$W/many/p.norm")" -eq 120000 ] || fail "many events: not 120000"
for j in 0 1 2; do
    many "$W/many/gz" "$W/many/g" "$j"
    cmp -s "$W/many/p.norm" "$W/many/g.norm" ||
        fail "many events -j $j: events differ from the plain scan"
done

# ---- damaged files -------------------------------------------------------
# The events of one file, normalised, from a normalised list.
events_of() {
    grep -F "\"path\": \"$2\"" "$1" || true
}
big=$(cd "$W/g/logs" && find . -type f -size +300k | sort | head -1)
big=${big#./}
[ -n "$big" ] || fail "no file over 300 kB"
events_of "$W/plain.norm" "$big" >"$W/big.norm"
nbig=$(wc -l <"$W/big.norm")
[ "$nbig" -gt 20 ] || fail "$big: only $nbig events"
grep -vF "\"path\": \"$big\"" "$W/plain.norm" >"$W/others.norm" || true

# damaged WHAT EXPECT_ALL: scan $W/dmg (every file plain but $big, stored
# damaged), check the message, the status, the others' events, and that
# the damaged file's events are the plain ones up to a point (all of them
# when EXPECT_ALL is 1; at least a quarter otherwise). With flipped bytes
# (EXPECT_ALL 2), deflate inflates garbage until it sees the damage, as
# gzip -dc does; hits in that garbage may follow the intact part's.
damaged() {
    local what=$1 all=$2 j n
    for j in 0 2; do
        scan "$W/dmg" "$W/ev" -j "$j"
        expect_status 2 "$what -j $j"
        grep -qE "^iocstream: $W/dmg/$big\.[a-z0-9]+: damaged [a-z0-9]+ stream at compressed offset [0-9]+$" "$W/ev.err" ||
            fail "$what -j $j: no damage message: $(cat "$W/ev.err")"
        [ "$(wc -l <"$W/ev.err")" -eq 1 ] ||
            fail "$what -j $j: more than one message: $(cat "$W/ev.err")"
        normalise "$W/ev.mp" "$W/dmg" >"$W/ev.norm"
        grep -vF "\"path\": \"$big\"" "$W/ev.norm" >"$W/ev.others" || true
        cmp -s "$W/others.norm" "$W/ev.others" ||
            fail "$what -j $j: the other files' events differ"
        events_of "$W/ev.norm" "$big" >"$W/ev.big"
        n=$(wc -l <"$W/ev.big")
        if [ "$all" = 1 ]; then
            cmp -s "$W/big.norm" "$W/ev.big" ||
                fail "$what -j $j: not every hit of the intact stream"
        else
            [ "$n" -ge $((nbig / 4)) ] ||
                fail "$what -j $j: $n of $nbig hits kept"
            if [ "$all" = 2 ]; then
                # The longest run of plain events the kept ones start with.
                n=$("$PY" -c 'import sys
a = open(sys.argv[1]).read().splitlines()
b = open(sys.argv[2]).read().splitlines()
k = 0
while k < min(len(a), len(b)) and a[k] == b[k]:
    k += 1
print(k)' "$W/ev.big" "$W/big.norm")
                [ "$n" -ge $((nbig / 4)) ] ||
                    fail "$what -j $j: only $n intact hits first"
                continue
            fi
            # The intact part: the plain events, in order, up to the last
            # but one kept (the line at the damage may be cut).
            head -n $((n - 1)) "$W/ev.big" | cmp -s - <(head -n $((n - 1)) "$W/big.norm") ||
                fail "$what -j $j: the kept hits are not the plain ones"
        fi
    done
}

mkdir -p "$W/dmg"
cp -r "$W/g/logs/." "$W/dmg/"
rm "$W/dmg/$big"
for way in gz zst bz2 xz; do
    store "$way" "$W/g/logs/$big" "$W/full"
    size=$(stat -c %s "$W/full.$way")
    rm -f "$W/dmg/$big".*
    head -c $((size * 3 / 4)) "$W/full.$way" >"$W/dmg/$big.$way"
    damaged "$way cut short" 0
done

# Flipped bytes in the middle of a gzip member (the stream before them is
# intact) and a bad CRC (every byte inflates; the check fails at the end).
store gz "$W/g/logs/$big" "$W/full"
size=$(stat -c %s "$W/full.gz")
rm -f "$W/dmg/$big".*
"$PY" - "$W/full.gz" "$W/dmg/$big.gz" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
at = len(b) * 3 // 5
for k in range(64):
    b[at + k] ^= 0x5A
open(sys.argv[2], "wb").write(b)
EOF
damaged "gzip with flipped bytes" 2
"$PY" - "$W/full.gz" "$W/dmg/$big.gz" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-8] ^= 0xFF  # CRC32 of the member
open(sys.argv[2], "wb").write(b)
EOF
damaged "gzip with a bad CRC" 1

# A zero-length .gz has no magic: it is an empty file (codec.h), not an
# error, and the files after it are scanned.
rm -f "$W/dmg/$big".*
: >"$W/dmg/$big.gz"
for j in 0 2; do
    scan "$W/dmg" "$W/ev" -j "$j"
    expect_status "$plain_rc" "zero-length .gz -j $j"
    [ ! -s "$W/ev.err" ] || fail "zero-length .gz: $(cat "$W/ev.err")"
    normalise "$W/ev.mp" "$W/dmg" >"$W/ev.norm"
    cmp -s "$W/others.norm" "$W/ev.norm" ||
        fail "zero-length .gz -j $j: the other files' events differ"
done

# ---- a decompression bomb ------------------------------------------------
# 2 GiB of empty lines (zstd -1 makes them a few hundred kB), then one line
# with an IOC in a second frame: its offset is 2^31 and its line 2^31 + 1.
bomb=${IOCS_BOMB_BYTES:-2147483648}
{
    { yes '' || true; } | head -c "$bomb" | zstd -q -c -1
    printf 'Dec  5 03:14:15 host sshd[1]: from 192.81.209.168 port 22\n' |
        zstd -q -c
} >"$W/bomb.zst"
printf '%s\n' $BUILTIN_VALUES >"$W/bomb.iocs"
for j in 0 2; do
    run /usr/bin/time -f '%M' -o "$W/rss" "$B" scan -i "$W/bomb.iocs" \
        -j "$j" --format json -o "$W/bomb.jsonl" "$W/bomb.zst"
    [ "$rc" -le 1 ] || fail "bomb -j $j: status $rc"
    "$PY" - "$W/bomb.jsonl" "$bomb" <<'EOF' || fail "bomb -j $j: wrong event"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
assert len(ev) == 1, len(ev)
assert ev[0]["log"]["offset"] == n, ev[0]["log"]["offset"]
assert ev[0]["iocstream"]["line"] == n + 1, ev[0]["iocstream"]["line"]
EOF
    rss=$(tail -n 1 "$W/rss")
    # The usual RSS of a scan (slabs, buffers, database) is tens of MB.
    [ "$rss" -lt 200000 ] || fail "bomb -j $j: peak RSS $rss kB"
    echo "bomb -j $j: peak RSS $rss kB"
done
echo "e2e_replay: ok ($nplain events, $nfiles files, every way)"
