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
# Bounded and idle: 600 files followed, then 300 rename rotations (each
# renamed at once: a file renamed over before the follower opened it
# would be gone with its lines, as with tail -F): the descriptors stay under the follower's cap (256), and an idle
# follower uses no CPU (inotify wake-ups, no polling).
mkdir many
for i in $(seq 1 600); do echo "line $i 192.81.209.168" >"many/f$i.log"; done
"$B" scan --follow -o many.mp many 2>err6.txt &
pid=$!
sleep 2
for i in $(seq 1 300); do
    echo "r $i 192.81.209.168" >>many/rot.log
    mv many/rot.log "many/rot.log.$i"
done
sleep 3
nfd=$(ls /proc/$pid/fd | wc -l)
[ "$nfd" -le 270 ] || fail "$nfd descriptors open after 600 files and 300 rotations"
t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
sleep 3
t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
[ $((t1 - t0)) -le 2 ] || fail "an idle follower used $((t1 - t0)) ticks of CPU in 3 s"
kill -TERM $pid
run wait $pid
expect_status 143 "SIGTERM (many files)"
n=$("$B" decode many.mp | wc -l)
[ "$n" -eq 900 ] || fail "many files: $n events, want 900"
echo "ok"
