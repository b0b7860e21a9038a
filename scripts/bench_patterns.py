#!/usr/bin/env python3
"""bench_patterns.py - the fixed-string pattern list that grep-class tools
get in scripts/bench.sh, built from the same IOC file iocstream reads.

    scripts/bench_patterns.py IOCS.txt > patterns.txt   (summary on stderr)

Each IOC is refanged, typed and normalised with scripts/iocref.py (the
reference semantics), then written as the literal spellings iocstream's
database holds for it (matchers/db.c): a URL without its scheme (as
host[/path?query]); an IPv6 address in canonical, fully expanded and
unpadded expanded form; a Windows path also JSON-escaped (doubled
backslashes). CIDRs are dropped: a fixed-string tool cannot express "any
address in this range". The tools then run with -F -i, so they see every
literal iocstream sees; they do not apply token boundaries, which is where
their extra (near-miss) lines come from.

Prints a JSON summary on stderr: iocs, cidrs dropped, patterns written.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iocref  # noqa: E402


def spellings(typ, norm):
    if typ == "url":
        host, rest = iocref.url_key(norm)
        after = norm.partition("://")[2] if "://" in norm else norm
        if rest in ("", "/"):
            return [host]
        return [after]
    if typ == "ipv6":
        n = iocref.parse_ipv6(norm)
        return sorted({norm, iocref.v6_full(n), iocref.v6_nolz(n)})
    if typ == "filename" and "\\" in norm:
        return [norm, norm.replace("\\", "\\\\")]
    return [norm]


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    seen = set()
    out = []
    n = cidrs = 0
    with open(argv[1], encoding="utf-8", errors="surrogateescape") as f:
        for raw in f:
            v = raw.rstrip("\r\n")
            if not v.strip() or v.lstrip().startswith("#"):
                continue
            v = iocref.refang(v)
            typ = iocref.detect(v)
            n += 1
            if typ == "cidr":
                cidrs += 1
                continue
            for s in spellings(typ, iocref.normalise(typ, v)):
                k = s.lower()
                if k not in seen:  # the tools run with -i
                    seen.add(k)
                    out.append(s)
    sys.stdout.write("".join(s + "\n" for s in out))
    json.dump({"iocs": n, "cidrs_dropped": cidrs, "patterns": len(out)},
              sys.stderr)
    sys.stderr.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
