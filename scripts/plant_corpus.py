#!/usr/bin/env python3
"""plant_corpus.py - plant real IOCs into real logs, with exact ground truth.

Reads every log file under CORPUS/logs (vendor VPN and workstation logs that
nobody here wrote) and IOC values from the plain-text feeds under
CORPUS/iocs (Talos, Maltrail, signature-base), writes copies of the logs
with IOC values planted into some lines (replacing an IPv4 address of the
line, or inserted between spaces), the IOC list, and the truth of every hit
in every line (planted or already there) computed by scripts/iocref.py.

    plant_corpus.py --corpus ../shared/corpus --out DIR [--seed S] [--rate F]

Writes DIR/logs/<same relative paths>, DIR/iocs.txt, DIR/truth.jsonl (the
format of genlogs.py). Bytes are kept as they are: lines are handled as
Latin-1 text so every byte maps to one character and back. Windows event
logs (.evtx, found by their magic) are binary and are left out.
"""

import argparse
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iocref  # noqa: E402

FEEDS = ["iocs/talos", "iocs/maltrail", "iocs/signature-base/c2-iocs.txt",
         "iocs/signature-base/hash-iocs.txt"]
PER_TYPE = 60
EVTX_MAGIC = b"ElfFile\0"
_V4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])")


def feed_files(corpus):
    for f in FEEDS:
        p = os.path.join(corpus, f)
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                if name.endswith(".txt"):
                    yield os.path.join(p, name)
        elif os.path.exists(p):
            yield p


def pick_iocs(corpus, rng):
    by_type = {}
    for path in feed_files(corpus):
        with open(path, encoding="latin-1") as f:
            for raw in f:
                raw = raw.strip()
                if not raw or raw.startswith("#"):
                    continue
                raw = raw.split(";")[0].split("#")[0].strip()
                v = iocref.refang(raw)
                typ = iocref.detect(v)
                if typ in ("string", "cidr", "filename") or not v.isascii():
                    continue
                try:
                    norm = iocref.normalise(typ, v)
                except Exception:
                    continue
                if norm is None or len(norm) < 4:
                    continue
                by_type.setdefault(typ, set()).add(norm)
    chosen = []
    for typ in sorted(by_type):
        vals = sorted(by_type[typ])
        rng.shuffle(vals)
        chosen += [(typ, v) for v in vals[:PER_TYPE]]
    return chosen


def vary_case(rng, typ, v):
    if typ in ("domain", "email", "md5", "sha1", "sha256", "sha512") and rng.random() < 0.3:
        return v.upper()
    return v


def plant_line(rng, line, iocs):
    typ, v = rng.choice(iocs)
    if typ == "url":
        v = v.split("://", 1)[-1]  # logs often drop the scheme
    v = vary_case(rng, typ, v)
    m = _V4.search(line)
    if typ == "ipv4" and m:
        return line[:m.start()] + v + line[m.end():]
    spaces = [i for i, c in enumerate(line) if c == " "]
    if not spaces:
        return line + " " + v
    i = rng.choice(spaces)
    return line[:i] + " " + v + " " + line[i + 1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--rate", type=float, default=0.25)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    iocs = pick_iocs(a.corpus, rng)
    index = iocref.Index()
    for typ, v in iocs:
        index.add(typ, v)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "iocs.txt"), "w") as f:
        f.write("# planted from the corpus feeds\n")
        f.writelines(v + "\n" for _, v in iocs)

    truth = []
    root = os.path.join(a.corpus, "logs")
    for d, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            src = os.path.join(d, name)
            rel = os.path.relpath(src, root)
            with open(src, "rb") as f:
                raw = f.read()
            # A Windows event log (.evtx, by its magic whatever its name) is
            # binary records, not lines: planting text into it would break
            # it, and its truth comes from its records, not from lines.
            # Left out: not copied, no truth rows.
            if raw.startswith(EVTX_MAGIC):
                continue
            data = raw.decode("latin-1")
            parts = data.split("\n")
            out = []
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                cr = part.endswith("\r") and not last
                body = part[:-1] if cr else part
                if body and rng.random() < a.rate:
                    body = plant_line(rng, body, iocs)
                out.append(body + ("\r" if cr else ""))
                if last and body == "":
                    continue
                for norm, (typ, count, atomic) in index.find(body).items():
                    truth.append({"path": os.path.join("logs", rel), "line": i + 1,
                                  "ioc": norm, "type": typ, "count": count,
                                  "atomic": atomic})
            dst = os.path.join(a.out, "logs", rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write("\n".join(out).encode("latin-1"))
    truth.sort(key=lambda r: (r["path"], r["line"], r["ioc"]))
    with open(os.path.join(a.out, "truth.jsonl"), "w") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in truth)
    print(f"plant_corpus: {len(iocs)} IOCs, {len(truth)} truth rows", file=sys.stderr)


if __name__ == "__main__":
    main()
