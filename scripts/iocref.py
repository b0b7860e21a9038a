"""iocref.py - reference semantics of an IOC hit, in plain Python.

Shared by scripts/genlogs.py (to compute exact ground truth for the lines it
plants IOCs into) and by tests. It follows ../shared/DESIGN.md, "What a hit
means, per IOC type". It is written for clarity and for the few lines that
carry planted IOCs, not for scanning gigabytes.

Python 3 standard library only.
"""

import ipaddress
import re

# ---------------------------------------------------------------------------
# Refang, type detection, normalisation
# ---------------------------------------------------------------------------

_REFANG = [
    (re.compile(r"^hxxps", re.I), "https"),
    (re.compile(r"^hxxp", re.I), "http"),
    (re.compile(r"\[\.\]|\(\.\)|\[dot\]|\(dot\)", re.I), "."),
    (re.compile(r"\[:\]"), ":"),
    (re.compile(r"\[@\]|\[at\]", re.I), "@"),
]


def refang(v):
    v = v.strip()
    for rx, rep in _REFANG:
        v = rx.sub(rep, v)
    return v


# The extensions DESIGN.md lists; a longer list in the C code must not take
# TLDs that generated domains use (genlogs.TLDS).
EXTS = "exe dll sys ps1 bat cmd vbs js hta scr msi lnk jar sh so elf docm xlsm zip rar 7z iso".split()
_EXT_RX = re.compile(r"\.(%s)$" % "|".join(EXTS), re.I)
_V4_RX = re.compile(r"^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
                    r"(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$")
_URL_RX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_EMAIL_RX = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_HEX_RX = re.compile(r"^[0-9A-Fa-f]+$")
_DOMAIN_RX = re.compile(r"^([A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?\.)+"
                        r"[A-Za-z]{2,63}\.?$")
HASH_BY_LEN = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}

# our type name -> ECS/STIX indicator.type
ECS = {"ipv4": "ipv4-addr", "ipv6": "ipv6-addr", "domain": "domain-name",
       "url": "url", "email": "email-addr", "md5": "file", "sha1": "file",
       "sha256": "file", "sha512": "file", "filename": "file",
       "string": "artifact", "regex": "artifact"}


def ecs_type(typ, norm):
    if typ == "cidr":
        return "ipv6-addr" if ":" in norm else "ipv4-addr"
    return ECS[typ]


def is_ipv4(v):
    return bool(_V4_RX.match(v))


def parse_ipv6(v):
    """int value of an IPv6 text, or None (no zone ids, no embedded IPv4)."""
    if ":" not in v or "." in v or "%" in v:
        return None
    try:
        return int(ipaddress.IPv6Address(v))
    except ValueError:
        return None


def v6_groups(n):
    return [(n >> (112 - 16 * i)) & 0xFFFF for i in range(8)]


def v6_canonical(n):
    """RFC 5952: lower case, no leading zeros, the longest run (>= 2) of zero
    groups (the first one on a tie) compressed to '::'."""
    g = v6_groups(n)
    best, blen, i = -1, 0, 0
    while i < 8:
        if g[i] == 0:
            j = i
            while j < 8 and g[j] == 0:
                j += 1
            if j - i > blen:
                best, blen = i, j - i
            i = j
        else:
            i += 1
    if blen < 2:
        return ":".join("%x" % x for x in g)
    left = ":".join("%x" % x for x in g[:best])
    right = ":".join("%x" % x for x in g[best + blen:])
    return left + "::" + right


def v6_full(n):
    return ":".join("%04x" % x for x in v6_groups(n))


def v6_nolz(n):
    return ":".join("%x" % x for x in v6_groups(n))


def detect(v):
    """Type of a refanged value, first rule that fits (DESIGN.md)."""
    if "/" in v and not _URL_RX.match(v):
        a, _, p = v.rpartition("/")
        if p.isdigit() and (is_ipv4(a) or parse_ipv6(a) is not None):
            return "cidr"
    if is_ipv4(v):
        return "ipv4"
    if parse_ipv6(v) is not None:
        return "ipv6"
    if _URL_RX.match(v):
        return "url"
    if _EMAIL_RX.match(v):
        return "email"
    if _HEX_RX.match(v) and len(v) in HASH_BY_LEN:
        return HASH_BY_LEN[len(v)]
    if "\\" in v or v.startswith("/") or _EXT_RX.search(v):
        return "filename"
    if _DOMAIN_RX.match(v):
        return "domain"
    return "string"


def normalise(typ, v):
    if typ == "ipv6":
        return v6_canonical(parse_ipv6(v))
    if typ == "cidr":
        a, _, p = v.rpartition("/")
        p = int(p)
        if is_ipv4(a):
            net = ipaddress.IPv4Network("%s/%d" % (a, p), strict=False)
            return "%s/%d" % (net.network_address, p)
        n = parse_ipv6(a)
        mask = ((1 << 128) - 1) ^ ((1 << (128 - p)) - 1)
        return "%s/%d" % (v6_canonical(n & mask), p)
    if typ in ("domain", "email", "md5", "sha1", "sha256", "sha512"):
        v = v.lower()
        return v[:-1] if v.endswith(".") else v
    if typ == "url":
        scheme, _, rest = v.partition("://")
        cut = len(rest)
        for c in "/?#":
            k = rest.find(c)
            if k >= 0:
                cut = min(cut, k)
        return scheme.lower() + "://" + rest[:cut].lower() + rest[cut:]
    return v


def url_key(norm):
    """(host lower, rest) of a normalised URL: what the matcher looks for."""
    rest = norm.partition("://")[2]
    cut = len(rest)
    for c in ":/?#":
        k = rest.find(c)
        if k >= 0:
            cut = min(cut, k)
    return rest[:cut], rest[cut:]


# ---------------------------------------------------------------------------
# Line matcher
# ---------------------------------------------------------------------------

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_DOM_BAD_LEFT = _ALNUM | frozenset("-_")
_FILE_BAD_LEFT = _ALNUM | frozenset(".-_")
_EMAIL_BAD_LEFT = _ALNUM | frozenset("._%+-")

_OCT = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4_TOKEN = re.compile(r"(?<![0-9.])%s(?:\.%s){3}(?![0-9])(?!\.[0-9])" % (_OCT, _OCT))
# maximal runs of hex digits and ':' holding at least two ':'
_HEXCOLON = re.compile(r"(?<![0-9A-Fa-f:])(?=[0-9A-Fa-f]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]+")
# maximal hex runs of a hash length
_HEXRUN = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{128}|[0-9A-Fa-f]{64}|[0-9A-Fa-f]{40}|"
                     r"[0-9A-Fa-f]{32})(?![0-9A-Fa-f])")
# maximal runs of name characters; the second form only those with a '.'
_NAMERUN = re.compile(r"[A-Za-z0-9._-]+")
_NAMERUN_DOT = re.compile(r"(?<![A-Za-z0-9._-])[A-Za-z0-9_-]*\.[A-Za-z0-9._-]*")
# maximal alphanumeric runs (anchors for string IOCs)
_ALNUMRUN = re.compile(r"[A-Za-z0-9]{3,}")
_V4_PRE = re.compile(r"\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")
_V6_PRE = re.compile(r":[0-9A-Fa-f]*:")
_HEXMAP = bytes(104 if chr(c) in "0123456789abcdefABCDEF" else 32 for c in range(256))
_ALNUMMAP = bytes(c if chr(c).isascii() and chr(c).isalnum() else 32 for c in range(256))
_DIGITS = frozenset("0123456789")


def ipv4_tokens(line):
    """(start, text) of every IPv4 token: a dotted quad (octets <= 255, no
    leading zeros) whose left neighbour is not a digit or '.', and whose
    right neighbour is not a digit nor a '.' followed by a digit."""
    n = len(line)
    for m in _V4_PRE.finditer(line):
        a = m.start()
        while a > 0 and line[a - 1] in _DIGITS and m.start() - a < 4:
            a -= 1
        if a == m.start() or (a > 0 and line[a - 1] in _DIGITS) or (a > 0 and line[a - 1] == "."):
            continue
        b = m.end()
        if b < n and line[b] in _DIGITS:
            continue
        if b + 1 < n and line[b] == "." and line[b + 1] in _DIGITS:
            continue
        t = line[a:b]
        if _V4_RX.match(t):
            yield a, t


_INNER_RUN = re.compile(r"(?<=[^A-Za-z0-9])[A-Za-z0-9]{3,}(?=[^A-Za-z0-9])")
_EMAILRUN = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9._\-]+")


def _lower(s):
    # ASCII-only folding (bytes >= 0x80 are never letters)
    return s.lower() if s.isascii() else "".join(
        c.lower() if c < "\x80" else c for c in s)


def _valid_ends(line, a, b):
    """End offsets e in (a, b] of a run line[a:b] of name characters where a
    domain-like token may end: the run end, or a '.' not followed by a
    letter or digit."""
    ends = [b]
    i = line.find(".", a, b)
    while i >= 0:
        if i > a and (i + 1 >= len(line) or line[i + 1] not in _ALNUM):
            ends.append(i)
        i = line.find(".", i + 1, b)
    return ends


class Index:
    """All IOCs of a run, in lookup tables keyed the way a line is tokenised.
    add() takes (type, norm); find(line) returns every hit in the line as
    {norm: [type, count, atomic]} ordered by first occurrence."""

    def __init__(self):
        self.ip4 = {}
        self.ip6 = {}
        self.cidr4 = {}   # prefix -> {net >> (32 - prefix): norm}
        self.cidr6 = {}
        self.domain = {}
        self.url = {}     # host -> [(rest, norm)]
        self.email = {}
        self.hash = {}
        self.fname = {}   # bare file name lower -> norm
        self.fpath = {}   # basename lower -> [(dir prefix lower, norm)]
        self.str_anchor = {}  # inner alphanumeric run -> [norm]
        self.strings = {}  # key length -> {key: [norm]} (key = last chars)
        self.dotless = False  # some file name without a '.'
        self.n = 0

    def add(self, typ, norm):
        self.n += 1
        if typ == "ipv4":
            self.ip4[norm] = norm
        elif typ == "ipv6":
            self.ip6[parse_ipv6(norm)] = norm
        elif typ == "cidr":
            a, _, p = norm.rpartition("/")
            p = int(p)
            if is_ipv4(a):
                self.cidr4.setdefault(p, {})[int(ipaddress.IPv4Address(a)) >> (32 - p)] = norm
            else:
                self.cidr6.setdefault(p, {})[parse_ipv6(a) >> (128 - p)] = norm
        elif typ == "domain":
            self.domain[norm] = norm
        elif typ == "url":
            host, rest = url_key(norm)
            self.url.setdefault(host, []).append((rest, norm))
        elif typ == "email":
            self.email[norm] = norm
        elif typ in ("md5", "sha1", "sha256", "sha512"):
            self.hash[norm] = (norm, typ)
        elif typ == "filename":
            low = norm.lower()
            k = max(low.rfind("\\"), low.rfind("/"))
            if "." not in low[k + 1:]:
                self.dotless = True
            if k < 0:
                self.fname[low] = norm
            else:
                self.fpath.setdefault(low[k + 1:], []).append((low[:k + 1], norm))
        elif typ == "string":
            # anchor: the longest alphanumeric run bounded on both sides by
            # other characters of the string; a line holding the string
            # holds that run as a maximal alphanumeric run
            inner = _INNER_RUN.findall(norm)
            if inner:
                self.str_anchor.setdefault(max(inner, key=len).encode(), []).append(norm)
                return
            k = min(8, len(norm))
            self.strings.setdefault(k, {}).setdefault(norm[-k:], []).append(norm)
        else:
            raise ValueError(typ)

    def _cidr4(self, ipint):
        for p, d in self.cidr4.items():
            v = d.get(ipint >> (32 - p))
            if v is not None:
                yield v

    def _cidr6(self, ipint):
        for p, d in self.cidr6.items():
            v = d.get(ipint >> (128 - p))
            if v is not None:
                yield v

    def find(self, line):
        hits = {}

        def hit(norm, typ, pos, atomic):
            h = hits.get(norm)
            if h is None:
                hits[norm] = [typ, 1, atomic, pos]
            else:
                h[1] += 1
                if pos < h[3]:
                    h[2], h[3] = atomic, pos

        # IPv4 tokens: ipv4 IOCs and IPv4 CIDRs
        if self.ip4 or self.cidr4:
            for pos, t in ipv4_tokens(line):
                if t in self.ip4:
                    hit(t, "ipv4", pos, t)
                if self.cidr4:
                    n = int(ipaddress.IPv4Address(t))
                    for c in self._cidr4(n):
                        hit(c, "cidr", pos, t)
        # IPv6 tokens: maximal runs of hex digits and ':' with >= 2 ':'
        if (self.ip6 or self.cidr6) and _V6_PRE.search(line):
            for m in _HEXCOLON.finditer(line):
                t = m.group()
                n = parse_ipv6(t)
                if n is None:
                    continue
                v = self.ip6.get(n)
                if v is not None:
                    hit(v, "ipv6", m.start(), t)
                for c in self._cidr6(n):
                    hit(c, "cidr", m.start(), t)
        # hashes: maximal hex runs of the right length
        if self.hash and b"h" * 32 in line.encode("utf-8", "replace").translate(_HEXMAP):
            for m in _HEXRUN.finditer(line):
                if m.end() - m.start() in HASH_BY_LEN:
                    v = self.hash.get(m.group().lower())
                    if v is not None:
                        hit(v[0], v[1], m.start(), m.group())
        # emails
        if self.email and "@" in line:
            for m in _EMAILRUN.finditer(line):
                at = line.index("@", m.start())
                for e in _valid_ends(line, at + 1, m.end()):
                    t = line[m.start():e]
                    v = self.email.get(_lower(t))
                    if v is not None:
                        hit(v, "email", m.start(), t)
        # names: domains, url hosts, file names
        if self.domain or self.url or self.fname or self.fpath:
            for m in (_NAMERUN if self.dotless else _NAMERUN_DOT).finditer(line):
                a, b = m.start(), m.end()
                run_low = _lower(m.group())
                ends = _valid_ends(line, a, b)
                starts = [a]
                i = line.find(".", a, b)
                while i >= 0:
                    starts.append(i + 1)
                    i = line.find(".", i + 1, b)
                for s in starts:
                    for e in ends:
                        if e <= s:
                            continue
                        key = run_low[s - a:e - a]
                        if self.domain:
                            v = self.domain.get(key)
                            if v is not None:
                                hit(v, "domain", s, line[s:e])
                        if s == a:
                            v = self.fname.get(key)
                            if v is not None:
                                hit(v, "filename", s, line[s:e])
                            for pre, norm in self.fpath.get(key, ()):
                                for sp in (pre, pre.replace("\\", "\\\\")):
                                    st = s - len(sp)
                                    if st < 0 or _lower(line[st:s]) != sp:
                                        continue
                                    if st > 0 and line[st - 1] in _FILE_BAD_LEFT:
                                        continue
                                    hit(norm, "filename", st, line[st:e])
                                    if "\\" not in pre:
                                        break
                    # URLs: host ends at the run end; the rest is byte-exact
                    if self.url:
                        for rest, norm in self.url.get(run_low[s - a:], ()):
                            if rest and line.startswith(rest, b):
                                hit(norm, "url", s, line[s:b + len(rest)])
                            elif not rest:
                                hit(norm, "url", s, line[s:b])
        # strings: no boundaries, case as given
        if self.str_anchor:
            runs = line.encode("utf-8", "replace").translate(_ALNUMMAP).split()
            anchors = self.str_anchor
            for key in set(runs):
                if key not in anchors:
                    continue
                for s in anchors[key]:
                    st = line.find(s)
                    while st >= 0:
                        hit(s, "string", st, s)
                        st = line.find(s, st + 1)
        for k, d in self.strings.items():
            grams = {line[i:i + k] for i in range(len(line) - k + 1)}
            for key in grams.intersection(d):
                for s in d[key]:
                    st = line.find(s)
                    while st >= 0:
                        hit(s, "string", st, s)
                        st = line.find(s, st + 1)
        out = {}
        for norm, (typ, cnt, atomic, pos) in sorted(hits.items(), key=lambda kv: kv[1][3]):
            out[norm] = (typ, cnt, atomic)
        return out
