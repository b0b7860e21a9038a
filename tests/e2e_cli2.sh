#!/usr/bin/env bash
# Whole events on every exit, and grep's exit codes (issue 15): SIGINT and
# SIGTERM, a live input that goes quiet, a FIFO with no writer, a
# non-blocking stdout, closed standard fds, kernel error names, -q/-l/-c,
# .json output names, long options spelled out, counts without suffixes,
# valid UTF-8 in msgpack strings. Each wait is bounded.
. "$(dirname "$0")/lib_e2e.sh"

cd "$W"
PY=/usr/bin/python3
printf '192.81.209.168\n' >iocs.txt
printf 'nothing here\n' >clean.log
printf 'x 192.81.209.168\n' >hit.log
"$B" scan -i iocs.txt -o warm.mp hit.log || true # build the db cache

# Number of whole events in a msgpack file; fails on a cut event.
count_mp() {
    $PY - "$1" <<'PY'
import msgpack, sys
data = open(sys.argv[1], "rb").read()
u = msgpack.Unpacker(raw=False, strict_map_key=False,
                     max_buffer_size=len(data) + 1)
u.feed(data)
n = 0
for ev in u:
    assert isinstance(ev, dict) and ev["event"]["kind"] == "alert", ev
    n += 1
# Everything fed was consumed: no partial event left at the end.
assert u.tell() == len(data), (u.tell(), len(data))
print(n)
PY
}

# 15. Exit status as grep: 0 a hit, 1 none, 2 an error, 141 a closed pipe.
run "$B" scan -i iocs.txt -o o.mp hit.log
expect_status 0 "a hit"
run "$B" scan -i iocs.txt -o o.mp clean.log
expect_status 1 "no hit"
run "$B" scan -i iocs.txt -o o.mp hit.log missing.log 2>/dev/null
expect_status 2 "an error wins over hits"
$PY -c 'print("x 192.81.209.168\n" * 20000, end="")' >many.log
set +e
"$B" scan -i iocs.txt --format json many.log 2>pipe_err.txt | head -n 1 >/dev/null
rc=${PIPESTATUS[0]}
set -e
expect_status 141 "output pipe closed"
[ ! -s pipe_err.txt ] || fail "SIGPIPE said something: $(cat pipe_err.txt)"

# 16. -q, -l, -c as grep.
run "$B" scan -i iocs.txt -q clean.log hit.log
expect_status 0 "-q with a hit"
run "$B" scan -i iocs.txt -q missing.log hit.log 2>/dev/null
expect_status 0 "-q: a hit wins over an error"
run "$B" scan -i iocs.txt -q clean.log >q.out
expect_status 1 "-q without a hit"
[ ! -s q.out ] || fail "-q printed something"
"$B" scan -i iocs.txt -l clean.log hit.log >l.out || true
[ "$(cat l.out)" = "hit.log" ] || fail "-l: $(cat l.out)"
cp hit.log hit2.log
printf 'a 192.81.209.168\nb 192.81.209.168\n' >>hit2.log
"$B" scan -i iocs.txt -c clean.log hit2.log >c.out || true
[ "$(cat c.out)" = "$(printf 'clean.log:0\nhit2.log:3')" ] || fail "-c: $(cat c.out)"
[ "$("$B" scan -i iocs.txt -c hit2.log)" = 3 ] || fail "-c, one file"
run "$B" scan -i iocs.txt -l -o x.mp hit.log 2>/dev/null
expect_status 2 "-l with -o"

# 17. -o NAME.json / .jsonl is JSON; other names msgpack; decode refuses
# what is not msgpack.
"$B" scan -i iocs.txt -o h.json hit.log
"$B" scan -i iocs.txt -o h.jsonl hit.log
"$B" scan -i iocs.txt -o h.mpk hit.log
for f in h.json h.jsonl; do
    $PY -c 'import json,sys; json.loads(open(sys.argv[1]).readline())' $f ||
        fail "$f is not JSON"
done
[ "$(count_mp h.mpk)" = 1 ] || fail "h.mpk is not msgpack"
run "$B" decode h.json 2>err.txt
expect_status 2 "decode of JSON"
grep -q "not a msgpack event stream" err.txt || fail "decode of JSON: $(cat err.txt)"

# 18. Long options are spelled out; 19. counts are plain numbers.
run "$B" scan --follow-sym -i iocs.txt hit.log 2>err.txt
expect_status 2 "--follow-sym abbreviation"
grep -q -- "--follow-symlinks" err.txt || fail "abbreviation: $(cat err.txt)"
run "$B" scan --stat -i iocs.txt -o o.mp hit.log 2>/dev/null
expect_status 2 "--stat abbreviation"
run "$B" summary --form json o.mp 2>/dev/null
expect_status 2 "summary --form"
run "$B" compile --out x.db -i iocs.txt 2>/dev/null
expect_status 2 "compile --out"
run "$B" scan -j 1K -i iocs.txt hit.log 2>/dev/null
expect_status 2 "-j 1K"
run "$B" scan --depth 2K -i iocs.txt hit.log 2>/dev/null
expect_status 2 "--depth 2K"
run "$B" scan --slab-size 64K -i iocs.txt -o o.mp hit.log
expect_status 0 "sizes keep K"

# 13. Kernel errors print as the kernel names them.
if [ -w /dev/full ]; then
    run "$B" scan -i iocs.txt -o /dev/full hit.log 2>err.txt
    expect_status 2 "/dev/full"
    grep -q "No space left on device" err.txt || fail "ENOSPC: $(cat err.txt)"
fi

# 12. Started with fd 2 closed, warnings do not land in the -o file.
run "$B" scan -i iocs.txt -o fd2.mp hit.log missing.log 2>&-
expect_status 2 "fd 2 closed"
[ "$(count_mp fd2.mp)" = 1 ] || fail "a warning landed in the output"

# 10. A live input that goes quiet: its events are out within 200 ms.
for j in 0 2; do
    rm -f live.mp
    (printf 'x 192.81.209.168\n'; sleep 3) |
        "$B" scan -j $j -i iocs.txt -o live.mp &
    pid=$!
    ok=
    for _ in $(seq 40); do
        sleep 0.1
        if [ -s live.mp ] && [ "$(count_mp live.mp)" = 1 ]; then ok=1; break; fi
    done
    [ -n "$ok" ] || fail "-j $j: a quiet pipe held its event back"
    wait $pid || true
done
# A FIFO with no writer after a log does not hold the log's events.
for j in 0 2; do
    rm -f ff fifo.mp
    mkfifo ff
    "$B" scan -j $j -i iocs.txt -o fifo.mp hit.log ff &
    pid=$!
    ok=
    for _ in $(seq 40); do
        sleep 0.1
        if [ -s fifo.mp ] && [ "$(count_mp fifo.mp)" = 1 ]; then ok=1; break; fi
    done
    printf 'y 192.81.209.168\n' >ff
    wait $pid || true
    [ -n "$ok" ] || fail "-j $j: a FIFO with no writer held the log's events"
    [ "$(count_mp fifo.mp)" = 2 ] || fail "-j $j: the FIFO's event"
done

# 9. SIGINT and SIGTERM: every event found is written, the output ends on
# a whole event, the stats line says how far it got, 128+signal.
for sig in INT TERM; do
    for j in 0 2; do
        rm -f sig.mp
        # A steady stream of hits, then the signal while it flows.
        ($PY -c '
import sys, time
line = b"x 192.81.209.168 " + b"a" * 200 + b"\n"
end = time.time() + 20
while time.time() < end:
    sys.stdout.buffer.write(line * 500)
    sys.stdout.flush()
    time.sleep(0.01)
' 2>/dev/null || true) | "$B" scan -j $j -i iocs.txt -o sig.mp 2>sig.err &
        pid=$!
        sleep 1.5
        kill -$sig $pid
        set +e
        wait $pid
        rc=$?
        set -e
        want=$((128 + $(kill -l $sig)))
        expect_status $want "SIG$sig -j $j"
        n=$(count_mp sig.mp) || fail "SIG$sig -j $j: output ends inside an event"
        [ "$n" -gt 0 ] || fail "SIG$sig -j $j: no events written"
        grep -q "stopped by signal.*reached - at byte" sig.err ||
            fail "SIG$sig -j $j: no progress line: $(cat sig.err)"
    done
done
# A signal while waiting for a FIFO's writer: the log's events are kept.
rm -f ff sig2.mp
mkfifo ff
"$B" scan -i iocs.txt -o sig2.mp hit.log ff 2>sig2.err &
pid=$!
sleep 1
kill -INT $pid
set +e
wait $pid
rc=$?
set -e
expect_status 130 "SIGINT while waiting on a FIFO"
[ "$(count_mp sig2.mp)" = 1 ] || fail "SIGINT on a FIFO lost the log's event"

# 11. A non-blocking stdout pipe: the scan waits for it, and finishes.
$PY - "$B" <<'PY'
import fcntl, os, subprocess, sys, time
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen([sys.argv[1], "scan", "-i", "iocs.txt", "-j", "0",
                      "--format", "json", "many.log"], stdout=w,
                     stderr=subprocess.PIPE)
os.close(w)
time.sleep(0.5)  # let it fill the pipe and meet EAGAIN
n = 0
with os.fdopen(r, "rb") as f:
    for line in f:
        n += 1
err = p.stderr.read().decode()
rc = p.wait(timeout=60)
assert rc == 0, (rc, err)
assert n == 20000, n
PY

echo "e2e_cli2: ok"
