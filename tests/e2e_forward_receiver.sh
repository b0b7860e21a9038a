#!/bin/bash
# The test receiver (tests/forward_receiver.py) against an independent
# Forward client, Debian's python3-fluent-logger: Message mode with
# EventTime and with integer times, with and without an ack request; then
# Forward and CompressedPackedForward messages packed here with msgpack.
# Every record must arrive as sent. Skips (77) without python3-fluent-logger.
set -euo pipefail
PY=/usr/bin/python3
SRC=${IOCS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
$PY -c 'import msgpack; from fluent import sender' 2>/dev/null || exit 77
WORK=$(mktemp -d)
RPID=
cleanup() { [ -n "$RPID" ] && kill "$RPID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

$PY "$SRC/tests/forward_receiver.py" --out "$WORK/got.jsonl" \
    --ready "$WORK/ready" 2>"$WORK/receiver.log" &
RPID=$!
for _ in $(seq 100); do [ -f "$WORK/ready" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/ready")

timeout 30 $PY - "$PORT" "$WORK/got.jsonl" <<'PYEOF'
import gzip, json, socket, sys, time
import msgpack
from fluent import sender

port, got = int(sys.argv[1]), sys.argv[2]
want = []
# Message mode, EventTime, ack requested.
s = sender.FluentSender("app", host="127.0.0.1", port=port,
                        nanosecond_precision=True, require_ack_response=True)
for i in range(3):
    rec = {"i": i, "msg": "hello %d" % i}
    assert s.emit_with_time("ev", 1733368455 + i + 0.5, rec), s.last_error
    want.append(("app.ev", [1733368455 + i, 500000000], rec))
s.close()
# Message mode, integer time, no ack.
s = sender.FluentSender("app", host="127.0.0.1", port=port)
rec = {"plain": True}
assert s.emit_with_time("int", 1733368460, rec), s.last_error
want.append(("app.int", 1733368460, rec))
s.close()

# Forward and CompressedPackedForward, by hand, with acks.
def et(sec, ns):
    return msgpack.ExtType(0, sec.to_bytes(4, "big") + ns.to_bytes(4, "big"))
c = socket.create_connection(("127.0.0.1", port), timeout=10)
u = msgpack.Unpacker(raw=False)
def ack(chunk):
    while True:
        for o in u:
            assert o == {"ack": chunk}, o
            return
        u.feed(c.recv(4096))
recs = [{"f": 1}, {"f": 2}]
c.sendall(msgpack.packb(["fwd", [[et(10, 1), recs[0]], [et(11, 2), recs[1]]],
                         {"chunk": "c1"}]))
ack("c1")
want += [("fwd", [10, 1], recs[0]), ("fwd", [11, 2], recs[1])]
recs = [{"z": i} for i in range(5)]
body = b"".join(msgpack.packb([et(20 + i, 0), r]) for i, r in enumerate(recs))
c.sendall(msgpack.packb(["gz", gzip.compress(body),
                         {"size": 5, "chunk": "c2", "compressed": "gzip"}],
                        use_bin_type=True))
ack("c2")
want += [("gz", [20 + i, 0], r) for i, r in enumerate(recs)]
c.close()

for _ in range(100):
    lines = [json.loads(l) for l in open(got)]
    if len(lines) >= len(want):
        break
    time.sleep(0.1)
have = sorted(json.dumps([l["tag"], l["time"], l["record"]], sort_keys=True)
              for l in lines)
exp = sorted(json.dumps(list(w), sort_keys=True) for w in want)
assert have == exp, (have, exp)
print("receiver ok: %d records" % len(have))
PYEOF
