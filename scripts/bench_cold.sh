#!/usr/bin/env bash
# bench_cold.sh - replay throughput on data that is not in the page cache:
# buffered io_uring reads, --direct (O_DIRECT) and --no-uring (read(2)),
# each run preceded by evicting the corpus (scripts/evict.py), alternated,
# medians. Writes bench/COLD.md. Uses the corpus of scripts/bench.sh.
#
#   scripts/bench_cold.sh [CORPUS_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."

corpus=${1:-$(ls -d build/bench/corpus-* 2>/dev/null | head -1)}
rounds=${2:-5}
[ -d "$corpus/logs" ] || { echo "bench_cold: run scripts/bench.sh first (no corpus)" >&2; exit 2; }
cmake --preset release >/dev/null
cmake --build build/release -j"$(nproc)" --target iocstream >/dev/null
bin=build/release/iocstream
bytes=$(du -sb "$corpus/logs" | cut -f1)
"$bin" scan -j1 -i "$corpus/iocs.txt" -o /dev/null "$corpus/logs" || true # warm the db cache

modes=("buffered|" "direct|--direct" "read2|--no-uring" "warm|")
tsv=$(mktemp)
for ((r = 0; r < rounds; r++)); do
    for m in "${modes[@]}"; do
        name=${m%%|*} flag=${m#*|}
        if [ "$name" = warm ]; then
            cat "$corpus"/logs/*/* >/dev/null
        else
            python3 scripts/evict.py "$corpus/logs"
        fi
        s=$EPOCHREALTIME
        "$bin" scan -j1 $flag -i "$corpus/iocs.txt" -o /dev/null "$corpus/logs" || true
        e=$EPOCHREALTIME
        echo -e "$name\t$s\t$e" >>"$tsv"
    done
done
{
    echo "# Cold replay (data not in the page cache)"
    echo
    echo "Written by \`scripts/bench_cold.sh $*\` on $(date -u +%Y-%m-%dT%H:%MZ); one worker (-j 1);"
    echo "corpus \`$corpus\` ($bytes bytes); each run is preceded by \`scripts/evict.py\`"
    echo "(fsync + POSIX_FADV_DONTNEED on every file) except \`warm\`; medians of $rounds alternated rounds."
    echo
    echo "| reader | median s | GB/s | x warm |"
    echo "|---|---|---|---|"
    python3 - "$tsv" "$bytes" <<'PY'
import statistics, sys
runs = {}
for l in open(sys.argv[1]):
    n, s, e = l.split()
    runs.setdefault(n, []).append(float(e) - float(s))
b = int(sys.argv[2])
warm = statistics.median(runs["warm"])
for n in ("buffered", "direct", "read2", "warm"):
    m = statistics.median(runs[n])
    print("| %s | %.3f | %.2f | %.2fx |" % (n, m, b / m / 1e9, warm / m))
PY
    echo
    echo "On this VM the virtual disk is served from the host's memory, so a \"cold\" read is"
    echo "only a little slower than a page-cache hit; on a real disk the gap is the disk's."
} >bench/COLD.md
rm -f "$tsv"
cat bench/COLD.md
