#!/usr/bin/env bash
# Strings are valid UTF-8 (issue 15, items 24 and 17): a line with an
# invalid byte scanned to msgpack reads with a strict UTF-8 unpacker
# (Python msgpack raw=False, as Fluent Bit and Vector), its event.original
# holding U+FFFD; --raw keeps the exact bytes as bin; decode prints valid
# JSON for both; decode refuses JSON lines on a pipe as on a file.
. "$(dirname "$0")/lib_e2e.sh"

cd "$W"
PY=/usr/bin/python3
printf '192.81.209.168\n' >iocs.txt
printf 'abc\xff 192.81.209.168\n' >bad.log
printf 'ok \xc3\xa9 \xed\xa0\x80 \xf0\x9f\x98 192.81.209.168\n' >forms.log

# 24. Every str is UTF-8; offsets stay byte offsets of the raw line.
"$B" scan -i iocs.txt --format msgpack -o plain.mp bad.log forms.log
"$B" scan -i iocs.txt --format msgpack --raw -o raw.mp bad.log forms.log
$PY - plain.mp raw.mp <<'PY' || fail "msgpack strings are not UTF-8"
import msgpack, sys

def events(path, **kw):
    with open(path, "rb") as f:
        return list(msgpack.Unpacker(f, raw=False, **kw))

plain = events(sys.argv[1])  # raises on a str that is not UTF-8
assert len(plain) == 2, plain
a, b = plain
assert a["event"]["original"] == "abc\ufffd 192.81.209.168", a["event"]
assert a["iocstream"]["match"] == {"start": 5, "end": 19}, a["iocstream"]
assert a["iocstream"]["line_length"] == 19, a["iocstream"]
# One U+FFFD per maximal subpart: a surrogate is three, a cut 4-byte
# sequence one; valid UTF-8 passes through.
assert b["event"]["original"] == (
    "ok \u00e9 \ufffd\ufffd\ufffd \ufffd 192.81.209.168"), b["event"]
assert b["iocstream"]["match"] == {"start": 14, "end": 28}, b["iocstream"]

raw = events(sys.argv[2])
assert [type(e["event"]["original"]) for e in raw] == [bytes, bytes]
assert raw[0]["event"]["original"] == b"abc\xff 192.81.209.168"
assert raw[1]["event"]["original"] == (
    b"ok \xc3\xa9 \xed\xa0\x80 \xf0\x9f\x98 192.81.209.168")
for p, r in zip(plain, raw):  # nothing else differs
    p["event"].pop("original"), r["event"].pop("original")
    p.pop("@timestamp"), r.pop("@timestamp")
    p["event"].pop("created"), r["event"].pop("created")
    assert p == r, (p, r)
PY

# decode prints strict UTF-8 JSON for both, event.original with U+FFFD.
for f in plain.mp raw.mp; do
    "$B" decode $f >$f.json || fail "decode $f"
    $PY - $f.json <<'PY' || fail "decode of $f is not valid UTF-8 JSON"
import json, sys
data = open(sys.argv[1], "rb").read()
lines = data.decode("utf-8", errors="strict").splitlines()
evs = [json.loads(l) for l in lines]
assert evs[0]["event"]["original"] == "abc\ufffd 192.81.209.168", evs[0]
assert evs[1]["event"]["original"].count("\ufffd") == 4, evs[1]
PY
done
# The JSON format is the decoder's text for the plain msgpack.
"$B" scan -i iocs.txt --format json bad.log forms.log >plain.json
$PY - plain.json plain.mp.json <<'PY' || fail "JSON output != decode"
import json, sys
def load(p):
    evs = [json.loads(l) for l in open(p, encoding="utf-8")]
    for e in evs:
        e.pop("@timestamp"), e["event"].pop("created")
    return evs
assert load(sys.argv[1]) == load(sys.argv[2])
PY

# --raw needs msgpack output.
run "$B" scan -i iocs.txt --raw --format json bad.log 2>err.txt
expect_status 2 "--raw with --format json"
grep -q -- "--raw keeps event.original as msgpack bin" err.txt ||
    fail "--raw --format json: $(cat err.txt)"
run "$B" scan -i iocs.txt --raw -o x.json bad.log 2>err.txt
expect_status 2 "--raw with -o x.json"

# 17. decode refuses what is not msgpack on stdin and pipes too.
set +e
printf '{"a":1}\n' | "$B" decode >out.txt 2>err.txt
rc=$?
set -e
expect_status 2 "JSON lines piped to decode"
want="not a msgpack event stream (first byte 0x7b '{'); JSON lines need no decode"
grep -qF "$want" err.txt || fail "decode of piped JSON: $(cat err.txt)"
[ ! -s out.txt ] || fail "decode of piped JSON printed $(cat out.txt)"
run "$B" decode <plain.json >/dev/null 2>err.txt
expect_status 2 "JSON on stdin (a file) to decode"
grep -qF "$want" err.txt || fail "decode <file: $(cat err.txt)"
set +e
cat plain.mp | "$B" decode >piped.json
rc=$?
set -e
expect_status 0 "msgpack piped to decode"
cmp -s piped.json plain.mp.json || fail "piped decode differs"
run "$B" decode </dev/null
expect_status 0 "empty input is zero events"

echo "e2e_utf8: ok"
