#!/usr/bin/env bash
# bench_scale.sh - how `iocstream scan -j N` scales with cores, beside the
# raw Hyperscan limit on the same number of threads, in one run.
#
#   scripts/bench_scale.sh --raw RAWLIMIT --bin LABEL=IOCSTREAM [--bin ...]
#       [--threads "1 2 4 8 16"] [--size 1G] [--hit-rate 0.05]
#       [--iocs 10000] [--seed bench1] [--rounds 3] [--dir DIR]
#       [--extra LABEL="ARGS"]
#
# For each thread count T: rawlimit --threads T (hs_scan per 1 MiB chunk
# over the corpus in memory, median of --rounds repetitions inside one run;
# its time leaves out the loading) and every --bin with `scan -j T --db`
# (one database compiled per binary beforehand, so no run compiles; -o
# /dev/null; the input page-cached; wall time, median of --rounds runs in
# rotated order). --extra LABEL="ARGS" adds scan options to that binary's
# runs (e.g. --extra new-copy="--no-mmap" with --bin new-copy=PATH).
# Prints one markdown table: GB/s of each and each binary's ratio to the
# raw limit at the same T. Each binary's event count at the largest T is
# printed too (they must agree). A binary may be a wrapper script (the
# device machine runs carried builds through their own loader).
set -euo pipefail

threads="1 2 4 8 16" size=1G hit=0.05 iocs=10000 seed=bench1 rounds=3
dir=${TMPDIR:-/tmp}/iocs-scale raw=
declare -a labels=() bins=()
declare -A extra=()
while [ $# -gt 0 ]; do
    case "$1" in
    --raw) raw=$2; shift ;;
    --bin) labels+=("${2%%=*}"); bins+=("${2#*=}"); shift ;;
    --extra) extra[${2%%=*}]=${2#*=}; shift ;;
    --threads) threads=$2; shift ;;
    --size) size=$2; shift ;;
    --hit-rate) hit=$2; shift ;;
    --iocs) iocs=$2; shift ;;
    --seed) seed=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --dir) dir=$2; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "bench_scale.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$raw" ] && [ ${#bins[@]} -gt 0 ] ||
    { echo "bench_scale.sh: --raw and at least one --bin are needed" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
corpus=$dir/corpus-$size-$iocs-$hit-$seed
if [ ! -f "$corpus/.done" ]; then
    rm -rf "$corpus"
    mkdir -p "$dir"
    python3 "$here/genlogs.py" --out "$corpus" --size "$size" --seed "$seed" \
        --iocs "$iocs" --hit-rate "$hit" -q
    touch "$corpus/.done"
fi
# Text IOCs of the generated list go to --strings (see bench.sh).
if [ ! -f "$corpus/strings.txt" ]; then
    { "${bins[0]}" iocs --explain -i "$corpus/iocs.txt" 2>/dev/null || true; } |
        awk -F'\t' '$5 ~ /^skipped: not an indicator/ { print $3 }' >"$corpus/strings.txt"
fi
feeds=(-i "$corpus/iocs.txt" --strings "$corpus/strings.txt")
bytes=$(find "$corpus/logs" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
warm() { find "$corpus/logs" -type f -exec cat {} + >/dev/null; }
now() { date +%s.%N; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

for i in "${!bins[@]}"; do
    XDG_CACHE_HOME=$dir/cache-${labels[$i]} "${bins[$i]}" compile \
        "${feeds[@]}" -o "$dir/${labels[$i]}.db" >/dev/null 2>&1
done

declare -A gbps=()
for t in $threads; do
    r=$("$raw" "${feeds[@]}" --reps "$rounds" --threads "$t" \
        "$corpus/logs" 2>/dev/null | sed -n 's/^rawlimit .* seconds=\([0-9.]*\).*/\1/p')
    gbps[raw,$t]=$(awk -v b="$bytes" -v s="$r" 'BEGIN {printf "%.2f", b / s / 1e9}')
    declare -A walls=()
    for ((k = 0; k < rounds; k++)); do
        for ((n = 0; n < ${#bins[@]}; n++)); do
            i=$(((n + k) % ${#bins[@]}))
            l=${labels[$i]}
            warm
            t0=$(now)
            # shellcheck disable=SC2086
            "${bins[$i]}" scan -j "$t" --db "$dir/$l.db" ${extra[$l]:-} \
                -o /dev/null "$corpus/logs" 2>/dev/null || [ $? = 1 ]
            t1=$(now)
            walls[$l]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}') "
        done
    done
    for l in "${labels[@]}"; do
        s=$(tr ' ' '\n' <<<"${walls[$l]}" | grep . | median)
        gbps[$l,$t]=$(awk -v b="$bytes" -v s="$s" 'BEGIN {printf "%.2f", b / s / 1e9}')
    done
    unset walls
    echo "threads $t done" >&2
done

echo "corpus: $size, $iocs IOCs, hit rate $hit, seed $seed ($bytes bytes, page-cached); $(nproc) cores; median of $rounds"
printf '| threads | raw limit GB/s |'
for l in "${labels[@]}"; do printf ' %s GB/s | %s / raw |' "$l" "$l"; done
printf '\n|---|---|'
for l in "${labels[@]}"; do printf -- '---|---|'; done
printf '\n'
for t in $threads; do
    printf '| %s | %s |' "$t" "${gbps[raw,$t]}"
    for l in "${labels[@]}"; do
        printf ' %s | %s |' "${gbps[$l,$t]}" \
            "$(awk -v a="${gbps[$l,$t]}" -v b="${gbps[raw,$t]}" 'BEGIN {printf "%.2fx", a / b}')"
    done
    printf '\n'
done
last=${threads##* }
for i in "${!bins[@]}"; do
    l=${labels[$i]}
    # shellcheck disable=SC2086
    c=$("${bins[$i]}" scan -j "$last" --db "$dir/$l.db" ${extra[$l]:-} \
        --format json "$corpus/logs" 2>/dev/null | wc -l || true)
    echo "events ($l, -j $last): $c"
done
