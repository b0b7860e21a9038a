#!/usr/bin/env bash
# bench.sh - iocstream side by side with its raw Hyperscan limit and with
# grep-class tools, on one page-cached generated corpus, in one run.
#
#   scripts/bench.sh [--size 1G] [--rounds 5] [--iocs 10000] [--hit-rate 0.05]
#                    [--seed bench1] [--cache build/bench] [--preset release]
#                    [--sample 16M] [--peer-budget 60] [--big] [--no-small]
#                    [--no-peers] [--out bench/RESULTS.md] [--quick]
#                    [--tokens]
#   scripts/bench.sh --sinks [--size 256M] [--rounds 3] [--preset ci] ...
#
# Contenders, each round in rotated order, medians over --rounds rounds:
#   raw1, rawN   bench/rawlimit: hs_scan per 1 MiB chunk over the corpus in
#                memory, same feed loading and database (1 thread, all cores)
#   ioc0, ioc1, iocN   iocstream scan -o /dev/null (-j 0: one thread in
#                all; -j 1: one scanning thread fed by the reading thread;
#                -j nproc), -j only when `iocstream scan --help` mentions it
#   ioc*-small   the same bytes cut into ~100k files of ~10 KB
#   ugrep, rg, grep   -F -i -c with the IOC values as fixed strings
#                (scripts/bench_patterns.py: normalised spellings, CIDRs
#                dropped). A tool whose calibration run on the --sample
#                slice projects to more than --peer-budget seconds on the
#                whole corpus is timed on the sample only (its throughput
#                is still bytes / wall time); the table says which input.
# Hit agreement is checked once, untimed: iocstream's JSON events against
# truth.jsonl (truthcheck.py, whole corpus), and every tool's -n output on
# the sample against the truth lines and planted near misses.
# --big streams 10 hard-linked copies of the corpus through iocstream once
# for the peak-RSS target. --quick is --size 256M --rounds 3.
# --replay adds the compressed-history run (issue 10; --replay-only: that
# run alone, after the corpus is made): the corpus cut into 16 files at
# line ends, gzip -6 and zstd -3; iocstream -j nproc over them beside the
# limit measured in the same run, (igzip -d over every file, one core +
# rawlimit on one thread over the plain 16 files) / cores, and beside
# ugrep -z -F -i -f; events checked identical to the plain scan's; peak RSS
# of the plain and the compressed scans. Appended to --out as a section.
# --tokens runs only bench/bench_tokens on the corpus (the typed token
# index beside the raw Hyperscan limit of the same set, one thread; see
# bench/LIMITS.md) and prints its table; RESULTS.md is left alone.
# Writes bench/RESULTS.md (machine, command, table, agreement, targets).
# --sinks instead times the scan of the corpus (-j nproc) to a file, to
# NATS JetStream (a local nats-server, file store, the stream made again
# each round) and to Fluent Forward (tests/forward_receiver.py --discard),
# all on loopback, and writes (or replaces) the "Network sinks" section of
# --out: events/s, MB/s of input and of events, and each sink against the
# file. Needs nats-server and /usr/bin/python3 with msgpack.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

size=1G rounds=5 iocs=10000 hit=0.05 seed=bench1 cache=build/bench
preset=release sample=16M budget=60 big=0 small=1 peers=1 out=bench/RESULTS.md
replay=0
tokens=0
sinks=0
cmdline="scripts/bench.sh $*"
while [ $# -gt 0 ]; do
    case "$1" in
    --size) size=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --iocs) iocs=$2; shift ;;
    --hit-rate) hit=$2; shift ;;
    --seed) seed=$2; shift ;;
    --cache) cache=$2; shift ;;
    --preset) preset=$2; shift ;;
    --sample) sample=$2; shift ;;
    --peer-budget) budget=$2; shift ;;
    --big) big=1 ;;
    --no-small) small=0 ;;
    --no-peers) peers=0 ;;
    --out) out=$2; shift ;;
    --quick) size=256M rounds=3 ;;
    --tokens) tokens=1 ;;
    --replay) replay=1 ;;
    --replay-only) replay=2 ;;
    -h|--help) sed -n '2,46p' "$0"; exit 0 ;;
    --sinks) sinks=1 ;;
    *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

log() { printf 'bench: %s\n' "$*" >&2; }

# --tokens: the token index (matchers/tokens.h) against the raw Hyperscan
# limit of the same IOC set, on the corpus, one thread (bench_tokens.cc).
# Needs Google Benchmark: built from the ci preset (release has no tests
# and may lack it).
tokens_bench() {
    cmake --preset ci >/dev/null
    cmake --build build/ci -j"$nproc" --target bench_tokens >/dev/null
    log "bench_tokens: $corpus/logs with $corpus/iocs.txt"
    IOCS_BENCH_TOKENS_CORPUS="$corpus/logs" \
    IOCS_BENCH_TOKENS_FEEDS="$corpus/iocs.txt" \
        build/ci/bench/bench_tokens --benchmark_counters_tabular=true
}
bytes_of() { # 1G -> bytes
    python3 -c 'import sys; s=sys.argv[1]; m={"K":1<<10,"M":1<<20,"G":1<<30,"T":1<<40}
print(int(float(s[:-1])*m[s[-1].upper()]) if s[-1].upper() in m else int(s))' "$1"
}
nproc=$(nproc)

# --- tools and build ---------------------------------------------------------
if [ "$sinks" = 0 ] && { ! command -v ugrep >/dev/null ||
   ! command -v rg >/dev/null || [ ! -x /usr/bin/time ]; }; then
    "$here/setup.sh" --bench
fi
log "building ($preset)"
cmake --preset "$preset" >/dev/null
if [ "$sinks" = 1 ]; then
    cmake --build "build/$preset" -j"$nproc" --target iocstream >/dev/null
else
    cmake --build "build/$preset" -j"$nproc" --target iocstream rawlimit >/dev/null
fi
bin=build/$preset/iocstream
raw=build/$preset/bench/rawlimit
jflag=0
# (read the whole help first: grep -q stops early, and pipefail would then
# see the binary's SIGPIPE)
help=$("$bin" scan --help 2>&1)
if grep -qE '(^|[ ,])-j[ ,]|--jobs|--workers' <<<"$help"; then
    jflag=1
fi

# --- corpus, sample, small files, patterns ------------------------------------
params="--size $size --seed $seed --iocs $iocs --hit-rate $hit"
if [ "$params" = "--size 1G --seed bench1 --iocs 10000 --hit-rate 0.05" ]; then
    name=corpus
else
    name=corpus-$size-$iocs-$hit-$seed
fi
corpus=$cache/$name
if [ ! -f "$corpus/.params" ] || [ "$(cat "$corpus/.params")" != "$params" ]; then
    log "generating $corpus ($params)"
    rm -rf "$corpus"
    python3 scripts/genlogs.py --out "$corpus" $params -q
    echo "$params" > "$corpus/.params"
fi
# The generator's list mixes typed values with text IOCs (user agents,
# phrases); a plain list loads no text (issue 9), so those go to a
# --strings file, as tests/e2e_generated.sh does: the truth has their hits.
if [ ! -f "$corpus/strings.txt" ] || [ "$corpus/strings.txt" -ot "$corpus/iocs.txt" ]; then
    { "$bin" iocs --explain -i "$corpus/iocs.txt" 2>/dev/null || true; } |
        awk -F'\t' '$5 ~ /^skipped: not an indicator/ { print $3 }' >"$corpus/strings.txt"
fi
feeds=(-i "$corpus/iocs.txt" --strings "$corpus/strings.txt")
if [ "$tokens" = 1 ]; then
    tokens_bench
    exit 0
fi
if [ "$sinks" = 1 ]; then
    . "$here/bench_sinks.sh" # defines run_sinks
    run_sinks
    exit 0
fi
smalldir=$cache/small${name#corpus}
[ "$replay" = 2 ] && small=0 # the replay run needs no small files
nsmall=$(( $(bytes_of "$size") * 100000 / (1 << 30) ))
[ "$nsmall" -lt 1000 ] && nsmall=1000
if [ "$small" = 1 ] && [ ! -f "$smalldir/.done" ]; then
    log "cutting the corpus into ~$nsmall files under $smalldir"
    rm -rf "$smalldir"
    python3 scripts/bench_util.py small "$corpus" "$smalldir" "$nsmall" >/dev/null
    echo "$params" > "$smalldir/.done"
fi
sampledir=$corpus/sample-$sample
probedir=$corpus/sample-1M
for d in "$sampledir:$sample" "$probedir:1M"; do
    if [ ! -f "${d%%:*}/lines.json" ]; then
        rm -rf "${d%%:*}"
        python3 scripts/bench_util.py sample "$corpus" "${d%%:*}" "$(bytes_of "${d##*:}")"
    fi
done
work=$cache/run-$name
mkdir -p "$work"
pat=$work/patterns.txt
patnote=$(python3 scripts/bench_patterns.py "$corpus/iocs.txt" 2>&1 >"$pat")
log "patterns: $patnote"

corpus_bytes=$(find "$corpus/logs" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
corpus_files=$(find "$corpus/logs" -type f | wc -l)
sample_bytes=$(find "$sampledir/logs" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
probe_bytes=$(find "$probedir/logs" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
small_bytes=0 small_files=0
if [ "$small" = 1 ]; then
    small_bytes=$(find "$smalldir/logs" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
    small_files=$(find "$smalldir/logs" -type f | wc -l)
fi

log "warming the page cache"
find "$corpus/logs" "$sampledir/logs" "$probedir/logs" -type f -exec cat {} + >/dev/null
[ "$small" = 1 ] && find "$smalldir/logs" -type f -exec cat {} + >/dev/null

# --- compressed history (--replay) ---------------------------------------------
# replay_run: see the header. Appends a section to $out.
replay_run() {
    local rdir=$cache/replay${name#corpus} rt=$work/replay n=16 best
    mkdir -p "$rt"
    if [ ! -f "$rdir/.done" ] || [ "$(cat "$rdir/.done")" != "$params" ]; then
        log "replay: cutting the corpus into $n files, gzip -6 and zstd -3"
        rm -rf "$rdir"
        mkdir -p "$rdir/plain" "$rdir/gz" "$rdir/zst"
        find "$corpus/logs" -type f | sort | xargs cat |
            python3 -c 'import sys
n, d = int(sys.argv[1]), sys.argv[2]
data = sys.stdin.buffer.read()
at = 0
for i in range(n):
    end = len(data) if i == n - 1 else data.find(b"\n", (i + 1) * len(data) // n) + 1
    open("%s/part-%02d.log" % (d, i), "wb").write(data[at:end])
    at = end' "$n" "$rdir/plain"
        for f in "$rdir"/plain/*.log; do
            b=$(basename "$f")
            gzip -6 -c "$f" >"$rdir/gz/$b.gz" &
            zstd -q -3 -c "$f" >"$rdir/zst/$b.zst"
            wait
        done
        echo "$params" >"$rdir/.done"
    fi
    find "$rdir" -type f -exec cat {} + >/dev/null # page-cached, as above
    local pbytes gbytes zbytes
    pbytes=$(du -cb "$rdir"/plain/*.log | tail -n 1 | cut -f1)
    gbytes=$(du -cb "$rdir"/gz/*.gz | tail -n 1 | cut -f1)
    zbytes=$(du -cb "$rdir"/zst/*.zst | tail -n 1 | cut -f1)
    # median3 CMD...: the median wall time (and the RSS of that run) of 3.
    median3() {
        local t=()
        for k in 1 2 3; do
            timed "$@" || [ $? = 1 ] || { cat "$tmp/err" >&2; exit 2; }
            t+=("$secs $rss")
        done
        read -r secs rss < <(printf '%s\n' "${t[@]}" | sort -n | sed -n 2p)
    }
    log "replay: limit parts (igzip -d, zstd -d, rawlimit 1 thread)"
    median3 sh -c 'for f in "$@"; do igzip -d -c "$f" >/dev/null; done' sh "$rdir"/gz/*.gz
    local t_igzip=$secs
    median3 sh -c 'for f in "$@"; do zstd -q -d -c "$f" >/dev/null; done' sh "$rdir"/zst/*.zst
    local t_unzstd=$secs
    local t_raw=() ; for k in 1 2 3; do
        timed "$raw" "${feeds[@]}" --reps 1 --threads 1 "$rdir/plain"
        t_raw+=("$(sed -n 's/^rawlimit .* seconds=\([0-9.]*\).*/\1/p' "$tmp/out")")
    done
    t_raw=$(printf '%s\n' "${t_raw[@]}" | sort -n | sed -n 2p)
    log "replay: iocstream -j $nproc on plain, gzip, zstd files"
    median3 "$bin" scan -j "$nproc" "${feeds[@]}" -o /dev/null "$rdir"/plain/*.log
    local t_plain=$secs rss_plain=$rss
    median3 "$bin" scan -j "$nproc" "${feeds[@]}" -o /dev/null "$rdir"/gz/*.gz
    local t_gz=$secs rss_gz=$rss
    median3 "$bin" scan -j "$nproc" "${feeds[@]}" -o /dev/null "$rdir"/zst/*.zst
    local t_zst=$secs rss_zst=$rss
    log "replay: ugrep -z (one run)"
    timed ugrep -z -c -F -i -f "$pat" "$rdir"/gz/*.gz || true
    local t_ugrep=$secs
    log "replay: events identical to the plain scan's?"
    local same=yes
    for c in plain gz zst; do
        "$bin" scan -j "$nproc" "${feeds[@]}" --format json \
            -o "$rt/$c.jsonl" "$rdir/$c"/* || [ $? = 1 ]
        python3 -c 'import json, re, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    del e["@timestamp"], e["event"]["created"]
    e["event"].pop("id", None)
    e["log"]["file"]["path"] = re.sub(r"\.(gz|zst)$", "", e["log"]["file"]["path"].rsplit("/", 1)[1])
    print(json.dumps(e, sort_keys=True))' "$rt/$c.jsonl" >"$rt/$c.norm"
    done
    cmp -s "$rt/plain.norm" "$rt/gz.norm" || same="NO (gzip)"
    cmp -s "$rt/plain.norm" "$rt/zst.norm" || same="$same NO (zstd)"
    local nev
    nev=$(wc -l <"$rt/plain.norm")
    python3 - "$out" <<PYEOF
import sys
nproc = $nproc
lim_gz = ($t_igzip + $t_raw) / nproc
lim_zst = ($t_unzstd + $t_raw) / nproc
mb = $pbytes / 1e6
rows = [
    ("iocstream -j %d, 16 plain files" % nproc, $t_plain, "-", $rss_plain),
    ("iocstream -j %d, 16 gzip -6 files" % nproc, $t_gz, "%.2f" % (lim_gz / $t_gz), $rss_gz),
    ("iocstream -j %d, 16 zstd -3 files" % nproc, $t_zst, "%.2f" % (lim_zst / $t_zst), $rss_zst),
    ("limit gzip: (igzip -d %.2f s + rawlimit 1 thread %.2f s) / %d" % ($t_igzip, $t_raw, nproc), lim_gz, "1.00", 0),
    ("limit zstd: (zstd -d %.2f s + rawlimit 1 thread %.2f s) / %d" % ($t_unzstd, $t_raw, nproc), lim_zst, "1.00", 0),
    ("ugrep -z -c -F -i -f (gzip files)", $t_ugrep, "-", 0),
]
with open(sys.argv[1], "a") as f:
    f.write("\n## Compressed history (replay)\n\n")
    f.write("Command: \`$cmdline\`; %d MB of logs (%s) in 16 files cut at line ends: "
            "gzip -6 %d MB, zstd -3 %d MB; page-cached; medians of 3 runs "
            "(ugrep: 1). $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), %d cores, "
            "commit $(git rev-parse --short HEAD).\n\n" % (mb, "$params", $gbytes / 1e6, $zbytes / 1e6, nproc))
    f.write("| run | seconds | MB/s (decompressed) | of the limit | peak RSS |\n|---|---|---|---|---|\n")
    for name, t, frac, rss in rows:
        f.write("| %s | %.2f | %.0f | %s | %s |\n" % (name, t, mb / t, frac,
                "%d MiB" % (rss // 1024) if rss else "-"))
    f.write("\niocstream gzip vs ugrep -z: %.1fx faster. Events of the gzip and zstd "
            "runs identical to the plain run's (path and scan times aside): $same "
            "($nev events).\n" % ($t_ugrep / $t_gz))
PYEOF
    log "replay: appended to $out"
}

# --- contenders ----------------------------------------------------------------
runs=$work/runs.tsv
printf '#round\tname\tcorpus\tbytes\tseconds\trss_kb\tcount\n' > "$runs"
tmp=$work/tmp
mkdir -p "$tmp"
declare -A peer_input=()

input_dir() { # corpus|sample|small -> logs directory
    case "$1" in
    corpus) echo "$corpus/logs" ;;
    sample) echo "$sampledir/logs" ;;
    probe) echo "$probedir/logs" ;;
    small) echo "$smalldir/logs" ;;
    big) echo "$cache/big" ;;
    esac
}
input_bytes() {
    case "$1" in
    corpus) echo "$corpus_bytes" ;;
    sample) echo "$sample_bytes" ;;
    probe) echo "$probe_bytes" ;;
    small) echo "$small_bytes" ;;
    big) echo $((corpus_bytes * 10)) ;;
    esac
}

# timed NAME INPUT CMD...: run CMD under /usr/bin/time; sets secs, rss.
timed() {
    local rc=0
    /usr/bin/time -f '%e %M' -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    read -r secs rss < <(tail -n 1 "$tmp/time")
    return $rc
}

if [ "$replay" = 2 ]; then
    touch "$out"
    replay_run
    exit 0
fi

# run_one ROUND NAME: one timed run of a contender, appended to runs.tsv.
run_one() {
    local rnd=$1 name=$2 in=corpus count=- j= scan=-
    case "$name" in
    raw1|rawN)
        local t=1
        [ "$name" = rawN ] && t=$nproc
        timed "$raw" "${feeds[@]}" --reps 1 --threads "$t" "$corpus/logs"
        # the scan time, not the process's: rawlimit loads the corpus first
        secs=$(sed -n 's/^rawlimit .* seconds=\([0-9.]*\).*/\1/p' "$tmp/out")
        count=$(sed -n 's/^rawlimit .* matches=\([0-9]*\).*/\1/p' "$tmp/out")
        ;;
    ioc0*|ioc1*|iocN*)
        case "$name" in *-small) in=small ;; *-big) in=big ;; esac
        if [ "$jflag" = 1 ]; then
            case "${name:3:1}" in
            0) j="-j 0" ;;
            1) j="-j 1" ;;
            *) j="-j $nproc" ;;
            esac
        fi
        # Page-cached is the condition: this VM's memory reclaim (DAMON)
        # evicts idle files between rounds, so warm the input (untimed).
        find "$(input_dir $in)" -type f -exec cat {} + >/dev/null
        # exit 1 means no hits (as grep): not an error
        timed "$bin" scan $j --stats "${feeds[@]}" -o /dev/null \
            "$(input_dir $in)" || [ $? = 1 ] || { cat "$tmp/err" >&2; exit 2; }
        count=$(sed -n 's/.* \([0-9]*\) events in .*/\1/p' "$tmp/err")
        scan=$(sed -n 's/.* events in \([0-9.]*\) s .*/\1/p' "$tmp/err")
        ;;
    ugrep|rg|grep)
        in=${peer_input[$name]}
        local d
        d=$(input_dir "$in")
        case "$name" in
        ugrep) timed ugrep -r -c -F -i -f "$pat" "$d" || true ;;
        rg) timed rg --no-ignore --hidden -c -F -i -f "$pat" "$d" || true ;;
        grep) timed grep -r -c -F -i -f "$pat" "$d" || true ;;
        esac
        count=$(awk -F: '{s+=$NF} END {print s+0}' "$tmp/out")
        ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rnd" "$name" "$in" \
        "$(input_bytes $in)" "$secs" "$rss" "$count" "${scan:--}" >> "$runs"
    log "round $rnd: $name on $in: $secs s, $(( rss / 1024 )) MiB, count $count"
}

# --- agreement and calibration (untimed) -----------------------------------------
peer_n() { # TOOL DIR: matching lines as path:line:text into $tmp/out
    case "$1" in
    ugrep) timed ugrep -r -n -F -i -f "$pat" "$2" || true ;;
    rg) timed rg --no-ignore --hidden -n --no-heading -F -i -f "$pat" "$2" || true ;;
    grep) timed grep -r -n -F -i -f "$pat" "$2" || true ;;
    esac
}
declare -A agree=()
log "agreement: iocstream JSON events vs truth (whole corpus)"
"$bin" scan --format json "${feeds[@]}" -o "$tmp/events.jsonl" "$corpus/logs" || [ $? = 1 ]
truthcheck=$(python3 scripts/truthcheck.py -q --truth "$corpus/truth.jsonl" \
    --events "$tmp/events.jsonl" --root "$corpus" 2>&1 | tail -n 1 || true)
log "$truthcheck"
agree[iocstream]=$(python3 scripts/bench_util.py agree "$corpus/truth.jsonl" \
    "$corpus/near_misses.jsonl" "$corpus" --json < "$tmp/events.jsonl" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); d["where"]="whole corpus"; print(json.dumps(d))')
rm -f "$tmp/events.jsonl"
truth_full=$(python3 scripts/bench_util.py lines "$corpus/truth.jsonl" "$corpus/near_misses.jsonl")

contenders=(raw1 rawN ioc1)
[ "$jflag" = 1 ] && contenders+=(ioc0 iocN)
if [ "$small" = 1 ]; then
    contenders+=(ioc1-small)
    [ "$jflag" = 1 ] && contenders+=(iocN-small)
fi
notes=()
[ "$jflag" = 1 ] || notes+=("\`iocstream scan --help\` does not mention -j: iocstream ran with its default (one worker); the all-cores rows are missing.")
if [ "$peers" = 1 ]; then
    for t in ugrep rg grep; do
        command -v "$t" >/dev/null || { notes+=("$t not installed"); continue; }
        # calibrate on the 1 MiB probe; a tool that can do the sample in
        # budget runs on it (the agreement run), and the sample's time
        # decides between the sample and the whole corpus
        log "calibration: $t on the 1M probe"
        peer_n "$t" "$probedir/logs"
        projs=$(awk -v s="$secs" -v a="$probe_bytes" -v b="$sample_bytes" 'BEGIN {printf "%.0f", s * b / a}')
        if [ "$projs" -le "$budget" ]; then
            log "calibration and agreement: $t on the $sample sample"
            peer_n "$t" "$sampledir/logs"
            where=sample adir=$sampledir
            proj=$(awk -v s="$secs" -v a="$sample_bytes" -v b="$corpus_bytes" 'BEGIN {printf "%.0f", s * b / a}')
            if [ "$proj" -le "$budget" ]; then
                peer_input[$t]=corpus
            else
                peer_input[$t]=sample
                notes+=("$t: $secs s on the $sample sample projects to ~${proj} s per run on the whole corpus (over --peer-budget ${budget} s): timed on the sample only.")
            fi
        else
            where=probe adir=$probedir
            peer_input[$t]=probe
            notes+=("$t: $secs s on the 1 MiB probe projects to ~${projs} s per run on the $sample sample (over --peer-budget ${budget} s): timed on the 1 MiB probe only.")
        fi
        agree[$t]=$(python3 scripts/bench_util.py agree "$corpus/truth.jsonl" \
            "$corpus/near_misses.jsonl" "$adir" --lines "$adir/lines.json" < "$tmp/out" |
            python3 -c 'import json,sys; d=json.load(sys.stdin); d["where"]=sys.argv[1]; print(json.dumps(d))' "$where")
        log "$t: timed on ${peer_input[$t]}; ${agree[$t]}"
        contenders+=("$t")
    done
    # iocstream on the same sample, for the same comparison
    "$bin" scan --format json "${feeds[@]}" -o "$tmp/events.jsonl" "$sampledir/logs" || [ $? = 1 ]
    agree[iocstream-sample]=$(python3 scripts/bench_util.py agree "$corpus/truth.jsonl" \
        "$corpus/near_misses.jsonl" "$sampledir" --lines "$sampledir/lines.json" --json < "$tmp/events.jsonl")
    rm -f "$tmp/events.jsonl"
fi

# --- alternated rounds --------------------------------------------------------------
n=${#contenders[@]}
for ((r = 1; r <= rounds; r++)); do
    for ((k = 0; k < n; k++)); do
        run_one "$r" "${contenders[$(( (k + r - 1) % n ))]}"
    done
done

if [ "$big" = 1 ]; then
    log "--big: 10 hard-linked copies of the corpus"
    if [ ! -d "$cache/big/copy-09" ]; then
        rm -rf "$cache/big"
        mkdir -p "$cache/big"
        for i in 0 1 2 3 4 5 6 7 8 9; do cp -al "$corpus/logs" "$cache/big/copy-0$i"; done
    fi
    run_one 1 ioc1-big
    [ "$jflag" = 1 ] && run_one 1 iocN-big
fi

# --- report ---------------------------------------------------------------------------
compile_line=$("$raw" "${feeds[@]}" --reps 1 "$sampledir/logs" | head -n 1)
hsver=$(dpkg-query -W -f='${Version}' libhyperscan5 2>/dev/null || echo "?")
agree_json="{"
sep=
for k in "${!agree[@]}"; do
    key=$k
    [ "$k" = iocstream-sample ] && key="iocstream (sample)"
    agree_json+="$sep\"$key\": ${agree[$k]}"
    sep=", "
done
agree_json+="}"
notes_json=$(printf '%s\n' "${notes[@]+"${notes[@]}"}" | python3 -c 'import json,sys; print(json.dumps([l.rstrip("\n") for l in sys.stdin if l.strip()]))')
python3 - "$work/meta.json" <<EOF
import json, sys, re
compile_line = """$compile_line"""
kv = dict(re.findall(r"(\w+)=([0-9.]+)", compile_line))
agree = json.loads('''$agree_json''')
# the iocstream row of the agreement table is the sample one when present
if "iocstream (sample)" in agree:
    agree["iocstream (sample)"]["where"] = "sample"
meta = {
    "date": "$(date -u +%Y-%m-%dT%H:%MZ)",
    "cpu": """$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)""",
    "cores": "$nproc online ($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core; $(lscpu | sed -n 's/^Hypervisor vendor: *//p' | sed 's/^\(.\)/hypervisor /'))",
    "memory": "$(free -h | awk '/^Mem:/ {print $2}')",
    "kernel": "$(uname -r)",
    "os": """$(. /etc/os-release && echo "$PRETTY_NAME")""",
    "hyperscan": "$hsver",
    "compiler": """$(cc --version | head -n 1)""",
    "commit": "$(git rev-parse --short HEAD)$(git diff --quiet && echo '' || echo ' (dirty)')",
    "tools": """$(ugrep --version 2>/dev/null | head -n 1); $(rg --version 2>/dev/null | head -n 1); $(grep --version | head -n 1)""",
    "command": """$cmdline""",
    "corpus": "$corpus",
    "genlogs": "$params",
    "bytes": $corpus_bytes,
    "files": "$corpus_files (small-file set: $small_files files)",
    "iocs": "$iocs",
    "patterns": int(kv.get("patterns", 0)),
    "db_bytes": int(kv.get("db_bytes", 0)),
    "compile_s": float(kv.get("compile_s", 0)),
    "patterns_note": """$patnote (sample $sample: $sample_bytes bytes)""",
    "agree": agree,
    "truth_full": json.loads('''$truth_full'''),
    "truthcheck": """$truthcheck""",
    "notes": json.loads('''$notes_json'''),
}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
EOF
python3 scripts/bench_util.py report "$runs" "$work/meta.json" "$out"
log "wrote $out (runs: $runs)"
[ "$replay" = 1 ] && replay_run
exit 0
