#!/usr/bin/env bash
# Fluent Forward against a server nobody here wrote: the fluent
# organisation's own Node.js implementation (@fluent-org/logger's
# FluentServer, from npm), so iocstream's client is not only checked by
# our own receiver. A scan of the generated corpus arrives whole, each
# record equal to the JSON event of the same scan, EventTime =
# @timestamp, as PackedForward and as CompressedPackedForward; the
# shared-key handshake works with the right key and is refused with a
# wrong one. Skipped (77) without node and npm, or when the package cannot
# be installed.
. "$(dirname "$0")/lib_e2e.sh"
PY=/usr/bin/python3
command -v node >/dev/null && command -v npm >/dev/null || exit 77
$PY -c 'import msgpack' 2>/dev/null || exit 77
NPMDIR=${IOCS_NPM_DIR:-$(dirname "$W")/npm-fluent}
if [ ! -d "$NPMDIR/node_modules/@fluent-org/logger" ]; then
    mkdir -p "$NPMDIR"
    timeout 300 npm install --prefix "$NPMDIR" --no-audit --no-fund \
        --silent @fluent-org/logger@1.0.10 >"$W/npm.log" 2>&1 || {
        echo "e2e_forward_node: npm install failed, skipped" >&2
        exit 77
    }
fi

python3 "$S/scripts/genlogs.py" --seed 21 --size 4M --iocs 300 \
    --hit-rate 0.3 --files 2 --out "$W/g" -q
run "$B" scan -i "$W/g/iocs.txt" --format json -o "$W/ref.jsonl" "$W/g/logs"
expect_status 0 "file"

SPID=
cleanup() { [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null || true; }
trap cleanup EXIT

# server OUT [KEY]: start one; sets SPID and PORT.
server() {
    rm -f "$W/ready"
    node "$S/tests/forward_node_server.js" "$NPMDIR" "$1" "$W/ready" \
        ${2:+"$2"} 2>>"$W/server.log" &
    SPID=$!
    for _ in $(seq 100); do [ -s "$W/ready" ] && break; sleep 0.1; done
    [ -s "$W/ready" ] || fail "the node server did not start: $(cat "$W/server.log")"
    PORT=$(cat "$W/ready")
}

stop() {
    sleep 0.3 # the last entries are written after the ack
    kill -TERM "$SPID"
    wait "$SPID" 2>/dev/null || true
    SPID=
}

# same GOT TAG: GOT's records are ref.jsonl's events, in order, scan times
# aside; EventTime is each event's @timestamp, to the nanosecond.
same() {
    $PY - "$1" "$W/ref.jsonl" "$2" <<'PYEOF'
import json, sys, datetime
got = [json.loads(l) for l in open(sys.argv[1])]
ref = [json.loads(l) for l in open(sys.argv[2])]
tag = sys.argv[3]
assert len(got) == len(ref), (tag, len(got), len(ref))
def norm(e):
    e = dict(e)
    e["event"] = dict(e["event"])
    e["event"].pop("created")
    if e.get("iocstream", {}).get("time") != "line":
        e.pop("@timestamp")
    return e
for g, r in zip(got, ref):
    assert g["tag"] == "iocstream.hit", g["tag"]
    assert g["nsec"] >= 0, "an integer time, not EventTime"
    ts = g["record"]["@timestamp"]
    d = datetime.datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
    d = d.replace(tzinfo=datetime.timezone.utc)
    assert int(d.timestamp()) == g["sec"], (ts, g["sec"])
    assert int(ts[20:29]) == g["nsec"], (ts, g["nsec"])
    assert norm(g["record"]) == norm(r), (tag, g["record"], r)
print("%s: %d records" % (tag, len(got)))
PYEOF
}

server "$W/plain.jsonl"
run "$B" scan -i "$W/g/iocs.txt" -o "forward://127.0.0.1:$PORT" "$W/g/logs"
expect_status 0 "forward to the node server"
stop
same "$W/plain.jsonl" "PackedForward" || fail "PackedForward records differ"

server "$W/gzip.jsonl"
run "$B" scan -i "$W/g/iocs.txt" --forward-compress \
    -o "forward://127.0.0.1:$PORT" "$W/g/logs"
expect_status 0 "compressed forward to the node server"
stop
same "$W/gzip.jsonl" "CompressedPackedForward" ||
    fail "CompressedPackedForward records differ"

server "$W/key.jsonl" "k3y-$$"
run "$B" scan -i "$W/g/iocs.txt" --forward-shared-key "k3y-$$" \
    -o "forward://127.0.0.1:$PORT" "$W/g/logs"
expect_status 0 "shared key"
run "$B" scan -i "$W/g/iocs.txt" --forward-shared-key "wrong" \
    -o "forward://127.0.0.1:$PORT" "$W/g/logs" 2>"$W/wrong.err"
expect_status 2 "wrong shared key"
grep -q "shared key" "$W/wrong.err" || fail "no shared-key message: $(cat "$W/wrong.err")"
stop
same "$W/key.jsonl" "shared key" || fail "records differ with the shared key"
echo "e2e_forward_node: ok"
