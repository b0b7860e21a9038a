#!/usr/bin/env bash
# End to end for `iocstream cluster`: a real nats-server (JetStream, on
# loopback, a free port, its own store directory), a generated corpus of
# small files, gzip files and one large file cut into several byte ranges;
# one worker killed with SIGKILL while it holds a unit whose events are out
# but not acked, three more started (one of them later). The job's events
# stream must hold exactly the events of a local `scan` of the same paths,
# each once (compared decoded, sorted, scan times and ids left out). Then
# the failures: a missing file, a job whose database is not stored, a
# worker pointed at no server, an unknown job, a job name used twice.
. "$(dirname "$0")/lib_e2e.sh"

command -v nats-server >/dev/null || {
    echo "SKIP: nats-server is not installed" >&2
    exit 77
}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill -9 "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

port=$($PY -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="nats://127.0.0.1:$port"
nats-server -js -a 127.0.0.1 -p "$port" -sd "$W/js" >"$W/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

# The corpus: genlogs' files, one large file of them all (cut into ranges
# of 1 MiB; it holds a line longer than 200 KB), and gzip copies.
$PY "$S/scripts/genlogs.py" --seed 13 --size 6M --iocs 500 --hit-rate 0.02 \
    --builtin --long-lines 1 --files 2 --out "$W/g" -q
printf '%s\n' $BUILTIN_VALUES >"$W/builtin.txt"
mkdir -p "$W/c"
cp -r "$W/g/logs" "$W/c/small"
find "$W/g/logs" -type f | sort | xargs cat >"$W/c/big.log"
i=0
for f in $(find "$W/g/logs" -type f | sort | head -3); do
    gzip -c "$f" >"$W/c/z$i.log.gz"
    i=$((i + 1))
done
# An allowlist travels with the job (two of the planted addresses).
head -2 "$W/builtin.txt" >"$W/allow.txt"
IOCS=(-i "$W/g/iocs.txt" -i "$W/builtin.txt" --allow "$W/allow.txt")

# normalise MSGPACK OUT: decoded events minus scan times and ids, sorted.
normalise() {
    "$B" decode "$1" >"$1.jsonl"
    $PY -c 'import json,sys
rows = []
for l in open(sys.argv[1]):
    e = json.loads(l); del e["@timestamp"]; del e["event"]["created"]
    e["event"].pop("id", None)
    rows.append(json.dumps(e, sort_keys=True))
rows.sort()
sys.stdout.write("".join(r + "\n" for r in rows))' "$1.jsonl" >"$2"
}

run "$B" scan "${IOCS[@]}" -j 1 -o "$W/local.mp" "$W/c"
expect_status 0 "local scan"
normalise "$W/local.mp" "$W/local.norm"
want=$(wc -l <"$W/local.norm")
[ "$want" -gt 500 ] || fail "only $want local events"

run "$B" cluster submit --nats "$URL" --job j1 "${IOCS[@]}" \
    --unit-size 1M "$W/c" >"$W/submit.out"
expect_status 0 "submit"
units=$(sed -n 's/^job j1: \([0-9]*\) units.*/\1/p' "$W/submit.out")
files=$(find "$W/c" -type f | wc -l)
big=$(stat -c %s "$W/c/big.log")
# The large file is cut into ranges of about 1 MiB; the small files share
# units (up to 1 MiB of them each).
[ "$units" -ge $((big / 1048576)) ] && [ "$units" -lt "$files" ] ||
    fail "$units units for $files files (big.log: $big bytes)"

run "$B" cluster submit --nats "$URL" --job j1 "${IOCS[@]}" "$W/c" \
    2>"$W/dup.err" >/dev/null
expect_status 2 "a job name used twice"
grep -q "exists already" "$W/dup.err" || fail "no 'exists' message"

# A missing file is a failed unit, recorded with its error, not retried;
# a job whose database was never stored fails with a clear error. Both are
# submitted before any worker runs.
cp "$W/g/iocs.txt" "$W/gone.log"
run "$B" cluster submit --nats "$URL" --job j2 "${IOCS[@]}" "$W/gone.log" \
    >/dev/null
expect_status 0 "submit j2"
rm "$W/gone.log"
run "$B" cluster submit --nats "$URL" --job j3 -i "$W/allow.txt" \
    --no-db-store "$W/c/z0.log.gz" >/dev/null
expect_status 0 "submit j3"

# Worker A holds each unit 30 s after its events are published: kill it
# there, so its unit comes back and its events are published again.
W_ARGS=(--nats "$URL" -j 1 --ack-wait 2)
"$B" cluster worker "${W_ARGS[@]}" --test-delay 30000 2>"$W/wa.err" &
wa=$!
pids+=($wa)
# (up to 60 s: an ASan or TSan build starts slowly on a busy machine)
for _ in $(seq 600); do
    "$B" cluster status --nats "$URL" j1 >"$W/st.out"
    grep -Eq " running=[1-9]" "$W/st.out" && break
    sleep 0.1
done
grep -Eq " running=[1-9]" "$W/st.out" || fail "worker A never started a unit"
sleep 1 # its events are out (flushed) before the delay
kill -9 "$wa"
for k in 1 2; do
    "$B" cluster worker "${W_ARGS[@]}" 2>"$W/w$k.err" &
    pids+=($!)
done
sleep 1
"$B" cluster worker "${W_ARGS[@]}" 2>"$W/w3.err" &
pids+=($!)
run timeout 120 "$B" cluster status --nats "$URL" j1 --wait >"$W/st.out"
expect_status 0 "status --wait"
cat "$W/st.out"
grep -q "units=$units pending=0 running=0 done=$units failed=0 events=$want " \
    "$W/st.out" || fail "status: $(cat "$W/st.out")"
grep -q "state=done" "$W/st.out" || fail "not done"

run "$B" cluster events --nats "$URL" j1 -o "$W/cluster.mp"
expect_status 0 "events"
normalise "$W/cluster.mp" "$W/cluster.norm"
got=$(wc -l <"$W/cluster.norm")
[ "$got" -eq "$want" ] || fail "the stream holds $got events, the scan $want"
cmp -s "$W/local.norm" "$W/cluster.norm" ||
    fail "cluster events differ from the local scan's: $(diff \
        "$W/local.norm" "$W/cluster.norm" | head -5)"

run timeout 60 "$B" cluster status --nats "$URL" j2 --wait >"$W/st2.out"
expect_status 2 "status --wait with a failed unit"
grep -q "failed=1 " "$W/st2.out" || fail "j2: $(cat "$W/st2.out")"
grep -q "gone.log: No such file" "$W/st2.out" || fail "j2: no error recorded"
run timeout 60 "$B" cluster status --nats "$URL" j3 --wait >"$W/st3.out"
expect_status 2 "status --wait, no database"
grep -q "is not in the cluster" "$W/st3.out" ||
    fail "j3: $(cat "$W/st3.out")"
grep -q "is not in the cluster" "$W"/w*.err || fail "no worker said why"

# No server there; an unknown job; a bad job name.
run timeout 20 "$B" cluster worker --nats nats://127.0.0.1:1 2>"$W/nos.err"
expect_status 2 "worker with no server"
grep -q "cannot connect to nats://127.0.0.1:1" "$W/nos.err" ||
    fail "no clear error: $(cat "$W/nos.err")"
run "$B" cluster status --nats "$URL" nosuch 2>"$W/unk.err"
expect_status 2 "unknown job"
grep -q "no such job" "$W/unk.err" || fail "unknown job: $(cat "$W/unk.err")"
run "$B" cluster submit --nats "$URL" --job 'a b' "$W/c" 2>/dev/null
expect_status 2 "bad job name"

# A time window travels with the job: --since/--until are applied by the
# workers (stored as UTC instants), lines without a time are kept.
mkdir -p "$W/win"
printf '%s\n' '2024-12-01T10:00:00Z early 192.81.209.168' \
    '2024-12-05T10:00:00Z inside 192.81.209.168' \
    '2024-12-09T10:00:00Z late 192.81.209.168' 'no time 192.81.209.168' \
    >"$W/win/a.log"
run "$B" cluster submit --nats "$URL" --job win --since 2024-12-03 \
    --until 2024-12-07T00:00:00+00:00 "$W/win/a.log" >/dev/null
expect_status 0 "submit with a window"
run "$B" cluster submit --nats "$URL" --job badwin --since soon \
    "$W/win/a.log" 2>/dev/null
expect_status 2 "submit with a bad --since"
run timeout 60 "$B" cluster status --nats "$URL" win --wait >/dev/null
expect_status 0 "status --wait, window"
"$B" cluster events --nats "$URL" win -o "$W/win/ev.mp" 2>/dev/null
"$B" decode "$W/win/ev.mp" | $PY -c '
import json, sys
got = sorted(json.loads(l)["event"]["original"].split()[1] for l in sys.stdin)
assert got == ["inside", "time"], got' || fail "the window was not applied"

# SIGTERM: a worker finishes (or releases) its unit and exits 0.
kill -TERM "${pids[2]}"
run wait "${pids[2]}"
expect_status 0 "worker after SIGTERM"
echo "e2e_cluster: $units units, $want events, each once"
