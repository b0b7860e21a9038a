#!/usr/bin/env bash
# scan --follow --state -o FILE: exactly once under rotation (rename, with
# the writer still appending; gzip of a rotated file; copytruncate), new
# subdirectories, deletion, an IOC feed reload, and kill -9 at random
# moments with restarts (tests/follow_chaos.py drives it); then a restart
# on unchanged input adds nothing, and a replaced output is refused.
. "$(dirname "$0")/lib_e2e.sh"

[ -x /usr/bin/python3 ] || { echo "no /usr/bin/python3"; exit 77; }
cd "$W"
timeout 90 /usr/bin/python3 "$S/tests/follow_chaos.py" "$B" "$W" \
    "${IOCS_FOLLOW_SEED:-$RANDOM}" || fail "follow chaos"

# A restart over the same, unchanged input writes nothing new.
size=$(stat -c %s out.mp)
"$B" scan --follow --state state -o out.mp -i feed.txt logs 2>err2.txt &
pid=$!
sleep 1.5
kill -TERM $pid
run wait $pid
expect_status 143 "SIGTERM"
[ "$(stat -c %s out.mp)" -eq "$size" ] || fail "a restart wrote again: $(cat err2.txt)"

# SIGUSR1 prints the stats line; SIGINT exits 130.
"$B" scan --follow --state state -o out.mp -i feed.txt logs 2>err3.txt &
pid=$!
sleep 1
kill -USR1 $pid
sleep 0.3
kill -INT $pid
run wait $pid
expect_status 130 "SIGINT"
grep -q "following .* files: .* events" err3.txt || fail "no stats on SIGUSR1: $(cat err3.txt)"

# An output shorter than the committed length was replaced: refused.
: >out.mp
run "$B" scan --follow --state state -o out.mp -i feed.txt logs 2>err4.txt
expect_status 2 "replaced output"
grep -q "replaced" err4.txt || fail "replaced output not explained: $(cat err4.txt)"

# A feed that fails to load keeps the old set (SIGHUP), and says why.
printf 'x\n' >live.log
"$B" scan --follow -i feed.txt --strict -o out2.mp live.log 2>err5.txt &
pid=$!
sleep 1
printf '10.0.0.0/33\n' >>feed.txt
sleep 1
echo "late 192.81.209.168 still found" >>live.log
sleep 1
kill -TERM $pid
run wait $pid
expect_status 143 "SIGTERM after a failed reload"
grep -q "keeping the previous IOC set" err5.txt || fail "failed reload: $(cat err5.txt)"
[ "$("$B" decode out2.mp | grep -c 'still found')" -eq 1 ] || fail "old set not kept"
echo "ok"
