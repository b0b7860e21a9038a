#!/usr/bin/env bash
# bench_cluster.sh - a cluster job's throughput next to a local scan of the
# same paths (bench/CLUSTER.md). Starts its own nats-server on loopback.
#
#   [UNIT=32M] scripts/bench_cluster.sh BINARY CORPUS_DIR IOCS_FILE [RUNS]
#
# For each of: local scan -j 1, -j 2 to a file and to the same JetStream
# stream (nats://, publish acks awaited: the cluster's delivery), cluster
# with 1 and 2 worker processes (-j 1 each): wall seconds from the start (for the
# cluster: of `submit`, workers already waiting) to the end (`status
# --wait` returns), best of RUNS (default 3), and GB/s.
set -euo pipefail
B=$1 C=$2 I=$3 RUNS=${4:-3}
T=$(mktemp -d)
port=$(/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=nats://127.0.0.1:$port
export XDG_CACHE_HOME=$T/cache
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"' EXIT
nats-server -js -a 127.0.0.1 -p "$port" -sd "$T/js" >"$T/nats.log" 2>&1 &
pids+=($!)
sleep 1
bytes=$(find "$C" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
now() { date +%s.%N; }
best() { sort -n | head -1; }

"$B" scan -i "$I" -j 1 -o "$T/warm.mp" "$C" || true # page cache, db cache
for j in 1 2; do
    for r in $(seq "$RUNS"); do
        t0=$(now)
        "$B" scan -i "$I" -j "$j" -o "$T/local.mp" "$C" || true
        echo "$(now) - $t0" | bc
    done | best >"$T/local$j"
    echo "local scan -j $j: $(cat "$T/local$j") s, events $("$B" decode "$T/local.mp" | wc -l)"
done
# The events stream exists once a worker has started.
timeout 2 "$B" cluster worker --nats "$URL" -j 1 2>/dev/null || true
for j in 1 2; do
    for r in $(seq "$RUNS"); do
        t0=$(now)
        "$B" scan -i "$I" -j "$j" -o "$URL/iocstream.events.local$j$r" "$C" || true
        echo "$(now) - $t0" | bc
    done | best >"$T/nats$j"
    echo "local scan -j $j to NATS: $(cat "$T/nats$j") s"
done
for w in 1 2; do
    for k in $(seq "$w"); do
        "$B" cluster worker --nats "$URL" -j 1 2>>"$T/workers.log" &
        pids+=($!)
    done
    sleep 1
    for r in $(seq "$RUNS"); do
        t0=$(now)
        "$B" cluster submit --nats "$URL" --job "b${w}_$r" -i "$I" \
            --unit-size "${UNIT:-32M}" "$C" >"$T/sub"
        t1=$(now)
        "$B" cluster status --nats "$URL" "b${w}_$r" --wait >"$T/st"
        t2=$(now)
        echo "$(echo "$t2 - $t0" | bc) submit=$(echo "$t1 - $t0" | bc) $(cat "$T/sub" | tr '\n' ' ') $(cat "$T/st")"
    done | sort -n | head -1 >"$T/cl$w"
    echo "cluster, $w worker(s) -j 1: $(cat "$T/cl$w")"
    # Stop these workers before the next size.
    for p in "${pids[@]:1}"; do kill "$p" 2>/dev/null || true; done
    wait "${pids[@]:1}" 2>/dev/null || true
    pids=("${pids[0]}")
done
echo "bytes $bytes"
for f in local1 local2 nats1 nats2 cl1 cl2; do
    s=$(awk '{print $1}' "$T/$f")
    echo "$f $s s $(echo "scale=3; $bytes / $s / 1000000000" | bc) GB/s"
done
