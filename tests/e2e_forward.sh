#!/usr/bin/env bash
# Fluent Forward end to end, on loopback, against tests/forward_receiver.py:
# every event of a scan of the generated corpus arrives, each record equal
# to the JSON event of the same scan, times as RFC 3339 strings and
# EventTime = @timestamp; gzip chunks; a receiver killed and started again
# mid-scan gets every event at least once, copies with the same event.id;
# unix:///path; TLS with a throwaway CA and --tls-ca; the shared key, right
# and wrong; a receiver that stops reading stops the scan with its memory
# flat, and everything arrives once it reads again.
. "$(dirname "$0")/lib_e2e.sh"
PY=/usr/bin/python3
$PY -c 'import msgpack' 2>/dev/null || exit 77
RECV="$PY $S/tests/forward_receiver.py"

python3 "$S/scripts/genlogs.py" --seed 13 --size 8M --iocs 500 \
    --hit-rate 0.3 --files 3 --out "$W/g" -q
run "$B" scan -i "$W/g/iocs.txt" --format json -o "$W/ref.jsonl" "$W/g/logs"
expect_status 0 "file"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# receiver OUT [ARGS...]: start one; sets RPID and PORT.
receiver() {
    local out=$1
    shift
    rm -f "$W/ready"
    $RECV --out "$out" --ready "$W/ready" "$@" 2>>"$W/receiver.log" &
    RPID=$!
    PIDS+=("$RPID")
    for _ in $(seq 100); do [ -s "$W/ready" ] && break; sleep 0.1; done
    [ -s "$W/ready" ] || fail "the receiver did not start"
    PORT=$(cat "$W/ready")
}

# compare GOT REF TAG exact|atleast: the records are REF's events (scan
# times aside), EventTime = @timestamp, times inside as RFC 3339 text;
# exact: each once, in order; atleast: each at least once, and every copy
# the same.
compare() {
    $PY - "$@" <<'PYEOF' || fail "records differ from the JSON scan ($4)"
import datetime, json, sys
got, ref, tag, mode = sys.argv[1:5]
def rfc3339(s):
    assert isinstance(s, str) and s.endswith("Z"), s
    base, _, frac = s[:-1].partition(".")
    d = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
    sec = int(d.replace(tzinfo=datetime.timezone.utc).timestamp())
    return [sec, int((frac + "000000000")[:9])]
def norm(e):
    e = dict(e); ev = dict(e["event"])
    rfc3339(e.pop("@timestamp")); rfc3339(ev.pop("created")); e["event"] = ev
    return json.dumps(e)  # key order kept: same text, same event
want = [json.loads(l) for l in open(ref)]
wid = [e["event"]["id"] for e in want]
want = [norm(e) for e in want]
lines = [json.loads(l) for l in open(got)]
for l in lines:
    assert l["tag"] == tag, l["tag"]
    assert l["time"] == rfc3339(l["record"]["@timestamp"]), l["time"]
gid = [l["record"]["event"]["id"] for l in lines]
have = [norm(l["record"]) for l in lines]
if mode == "exact":
    assert len(have) == len(want), (len(have), len(want))
    for k, (h, w) in enumerate(zip(have, want)):
        assert h == w, "record %d differs" % k
else:
    byid = dict(zip(wid, want))
    assert set(gid) == set(wid), (len(set(gid)), len(set(wid)))
    assert all(byid[i] == h for i, h in zip(gid, have)), "a copy differs"
    print("%d records, %d duplicates" % (len(gid), len(gid) - len(set(gid))))
print("%s: %d records" % (mode, len(have)))
PYEOF
}

scan_to() {
    run "$B" scan -i "$W/g/iocs.txt" --drain-timeout 60s "$@" "$W/g/logs"
}

# 1. TCP, a tag of our own; then gzip chunks.
receiver "$W/tcp.jsonl"
scan_to --tag iocs.test --stats -o "forward://127.0.0.1:$PORT" 2>"$W/err"
expect_status 0 "forward"
grep -q "acknowledged" "$W/err" || fail "--stats says nothing of acks"
compare "$W/tcp.jsonl" "$W/ref.jsonl" iocs.test exact
scan_to --forward-compress -o "forward://127.0.0.1:$PORT"
expect_status 0 "forward, gzip"
kill "$RPID"
tail -n +"$(($(wc -l <"$W/ref.jsonl") + 1))" "$W/tcp.jsonl" >"$W/gz.jsonl"
compare "$W/gz.jsonl" "$W/ref.jsonl" iocstream.hit exact

# 2. The receiver killed mid-scan and started again on its port: at least
# once. The input trickles in through a pipe and waits half way for the
# new receiver, so the scan spans the restart.
find "$W/g/logs" -type f | sort | xargs cat >"$W/all.log"
half=$(($(stat -c %s "$W/all.log") / 2))
head -c "$half" "$W/all.log" >"$W/half1"
tail -c +"$((half + 1))" "$W/all.log" >"$W/half2"
set +e
cat "$W/all.log" | "$B" scan -i "$W/g/iocs.txt" --format json -o "$W/ref2.jsonl"
rc=$?
set -e
expect_status 0 "file, stdin"
receiver "$W/k1.jsonl"
KPORT=$PORT
(
    $PY -c 'import sys, time
f = open(sys.argv[1], "rb")
while True:
    b = f.read(16384)
    if not b:
        break
    sys.stdout.buffer.write(b); sys.stdout.flush(); time.sleep(0.01)' "$W/half1"
    while [ ! -f "$W/go" ]; do sleep 0.05; done
    cat "$W/half2"
) | "$B" scan -i "$W/g/iocs.txt" --ack-timeout 1s --drain-timeout 60s \
    --stats -o "forward://127.0.0.1:$KPORT" 2>"$W/kill.err" &
SCAN=$!
for _ in $(seq 200); do
    [ -s "$W/k1.jsonl" ] && break
    sleep 0.05
done
[ -s "$W/k1.jsonl" ] || fail "nothing reached the receiver"
kill -9 "$RPID"
sleep 0.5
receiver "$W/k2.jsonl" --port "$KPORT"
touch "$W/go"
set +e
wait "$SCAN"
rc=$?
set -e
cat "$W/kill.err" >&2
expect_status 0 "forward, receiver killed"
cat "$W/k1.jsonl" "$W/k2.jsonl" >"$W/kill.jsonl"
compare "$W/kill.jsonl" "$W/ref2.jsonl" iocstream.hit atleast
kill "$RPID"

# 3. A Unix socket.
receiver "$W/unix.jsonl" --unix "$W/fwd.sock"
scan_to -o "unix://$W/fwd.sock"
expect_status 0 "unix"
compare "$W/unix.jsonl" "$W/ref.jsonl" iocstream.hit exact
kill "$RPID"

# 4. TLS: a throwaway CA and a certificate for 127.0.0.1; without the CA
# the receiver is not trusted.
if command -v openssl >/dev/null; then
    (
        cd "$W"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=test CA" \
            -keyout ca.key -out ca.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
            -keyout srv.key -out srv.csr 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
        openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key \
            -CAcreateserial -days 2 -extfile san.ext -out srv.pem 2>/dev/null
    )
    receiver "$W/tls.jsonl" --tls-cert "$W/srv.pem" --tls-key "$W/srv.key"
    scan_to --tls-ca "$W/ca.pem" -o "forward+tls://127.0.0.1:$PORT"
    expect_status 0 "tls"
    compare "$W/tls.jsonl" "$W/ref.jsonl" iocstream.hit exact
    run timeout 60 "$B" scan -i "$W/g/iocs.txt" \
        -o "forward+tls://127.0.0.1:$PORT" "$W/g/logs" 2>"$W/tls.err"
    expect_status 2 "tls, CA not given"
    grep -qi "certificate\|verif" "$W/tls.err" ||
        fail "no clear TLS error: $(cat "$W/tls.err")"
    kill "$RPID"
fi

# 5. The shared key, from a file: right, then wrong.
printf 'sesame-1234\n' >"$W/key"
printf 'not-the-key\n' >"$W/badkey"
receiver "$W/key.jsonl" --shared-key sesame-1234
scan_to --forward-shared-key-file "$W/key" -o "forward://127.0.0.1:$PORT"
expect_status 0 "shared key"
compare "$W/key.jsonl" "$W/ref.jsonl" iocstream.hit exact
run timeout 60 "$B" scan -i "$W/g/iocs.txt" --forward-shared-key-file \
    "$W/badkey" -o "forward://127.0.0.1:$PORT" "$W/g/logs" 2>"$W/key.err"
expect_status 2 "wrong shared key"
grep -q "shared key" "$W/key.err" || fail "no clear error: $(cat "$W/key.err")"
kill "$RPID"

# 6. Backpressure: ten copies of the corpus make more events than the sink
# may hold unacknowledged (64 MiB). The receiver is stopped (SIGSTOP; the
# kernel still accepts the connection) before the scan starts: the scan
# stops reading, its memory stays flat; the receiver goes on (SIGCONT) and
# every event is acknowledged. read(2), not io_uring nor mapped files, so
# /proc/PID/io's rchar counts what the scan has read.
for i in $(seq 10); do cp -r "$W/g/logs" "$W/big/$i" 2>/dev/null ||
    { mkdir -p "$W/big" && cp -r "$W/g/logs" "$W/big/$i"; }; done
total=$(du -sb "$W/big" | cut -f1)
receiver /dev/null --discard
kill -STOP "$RPID"
"$B" scan -i "$W/g/iocs.txt" --no-uring --no-mmap --stats --ack-timeout 120s --drain-timeout 120s \
    -o "forward://127.0.0.1:$PORT" "$W/big" 2>"$W/bp.err" &
SCAN=$!
samples=()
for _ in $(seq 12); do
    sleep 0.5
    kill -0 "$SCAN" 2>/dev/null || fail "the scan ended while the receiver slept"
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$SCAN/status")
    rchar=$(awk '/rchar/ {print $2}' "/proc/$SCAN/io")
    samples+=("$rss:$rchar")
done
kill -CONT "$RPID"
echo "backpressure samples (RSS kB:bytes read): ${samples[*]}" >&2
set +e
wait "$SCAN"
rc=$?
set -e
cat "$W/bp.err" >&2
expect_status 0 "backpressure"
$PY - "$total" "${samples[@]}" <<'PYEOF' || fail "no backpressure"
import sys
total = int(sys.argv[1])
s = [tuple(map(int, x.split(":"))) for x in sys.argv[2:]]
late = s[6:]  # the scan has met the limit by then
rss = [r for r, _ in late]; rd = [c for _, c in late]
assert max(rd) < total, ("read everything while the receiver slept", rd, total)
assert max(rd) > (16 << 20), ("blocked before the sink was full", rd)
assert max(rd) - min(rd) < (4 << 20), ("kept reading", rd)
assert max(rss) - min(rss) < 8 << 10, ("memory grew", rss)
assert max(rss) < 256 << 10, ("memory over 256 MiB", rss)
print("blocked at %d of %d bytes, RSS %d-%d kB" % (max(rd), total,
      min(rss), max(rss)))
PYEOF
n=$(grep -o '[0-9]* events sent, [0-9]* acknowledged' "$W/bp.err")
sent=${n%% events*}
acked=${n#*, }
acked=${acked%% *}
[ "$sent" = "$acked" ] && [ "$sent" -eq $((10 * $(wc -l <"$W/ref.jsonl"))) ] ||
    fail "after the pause: $n, want $((10 * $(wc -l <"$W/ref.jsonl")))"

# SIGTERM while the receiver never acks: the scan stops reading, waits
# --drain-timeout for the acks, says how many are missing, 128+SIGTERM.
receiver "$W/noack.jsonl" --no-ack
(for i in $(seq 1 40); do echo "line $i 192.81.209.168"; sleep 0.05; done) |
    "$B" scan --no-cache -o "forward://127.0.0.1:$PORT" --drain-timeout 1s \
        --ack-timeout 60s - 2>"$W/term.err" &
SCAN=$!
sleep 1
kill -TERM "$SCAN"
t0=$(date +%s%N)
wait "$SCAN" && rc=0 || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 143 ] || fail "SIGTERM with unacked events: exit $rc, want 143"
grep -q 'events not acknowledged after 1.0 s (--drain-timeout)' "$W/term.err" ||
    fail "no unacked count after SIGTERM: $(cat "$W/term.err")"
[ "$ms" -ge 900 ] && [ "$ms" -lt 10000 ] ||
    fail "SIGTERM: exited after $ms ms, want the 1 s drain timeout"
echo "e2e_forward: ok"
