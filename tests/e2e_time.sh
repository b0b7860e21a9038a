#!/usr/bin/env bash
# A line's own time and host end to end (DESIGN.md, "A line's own time and
# host"): @timestamp and host.name from syslog 3164/5424, ISO, Apache,
# Cisco, auditd and FortiGate lines, iocstream.time "none" for lines
# without a time, --tz, the --since/--until bounds; `scan --summary` and
# `iocstream summary` on a known event set, every column checked; the
# progress line on stderr. All inputs are a few lines; one small
# generated corpus checks that its events all carry their line's time.
. "$(dirname "$0")/lib_e2e.sh"

cd "$W"
printf 'evil[.]example\n192.81.209.168\n' >iocs.txt

# The kinds of line, each with its expected @timestamp and host ("" none).
# The file's mtime (Dec 20 2024) gives the RFC 3164 line its year.
cat >kinds.log <<'EOF'
<34>Dec  5 03:14:15 gw1 sshd[42]: Failed password for root from 192.81.209.168 port 22
<165>1 2024-12-05T03:14:15.123456+01:00 web01 nginx 77 ID47 - GET http://evil.example/
2024-12-05 03:14:15,250 WARN app: callback to evil.example
10.1.1.1 - - [05/Dec/2024:03:14:15 -0500] "GET /x?h=evil.example HTTP/1.1" 200 12
Dec 05 2024 03:14:15: %ASA-6-302013: Built outbound TCP connection for 192.81.209.168/443
<166>Dec 05 2024 03:14:16 asa01 : %ASA-6-302013: Built outbound TCP connection for 192.81.209.168/443
type=USER_LOGIN msg=audit(1733368455.123:456): pid=1 uid=0 addr=192.81.209.168 res=failed
date=2024-12-05 time=03:14:15 devname="fw1" srcip=192.81.209.168 tz="-0800"
date=2024-12-05 time=03:14:15 devname="fw1" srcip=192.81.209.168
plain line without a time evil.example
Dec 31 23:59:59 gw2 kernel: drop 192.81.209.168
EOF
touch -d '2024-12-20 00:00:00 UTC' kinds.log
cat >want_utc.txt <<'EOF'
1 2024-12-05T03:14:15.000000000Z gw1 line
2 2024-12-05T02:14:15.123456000Z web01 line
3 2024-12-05T03:14:15.250000000Z - line
4 2024-12-05T08:14:15.000000000Z - line
5 2024-12-05T03:14:15.000000000Z - line
6 2024-12-05T03:14:16.000000000Z asa01 line
7 2024-12-05T03:14:15.123000000Z - line
8 2024-12-05T11:14:15.000000000Z - line
9 2024-12-05T03:14:15.000000000Z - line
10 created - none
11 2023-12-31T23:59:59.000000000Z gw2 line
EOF

# times EVENTS.jsonl: "line @timestamp host time" per event ("created" when
# @timestamp is event.created), checking that event.created is the scan's.
times() {
    python3 - "$1" <<'PY'
import json, sys, time
now = time.strftime("%Y-%m-%d", time.gmtime())
for l in open(sys.argv[1]):
    e = json.loads(l)
    ts, cr = e["@timestamp"], e["event"]["created"]
    if not cr.startswith(now[:4]):
        sys.exit("event.created %s is not the scan time" % cr)
    host = e.get("host", {}).get("name", "-")
    if "host" in e and list(e["host"]) != ["name"]:
        sys.exit("host holds more than name: %s" % e["host"])
    print(e["iocstream"]["line"], "created" if ts == cr else ts, host,
          e["iocstream"]["time"])
PY
}

for j in 0 2; do
    run "$B" scan -i iocs.txt -j "$j" --format json kinds.log >ev.jsonl
    expect_status 0 "kinds -j $j"
    times ev.jsonl >got.txt
    diff -u want_utc.txt got.txt || fail "line times, -j $j"
done
# The msgpack stream decodes to the same.
run "$B" scan -i iocs.txt -o ev.mp kinds.log
expect_status 0 "kinds msgpack"
"$B" decode ev.mp >ev2.jsonl
times ev2.jsonl >got.txt
diff -u want_utc.txt got.txt || fail "line times through msgpack"

# --tz: zone-less times only (ISO, 3164, Cisco, FortiGate without tz=).
run "$B" scan -i iocs.txt --tz +05:30 --format json kinds.log >ev.jsonl
expect_status 0 "--tz"
times ev.jsonl >got.txt
sed -e 's/^1 2024-12-05T03:14:15.000000000Z/1 2024-12-04T21:44:15.000000000Z/' \
    -e 's/^3 2024-12-05T03:14:15.250000000Z/3 2024-12-04T21:44:15.250000000Z/' \
    -e 's/^5 2024-12-05T03:14:15.000000000Z/5 2024-12-04T21:44:15.000000000Z/' \
    -e 's/^6 2024-12-05T03:14:16.000000000Z/6 2024-12-04T21:44:16.000000000Z/' \
    -e 's/^9 2024-12-05T03:14:15.000000000Z/9 2024-12-04T21:44:15.000000000Z/' \
    -e 's/^11 2023-12-31T23:59:59.000000000Z/11 2023-12-31T18:29:59.000000000Z/' \
    want_utc.txt >want_tz.txt
diff -u want_tz.txt got.txt || fail "--tz +05:30"
if [ -e /usr/share/zoneinfo/America/New_York ]; then
    run "$B" scan -i iocs.txt --tz America/New_York --format json kinds.log \
        >ev.jsonl
    expect_status 0 "--tz IANA"
    times ev.jsonl | grep '^3 ' | grep -q 2024-12-05T08:14:15.250000000Z ||
        fail "--tz America/New_York"
fi
run "$B" scan -i iocs.txt --tz Mars/Olympus kinds.log 2>err.txt
expect_status 2 "--tz unknown"
grep -q -- "--tz" err.txt || fail "bad --tz not reported"

# stdin: the RFC 3164 year comes from the scan's start, not a file.
tail -n 1 kinds.log | {
    run "$B" scan -i iocs.txt --format json >ev.jsonl
    expect_status 0 stdin
}
y=$(date -u +%Y)
[ "$(date -u +%m%d%H%M%S)" \< 1231000000 ] && y=$((y - 1)) # not past Dec 31
python3 -c 'import json,sys; e=json.loads(open(sys.argv[1]).readline())
sys.exit(e["@timestamp"] != sys.argv[2] + "-12-31T23:59:59.000000000Z")' \
    ev.jsonl "$y" || fail "stdin 3164 year: $(head -c 300 ev.jsonl)"

# --since (inclusive) and --until (exclusive): lines exactly at a bound
# (line 6 is line 1's instant, written in +01:00), a nanosecond inside,
# and a line with no time (always kept).
cat >window.log <<'EOF'
2024-12-01T00:00:00Z a evil.example
2024-11-30T23:59:59.999999999Z b evil.example
2024-12-02T00:00:00Z c evil.example
2024-12-01T23:59:59.999999999Z d evil.example
no time here e evil.example
<34>1 2024-12-01T01:00:00+01:00 h1 app - - - f evil.example
EOF
# window ARGS... -- WANT: the lines kept, in order, with -j 0 and -j 2.
window() {
    local want=${*: -1} j got
    set -- "${@:1:$#-1}"
    for j in 0 2; do
        run "$B" scan -i iocs.txt -j "$j" "$@" --format json window.log \
            >ev.jsonl
        got=$(python3 -c 'import json,sys
print(",".join(str(json.loads(l)["iocstream"]["line"]) for l in open(sys.argv[1])))' ev.jsonl)
        [ "$got" = "$want" ] || fail "window $* -j $j: lines $got, want $want"
    done
}
window --since 2024-12-01 --until 2024-12-02 "1,4,5,6"
window --since 2024-12-01T00:00:00.000000001Z "3,4,5"
window --until 2024-12-01T00:00:00Z "2,5"
window --until 2024-12-01 "2,5"
window --since "2024-12-01 23:59:59.999999999" --until 2024-12-02T00:00:00Z "4,5"
window --tz +01:00 --since 2024-12-01 --until 2024-12-02 "1,2,5,6"
window --since 2024-11-30T23:59:59.999999999Z --until 2024-12-01T00:00:00Z "2,5"
window --since 2025-01-01 "5"
run "$B" scan -i iocs.txt --since 2024-12-01 --until 2024-11-01 -o ev.mp \
    window.log
expect_status 0 "empty window (lines with no time still hit)"
grep -c . <("$B" decode ev.mp) | grep -qx 1 || fail "empty window"
for bad in "yesterday" "2024-13-01" "2024-12-01T25:00:00Z" "2024-12-01 junk"; do
    run "$B" scan -i iocs.txt --since "$bad" window.log 2>err.txt
    expect_status 2 "--since $bad"
    grep -q -- "--since" err.txt || fail "--since $bad not reported"
done
run "$B" scan -i iocs.txt --until "" window.log 2>/dev/null
expect_status 2 "--until empty"

# --- summary -----------------------------------------------------------------
# A known event set: two feeds (evil.example in both), two files, three
# hosts; two lines without a time (their @timestamp is the scan time).
printf 'evil.example\n' >feedb.txt
cat >s1.log <<'EOF'
<34>Dec  5 03:14:15 gw1 sshd[1]: from 192.81.209.168 to evil.example
<34>Dec  5 04:00:00 gw2 sshd[1]: from 192.81.209.168
2024-12-06T10:00:00.5Z app: evil.example evil.example
EOF
cat >s2.log <<'EOF'
<165>1 2024-12-04T23:00:00Z web01 nginx - - - 192.81.209.168
<165>1 2024-12-07T00:00:00Z gw1 nginx - - - evil.example
EOF
touch -d '2024-12-20 00:00:00 UTC' s1.log s2.log
cat >want_summary.jsonl <<'EOF'
{"indicator":"192.81.209.168","type":"ipv4-addr","feeds":["iocs.txt"],"events":3,"first_seen":"2024-12-04T23:00:00.000000000Z","last_seen":"2024-12-05T04:00:00.000000000Z","hosts":["gw1","gw2","web01"],"files":["s1.log","s2.log"]}
{"indicator":"evil.example","type":"domain-name","feeds":["feedb.txt","iocs.txt"],"events":3,"first_seen":"2024-12-05T03:14:15.000000000Z","last_seen":"2024-12-07T00:00:00.000000000Z","hosts":["gw1"],"files":["s1.log","s2.log"]}
EOF
for j in 0 2; do
    # With -o, the events go to the file and the summary to stdout.
    run "$B" scan -i iocs.txt -i feedb.txt -j "$j" --summary -o ev.mp \
        s1.log s2.log >sum.jsonl
    expect_status 0 "--summary -o, -j $j"
    diff -u want_summary.jsonl sum.jsonl || fail "scan --summary -o, -j $j"
    [ "$("$B" decode ev.mp | wc -l)" -eq 6 ] || fail "--summary -o: events"
    # Without -o, the summary alone.
    run "$B" scan -i iocs.txt -i feedb.txt -j "$j" --summary s1.log s2.log \
        >sum2.jsonl
    expect_status 0 "--summary, -j $j"
    diff -u want_summary.jsonl sum2.jsonl || fail "scan --summary, -j $j"
done
# The summary subcommand on the same events: msgpack, JSON, stdin, two
# files of the same stream.
run "$B" summary --format json ev.mp >sum3.jsonl
expect_status 0 "summary msgpack"
diff -u want_summary.jsonl sum3.jsonl || fail "summary of msgpack events"
"$B" decode ev.mp >ev.jsonl
run "$B" summary <ev.jsonl >sum4.jsonl
expect_status 0 "summary stdin JSON"
diff -u want_summary.jsonl sum4.jsonl || fail "summary of JSON on stdin"
head -n 3 ev.jsonl >part1.jsonl
tail -n +4 ev.jsonl >part2.jsonl
run "$B" summary --format json part1.jsonl part2.jsonl >sum5.jsonl
diff -u want_summary.jsonl sum5.jsonl || fail "summary of two event files"
# Lines without a time: their events count, last_seen is the scan time.
printf 'no time: evil.example\n' >s3.log
run "$B" scan -i iocs.txt --summary s3.log s1.log >sum6.jsonl
expect_status 0 "--summary, no time"
python3 - sum6.jsonl <<'PY' || fail "summary with a line without time"
import json, sys, time
rows = {r["indicator"]: r for r in map(json.loads, open(sys.argv[1]))}
r = rows["evil.example"]
assert set(r) == {"indicator", "type", "feeds", "events", "first_seen",
                  "last_seen", "hosts", "files"}, r
assert r["events"] == 3 and r["files"] == ["s1.log", "s3.log"], r
assert r["first_seen"] == "2024-12-05T03:14:15.000000000Z", r
assert r["last_seen"][:4] == time.strftime("%Y", time.gmtime()), r
assert rows["192.81.209.168"]["events"] == 2, rows
PY
# The table (feeds are in the JSON form only): every column of each row.
run "$B" summary --format table ev.mp >table.txt
expect_status 0 "summary table"
cat >want_table.txt <<'EOF'
INDICATOR TYPE EVENTS FIRST_SEEN LAST_SEEN HOSTS FILES
192.81.209.168 ipv4-addr 3 2024-12-04T23:00:00.000000000Z 2024-12-05T04:00:00.000000000Z gw1,gw2,web01 s1.log,s2.log
evil.example domain-name 3 2024-12-05T03:14:15.000000000Z 2024-12-07T00:00:00.000000000Z gw1 s1.log,s2.log
EOF
tr -s ' ' <table.txt | sed 's/ $//' | diff -u want_table.txt - ||
    fail "summary table"
# No events, no rows; not events at all, an error.
run "$B" scan -i iocs.txt --summary window.log --until 2000-01-01 >sum7.jsonl
expect_status 0 "--summary, lines without time only"
run "$B" summary --format json kinds.log >/dev/null 2>err.txt
expect_status 2 "summary of a log"

# --- progress ----------------------------------------------------------------
# Forced on: status lines on stderr (bytes of total, GB/s, events), and the
# compile phase; nothing on stdout. Off by default when stderr is a file.
python3 -c 'import sys
line = "2024-12-05T03:14:15Z host app: padding padding padding padding padding\n"
with open(sys.argv[1], "w") as f:
    for i in range(200000):
        f.write(line if i % 1000 else "2024-12-05T03:14:15Z hit 192.81.209.168\n")' big.log
for j in 0 2; do
    run "$B" scan -i iocs.txt --no-cache -j "$j" --progress -o ev.mp big.log \
        >out.txt 2>err.txt
    expect_status 0 "--progress -j $j"
    [ ! -s out.txt ] || fail "--progress wrote to stdout"
    tr '\r' '\n' <err.txt | grep -q 'compiling 2 IOCs' ||
        fail "--progress: no compile phase: $(od -c err.txt | head)"
    tr '\r' '\n' <err.txt | grep -Eq '[0-9.]+ [kMG]?B of [0-9.]+ [kMG]?B .*GB/s.* events' ||
        fail "--progress: no status line: $(od -c err.txt | head)"
    [ "$("$B" decode ev.mp | wc -l)" -eq 200 ] || fail "--progress: events"
done
run "$B" scan -i iocs.txt -o ev.mp big.log 2>err.txt
[ ! -s err.txt ] || fail "progress drawn on a non-terminal: $(od -c err.txt | head)"
run "$B" scan -i iocs.txt --progress --no-progress -o ev.mp big.log 2>err.txt
[ ! -s err.txt ] || fail "--no-progress drew"

# --- a generated corpus: every event carries its line's time ----------------
python3 "$S/scripts/genlogs.py" --seed 21 --size 2M --iocs 200 \
    --hit-rate 0.05 --out "$W/g" -q
run "$B" scan -i "$W/g/iocs.txt" --format json "$W/g/logs" >gen.jsonl
expect_status 0 generated
python3 - gen.jsonl <<'PY' || fail "generated corpus: events without their line's time"
import json, sys
n = syslog = 0
for e in map(json.loads, open(sys.argv[1])):
    n += 1
    assert e["iocstream"]["time"] == "line", e["event"]["original"][:200]
    assert e["@timestamp"] != e["event"]["created"]
    path = e["log"]["file"]["path"]
    if path.endswith(("auth.log", "asa.log", "globalprotect.log")):
        syslog += 1
        assert e.get("host", {}).get("name"), e["event"]["original"][:200]
assert n > 100 and syslog > 10, (n, syslog)
print("generated: %d events, all with their line's time (%d with host)" % (n, syslog))
PY
echo "e2e_time: ok"
