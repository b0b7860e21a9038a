#!/usr/bin/env bash
# The main job, end to end: install what is missing, build a release
# binary, generate a sample of workstation and VPN logs with planted
# indicators, scan it with the built-in IOC pack, and print the hits as JSON
# with a stats line. Usage: scripts/demo.sh [SIZE] (default 256M).
set -euo pipefail
cd "$(dirname "$0")/.."

size=${1:-256M}
./scripts/setup.sh
cmake --preset release >/dev/null
cmake --build build/release -j"$(nproc)" --target iocstream >/dev/null

# genlogs.py writes build/demo/logs/<vendor>/..., and beside it the truth
# and its own IOC list, which must not be scanned.
sample=build/demo/logs
if [ ! -f "build/demo/.done-$size" ]; then
    rm -rf build/demo
    echo "demo: generating $size of sample logs in $sample" >&2
    python3 scripts/genlogs.py --seed 1 --size "$size" --builtin \
        --out build/demo --iocs 1000 -q
    touch "build/demo/.done-$size"
fi

echo "demo: scanning $sample with the built-in IOC pack" >&2
status=0
./build/release/iocstream scan --stats -o build/demo/events.msgpack \
    "$sample" 2>build/demo/stats.txt || status=$?
if [ "$status" -ge 2 ]; then
    cat build/demo/stats.txt >&2
    echo "demo: scan failed (exit $status)" >&2
    exit "$status"
fi
./build/release/iocstream decode build/demo/events.msgpack \
    >build/demo/events.jsonl
n=$(wc -l <build/demo/events.jsonl)
head -n 20 build/demo/events.jsonl | jq -c .
[ "$n" -le 20 ] || echo "demo: ... $n events in all: build/demo/events.jsonl" >&2
cat build/demo/stats.txt >&2
