"""Tests for scripts/genlogs.py and scripts/truthcheck.py.

    python3 -m unittest discover -s tests -p 'test_*.py'

The ground truth is checked against a brute-force reference written here
from DESIGN.md's boundary table: every IOC spelling is searched in every
file with bytes.find, and each occurrence is judged by its neighbours. It
shares no tokenising code with scripts/iocref.py.
"""

import bisect
import collections
import filecmp
import io
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(os.path.dirname(HERE), "scripts")
sys.path.insert(0, SCRIPTS)

import genlogs  # noqa: E402
import iocref  # noqa: E402
import truthcheck  # noqa: E402

ALNUM = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
DIGIT = set(b"0123456789")
HEX = set(b"0123456789abcdefABCDEF")


def _at(b, i):
    return b[i] if 0 <= i < len(b) else None


def _domain_right_ok(b, e):
    c = _at(b, e)
    if c is None:
        return True
    if c in ALNUM or c in b"-_":
        return False
    if c == ord(".") and _at(b, e + 1) is not None and _at(b, e + 1) in ALNUM:
        return False
    return True


def left_ok(typ, b, s):
    c = _at(b, s - 1)
    if c is None:
        return True
    if typ == "ipv4":
        return c not in DIGIT and c != ord(".")
    if typ == "ipv6":
        return c not in HEX and c != ord(":")
    if typ in ("domain", "url"):
        return c not in ALNUM and c not in b"-_"
    if typ == "email":
        return c not in ALNUM and c not in b"._%+-"
    if typ in ("md5", "sha1", "sha256", "sha512"):
        return c not in HEX
    if typ == "filename":
        return c not in ALNUM and c not in b".-_"
    return True


def right_ok(typ, b, e):
    c = _at(b, e)
    if c is None:
        return True
    if typ == "ipv4":
        return c not in DIGIT and not (c == ord(".") and _at(b, e + 1) is not None and _at(b, e + 1) in DIGIT)
    if typ == "ipv6":
        return c not in HEX and c != ord(":")
    if typ in ("domain", "email", "filename"):
        return _domain_right_ok(b, e)
    if typ in ("md5", "sha1", "sha256", "sha512"):
        return c not in HEX
    return True


def find_all(hay, needle):
    i = hay.find(needle)
    while i >= 0:
        yield i
        i = hay.find(needle, i + 1)


def reference(root, iocs):
    """{(path, line, ioc): (type, count, atomic)} over every file under
    root/logs, by brute force."""
    out = {}
    v4tok = re.compile(rb"(?<![0-9.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![0-9])(?!\.[0-9])")
    v6tok = re.compile(rb"[0-9A-Fa-f:]+")
    cidrs = []
    for typ, norm in iocs:
        if typ == "cidr":
            cidrs.append((ipaddress.ip_network(norm), norm))
    for dirpath, _, files in os.walk(os.path.join(root, "logs")):
        for fn in files:
            p = os.path.join(dirpath, fn)
            rel = os.path.relpath(p, root)
            with open(p, "rb") as f:
                raw = f.read()
            data = raw.replace(b"\r\n", b"\n")
            starts = [0] + [m.end() for m in re.finditer(b"\n", data)]
            low = data.lower()
            occ = collections.defaultdict(list)  # (ioc) -> [(pos, end)]
            types = {}

            def add(norm, typ, s, e):
                occ[norm].append((s, e))
                types[norm] = typ

            for typ, norm in iocs:
                if typ == "cidr":
                    continue
                if typ == "string":
                    for s in find_all(data, norm.encode()):
                        add(norm, typ, s, s + len(norm.encode()))
                    continue
                if typ == "url":
                    host, rest = iocref.url_key(norm)
                    for s in find_all(low, host.encode()):
                        e = s + len(host)
                        if data.startswith(rest.encode(), e) and left_ok("url", data, s):
                            add(norm, typ, s, e + len(rest.encode()))
                    continue
                if typ == "ipv6":
                    n = int(ipaddress.IPv6Address(norm))
                    a = ipaddress.IPv6Address(n)
                    spell = {a.compressed, a.exploded, ":".join("%x" % int(g, 16) for g in a.exploded.split(":"))}
                else:
                    spell = {norm.lower()}
                    if typ == "filename" and "\\" in norm:
                        spell.add(norm.lower().replace("\\", "\\\\"))
                for sp in spell:
                    sp = sp.encode()
                    hay = data if typ == "ipv4" else low
                    for s in find_all(hay, sp):
                        e = s + len(sp)
                        if left_ok(typ, data, s) and right_ok(typ, data, e):
                            add(norm, typ, s, e)
            if cidrs:
                for m in v4tok.finditer(data):
                    if any(len(g) > 1 and g.startswith(b"0") for g in m.groups()) or \
                            any(int(g) > 255 for g in m.groups()):
                        continue
                    a = ipaddress.IPv4Address(m.group().decode())
                    for net, norm in cidrs:
                        if a in net:
                            add(norm, "cidr", m.start(), m.end())
                for m in v6tok.finditer(data):
                    t = m.group().decode()
                    if t.count(":") < 2:
                        continue
                    try:
                        a = ipaddress.IPv6Address(t)
                    except ValueError:
                        continue
                    for net, norm in cidrs:
                        if a in net:
                            add(norm, "cidr", m.start(), m.end())
            for norm, lst in occ.items():
                per_line = collections.defaultdict(list)
                for s, e in lst:
                    ln = bisect.bisect_right(starts, s)
                    assert bisect.bisect_right(starts, e - 1) == ln, "occurrence spans lines"
                    per_line[ln].append((s, e))
                for ln, l2 in per_line.items():
                    s, e = min(l2)
                    out[(rel, ln, norm)] = (types[norm], len(l2), data[s:e].decode("utf-8"))
    return out


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def gen(out, *extra):
    args = ["--out", out, "--quiet"] + list(extra)
    rc = genlogs.main(args)
    assert rc == 0


class GenlogsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="genlogs-test-")
        cls.out = os.path.join(cls.tmp, "a")
        cls.opts = ["--seed", "7", "--size", "2M", "--iocs", "400", "--hit-rate", "0.05",
                    "--near-miss-rate", "0.02", "--builtin", "--long-lines", "2", "--files", "2",
                    "--crlf-file", "--no-final-newline", "--variety", "300", "-j", "2"]
        gen(cls.out, *cls.opts)
        cls.truth = [json.loads(l) for l in _read(os.path.join(cls.out, "truth.jsonl")).splitlines()]
        cls.near = [json.loads(l) for l in _read(os.path.join(cls.out, "near_misses.jsonl")).splitlines()]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def iocs(self):
        """(type, norm) of the IOC file plus the built-ins."""
        out = []
        for line in _read(os.path.join(self.out, "iocs.txt")).splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            v = iocref.refang(line)
            t = iocref.detect(v)
            out.append((t, iocref.normalise(t, v)))
        return out + list(genlogs.BUILTIN_IOCS)

    def read_line(self, rel, n):
        with open(os.path.join(self.out, rel), "rb") as f:
            for i, line in enumerate(f, 1):
                if i == n:
                    return line.rstrip(b"\n").rstrip(b"\r").decode("utf-8")
        raise AssertionError("%s has no line %d" % (rel, n))

    def test_determinism(self):
        b = os.path.join(self.tmp, "b")
        c = os.path.join(self.tmp, "c")
        small = ["--seed", "3", "--size", "600K", "--iocs", "200", "--hit-rate", "0.05",
                 "--builtin", "--files", "2", "--variety", "100"]
        gen(b, *small, "-j", "1")
        gen(c, *small, "-j", "2")
        cmp = filecmp.dircmp(b, c)
        self.assertEqual(cmp.left_only + cmp.right_only + cmp.diff_files, [])
        for sub in cmp.subdirs.values():
            for sub2 in [sub] + list(sub.subdirs.values()):
                self.assertEqual(sub2.left_only + sub2.right_only + sub2.diff_files, [])
                _, mismatch, errors = filecmp.cmpfiles(sub2.left, sub2.right, sub2.common_files, shallow=False)
                self.assertEqual(mismatch + errors, [])
        for f in ("iocs.txt", "truth.jsonl", "near_misses.jsonl"):
            self.assertTrue(filecmp.cmp(os.path.join(b, f), os.path.join(c, f), shallow=False), f)
        d = os.path.join(self.tmp, "d")
        gen(d, *(small[:1] + ["4"] + small[2:]))
        self.assertFalse(filecmp.cmp(os.path.join(b, "truth.jsonl"), os.path.join(d, "truth.jsonl"), shallow=False))

    def test_ioc_file(self):
        text = _read(os.path.join(self.out, "iocs.txt"))
        self.assertTrue(text.startswith("#"))
        for _, v in genlogs.BUILTIN_IOCS:
            self.assertNotIn(v, text)
        iocs = self.iocs()[:-len(genlogs.BUILTIN_IOCS)]
        self.assertEqual(len(iocs), 400)
        self.assertEqual(len(set(n for _, n in iocs)), 400)
        types = collections.Counter(t for t, _ in iocs)
        for t in ("ipv4", "ipv6", "cidr", "domain", "url", "email", "md5", "sha1", "sha256",
                  "sha512", "filename", "string"):
            self.assertGreater(types[t], 0, t)
        self.assertTrue(re.search(r"\[\.\]|\(\.\)|\[dot\]", text), "no defanged entry")
        self.assertIn("hxxp", text)
        self.assertTrue(any(l != l.lower() and not l.startswith("#") and "\\" not in l
                            for l in text.splitlines()), "no upper-case entry")
        # some IPv6 written in a non-canonical spelling
        v6 = [l for l in text.splitlines() if iocref.detect(iocref.refang(l)) == "ipv6"]
        self.assertTrue(any(iocref.normalise("ipv6", l) != l for l in v6))

    def test_truth_matches_reference(self):
        ref = reference(self.out, self.iocs())
        got = {(r["path"], r["line"], r["ioc"]): (r["type"], r["count"], r["atomic"]) for r in self.truth}
        missing = sorted(set(ref) - set(got))[:5]
        extra = sorted(set(got) - set(ref))[:5]
        self.assertEqual(missing, [], "reference hits missing from truth")
        self.assertEqual(extra, [], "truth rows the reference does not find")
        diff = [(k, ref[k], got[k]) for k in ref if ref[k] != got[k]][:5]
        self.assertEqual(diff, [])
        # and the mix is what it should be
        types = collections.Counter(r["type"] for r in self.truth)
        for t in ("ipv4", "ipv6", "cidr", "domain", "url", "email", "md5", "sha1", "sha256",
                  "sha512", "filename", "string"):
            self.assertGreater(types[t], 0, t)
        self.assertTrue(any(r["count"] >= 2 for r in self.truth))
        per_line = collections.Counter((r["path"], r["line"]) for r in self.truth)
        self.assertTrue(any(v >= 2 for v in per_line.values()))
        by_line = collections.defaultdict(list)
        for r in self.truth:
            by_line[(r["path"], r["line"], r["atomic"])].append(r["type"])
        self.assertTrue(any("cidr" in t and len(t) >= 2 for t in by_line.values()),
                        "no address that is also inside a CIDR")
        builtin = {v for _, v in genlogs.BUILTIN_IOCS}
        self.assertTrue(any(r["ioc"] in builtin for r in self.truth))

    def test_truth_rows_in_lines(self):
        for r in self.truth[::7]:
            line = self.read_line(r["path"], r["line"])
            b = line.encode()
            a = r["atomic"].encode()
            s = b.find(a)
            self.assertGreaterEqual(s, 0, r)
            typ = r["type"]
            if typ == "cidr":
                typ = "ipv6" if ":" in r["ioc"] else "ipv4"
            self.assertTrue(left_ok(typ, b, s), r)
            if typ != "url":
                self.assertTrue(right_ok(typ, b, s + len(a)), r)

    def test_special_spellings(self):
        # Windows path IOCs appear JSON-escaped in the JSON logs and count
        esc = [r for r in self.truth if r["type"] == "filename" and "\\\\" in r["atomic"]]
        self.assertTrue(esc, "no JSON-escaped Windows path hit")
        for r in esc:
            self.assertTrue(r["path"].endswith(".jsonl"))
            self.assertEqual(r["atomic"].lower(), r["ioc"].lower().replace("\\", "\\\\"))
        # case-folded types planted with another case
        self.assertTrue(any(r["atomic"] != r["ioc"] and r["type"] in ("domain", "email", "md5", "sha1", "sha256")
                            for r in self.truth))
        # IPv6 in canonical and expanded spellings
        v6 = [r for r in self.truth if r["type"] == "ipv6"]
        self.assertTrue(any(r["atomic"] == r["ioc"] for r in v6))
        self.assertTrue(any(r["atomic"].count(":") == 7 for r in v6))

    def test_near_misses(self):
        self.assertGreater(len(self.near), 10)
        hit_lines = {(r["path"], r["line"]) for r in self.truth}
        whys = collections.Counter(n["why"].split()[0] for n in self.near)
        for n in self.near:
            self.assertNotIn((n["path"], n["line"]), hit_lines, n)
            line = self.read_line(n["path"], n["line"])
            v = n["value"]
            if n["path"].endswith(".jsonl"):
                v = v.replace("\\", "\\\\")
            self.assertIn(v, line, n)
        for w in ("digit", "'.digit'", "outside", "prefixed", "extra", "label", "character"):
            self.assertIn(w, whys, whys)

    def test_file_shapes(self):
        files = {}
        for dirpath, _, fns in os.walk(os.path.join(self.out, "logs")):
            for fn in fns:
                p = os.path.join(dirpath, fn)
                with open(p, "rb") as f:
                    files[os.path.relpath(p, self.out)] = f.read()
        self.assertEqual(len(files), 16)
        crlf = [p for p, d in files.items() if b"\r\n" in d]
        self.assertEqual(len(crlf), 1)
        self.assertEqual(files[crlf[0]].count(b"\r\n"), files[crlf[0]].count(b"\n"))
        last = collections.defaultdict(int)
        for r in self.truth:
            last[r["path"]] = max(last[r["path"]], r["line"])
        for p, d in files.items():
            self.assertFalse(d.endswith(b"\n"), p)
            nlines = d.count(b"\n") + 1
            self.assertEqual(last[p], nlines, "last line of %s carries no hit" % p)
        longs = [p for p, d in files.items() for l in d.split(b"\n") if len(l) > 200 * 1024]
        self.assertEqual(len(longs), 2)
        # the long lines carry hits near the start, middle and end
        for p, d in files.items():
            for i, l in enumerate(d.split(b"\n"), 1):
                if len(l) > 200 * 1024:
                    rows = [r for r in self.truth if r["path"] == p and r["line"] == i]
                    self.assertTrue(rows)
                    pos = sorted(l.find(r["atomic"].encode()) for r in rows)
                    self.assertLess(pos[0], 4096)
        # lines look like their vendor
        for p, d in files.items():
            first = d.split(b"\n", 1)[0]
            if p.endswith(".jsonl"):
                json.loads(first)
            elif "fortinet" in p:
                self.assertTrue(first.startswith(b"date="))
            elif "asa" in p:
                self.assertIn(b"%ASA-", first)

    def test_background_clean(self):
        # pools are checked against the index; spot-check a few values
        idx = genlogs.G["index"]
        for v in genlogs.BG_DOMAINS + genlogs.BG_EXES:
            self.assertEqual(idx.find(v), {})


class TruthcheckTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="truthcheck-test-")
        rows = [
            {"path": "logs/linux/auth.log", "line": 3, "ioc": "24.144.114.85", "type": "ipv4", "count": 1, "atomic": "24.144.114.85"},
            {"path": "logs/linux/auth.log", "line": 9, "ioc": "evil.example", "type": "domain", "count": 2, "atomic": "EVIL.example"},
            {"path": "logs/windows/sysmon.jsonl", "line": 1, "ioc": "2604:a880:400:d1::/64", "type": "cidr", "count": 1, "atomic": "2604:a880:400:d1::7716:1"},
            {"path": "logs/windows/sysmon.jsonl", "line": 1, "ioc": "C:\\Windows\\Temp\\x.dll", "type": "filename", "count": 1, "atomic": "C:\\\\Windows\\\\Temp\\\\x.dll"},
        ]
        self.truth = os.path.join(self.tmp, "truth.jsonl")
        with open(self.truth, "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in rows))
        self.rows = rows

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def event(self, r, root="/data/run"):
        return {"@timestamp": "2025-01-01T00:00:00Z",
                "log": {"file": {"path": os.path.join(root, r["path"])}, "offset": 0},
                "threat": {"enrichments": [{"indicator": {"type": iocref.ecs_type(r["type"], r["ioc"]), "name": r["ioc"]},
                                            "matched": {"atomic": r["atomic"], "field": "event.original"}}]},
                "iocstream": {"line": r["line"], "count": r["count"]}}

    def run_check(self, events, *extra):
        p = os.path.join(self.tmp, "ev.jsonl")
        with open(p, "w") as f:
            f.write("".join(json.dumps(e) + "\n" for e in events))
        buf = io.StringIO()
        old = sys.stdout
        sys.stdout = buf
        try:
            rc = truthcheck.main(["--truth", self.truth, "--events", p, "--root", "/data/run"] + list(extra))
        finally:
            sys.stdout = old
        return rc, buf.getvalue()

    def test_identical(self):
        rc, out = self.run_check([self.event(r) for r in self.rows])
        self.assertEqual(rc, 0, out)
        self.assertIn("OK", out)

    def test_missing_extra_count(self):
        ev = [self.event(r) for r in self.rows[1:]]  # first one missing
        extra = dict(self.rows[0], line=4)
        ev.append(self.event(extra))  # unexpected
        ev[0]["iocstream"]["count"] = 1  # wrong count (want 2)
        ev[1]["threat"]["enrichments"][0]["matched"]["atomic"] = "2604:A880:400:D1::7716:1"
        rc, out = self.run_check(ev)
        self.assertEqual(rc, 1, out)
        self.assertIn("missing: logs/linux/auth.log:3 24.144.114.85", out)
        self.assertIn("unexpected: logs/linux/auth.log:4 24.144.114.85", out)
        self.assertIn("count: logs/linux/auth.log:9 evil.example want 2 got 1", out)
        self.assertIn("atomic: logs/windows/sysmon.jsonl:1", out)
        self.assertIn("missing 1, unexpected 1, count 1, atomic 1", out)

    def test_duplicate_and_ignore(self):
        ev = [self.event(r) for r in self.rows] + [self.event(self.rows[0])]
        rc, out = self.run_check(ev)
        self.assertEqual(rc, 1)
        self.assertIn("[duplicate]", out)
        rc, out = self.run_check(ev, "--ignore-ioc", "24.144.114.85")
        self.assertEqual(rc, 0, out)

    def test_stdin_and_flat_keys(self):
        flat = []
        for r in self.rows:
            flat.append({"log.file.path": "/data/run/" + r["path"], "iocstream.line": r["line"],
                         "iocstream.count": r["count"],
                         "threat.enrichments": [{"indicator": {"name": r["ioc"]},
                                                 "matched": {"atomic": r["atomic"]}}]})
        p = subprocess.run([sys.executable, os.path.join(SCRIPTS, "truthcheck.py"), "--truth", self.truth,
                            "--root", "/data/run/"], input="".join(json.dumps(e) + "\n" for e in flat),
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
