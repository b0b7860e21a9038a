#!/usr/bin/env python3
"""truthcheck.py - compare iocstream events with genlogs.py ground truth.

    iocstream scan -i OUT/iocs.txt --format json OUT/logs > ev.jsonl
    scripts/truthcheck.py --truth OUT/truth.jsonl --events ev.jsonl --root OUT

Events are JSON lines as `iocstream decode` (or `--format json`) prints
them. Each is keyed by (log.file.path relative to --root, iocstream.line,
threat.enrichments[0].indicator.name); a truth row by (path, line, ioc).
Reports events missing from the output, unexpected events (including
duplicates of one key), and events whose iocstream.count,
matched.atomic or indicator.type differ from the truth: the first 20 of
each kind, then totals. Exit status 0 when identical, 1 when not, 2 on a
usage or input error.

Python 3 standard library only.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iocref import ecs_type  # noqa: E402

SHOW = 20


def dig(obj, dotted):
    """obj["a"]["b"]... for "a.b...", also accepting flattened keys
    ("log.file.path": ...) at any level; list indices as numbers."""
    if dotted in obj:
        return obj[dotted]
    head, _, rest = dotted.partition(".")
    while True:
        if isinstance(obj, list):
            try:
                nxt = obj[int(head)]
            except (ValueError, IndexError):
                nxt = None
        elif isinstance(obj, dict):
            nxt = obj.get(head)
        else:
            nxt = None
        if nxt is not None:
            if not rest:
                return nxt
            if isinstance(nxt, dict) and rest in nxt:
                return nxt[rest]
            r = dig(nxt, rest)
            if r is not None:
                return r
        if not rest:
            return None
        h2, _, rest = rest.partition(".")
        head = head + "." + h2


def rel_path(p, roots):
    p = os.path.normpath(p)
    for r in roots:
        r = os.path.normpath(r)
        if p == r:
            return ""
        if p.startswith(r.rstrip(os.sep) + os.sep):
            return p[len(r.rstrip(os.sep)) + 1:]
    return p[2:] if p.startswith("./") else p


def load_truth(path, ignore):
    truth = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            if r["ioc"] in ignore:
                continue
            truth[(os.path.normpath(r["path"]), int(r["line"]), r["ioc"])] = r
    return truth


def load_events(f, roots, ignore, errors):
    events = {}
    dups = []
    for n, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
            enr = dig(ev, "threat.enrichments")
            enr = enr[0] if isinstance(enr, list) and enr else (enr or {})
            ind = dig(enr, "indicator") or {}
            key = (rel_path(str(dig(ev, "log.file.path")), roots),
                   int(dig(ev, "iocstream.line")), ind.get("name"))
            rec = {"count": dig(ev, "iocstream.count"),
                   "atomic": dig(enr, "matched.atomic"),
                   "type": ind.get("type")}
        except (ValueError, TypeError, AttributeError, KeyError) as e:
            errors.append("events line %d: %s" % (n, e))
            continue
        if key[2] in ignore:
            continue
        if key in events:
            dups.append((key, rec))
        else:
            events[key] = rec
    return events, dups


def fmt_key(k):
    return "%s:%d %s" % k


def compare(truth, events, dups):
    missing = sorted(k for k in truth if k not in events)
    unexpected = sorted(k for k in events if k not in truth)
    unexpected_recs = [(k, events[k]) for k in unexpected] + dups
    bad_count, bad_atomic, bad_type = [], [], []
    for k in sorted(k for k in events if k in truth):
        t, e = truth[k], events[k]
        if e["count"] != t["count"]:
            bad_count.append((k, t["count"], e["count"]))
        if e["atomic"] != t["atomic"]:
            bad_atomic.append((k, t["atomic"], e["atomic"]))
        want = ecs_type(t["type"], t["ioc"])
        if e["type"] is not None and e["type"] != want:
            bad_type.append((k, want, e["type"]))
    return missing, unexpected_recs, bad_count, bad_atomic, bad_type


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--truth", required=True, help="truth.jsonl written by genlogs.py")
    ap.add_argument("--events", help="events, JSON lines (default: stdin)")
    ap.add_argument("--root", action="append", default=[],
                    help="prefix to strip from event paths (repeatable; default: the truth file's directory)")
    ap.add_argument("--ignore-ioc", action="append", default=[], metavar="VALUE",
                    help="leave this IOC out on both sides (repeatable)")
    ap.add_argument("--quiet", "-q", action="store_true", help="print only the summary line")
    args = ap.parse_args(argv)
    roots = args.root or [os.path.dirname(os.path.abspath(args.truth))]
    roots = [os.path.abspath(r) for r in roots] + roots
    ignore = set(args.ignore_ioc)
    try:
        truth = load_truth(args.truth, ignore)
        errors = []
        if args.events and args.events != "-":
            with open(args.events, encoding="utf-8", errors="surrogateescape") as f:
                events, dups = load_events(f, roots, ignore, errors)
        else:
            events, dups = load_events(sys.stdin, roots, ignore, errors)
    except (OSError, ValueError, KeyError) as e:
        print("truthcheck: %s" % e, file=sys.stderr)
        return 2
    missing, unexpected, bad_count, bad_atomic, bad_type = compare(truth, events, dups)
    out = sys.stdout
    if not args.quiet:
        for e in errors[:SHOW]:
            print("error: %s" % e, file=out)
        for k in missing[:SHOW]:
            t = truth[k]
            print("missing: %s (%s, count %d, atomic %r)" % (fmt_key(k), t["type"], t["count"], t["atomic"]), file=out)
        for k, rec in unexpected[:SHOW]:
            print("unexpected: %s (%s, count %s, atomic %r)%s" % (
                fmt_key(k), rec["type"], rec["count"], rec["atomic"],
                " [duplicate]" if k in truth else ""), file=out)
        for k, want, got in bad_count[:SHOW]:
            print("count: %s want %s got %s" % (fmt_key(k), want, got), file=out)
        for k, want, got in bad_atomic[:SHOW]:
            print("atomic: %s want %r got %r" % (fmt_key(k), want, got), file=out)
        for k, want, got in bad_type[:SHOW]:
            print("type: %s want %s got %s" % (fmt_key(k), want, got), file=out)
    ok = not (missing or unexpected or bad_count or bad_atomic or bad_type or errors)
    print("truthcheck: %s: truth %d, events %d, missing %d, unexpected %d, count %d, atomic %d, type %d, errors %d"
          % ("OK" if ok else "DIFF", len(truth), len(events) + len(dups), len(missing), len(unexpected),
             len(bad_count), len(bad_atomic), len(bad_type), len(errors)), file=out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
