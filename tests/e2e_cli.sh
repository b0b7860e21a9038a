#!/usr/bin/env bash
# The command line as a user meets it: exit statuses, errors by name,
# bad IOC lines as file:line, stdin, directory walking, --max-line, decode
# of odd bytes into valid JSON, and --help.
. "$(dirname "$0")/lib_e2e.sh"

cd "$W"
printf '# test feed\nevil[.]example\n192.81.209.168\n' >iocs.txt
printf 'nothing here\n' >clean.log
printf 'GET http://evil.example/ from 192.81.209.168\n' >hit.log

# As grep: 0 hits, 1 no hits, empty output when nothing matched.
run "$B" scan -i iocs.txt -o out.mp clean.log
expect_status 1 "no hits"
[ ! -s out.mp ] || fail "output written without hits"
run "$B" scan -i iocs.txt -o out.mp hit.log
expect_status 0 "hits"
[ "$("$B" decode out.mp | wc -l)" -eq 2 ] || fail "want 2 events"

# An unreadable input is reported by name; the others are still scanned.
run "$B" scan -i iocs.txt --format json clean.log missing.log hit.log \
    >out.jsonl 2>err.txt
expect_status 2 "missing input"
grep -q "missing.log" err.txt || fail "missing input not named: $(cat err.txt)"
[ "$(wc -l <out.jsonl)" -eq 2 ] || fail "scan did not go on after the error"

# A bad IOC line: reported as file:line: why; the rest loads and the scan
# goes on, with the count of rejected lines. With --strict, nothing is
# scanned.
printf 'evil.example\n10.0.0.0/33\n' >bad.txt
run "$B" scan -i bad.txt --no-cache -o out2.mp hit.log 2>err.txt
expect_status 0 "bad IOC, lenient"
grep -q "bad.txt:2: " err.txt || fail "bad IOC not reported as file:line: $(cat err.txt)"
grep -q "1 .*rejected" err.txt || fail "rejected count not printed: $(cat err.txt)"
[ "$("$B" decode out2.mp | wc -l)" -eq 1 ] || fail "the good IOC was not used"
run "$B" scan -i bad.txt --strict --no-cache -o out3.mp hit.log 2>err.txt
expect_status 2 "bad IOC, --strict"
grep -q "bad.txt:2: " err.txt || fail "bad IOC not reported under --strict"
[ ! -s out3.mp ] || fail "events written despite --strict and a bad IOC line"

# stdin, as '-' and as no PATH; a pipe.
run sh -c "printf 'x 192.81.209.168\n' | '$B' scan -i iocs.txt --format json >s1.jsonl"
expect_status 0 "stdin"
run sh -c "printf 'x 192.81.209.168\n' | '$B' scan -i iocs.txt --format json - >s2.jsonl"
expect_status 0 "stdin as -"
grep -q '"path":"-"' s1.jsonl || fail "stdin path not '-'"

# Directories: walked in sorted order; symlinks followed only with -L.
mkdir -p d/b d/a
cp hit.log d/b/2.log
cp hit.log d/a/1.log
ln -s "$W/hit.log" d/link.log
run "$B" scan -i iocs.txt --format json d >dir.jsonl
expect_status 0 "directory"
paths=$(python3 -c 'import json,sys
seen=[]
for l in open(sys.argv[1]):
    p=json.loads(l)["log"]["file"]["path"]
    if p not in seen: seen.append(p)
print(" ".join(seen))' dir.jsonl)
[ "$paths" = "d/a/1.log d/b/2.log" ] || fail "walk order or symlink: $paths"
run "$B" scan -i iocs.txt --format json -L d >dirL.jsonl
[ "$(wc -l <dirL.jsonl)" -eq 6 ] || fail "-L did not follow the link"

# --max-line cuts event.original and says so.
python3 -c 'print("A" * 5000 + " 192.81.209.168 " + "B" * 100)' >long.log
run "$B" scan -i iocs.txt --max-line 64 --format json long.log >long.jsonl
expect_status 0 "long line"
python3 - long.jsonl <<'PY'
import json, sys
e = json.loads(open(sys.argv[1]).readline())
assert len(e["event"]["original"]) == 64, e["event"]["original"]
assert e["iocstream"]["truncated"] is True
assert e["iocstream"]["line_length"] == 5116, e["iocstream"]
assert e["iocstream"]["match"]["start"] == 5001, e["iocstream"]["match"]
PY

# Any bytes decode to valid JSON: invalid UTF-8, NUL, control characters.
printf 'a\xc0\x27; \\! \x00\x01\x7f\xff 192.81.209.168 \xe2\x82\n' >odd.log
run "$B" scan -i iocs.txt -o odd.mp odd.log
expect_status 0 "odd bytes"
"$B" decode odd.mp >odd.jsonl
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]' odd.jsonl
if command -v jq >/dev/null; then jq -e . odd.jsonl >/dev/null; fi

# decode refuses garbage with a clear error.
printf '\xc1\xc1\xc1' >garbage.mp
run "$B" decode garbage.mp 2>err.txt
expect_status 2 "decode garbage"
[ -s err.txt ] || fail "decode garbage: no message"

# Usage errors and --help.
run "$B" scan --no-such-option 2>/dev/null
expect_status 2 "unknown option"
run "$B" frobnicate 2>/dev/null
expect_status 2 "unknown command"
"$B" --help >help.txt
for opt in --iocs --output --format --max-line --slab-size --depth --no-uring \
    --follow-symlinks --stats decode; do
    grep -q -- "$opt" help.txt || fail "--help does not mention $opt"
done
echo "e2e_cli: ok"
