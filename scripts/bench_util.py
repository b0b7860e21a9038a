#!/usr/bin/env python3
"""bench_util.py - helpers for scripts/bench.sh (Python 3 standard library).

    bench_util.py sample CORPUS OUT BYTES
        OUT/logs/...: the first lines of every CORPUS/logs file, about BYTES
        in all (each file keeps its share of the corpus), cut at line ends;
        OUT/lines.json: {relative path "logs/...": lines kept}.
    bench_util.py small CORPUS OUT NFILES
        The same bytes as CORPUS/logs cut at line ends into about NFILES
        files (OUT/logs/<stream>/<NNN>/part-NNNNNN.log, 1000 per folder).
    bench_util.py lines TRUTH NEAR [--lines lines.json]
        Truth summary as JSON: rows, hit lines, hit lines with a non-CIDR
        row (what fixed-string tools can see), restricted to the sample.
    bench_util.py agree TRUTH NEAR ROOT [--lines lines.json] [--json] < OUT
        Compare a tool's "path:line:..." output (grep -n, or iocstream's
        JSON events with --json) with the truth lines: lines reported,
        truth lines missed (planted hits a tool did not see), extra lines,
        and how many extra lines are planted near misses.
    bench_util.py report RUNS.tsv META.json OUT.md
        Medians per contender, ratios, targets; prints the table and writes
        the Markdown report.
"""

import json
import os
import statistics
import sys


def rel_files(corpus):
    root = os.path.join(corpus, "logs")
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out.append(os.path.relpath(p, corpus))
    return sorted(out)


def cmd_sample(corpus, out, nbytes):
    files = rel_files(corpus)
    total = sum(os.path.getsize(os.path.join(corpus, f)) for f in files)
    lines = {}
    for f in files:
        src = os.path.join(corpus, f)
        want = os.path.getsize(src) * nbytes // max(total, 1)
        dst = os.path.join(out, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        n = got = 0
        with open(src, "rb") as i, open(dst, "wb") as o:
            for line in i:
                if got >= want:
                    break
                o.write(line)
                got += len(line)
                n += 1
        lines[f] = n
    with open(os.path.join(out, "lines.json"), "w") as fp:
        json.dump(lines, fp)


def cmd_small(corpus, out, nfiles):
    files = rel_files(corpus)
    total = sum(os.path.getsize(os.path.join(corpus, f)) for f in files)
    piece = max(1, total // nfiles)
    k = 0
    for f in files:
        stream = os.path.splitext(os.path.basename(f))[0]
        with open(os.path.join(corpus, f), "rb") as i:
            while True:
                buf = i.read(piece)
                if not buf:
                    break
                # finish the line the piece cut into
                if not buf.endswith(b"\n"):
                    buf += i.readline()
                d = os.path.join(out, "logs", stream, "%03d" % (k // 1000))
                if k % 1000 == 0 or not os.path.isdir(d):
                    os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, "part-%06d.log" % k), "wb") as o:
                    o.write(buf)
                k += 1
    print(k)


def load_truth(truth, lines_json):
    limit = None
    if lines_json:
        with open(lines_json) as fp:
            limit = json.load(fp)
    rows = 0
    hit = set()
    noncidr = set()
    with open(truth) as fp:
        for raw in fp:
            r = json.loads(raw)
            if limit is not None and r["line"] > limit.get(r["path"], 0):
                continue
            k = (r["path"], r["line"])
            rows += 1
            hit.add(k)
            if r["type"] != "cidr":
                noncidr.add(k)
    return rows, hit, noncidr


def load_near(near, lines_json):
    limit = None
    if lines_json:
        with open(lines_json) as fp:
            limit = json.load(fp)
    out = set()
    with open(near) as fp:
        for raw in fp:
            r = json.loads(raw)
            if limit is not None and r["line"] > limit.get(r["path"], 0):
                continue
            out.add((r["path"], r["line"]))
    return out


def cmd_lines(truth, near, lines_json):
    rows, hit, noncidr = load_truth(truth, lines_json)
    print(json.dumps({"rows": rows, "lines": len(hit),
                      "lines_noncidr": len(noncidr),
                      "near_misses": len(load_near(near, lines_json))}))


def cmd_agree(truth, near, root, lines_json, is_json):
    rows, hit, noncidr = load_truth(truth, lines_json)
    nm = load_near(near, lines_json)
    root = os.path.abspath(root)
    seen = set()
    events = 0
    for raw in sys.stdin.buffer:
        if is_json:
            e = json.loads(raw)
            path = e["log"]["file"]["path"]
            line = e["iocstream"]["line"]
            events += 1
        else:
            parts = raw.split(b":", 2)
            if len(parts) < 3:
                continue
            path = parts[0].decode("utf-8", "surrogateescape")
            line = int(parts[1])
        p = os.path.relpath(os.path.abspath(path), root)
        seen.add((p, line))
    want = hit if is_json else noncidr
    extra = seen - want
    out = {"lines": len(seen), "truth_lines": len(want),
           "truth_lines_all": len(hit), "missing": len(want - seen),
           "extra": len(extra), "extra_near_miss": len(extra & nm),
           "near_misses": len(nm)}
    if is_json:
        out["events"] = events
        out["truth_rows"] = rows
    print(json.dumps(out))


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

NAMES = {
    "raw1": "raw limit, 1 thread (hs_scan per 1 MiB, in memory)",
    "rawN": "raw limit, all cores",
    "ioc0": "iocstream, one thread in all (-j 0: scans on the reading thread)",
    "ioc1": "iocstream, 1 worker (-j 1: one scanning thread fed by the reading thread)",
    "iocN": "iocstream, all cores (-j nproc)",
    "ioc1-small": "iocstream, 1 worker, small files",
    "iocN-small": "iocstream, all cores, small files",
    "ugrep": "ugrep -F -i",
    "rg": "rg -F -i",
    "grep": "grep -F -i",
    "ioc1-big": "iocstream, 1 worker, 10x corpus (--big)",
    "iocN-big": "iocstream, all cores, 10x corpus (--big)",
}


def fmt_mib(kb):
    return "%.0f" % (kb / 1024.0) if kb else "-"


def cmd_report(runs_tsv, meta_json, out_md):
    with open(meta_json) as fp:
        meta = json.load(fp)
    runs = {}
    order = []
    with open(runs_tsv) as fp:
        for raw in fp:
            if raw.startswith("#") or not raw.strip():
                continue
            f = raw.rstrip("\n").split("\t")
            rnd, name, corpus, nbytes, secs, rss, count = f[:7]
            scan = f[7] if len(f) > 7 and f[7] not in ("", "-") else None
            if name not in runs:
                order.append(name)
                runs[name] = []
            runs[name].append({"corpus": corpus, "bytes": int(nbytes),
                               "secs": float(secs), "rss": int(rss or 0),
                               "scan": float(scan) if scan else None,
                               "count": int(count) if count not in ("", "-") else None})
    res = {}
    for name in order:
        rs = runs[name]
        gbps = [r["bytes"] / r["secs"] / 1e9 for r in rs if r["secs"] > 0]
        res[name] = {
            "n": len(rs), "corpus": rs[0]["corpus"], "bytes": rs[0]["bytes"],
            "secs": statistics.median(r["secs"] for r in rs),
            "gbps": statistics.median(gbps) if gbps else 0.0,
            "min": min(gbps) if gbps else 0.0, "max": max(gbps) if gbps else 0.0,
            "rss": max(r["rss"] for r in rs), "count": rs[-1]["count"],
            "scan": statistics.median(r["scan"] for r in rs) if all(r["scan"] for r in rs) else None,
        }
    raw1 = res.get("raw1", {}).get("gbps") or None
    compile_s = meta.get("compile_s", 0.0)

    def ratio(x, base):
        return "%.3gx" % (x / base) if base and x else "-"

    hdr = ("| contender | input | runs | GB/s median (min-max) | x raw 1 thread"
           " | peak RSS MiB | count |")
    lines = [hdr, "|---|---|---|---|---|---|---|"]
    for name in order:
        r = res[name]
        lines.append("| %s | %s (%.0f MiB) | %d | %.3g (%.3g-%.3g) | %s | %s | %s |" % (
            NAMES.get(name, name), r["corpus"], r["bytes"] / 2**20, r["n"],
            r["gbps"], r["min"], r["max"], ratio(r["gbps"], raw1),
            fmt_mib(r["rss"]) if not name.startswith("raw") else
            "(corpus in RAM)", "-" if r["count"] is None else r["count"]))
    table = "\n".join(lines)

    # Scan-only view of iocstream: the scan time its --stats line reports
    # (process start and the database, loaded from the cache, excluded), to
    # set beside the raw limit's scan-only time.
    scan_only = []
    for name in ("ioc0", "ioc1", "iocN", "ioc1-small", "iocN-small"):
        if name in res and res[name].get("scan"):
            g = res[name]["bytes"] / res[name]["scan"] / 1e9
            scan_only.append("| %s | %.3f | %s |" % (NAMES[name], g, ratio(g, raw1)))
            res[name]["gbps_scan"] = g

    def get(name, key="gbps"):
        return res.get(name, {}).get(key)

    targets = []

    def target(what, value, goal, ok):
        targets.append("| %s | %s | %s | %s |" % (
            what, value, goal, "n/a" if ok is None else ("met" if ok else "NOT met")))

    if get("ioc1") and raw1:
        v = get("ioc1") / raw1
        vs = (get("ioc1", "gbps_scan") or 0) / raw1
        target("1 worker vs raw limit (10k IOCs, mixed logs)",
               "%.2fx end to end, %.2fx scan only (--stats)" % (v, vs), ">= 0.9x", v >= 0.9)
    if get("iocN") and get("ioc1"):
        v = get("iocN") / get("ioc1")
        target("all cores vs 1 worker", "%.2fx" % v, ">= 1.8x", v >= 1.8)
    else:
        target("all cores vs 1 worker", "not measured (no -j in `iocstream scan --help`)",
               ">= 1.8x", None)
    peers = [(get(t), t) for t in ("ugrep", "rg", "grep") if get(t)]
    best_ioc = get("iocN") or get("ioc1")
    if peers and best_ioc:
        fastest, tool = max(peers)
        v = best_ioc / fastest
        target("vs fastest of ugrep/rg/grep (%s)" % tool,
               "%.1fx (%s)" % (v, "iocN" if get("iocN") else "ioc1"), ">= 10x", v >= 10)
    agree = meta.get("agree", {})
    if agree:
        miss = {t: a.get("missing") for t, a in agree.items()}
        ok = all(m == 0 for m in miss.values())
        target("identical hits on the planted indicators",
               ", ".join("%s missed %s" % (t, m) for t, m in sorted(miss.items())),
               "0 missed by any", ok)
    db_mib = meta.get("db_bytes", 0) / 2**20
    for name, label in (("ioc1", "1 GiB-class input"), ("iocN", "1 GiB-class input, all cores"),
                        ("ioc1-big", "10x input"), ("iocN-big", "10x input, all cores")):
        if name in res:
            v = res[name]["rss"] / 1024.0
            target("peak RSS, %s" % label, "%.0f MiB (db %.1f MiB)" % (v, db_mib),
                   "<= 64 MiB + db", v <= 64 + db_mib)
    if "ioc1-big" not in res:
        target("peak RSS, 10 GiB input", "not run (use --big)", "<= 64 MiB + db", None)
    for s, b in (("ioc1-small", "ioc1"), ("iocN-small", "iocN")):
        if get(s) and get(b):
            v = get(s) / get(b)
            target("small files vs one big corpus (%s)" % b, "%.2fx" % v, ">= 0.5x", v >= 0.5)
    ttable = "\n".join(["| target | measured | goal | status |", "|---|---|---|---|"] + targets)

    ag_lines = []
    for tool, a in agree.items():
        if tool.startswith("iocstream"):
            ag_lines.append(
                "| %s (%s) | %d events on %d lines | %d rows on %d lines | %d | %d | - |" % (
                    tool.split(" ")[0], a.get("where", "sample"), a["events"], a["lines"], a["truth_rows"],
                    a["truth_lines"], a["missing"], a["extra"]))
        else:
            ag_lines.append(
                "| %s (%s) | %d lines | %d non-CIDR hit lines | %d | %d | %d of %d |" % (
                    tool, a.get("where", "sample"), a["lines"], a["truth_lines"], a["missing"],
                    a["extra"], a["extra_near_miss"], a["near_misses"]))
    agtable = "\n".join([
        "| tool (input) | reported | truth | planted missed | extra lines | extra that are planted near misses |",
        "|---|---|---|---|---|---|"] + ag_lines)

    counts = []
    tl = meta.get("truth_full", {})
    for t in ("ioc1", "iocN", "ugrep", "rg", "grep", "ioc1-small"):
        if t in res and res[t]["count"] is not None and res[t]["corpus"] in ("corpus", "small"):
            if t.startswith("ioc"):
                counts.append("- %s: %d events; truth: %d rows (%s)" % (
                    t, res[t]["count"], tl.get("rows", 0),
                    "equal" if res[t]["count"] == tl.get("rows") else "DIFFERENT"))
            else:
                extra = res[t]["count"] - tl.get("lines_noncidr", 0)
                counts.append("- %s: %d matching lines; truth: %d lines with a non-CIDR hit "
                              "(%+d, %+.1f%%)" % (t, res[t]["count"], tl.get("lines_noncidr", 0),
                                                  extra, 100.0 * extra / max(1, tl.get("lines_noncidr", 1))))

    md = []
    md.append("# Benchmark results\n")
    md.append("Written by `scripts/bench.sh` on %s. Do not edit by hand; rerun the script.\n" % meta["date"])
    md.append("## Machine\n")
    for k in ("cpu", "cores", "memory", "kernel", "os", "hyperscan", "compiler", "commit"):
        md.append("- %s: %s" % (k, meta.get(k, "?")))
    md.append("- tools: %s\n" % meta.get("tools", "?"))
    md.append("## Command\n")
    md.append("```\n%s\n```\n" % meta["command"])
    md.append("Corpus: `%s` (genlogs.py %s): %d bytes in %s files, %s IOCs "
              "(%d Hyperscan patterns, database %.1f MiB, compile %.2f s). "
              "Grep-class pattern list: %s.\n" % (
                  meta["corpus"], meta["genlogs"], meta["bytes"], meta["files"], meta["iocs"],
                  meta.get("patterns", 0), db_mib, compile_s, meta.get("patterns_note", "")))
    md.append("## Throughput\n")
    md.append("GB/s = 1e9 bytes per second of wall time, page-cached input; median of "
              "alternated rounds (each round runs every contender once, order rotated). "
              "The raw limit times only its hs_scan loop over bytes already in memory; "
              "every other figure is end to end (process start, IOC database from the cache, "
              "reading, output to /dev/null). Peak RSS from /usr/bin/time -f %M.\n")
    md.append(table + "\n")
    if scan_only:
        md.append("iocstream's scan alone, as its --stats line times it (from the first read "
                  "to the last event written; process start and the database, loaded from "
                  "the cache, excluded), to set beside the raw limit's scan-only time "
                  "(a cold compile of this set takes %.2f s):\n" % compile_s)
        md.append("| contender | GB/s | x raw 1 thread |\n|---|---|---|")
        md.append("\n".join(scan_only) + "\n")
    if meta.get("notes"):
        md.append("Notes:\n")
        md.append("\n".join("- " + n for n in meta["notes"]) + "\n")
    md.append("## Hit agreement\n")
    md.append("iocstream reports one event per (line, IOC) with token boundaries "
              "(DESIGN.md); the truth file has one row per (line, IOC); grep-class tools "
              "report matching lines of any substring match, case-insensitive, and cannot "
              "express the CIDR indicators. So iocstream is compared with the truth rows, "
              "and the tools with the truth lines that hold a non-CIDR hit. Extra lines "
              "are over-counting: substring matches that are not whole tokens (planted near "
              "misses like `evil.example.au` or an address with a digit after it, and "
              "background text that merely contains a literal).\n")
    md.append(agtable + "\n")
    if counts:
        md.append("Counts from the timed runs on the whole corpus:\n")
        md.append("\n".join(counts) + "\n")
    if meta.get("truthcheck"):
        md.append("truthcheck.py on the whole corpus: `%s`\n" % meta["truthcheck"])
    md.append("## Targets\n")
    md.append(ttable + "\n")
    text = "\n".join(md)
    with open(out_md, "w") as fp:
        fp.write(text)
    print(table)
    if scan_only:
        print("\n".join(["", "| iocstream scan only | GB/s | x raw |", "|---|---|---|"] + scan_only))
    print()
    print(agtable)
    print()
    print("\n".join(counts))
    print()
    print(ttable)


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd, a = argv[1], argv[2:]
    opt = {}
    pos = []
    i = 0
    while i < len(a):
        if a[i] == "--lines":
            opt["lines"] = a[i + 1]
            i += 2
        elif a[i] == "--json":
            opt["json"] = True
            i += 1
        else:
            pos.append(a[i])
            i += 1
    if cmd == "sample":
        cmd_sample(pos[0], pos[1], int(pos[2]))
    elif cmd == "small":
        cmd_small(pos[0], pos[1], int(pos[2]))
    elif cmd == "lines":
        cmd_lines(pos[0], pos[1], opt.get("lines"))
    elif cmd == "agree":
        cmd_agree(pos[0], pos[1], pos[2], opt.get("lines"), opt.get("json", False))
    elif cmd == "report":
        cmd_report(pos[0], pos[1], pos[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
