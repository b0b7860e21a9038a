#!/usr/bin/env bash
# NATS JetStream end to end, on loopback with Debian's nats-server (skips,
# 77, without it): a scan of the generated corpus published to a stream
# holds the events of the same scan written to a file, in order, with
# Nats-Msg-Id = event.id; a server killed (SIGKILL) mid-scan and started
# again on the same store ends with every event exactly once; refused
# credentials and a subject no stream captures are clear errors (exit 2).
. "$(dirname "$0")/lib_e2e.sh"
command -v nats-server >/dev/null || exit 77
PY=/usr/bin/python3
$PY -c 'import msgpack' 2>/dev/null || exit 77
TOOL="$PY $S/tests/nats_tool.py"

python3 "$S/scripts/genlogs.py" --seed 12 --size 12M --iocs 1000 \
    --hit-rate 0.05 --files 3 --out "$W/g" -q

free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start_server PORT STORE [ARGS...]: a JetStream server; sets SPID.
start_server() {
    local port=$1 store=$2
    shift 2
    nats-server -js -a 127.0.0.1 -p "$port" -sd "$store" "$@" \
        >>"$W/nats-$port.log" 2>&1 &
    SPID=$!
    PIDS+=("$SPID")
    for _ in $(seq 100); do
        $PY -c 'import socket,sys; socket.create_connection(("127.0.0.1",
int(sys.argv[1])), timeout=1)' "$port" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "nats-server did not start on $port"
}

# compare REF.mp DATA.json IDS [ordered|once]: the stream's messages are the
# file's events (scan times aside), each message one msgpack map whose
# Nats-Msg-Id is its event.id; ordered: in the same order; once: in any
# order, each exactly once.
compare() {
    $PY - "$@" <<'PYEOF' || fail "stream differs from the file ($4)"
import json, sys, msgpack
ref, data, ids, mode = sys.argv[1:5]
def norm(e):
    e = dict(e); ev = dict(e["event"])
    del e["@timestamp"]; del ev["created"]; e["event"] = ev
    return msgpack.packb(e)  # keys keep their order: same bytes, same event
want = [norm(e) for e in msgpack.Unpacker(open(ref, "rb"), raw=False,
                                          timestamp=3)]
wid = [e["event"]["id"] for e in msgpack.Unpacker(open(ref, "rb"), raw=False,
                                                  timestamp=3)]
got, gid = [], [l.strip() for l in open(ids)]
for h in json.load(open(data)):
    u = msgpack.Unpacker(raw=False, timestamp=3); u.feed(bytes.fromhex(h))
    objs = list(u)
    assert len(objs) == 1, "a message holds %d objects" % len(objs)
    got.append(objs[0])
for g, i in zip(got, gid):
    assert g["event"]["id"] == i, ("Nats-Msg-Id", i, g["event"]["id"])
got = [norm(g) for g in got]
assert len(set(wid)) == len(wid), "ids of the file scan are not unique"
if mode == "ordered":
    assert len(got) == len(want), (len(got), len(want))
    for k, (g, w) in enumerate(zip(got, want)):
        assert g == w, "message %d differs" % k
else:
    assert len(gid) == len(set(gid)), "%d duplicates" % (len(gid) - len(set(gid)))
    assert sorted(gid) == sorted(wid), (len(gid), len(wid))
    byid = dict(zip(wid, want))
    assert all(byid[i] == g for i, g in zip(gid, got)), "an event differs"
print("%s: %d events" % (mode, len(got)))
PYEOF
}

P=$(free_port)
start_server "$P" "$W/store"
$TOOL "$P" create EV iocs.events
$TOOL "$P" create KILL iocs.kill

# 1. The corpus to the stream and to a file: the same events in the same
# order.
run "$B" scan -i "$W/g/iocs.txt" -o "$W/ref.mp" "$W/g/logs"
expect_status 0 "file"
run "$B" scan -i "$W/g/iocs.txt" --stats -o "nats://127.0.0.1:$P/iocs.events" \
    "$W/g/logs" 2>"$W/err"
expect_status 0 "nats"
grep -q "acknowledged" "$W/err" || fail "--stats says nothing of acks"
$TOOL "$P" dump EV "$W/ev.json" "$W/ev.ids"
[ "$(wc -l <"$W/ev.ids")" -gt 1000 ] || fail "too few events"
compare "$W/ref.mp" "$W/ev.json" "$W/ev.ids" ordered

# 2. SIGKILL the server mid-scan, start it again on the same port and
# store: every event exactly once. The input is a pipe that trickles the
# first half (so events are being published when the server dies) and
# stops until the server is back, so the scan goes on across the restart.
find "$W/g/logs" -type f | sort | xargs cat >"$W/all.log"
half=$(($(stat -c %s "$W/all.log") / 2))
head -c "$half" "$W/all.log" >"$W/half1"
tail -c +"$((half + 1))" "$W/all.log" >"$W/half2"
set +e
cat "$W/all.log" | "$B" scan -i "$W/g/iocs.txt" -o "$W/ref2.mp"
rc=$?
set -e
expect_status 0 "file, stdin"
(
    $PY -c 'import sys, time
f = open(sys.argv[1], "rb")
while True:
    b = f.read(32768)
    if not b:
        break
    sys.stdout.buffer.write(b); sys.stdout.flush(); time.sleep(0.01)' "$W/half1"
    while [ ! -f "$W/go" ]; do sleep 0.05; done
    cat "$W/half2"
) | "$B" scan -i "$W/g/iocs.txt" --ack-timeout 1s --drain-timeout 60s \
    --stats -o "nats://127.0.0.1:$P/iocs.kill" 2>"$W/kill.err" &
SCAN=$!
for _ in $(seq 200); do
    n=$($TOOL "$P" count KILL 2>/dev/null || echo 0)
    [ "$n" -gt 0 ] && break
    sleep 0.05
done
[ "$n" -gt 0 ] || fail "nothing reached the stream"
kill -9 "$SPID"
wait "$SPID" 2>/dev/null || true
sleep 0.5
start_server "$P" "$W/store"
touch "$W/go"
set +e
wait "$SCAN"
rc=$?
set -e
cat "$W/kill.err" >&2
expect_status 0 "nats, server killed"
$TOOL "$P" dump KILL "$W/kill.json" "$W/kill.ids"
compare "$W/ref2.mp" "$W/kill.json" "$W/kill.ids" once

# 3. Credentials refused: exit 2, said clearly, the password not printed.
P2=$(free_port)
start_server "$P2" "$W/store2" --user iocs --pass right-pass
run "$B" scan -i "$W/g/iocs.txt" -o "nats://iocs:wrong-pass@127.0.0.1:$P2/x" \
    "$W/g/logs" 2>"$W/auth.err"
expect_status 2 "wrong password"
grep -qi "authoriz" "$W/auth.err" || fail "no clear error: $(cat "$W/auth.err")"
if grep -q "wrong-pass" "$W/auth.err"; then fail "the password is printed"; fi

# 4. A subject no stream captures.
run "$B" scan -i "$W/g/iocs.txt" -o "nats://127.0.0.1:$P/nobody.here" \
    "$W/g/logs" 2>"$W/nostream.err"
expect_status 2 "no stream"
grep -q "no JetStream stream captures subject nobody.here" "$W/nostream.err" ||
    fail "no clear error: $(cat "$W/nostream.err")"
echo "e2e_nats: ok"
