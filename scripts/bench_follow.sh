#!/usr/bin/env bash
# bench_follow.sh - how long a line appended to a followed log takes to
# reach `scan --follow`'s output, and what an idle follower costs.
#
# A writer appends lines that each carry an IOC and the time they were
# written; a reader tails the output (JSON lines) and takes, for every
# event, now - the written time. Three loads: a trickle (20 lines/s), a
# steady stream (500 lines/s, in writes of 10 lines) and bursts (2000
# lines at once, every second), each with and without --state (--state
# makes the file sink fsync before the state is saved). Then the CPU time
# the follower used over 5 idle seconds. Writes bench/FOLLOW.md.
#
# Usage: scripts/bench_follow.sh [BINARY] (default build/ci/iocstream).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build/ci/iocstream}
[ -x "$B" ] || { echo "build $B first (cmake --build build/ci --target iocstream)" >&2; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export XDG_CACHE_HOME="$W/cache"

/usr/bin/python3 - "$B" "$W" >"$W/report.md" <<'EOF'
import os, subprocess, sys, threading, time, json, statistics

B, W = sys.argv[1], sys.argv[2]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime + stime


def run(mode, state, rate, per_write, secs):
    d = os.path.join(W, f"{mode}-{state}")
    os.makedirs(os.path.join(d, "logs"))
    out = os.path.join(d, "out.jsonl")
    args = [B, "scan", "--follow", "-o", out, "--format", "json"]
    if state:
        args += ["--state", os.path.join(d, "state")]
    log = os.path.join(d, "logs", "app.log")
    open(log, "w").close()
    p = subprocess.Popen(args + [os.path.join(d, "logs")],
                         stderr=open(os.path.join(d, "err"), "w"))
    time.sleep(1.0)  # database from the cache, history scanned
    delays, done = [], threading.Event()

    def reader():
        pos = 0
        buf = b""
        while not done.is_set() or pos < os.path.getsize(out):
            try:
                with open(out, "rb") as f:
                    f.seek(pos)
                    chunk = f.read()
            except FileNotFoundError:
                chunk = b""
            now = time.time()
            pos += len(chunk)
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for ln in lines:
                orig = json.loads(ln)["event"]["original"]
                delays.append(now - float(orig.split()[0].split("=")[1]))
            if not chunk:
                time.sleep(0.001)

    t = threading.Thread(target=reader)
    t.start()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    n = 0
    end = time.monotonic() + secs
    interval = per_write / rate
    nxt = time.monotonic()
    while time.monotonic() < end:
        batch = b"".join(
            f"ts={time.time():.6f} seq={n + i} conn from 192.81.209.168\n".encode()
            for i in range(per_write))
        os.write(fd, batch)
        n += per_write
        nxt += interval
        time.sleep(max(0, nxt - time.monotonic()))
    time.sleep(1.0)
    done.set()
    t.join()
    # Idle: nothing written for 5 s.
    c0 = cpu_ticks(p.pid)
    time.sleep(5)
    idle = (cpu_ticks(p.pid) - c0) / TICK
    p.terminate()
    p.wait()
    delays.sort()
    q = lambda x: delays[min(len(delays) - 1, int(x * len(delays)))] * 1000
    return (n, len(delays), q(0.5), q(0.9), q(0.99), delays[-1] * 1000, idle)


rows = []
for mode, rate, per_write, secs in (("trickle 20 lines/s", 20, 1, 8),
                                    ("steady 500 lines/s", 500, 10, 8),
                                    ("bursts of 2000 lines, 1/s", 2000, 2000, 8)):
    for state in (False, True):
        rows.append((mode, state) + run(mode.split()[0], state, rate,
                                        per_write, secs))

print("| load | --state | lines | events | p50 ms | p90 ms | p99 ms | max ms | idle CPU s / 5 s |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    mode, state, n, got, p50, p90, p99, mx, idle = r
    print(f"| {mode} | {'yes (fsync)' if state else 'no'} | {n} | {got} | "
          f"{p50:.1f} | {p90:.1f} | {p99:.1f} | {mx:.1f} | {idle:.2f} |")
    if got != n:
        print(f"\nWARNING: {mode}: {n} lines written, {got} events read")
EOF

{
    echo "# scan --follow: delay from append to output"
    echo
    echo "Written by \`scripts/bench_follow.sh\` on $(date -u +%Y-%m-%dT%H:%MZ). Do not edit by hand; rerun the script."
    echo
    echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end (shared)"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- command: \`scripts/bench_follow.sh $B\`"
    echo
    echo "Delay = the time the reader saw the event in the output file minus the"
    echo "time written into the line just before its write(2) (the reader polls"
    echo "every 1 ms). The follower commits when its input has been quiet for"
    echo "20 ms, and at least every 200 ms under a steady stream; --state adds an"
    echo "fsync of the output and of the state file per commit. Idle CPU: the"
    echo "follower's user+system time over 5 s with nothing written (inotify"
    echo "wake-ups only: no polling)."
    echo
    cat "$W/report.md"
} >bench/FOLLOW.md
cat bench/FOLLOW.md
