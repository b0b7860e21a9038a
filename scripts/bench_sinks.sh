# bench_sinks.sh - sourced by bench.sh --sinks: the scan of $corpus to a
# file, to NATS JetStream and to Fluent Forward on loopback, $rounds rounds
# in rotated order, medians; writes the "Network sinks" section of $out.
run_sinks() {
    local py=/usr/bin/python3 port ready i k
    # (tmp, npid, rpid: global, for the EXIT trap)
    command -v nats-server >/dev/null || { log "no nats-server"; exit 2; }
    tmp=$(mktemp -d)
    npid= rpid=
    trap 'kill $npid $rpid 2>/dev/null; rm -rf "$tmp"' EXIT
    port=$($py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
    nats-server -js -a 127.0.0.1 -p "$port" -sd "$tmp/store" >"$tmp/nats.log" 2>&1 &
    npid=$!
    $py "$root/tests/forward_receiver.py" --discard --out /dev/null \
        --ready "$tmp/ready" 2>"$tmp/fwd.log" &
    rpid=$!
    for _ in $(seq 100); do [ -s "$tmp/ready" ] && break; sleep 0.1; done
    sleep 0.5
    ready=$(cat "$tmp/ready")
    local -A dest=([file]="$tmp/ev.mp" [nats]="nats://127.0.0.1:$port/bench.events"
        [forward]="forward://127.0.0.1:$ready")
    local names=(file nats forward)
    : >"$tmp/times"
    "$bin" scan "${feeds[@]}" -o /dev/null "$corpus/logs" 2>/dev/null || true # cache the db
    for ((r = 0; r < rounds; r++)); do
        for ((k = 0; k < 3; k++)); do
            i=${names[$(((k + r) % 3))]}
            if [ "$i" = nats ]; then
                $py "$root/tests/nats_tool.py" "$port" delete BENCH 2>/dev/null || true
                $py "$root/tests/nats_tool.py" "$port" create BENCH bench.events
            fi
            rm -f "$tmp/ev.mp"
            local t0 t1 st
            t0=$(date +%s.%N)
            "$bin" scan "${feeds[@]}" --stats -o "${dest[$i]}" \
                "$corpus/logs" 2>"$tmp/stats" || [ $? = 1 ] ||
                { cat "$tmp/stats" >&2; exit 2; }
            t1=$(date +%s.%N)
            st=$(grep 'events sent' "$tmp/stats")
            echo "$i $t0 $t1 $st" >>"$tmp/times"
            log "$i round $r: $(echo "$t1 - $t0" | bc) s; $st"
        done
    done
    $py - "$tmp/times" "$(du -sb "$corpus/logs" | cut -f1)" "$out" \
        "$cmdline" "$size" "$hit" "$nproc" <<'PYEOF'
import re, statistics, sys
times, nbytes, out, cmd, size, hit, nproc = sys.argv[1:8]
nbytes = int(nbytes)
rows = {}
for l in open(times):
    f = l.split(None, 3)
    m = re.search(r"(\d+) events sent, (\d+) acknowledged, (\d+) resent, "
                  r"(\d+) bytes; ([\d.]+) s waiting", f[3])
    rows.setdefault(f[0], []).append((float(f[2]) - float(f[1]),
                                      *map(float, m.groups())))
med = {k: statistics.median(t for t, *_ in v) for k, v in rows.items()}
lines = ["## Network sinks", "",
         "`%s` (corpus %s, hit rate %s, -j %s, %s rounds, median wall "
         "time of the whole scan: start, IOC database from the cache, "
         "scan, drain). Loopback; NATS: nats-server -js, file store, one "
         "message per event; Forward: tests/forward_receiver.py --discard "
         "(acks without decoding)." % (cmd, size, hit, nproc, len(rows["file"])),
         "",
         "| output | wall s (fastest, slowest) | events | events/s | input MB/s | events MB/s "
         "| resent | s waiting on the sink | vs file |",
         "|---|---|---|---|---|---|---|---|---|"]
spread = {k: (min(t for t, *_ in v), max(t for t, *_ in v))
          for k, v in rows.items()}
for k in ("file", "nats", "forward"):
    t = med[k]
    ev, ack, res, b, wait = rows[k][0][1:]
    lines.append("| %s | %.2f (%.2f, %.2f) | %d | %.0f | %.0f | %.0f | %d | %.2f | %+.0f%% |"
                 % (k, t, *spread[k], ev, ev / t, nbytes / t / 1e6, b / t / 1e6, res,
                    statistics.median(r[5] for r in rows[k]),
                    100 * (t / med["file"] - 1)))
sec = "\n".join(lines) + "\n"
try:
    text = open(out).read()
except FileNotFoundError:
    text = ""
text = re.sub(r"## Network sinks\n.*?(?=\n## |\Z)", "", text, flags=re.S)
open(out, "w").write(text.rstrip("\n") + "\n\n" + sec)
print(sec)
PYEOF
}
