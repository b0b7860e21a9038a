#!/usr/bin/env bash
# Windows event logs (issue 16), on every file of
# ../shared/corpus/logs/windows-evtx: IOCs planted from the records
# themselves (IPv4 addresses and .exe names that evtxexport -f xml shows,
# and a C:\Windows\System32\... path) are reported for exactly the records
# whose XML holds them (by winlog.record_id), with the record's fields;
# record counts agree with evtxexport; -j 2 gives the events of -j 0, in
# input order; a truncated file and one with flipped bytes give warnings
# and every readable record, never a crash. Skipped when ../shared or
# evtxexport is absent.
. "$(dirname "$0")/lib_e2e.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

E="$S/../shared/corpus/logs/windows-evtx"
if [ ! -d "$E" ] || ! command -v evtxexport >/dev/null; then
    echo "e2e_evtx: $E or evtxexport absent, skipped"
    exit 77
fi
find "$E" -type f -name '*.evtx' | sort >"$W/files"
nfiles=$(wc -l <"$W/files")
[ "$nfiles" -gt 0 ] || fail "no .evtx files in $E"

# Every record of every file as evtxexport sees it: one JSON line per
# record, {"file", "record_id", "xml"} (entities decoded); -m all: the
# records recovered from chunk slack too, as iocstream scans them.
mkdir -p "$W/xml"
while read -r f; do
    evtxexport -m all -f xml "$f" 2>/dev/null >"$W/xml/$(basename "$f").xml" || true
done <"$W/files"
"$PY" - "$W/files" "$W/xml" "$W/records.jsonl" "$W/iocs.txt" \
    "$W/winpath.txt" <<'EOF'
import html, json, os, re, sys
files = open(sys.argv[1]).read().splitlines()
out = open(sys.argv[3], "w")
ips, exes, paths = set(), set(), set()
for f in files:
    xml = open(os.path.join(sys.argv[2], os.path.basename(f) + ".xml"),
               errors="replace").read()
    # From one <Event to the next: a recovered record may not close.
    for rec in re.split(r"(?=<Event[ >])", xml)[1:]:
        rid = re.search(r"<EventRecordID>(\d+)</EventRecordID>", rec)
        text = html.unescape(rec)
        # A garbled recovered record may have lost its EventRecordID.
        out.write(json.dumps({"file": f,
                              "record_id": int(rid.group(1)) if rid else None,
                              "xml": text}) + "\n")
        data = re.search(r"<(EventData|UserData)>.*?</\1>", text, re.S)
        if not data:
            continue
        d = data.group(0)
        for ip in re.findall(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d])", d):
            octs = ip.split(".")
            if all(int(o) < 256 and (o == "0" or not o.startswith("0"))
                   for o in octs) and ip not in ("0.0.0.0", "127.0.0.1"):
                ips.add(ip)
        for exe in re.findall(r"(?<![\w.-])([\w-]+\.exe)(?![\w-])", d, re.I):
            exes.add(exe.lower())
        for p in re.findall(r"[Cc]:\\[Ww]indows\\[Ss]ystem32\\[\w-]+\.exe", d):
            paths.add(p)
ips, exes = sorted(ips), sorted(exes)
# A deterministic sample, so the IOCs hit some records, not all.
pick = ips[::max(1, len(ips) // 25)] + exes[::max(1, len(exes) // 25)]
assert len(pick) >= 10, pick
open(sys.argv[4], "w").write("\n".join(pick) + "\n")
assert paths, "no C:\\Windows\\System32 path in the records"
open(sys.argv[5], "w").write(sorted(paths)[0] + "\n")
EOF
nrec=$(wc -l <"$W/records.jsonl")
[ "$nrec" -gt 1000 ] || fail "only $nrec records from evtxexport"

mapfile -t paths <"$W/files"
for j in 0 2; do
    run "$B" scan -i "$W/iocs.txt" -i "$W/winpath.txt" -j "$j" --stats \
        --format json -o "$W/ev.$j.jsonl" "${paths[@]}" 2>"$W/err.$j"
    [ "$rc" -le 2 ] || fail "-j $j: status $rc"
    ! grep -v -e ': chunk [0-9-]*: ' -e 'database' -e ' bytes, ' \
        -e 'recovered records (stale fragments in chunk slack)' \
        -e ': output (.*): [0-9]* events sent' \
        "$W/err.$j" || fail "-j $j: unexpected messages"
    # Record counts: the lines scanned are the records handed out.
    lines=$(sed -n 's/.* bytes, \([0-9]*\) lines,.*/\1/p' "$W/err.$j")
    [ "$lines" = "$nrec" ] ||
        fail "-j $j: $lines records scanned, evtxexport shows $nrec"
done

# The events: exactly the records whose XML holds an IOC, with their
# fields, and the Windows path matched in its JSON spelling.
"$PY" - "$W/records.jsonl" "$W/iocs.txt" "$W/winpath.txt" "$W/ev.0.jsonl" <<'EOF'
import json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
iocs = open(sys.argv[2]).read().split()
winpath = open(sys.argv[3]).read().strip()
ev = [json.loads(l) for l in open(sys.argv[4])]

def ip_re(ip):
    return re.compile(r"(?<![\d.])" + re.escape(ip) + r"(?!\d|\.\d)")

def name_re(n):
    return re.compile(r"(?<![A-Za-z0-9._-])" + re.escape(n.lower()) +
                      r"(?![A-Za-z0-9_-]|\.[A-Za-z0-9])")

pats = [(i, ip_re(i) if re.match(r"^[\d.]+$", i) else name_re(i))
        for i in iocs] + [(winpath, name_re(winpath))]
want = {}
known = {(r["file"], r["record_id"]) for r in recs}
unnamed = {r["file"] for r in recs if r["record_id"] is None}
# A recovered record that evtxexport prints cut short (no </Event>) is no
# truth for what the whole record holds: its id is left out on both sides.
whole = {(r["file"], r["record_id"]) for r in recs if "</Event>" in r["xml"]}
cut = known - whole
assert len(cut) < len(known) // 5, len(cut)
for r in recs:
    if r["record_id"] is None or (r["file"], r["record_id"]) in cut:
        continue # its events cannot be told apart (see below)
    low = r["xml"].lower()
    for ioc, p in pats:
        if p.search(r["xml"] if ioc[0].isdigit() else low):
            want.setdefault((r["file"], r["record_id"]), set()).add(ioc.lower())
got = {}
skipped = 0
for e in ev:
    w = e["winlog"]
    key = (e["log"]["file"]["path"], w["record_id"])
    if (key not in known and key[0] in unnamed) or key in cut:
        skipped += 1 # a record evtxexport shows without its id, or cut
        continue
    got.setdefault(key, set()).add(
        e["threat"]["enrichments"][0]["indicator"]["name"].lower())
    assert w["channel"] and w["event_id"].isdigit(), w
    assert e["host"]["name"] == w["computer_name"], e
    assert e["iocstream"]["line"] >= 1 and e["log"]["offset"] >= 4096, e
    assert e["@timestamp"] != e["event"]["created"], e
    if e["threat"]["enrichments"][0]["indicator"]["name"] == winpath:
        assert winpath.replace("\\", "\\\\").lower() in \
            e["event"]["original"].lower(), e["event"]["original"][:200]
missing = set(want) - set(got)
extra = set(got) - set(want)
assert not missing and not extra, (sorted(missing)[:5], sorted(extra)[:5])
for k in want:
    assert want[k] == got[k], (k, want[k], got[k])
assert any(winpath.lower() in s for s in got.values()), "path never matched"
assert skipped < len(ev) // 5, skipped
print("e2e_evtx: %d records, %d with IOCs, %d events (%d of unnamed records)"
      % (len(recs), len(want), len(ev), skipped))
EOF

# -j 2: the events of -j 0, in the same (input) order.
"$PY" - "$W/ev.0.jsonl" "$W/ev.2.jsonl" <<'EOF' || fail "-j 2 differs from -j 0"
import json, sys
def norm(p):
    out = []
    for l in open(p):
        e = json.loads(l)
        del e["event"]["created"]
        out.append(json.dumps(e, sort_keys=True))
    return out
a, b = norm(sys.argv[1]), norm(sys.argv[2])
assert a == b, (len(a), len(b))
EOF

# Damaged files: cut short, and bytes flipped inside the second chunk.
big=$(xargs -d "\n" ls -S <"$W/files" | sed -n 1p)
mkdir -p "$W/dmg"
size=$(stat -c %s "$big")
head -c $((size / 2)) "$big" >"$W/dmg/cut.evtx"
"$PY" - "$big" "$W/dmg/flipped.evtx" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
at = 4096 + 65536 + 4000 # inside chunk 1's records
for k in range(0, 256, 3):
    if at + k < len(b):
        b[at + k] ^= 0xA5
open(sys.argv[2], "wb").write(b)
EOF
cp "$big" "$W/dmg/whole.evtx"
for j in 0 2; do
    run "$B" scan -i "$W/iocs.txt" -j "$j" --stats --format json \
        -o "$W/dmg.jsonl" "$W/dmg/cut.evtx" "$W/dmg/flipped.evtx" \
        "$W/dmg/whole.evtx" 2>"$W/dmg.err"
    [ "$rc" -le 2 ] || fail "damaged -j $j: status $rc (a crash?)"
    grep -qE "^iocstream: $W/dmg/(cut|flipped)\.evtx: chunk [0-9]+: " \
        "$W/dmg.err" || fail "damaged -j $j: no chunk warning: $(cat "$W/dmg.err")"
    # The intact copy still gives every record it has.
    "$PY" - "$W/dmg.jsonl" "$W/ev.0.jsonl" "$big" "$W/dmg/whole.evtx" <<'EOF' ||
import json, sys
whole = [json.loads(l) for l in open(sys.argv[1])]
whole = [e["winlog"]["record_id"] for e in whole
         if e["log"]["file"]["path"] == sys.argv[4]]
ref = [json.loads(l) for l in open(sys.argv[2])]
ref = [e["winlog"]["record_id"] for e in ref
       if e["log"]["file"]["path"] == sys.argv[3]]
assert whole == ref, (len(whole), len(ref))
EOF
        fail "damaged -j $j: the intact file's events changed"
done
echo "e2e_evtx: ok ($nfiles files, $nrec records)"
