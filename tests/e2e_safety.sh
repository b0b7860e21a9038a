#!/usr/bin/env bash
# Evidence safety and trust (issue 15): an output that is an input is
# refused and the input left alone; a directory walk never reads the
# output back; only regular files are replaced by `compile -o`; an
# untrusted or odd cache is skipped, never waited on; a missing path is
# reported once; files that say they are empty (/proc) are read.
. "$(dirname "$0")/lib_e2e.sh"

cd "$W"
T="timeout 60"
printf 'evil.example\n' >feed.txt
printf 'GET http://evil.example/a\nnothing\n' >v.log
cp v.log v.orig

# 1. -o naming an input, also through a link either way: exit 2, untouched.
ln -s v.log link.log
for args in "-o v.log v.log" "-o link.log v.log" "-o v.log link.log"; do
    # shellcheck disable=SC2086
    run $T "$B" scan -i feed.txt $args 2>err.txt
    expect_status 2 "scan $args"
    grep -q "the output is also an input" err.txt ||
        fail "scan $args: no reason given: $(cat err.txt)"
    cmp -s v.log v.orig || fail "scan $args changed the input"
done
[ ! -d cache/iocstream ] || [ -z "$(ls cache/iocstream)" ] ||
    fail "the cache was written before the output was refused"

# 2. -o DIR/out.json DIR with out.json left by an earlier run: the walk
# skips it (it used to read its own output back without end).
mkdir -p d
awk 'BEGIN { for (i = 0; i < 20000; i++) print "GET evil.example/x " i }' \
    >d/a.log
echo old >d/out.json
(
    ulimit -f 102400 # 100 MiB: a runaway output fails fast
    run timeout 30 "$B" scan -i feed.txt -j 0 --slab-size 64K --format json \
        -o d/out.json d
    expect_status 0 "scan -o d/out.json d"
)
[ "$(wc -l <d/out.json)" -eq 20000 ] ||
    fail "d/out.json has $(wc -l <d/out.json) events, want 20000"

# 3. compile -o over a FIFO, a link or a directory: exit 2, left as it was.
mkfifo fifo.db
ln -s v.log linked.db
mkdir dir.db
for out in fifo.db linked.db dir.db; do
    run $T "$B" compile -i feed.txt -o "$out" >/dev/null 2>err.txt
    expect_status 2 "compile -o $out"
    grep -q "refusing to replace it" err.txt || fail "compile -o $out: $(cat err.txt)"
done
[ -p fifo.db ] && [ -L linked.db ] && [ -d dir.db ] || fail "compile replaced a special file"
cmp -s v.log v.orig || fail "compile wrote through a link"
run $T "$B" compile -i feed.txt -o ok.db >/dev/null
expect_status 0 "compile -o a new path"
run $T "$B" compile -i feed.txt -o ok.db >/dev/null
expect_status 0 "compile -o a regular file"

# 4. A cache directory others may write: a warning, and the scan runs
# without it. A new one is made 0700.
export XDG_CACHE_HOME="$W/c4"
run $T "$B" scan -i feed.txt v.log >/dev/null
[ "$(stat -c %a c4/iocstream)" = 700 ] || fail "cache directory not 0700"
chmod 777 c4/iocstream
run $T "$B" scan -i feed.txt v.log >/dev/null 2>err.txt
expect_status 0 "scan with an untrusted cache"
grep -q "writable by group or others" err.txt || fail "no warning: $(cat err.txt)"
chmod 700 c4/iocstream

# 7. A cache file that is a FIFO or a link to /dev/zero: no hang, no
# exhaustion; compiled instead.
export XDG_CACHE_HOME="$W/c7"
run $T "$B" scan -i feed.txt v.log >/dev/null
for db in c7/iocstream/*.db; do
    rm "$db"
    mkfifo "$db"
done
run timeout 20 "$B" scan -i feed.txt v.log >/dev/null
expect_status 0 "scan with a FIFO in the cache"
for db in c7/iocstream/*.db; do
    rm "$db"
    ln -s /dev/zero "$db"
done
run timeout 20 "$B" scan -i feed.txt v.log >/dev/null
expect_status 0 "scan with /dev/zero in the cache"
# A feed that is not a regular file is refused, not waited on.
mkfifo feed.fifo
run timeout 20 "$B" scan -i feed.fifo v.log >/dev/null 2>err.txt
expect_status 2 "a FIFO feed"

# 20. A missing path is reported once.
run $T "$B" scan -i feed.txt missing.log >/dev/null 2>err.txt
expect_status 2 "missing path"
[ "$(grep -c missing.log err.txt)" -eq 1 ] ||
    fail "missing path reported $(grep -c missing.log err.txt) times"

# 21. A file that says it is empty but is not (/proc) is read to its end,
# packed or not.
printf 'r1 high /State:/ the state line\n' >state.rules
for args in "" "--pack-max 0" "--no-uring"; do
    # shellcheck disable=SC2086
    run $T "$B" scan --rules state.rules $args --format json /proc/self/status \
        >out.jsonl
    expect_status 0 "/proc/self/status $args"
done

echo "e2e_safety: ok"
