#!/usr/bin/env python3
"""genlogs.py - seeded, realistic workstation and VPN logs with planted IOCs,
the IOC list that goes with them, and the exact ground truth.

    scripts/genlogs.py --out /tmp/g --size 64M --seed 1 [--builtin] ...

writes
    OUT/logs/<vendor>/<file>   the logs (Windows Security/Sysmon/PowerShell
                               JSON, Linux auth.log, Cisco ASA, PAN-OS
                               GlobalProtect, FortiGate, OpenVPN)
    OUT/iocs.txt               the IOC list (--ioc-file)
    OUT/truth.jsonl            one row per (file, line, IOC) (--truth)
    OUT/near_misses.jsonl      the planted near misses (--near-file)

See scripts/README.md for the options and the truth format, and
../shared/DESIGN.md for what counts as a hit. Python 3 standard library only.
"""

import argparse
import ipaddress
import json
import multiprocessing
import os
import random
import string
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iocref  # noqa: E402
from iocref import v6_canonical, v6_full, v6_nolz  # noqa: E402

BUILTIN_IOCS = [
    ("ipv4", "24.144.114.85"), ("ipv4", "142.93.119.175"),
    ("ipv4", "157.230.183.1"), ("ipv4", "192.81.209.168"),
    ("ipv6", "2604:a880:400:d1::7293:c001"), ("ipv6", "2604:a880:400:d1::72ad:3001"),
    ("ipv6", "2604:a880:400:d1::7716:1"), ("ipv6", "2604:a880:400:d1::7df0:7001"),
    ("ipv6", "2604:a880:400:d1::8622:f001"),
]

LONG_LINE_MIN = 200 * 1024 + 1

# ---------------------------------------------------------------------------
# Address spaces. Background and IOCs are drawn from disjoint spaces, and
# every background value is still checked against the IOC index.
# ---------------------------------------------------------------------------

# First octets background public addresses come from (documentation, MaxMind
# test and a few real-looking ranges); IOC addresses never use these, nor
# the octets of the built-in incident IPs.
BG_V4_NETS = ["192.0.2.", "198.51.100.", "203.0.113.", "81.2.69.", "89.160.20.",
              "216.160.83.", "67.43.156.", "175.16.199.", "1.128.3.", "8.8.8.",
              "20.190.151.", "52.96.165.", "13.107.42.", "35.190.247."]
IOC_V4_EXCLUDED = {0, 1, 8, 10, 13, 20, 24, 35, 52, 67, 81, 89, 100, 127, 142,
                   157, 169, 172, 175, 192, 198, 203, 216}

TLDS = "com net org ru io xyz top info cn biz club online site pw cc su live".split()
WORDS = ("update cdn secure login mail portal cloud sync api static files dl "
         "auth office support billing docs share drive status metrics track "
         "service online app web connect vpn remote access gateway data "
         "storage media news shop pay wallet id account verify admin").split()
FIRST = ("john jane alice bob carol dave erin frank grace heidi ivan judy "
         "mallory nick olivia peggy rupert sybil trent victor walter").split()
LAST = ("smith jones brown taylor wilson davies evans thomas roberts walker "
        "wright hall green wood clarke hughes moore").split()
EVIL_TOOLS = ["mimikatz.exe", "Rubeus.exe", "SharpHound.exe", "nc64.exe",
              "procdump64.exe", "PsExec64.exe", "rclone.exe", "AnyDesk.exe",
              "lazagne.exe", "ScreenConnect.ClientService.exe", "plink.exe",
              "chisel.exe", "ngrok.exe", "wce.exe", "pwdump7.exe"]
IOC_EXTS = "exe dll ps1 bat vbs hta scr msi lnk js jar zip 7z iso cmd".split()
UA_AGENTS = ["Go-http-client", "python-requests", "curl", "Wget", "zgrab",
             "masscan", "Nuclei", "sqlmap", "Mozilla", "libwww-perl",
             "okhttp", "Java", "fasthttp", "aiohttp"]
BG_DOMAINS = ["corp.example.com", "dc01.corp.example.com", "fs02.corp.example.com",
              "mail.corp.example.com", "vpn.corp.example.com", "www.microsoft.com",
              "login.microsoftonline.com", "update.googleapis.com", "github.com",
              "api.github.com", "windowsupdate.com", "ctldl.windowsupdate.com",
              "www.google.com", "outlook.office365.com", "teams.microsoft.com",
              "example.org", "cdn.example.net", "s3.amazonaws.com",
              "slack.com", "zoom.us", "ocsp.digicert.com", "time.windows.com"]
BG_EXES = ["C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\System32\\cmd.exe",
           "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
           "C:\\Windows\\explorer.exe", "C:\\Windows\\System32\\lsass.exe",
           "C:\\Windows\\System32\\conhost.exe", "C:\\Windows\\System32\\taskhostw.exe",
           "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
           "C:\\Program Files\\Mozilla Firefox\\firefox.exe",
           "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
           "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "C:\\Windows\\System32\\rundll32.exe",
           "C:\\Windows\\System32\\services.exe", "C:\\Windows\\System32\\winlogon.exe",
           "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
           "C:\\Windows\\System32\\SearchIndexer.exe", "C:\\Windows\\System32\\dllhost.exe"]
BG_DLLS = ["C:\\Windows\\System32\\ntdll.dll", "C:\\Windows\\System32\\kernel32.dll",
           "C:\\Windows\\System32\\KernelBase.dll", "C:\\Windows\\System32\\advapi32.dll",
           "C:\\Windows\\System32\\crypt32.dll", "C:\\Windows\\System32\\wininet.dll",
           "C:\\Windows\\System32\\dbghelp.dll", "C:\\Windows\\System32\\amsi.dll",
           "C:\\Windows\\SysWOW64\\msvcrt.dll", "C:\\Windows\\System32\\ws2_32.dll"]
BG_UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
          "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
          "Microsoft-CryptoAPI/10.0", "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
          "AnyConnect Windows 4.10.07061", "PAN GlobalProtect/6.2.1-211"]
BG_SSH_IDS = ["SSH-2.0-OpenSSH_9.6", "SSH-2.0-PuTTY_Release_0.80", "SSH-2.0-libssh_0.10.6",
              "GET / HTTP/1.1", "SSH-2.0-Go"]


def ts_formats(sec):
    t = time.gmtime(sec)
    mon = time.strftime("%b", t)
    us = (sec * 7919) % 1000000
    return {
        "syslog": "%s %2d %02d:%02d:%02d" % (mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec),
        "asa": "%s %02d %d %02d:%02d:%02d" % (mon, t.tm_mday, t.tm_year, t.tm_hour, t.tm_min, t.tm_sec),
        "isoz": "%d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, us),
        "utc": "%d-%02d-%02d %02d:%02d:%02d.%03d" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, us // 1000),
        "panw": "%d/%02d/%02d %02d:%02d:%02d" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec),
        "fdate": "%d-%02d-%02d" % (t.tm_year, t.tm_mon, t.tm_mday),
        "ftime": "%02d:%02d:%02d" % (t.tm_hour, t.tm_min, t.tm_sec),
        "epochns": "%d%09d" % (sec, us * 1000 + 417),
        "ovpn": "%d-%02d-%02d %02d:%02d:%02d" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec),
    }


# ---------------------------------------------------------------------------
# IOC list
# ---------------------------------------------------------------------------

class Ioc:
    __slots__ = ("typ", "norm", "written", "sub", "net", "plen")

    def __init__(self, typ, norm, written, sub=None, net=None, plen=None):
        self.typ, self.norm, self.written, self.sub = typ, norm, written, sub
        self.net, self.plen = net, plen


TYPE_MIX = [("ipv4", 26), ("ipv6", 7), ("cidr4", 5), ("cidr6", 2), ("domain", 20),
            ("url", 10), ("email", 5), ("md5", 6), ("sha1", 3), ("sha256", 7),
            ("sha512", 1), ("filename", 6), ("string", 2)]


_LABEL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _rand_label(rng, n):
    return "".join(rng.choices(_LABEL_CHARS, k=n))


def _defang(v, rng):
    if v.startswith("http"):
        v = "hxxp" + v[4:]
    k = v.find(".")
    host_end = len(v)
    if "://" in v:
        host_end = v.find("/", v.find("://") + 3)
        host_end = len(v) if host_end < 0 else host_end
    if "@" in v and rng.random() < 0.5:
        v = v.replace("@", "[@]", 1)
    k = v.rfind(".", 0, host_end)
    if k > 0:
        v = v[:k] + rng.choice(["[.]", "[.]", "(.)", "[dot]"]) + v[k + 1:]
    return v


def gen_iocs(n, rng):
    """n distinct IOCs (by normalised value), mixed types. Linear time."""
    kinds = [k for k, _ in TYPE_MIX]
    weights = [w for _, w in TYPE_MIX]
    counts = dict.fromkeys(kinds, 0)
    if n >= len(kinds):
        for k in kinds:
            counts[k] = 1
    for k in rng.choices(kinds, weights, k=n - sum(counts.values())):
        counts[k] += 1
    seen = set(v for _, v in BUILTIN_IOCS)
    out = []
    ok_first = [o for o in range(1, 224) if o not in IOC_V4_EXCLUDED]
    domains = []

    def add(ioc):
        if ioc.norm in seen:
            return False
        seen.add(ioc.norm)
        out.append(ioc)
        return True

    def new_domain():
        while True:
            w = rng.choice(WORDS)
            lab = _rand_label(rng, rng.randint(4, 7))
            d = rng.choice(["%s-%s", "%s%s", "%s.%s", "%s-%s"]) % ((w, lab) if rng.random() < 0.5 else (lab, w))
            d += "." + rng.choice(TLDS)
            if d not in seen:
                return d

    for _ in range(counts["cidr4"]):
        while True:
            p = rng.choice([16, 20, 22, 24, 24, 24, 26, 27, 28, 29, 30])
            a = (rng.choice(ok_first) << 24) | rng.getrandbits(24)
            net = a & ~((1 << (32 - p)) - 1) & 0xFFFFFFFF
            norm = "%s/%d" % (ipaddress.IPv4Address(net), p)
            if add(Ioc("cidr", norm, None, "v4", net, p)):
                break
    cidr4s = [i for i in out if i.typ == "cidr" and i.sub == "v4"]
    for _ in range(counts["ipv4"]):
        # some addresses lie inside a CIDR of the list: one text, two hits
        if cidr4s and rng.random() < 0.15:
            c = rng.choice(cidr4s)
            a = str(ipaddress.IPv4Address(c.net + rng.randrange(1 << (32 - c.plen))))
            if add(Ioc("ipv4", a, None)):
                continue
        while not add(Ioc("ipv4", "%d.%d.%d.%d" % (rng.choice(ok_first), rng.randrange(256),
                                                   rng.randrange(256), rng.randrange(1, 255)), None)):
            pass
    for _ in range(counts["cidr6"]):
        while True:
            p = rng.choice([32, 40, 48, 48, 56, 64, 64, 96])
            nv = (rng.randrange(0x2400, 0x2c00) << 112) | rng.getrandbits(112)
            nv &= ((1 << 128) - 1) ^ ((1 << (128 - p)) - 1)
            if add(Ioc("cidr", "%s/%d" % (v6_canonical(nv), p), None, "v6", nv, p)):
                break
    cidr6s = [i for i in out if i.typ == "cidr" and i.sub == "v6"]
    for _ in range(counts["ipv6"]):
        if cidr6s and rng.random() < 0.15:
            c = rng.choice(cidr6s)
            nv = c.net | rng.getrandbits(128 - c.plen) | 1
            if add(Ioc("ipv6", v6_canonical(nv), None, net=nv)):
                continue
        while True:
            g = [rng.randrange(0x2400, 0x2c00), rng.getrandbits(16) or 1, rng.getrandbits(12),
                 rng.getrandbits(8), 0, 0, rng.getrandbits(16), rng.getrandbits(16) or 1]
            if rng.random() < 0.3:
                g[4:6] = [rng.getrandbits(16), rng.getrandbits(4)]
            if g[0] == 0x2604 and g[1] == 0xa880:
                continue
            nv = 0
            for x in g:
                nv = (nv << 16) | x
            if add(Ioc("ipv6", v6_canonical(nv), None, net=nv)):
                break
    for _ in range(counts["domain"]):
        d = new_domain()
        add(Ioc("domain", d, None))
        domains.append(d)
    paths = ["/wp-content/plugins/%s/%s.php", "/download/%s/%s.exe", "/api/v1/%s/%s",
             "/%s/%s.dll", "/static/js/%s-%s.js", "/gate/%s/%s.php", "/images/%s/%s.png",
             "/Upload/%s/%s.aspx", "/dana-na/%s/%s.cgi"]
    for _ in range(counts["url"]):
        while True:
            host = rng.choice(domains) if domains and rng.random() < 0.3 else new_domain()
            if rng.random() < 0.1:
                host += ":%d" % rng.choice([8080, 8443, 4443, 8000])
            path = rng.choice(paths) % (_rand_label(rng, 5), _rand_label(rng, 6))
            if rng.random() < 0.3:
                path = path.replace(path[1], path[1].upper(), 1)
            if rng.random() < 0.4:
                path += "?%s=%s" % (rng.choice(["id", "q", "token", "u", "cmd"]), _rand_label(rng, 6))
            v = "%s://%s%s" % (rng.choice(["http", "https"]), host, path)
            if add(Ioc("url", v, None)):
                break
    for _ in range(counts["email"]):
        while True:
            dom = rng.choice(domains) if domains and rng.random() < 0.3 else new_domain()
            local = rng.choice(["%s.%s%d", "%s_%s%d", "%s%s%d"]) % (
                rng.choice(FIRST), _rand_label(rng, 3), rng.randrange(100))
            if add(Ioc("email", "%s@%s" % (local, dom), None)):
                break
    for typ, bits in (("md5", 128), ("sha1", 160), ("sha256", 256), ("sha512", 512)):
        width = bits // 4
        for _ in range(counts[typ]):
            while not add(Ioc(typ, "%0*x" % (width, rng.getrandbits(bits)), None)):
                pass
    tools = list(EVIL_TOOLS)
    rng.shuffle(tools)
    for _ in range(counts["filename"]):
        while True:
            r = rng.random()
            name = "%s%s.%s" % (rng.choice(["svc", "upd", "inst", "tmp", "ms", "win", "agent", "rdp", "x"]),
                                _rand_label(rng, rng.randint(4, 8)), rng.choice(IOC_EXTS))
            if r < 0.45:
                v = tools.pop() if tools else name
                sub = "bare"
            elif r < 0.85:
                d = rng.choice(["C:\\Windows\\Temp\\", "C:\\Users\\Public\\", "C:\\ProgramData\\%s\\",
                                "C:\\Users\\%s\\AppData\\Local\\Temp\\", "C:\\Windows\\System32\\Tasks\\%s\\",
                                "C:\\PerfLogs\\"])
                if "%s" in d:
                    d = d % _rand_label(rng, 6)
                v = d + name
                sub = "win"
            else:
                v = rng.choice(["/tmp/.%s/" % _rand_label(rng, 5), "/dev/shm/", "/var/tmp/",
                                "/usr/lib/%s/" % _rand_label(rng, 6)]) \
                    + "%s.%s" % (_rand_label(rng, 7), rng.choice(["sh", "so", "elf"]))
                sub = "unix"
            if add(Ioc("filename", v, None, sub)):
                break
    for _ in range(counts["string"]):
        while True:
            r = rng.random()
            tok = _rand_label(rng, 6)
            if r < 0.5:
                v = "%s/%d.%d (%s)" % (rng.choice(UA_AGENTS), rng.randrange(10), rng.randrange(40), tok)
            elif r < 0.8:
                v = "Mozilla/5.0 (compatible; %sbot/%d.%d; +%s)" % (tok.capitalize(), rng.randrange(5),
                                                                     rng.randrange(10), _rand_label(rng, 4))
            else:
                v = "%s %s %s %s" % (rng.choice(WORDS), tok, rng.choice(WORDS), rng.choice(WORDS))
            if add(Ioc("string", v, None)):
                break

    # the spelling in the list file: mostly as normalised; some defanged,
    # some upper case, IPv6 in non-canonical spellings, CIDRs with host bits
    for ioc in out:
        v = ioc.norm
        r = rng.random()
        if ioc.typ == "ipv6":
            if r < 0.15:
                v = v6_full(ioc.net).upper()
            elif r < 0.3:
                v = v6_nolz(ioc.net)
            elif r < 0.4:
                v = v6_full(ioc.net)
        elif ioc.typ == "cidr":
            if r < 0.2 and ioc.plen < (32 if ioc.sub == "v4" else 128):
                host = ioc.net | rng.randrange(1, 1 << ((32 if ioc.sub == "v4" else 128) - ioc.plen))
                a = str(ipaddress.IPv4Address(host)) if ioc.sub == "v4" else v6_full(host).upper()
                v = "%s/%d" % (a, ioc.plen)
        elif ioc.typ in ("domain", "email", "md5", "sha1", "sha256", "sha512"):
            if r < 0.05:
                v = v.upper()
            elif r < 0.12 and ioc.typ in ("domain", "email"):
                v = _defang(v, rng)
        elif ioc.typ == "url":
            if r < 0.08:
                v = _defang(v, rng)
            elif r < 0.13:
                h, rest = iocref.url_key(v)
                v = v.split("://")[0].upper() + "://" + h.upper() + rest
        elif ioc.typ == "ipv4" and r < 0.04:
            v = v.replace(".", "[.]")
        ioc.written = v
    for i in range(len(out)):
        j = rng.randrange(i, len(out))
        out[i], out[j] = out[j], out[i]
    return out


def write_ioc_file(path, iocs, seed):
    with open(path, "w", encoding="utf-8") as f:
        f.write("# iocstream generated IOC list (scripts/genlogs.py, seed %s)\n" % seed)
        f.write("# %d indicators; one per line, type auto-detected; some defanged\n\n" % len(iocs))
        f.write("".join(i.written + "\n" for i in iocs))


# ---------------------------------------------------------------------------
# Streams and templates
# ---------------------------------------------------------------------------
# Template fields: {T_<fmt>} timestamps; plantable kinds ip, ip6, host, url,
# email, md5, sha1, sha256, sha512, hash, wpath, fname, upath, ua (a suffix
# _2 is a second slot of the same kind); the rest are filler.

WIN_SYS = ('{{"Event":{{"System":{{"Provider":{{"Name":"%s","Guid":"{{%s}}"}},"EventID":%s,'
           '"Version":%s,"Level":%s,"Task":%s,"Opcode":0,"Keywords":"%s","TimeCreated":{{"SystemTime":"{T_isoz}"}},'
           '"EventRecordID":{recid},"Correlation":null,"Execution":{{"ProcessID":{pid},"ThreadID":{tid}}},'
           '"Channel":"%s","Computer":"{comp}","Security":{{"UserID":"S-1-5-18"}}}},"EventData":{{')
SEC = WIN_SYS % ("Microsoft-Windows-Security-Auditing", "54849625-5478-4994-A5BA-3E3B0328C30D",
                 "%s", "2", "0", "%s", "0x8020000000000000", "Security")
SYSMON = WIN_SYS % ("Microsoft-Windows-Sysmon", "5770385F-C22A-43E0-BF4C-06F5698FFBD9",
                    "%s", "5", "4", "%s", "0x8000000000000000", "Microsoft-Windows-Sysmon/Operational")
PWSH = WIN_SYS % ("Microsoft-Windows-PowerShell", "A0C1853B-5C40-4B15-8766-3CF1C58F985A",
                  "4104", "1", "5", "2", "0x0", "Microsoft-Windows-PowerShell/Operational")

STREAMS = {
    "windows-security": dict(path="windows/security", ext="jsonl", json=True, weight=3, rate=6, templates=[
        SEC % (4624, 12544) + '"SubjectUserSid":"S-1-5-18","SubjectUserName":"{comp}$","SubjectDomainName":"CORP","SubjectLogonId":"0x3e7","TargetUserSid":"S-1-5-21-{sid}","TargetUserName":"{user}","TargetDomainName":"CORP","TargetLogonId":"{hexid}","LogonType":{logontype},"LogonProcessName":"NtLmSsp ","AuthenticationPackageName":"NTLM","WorkstationName":"{ws}","LogonGuid":"{{00000000-0000-0000-0000-000000000000}}","TransmittedServices":"-","LmPackageName":"NTLM V2","KeyLength":128,"ProcessId":"0x0","ProcessName":"-","IpAddress":"{ip}","IpPort":"{port}","ImpersonationLevel":"%%1833"}}}}}}',
        SEC % (4624, 12544) + '"SubjectUserSid":"S-1-5-18","SubjectUserName":"{comp}$","SubjectDomainName":"CORP","SubjectLogonId":"0x3e7","TargetUserSid":"S-1-5-21-{sid}","TargetUserName":"{user}","TargetDomainName":"CORP","TargetLogonId":"{hexid}","LogonType":10,"LogonProcessName":"User32 ","AuthenticationPackageName":"Negotiate","WorkstationName":"{ws}","ProcessName":"C:\\\\Windows\\\\System32\\\\svchost.exe","IpAddress":"{ip6}","IpPort":"{port}"}}}}}}',
        SEC % (4625, 12544) + '"SubjectUserSid":"S-1-0-0","SubjectUserName":"-","TargetUserName":"{user}","TargetDomainName":"CORP","Status":"0xc000006d","FailureReason":"%%2313","SubStatus":"0xc000006a","LogonType":3,"LogonProcessName":"NtLmSsp ","AuthenticationPackageName":"NTLM","WorkstationName":"{ws}","ProcessName":"-","IpAddress":"{ip}","IpPort":"{port}"}}}}}}',
        SEC % (4688, 13312) + '"SubjectUserSid":"S-1-5-21-{sid}","SubjectUserName":"{user}","SubjectDomainName":"CORP","SubjectLogonId":"{hexid}","NewProcessId":"{hexid}","NewProcessName":"{wpath}","TokenElevationType":"%%1938","ProcessId":"{hexid}","CommandLine":"\\"{wpath_2}\\" {args}","TargetUserSid":"S-1-0-0","ParentProcessName":"C:\\\\Windows\\\\explorer.exe","MandatoryLabel":"S-1-16-8192"}}}}}}',
        SEC % (4648, 12544) + '"SubjectUserName":"{user}","SubjectDomainName":"CORP","TargetUserName":"{email}","TargetServerName":"{host}","TargetInfo":"{host_2}","ProcessName":"{wpath}","IpAddress":"{ip}","IpPort":"{port}"}}}}}}',
        SEC % (5156, 12810) + '"ProcessID":"{pid}","Application":"\\\\device\\\\harddiskvolume3\\\\windows\\\\system32\\\\svchost.exe","Direction":"%%14593","SourceAddress":"{lip}","SourcePort":"{port}","DestAddress":"{ip}","DestPort":"443","Protocol":"6","FilterRTID":"{recid}","LayerName":"%%14611","LayerRTID":"48"}}}}}}',
        SEC % (4663, 12800) + '"SubjectUserName":"{user}","SubjectDomainName":"CORP","ObjectServer":"Security","ObjectType":"File","ObjectName":"{wpath}","HandleId":"{hexid}","AccessList":"%%4416","AccessMask":"0x1","ProcessName":"{wpath_2}"}}}}}}',
    ]),
    "windows-sysmon": dict(path="windows/sysmon", ext="jsonl", json=True, weight=3, rate=8, templates=[
        SYSMON % (1, 1) + '"RuleName":"-","UtcTime":"{T_utc}","ProcessGuid":"{{{guid}}}","ProcessId":{pid},"Image":"{wpath}","FileVersion":"10.0.22621.1 (WinBuild.160101.0800)","Description":"{desc}","Product":"Microsoft\u00ae Windows\u00ae Operating System","Company":"Microsoft Corporation","OriginalFileName":"{fname}","CommandLine":"\\"{wpath_2}\\" {args}","CurrentDirectory":"C:\\\\Users\\\\{user}\\\\","User":"CORP\\\\{user}","LogonGuid":"{{{guid}}}","LogonId":"{hexid}","TerminalSessionId":1,"IntegrityLevel":"Medium","Hashes":"MD5={md5},SHA256={sha256},IMPHASH={imphash}","ParentProcessGuid":"{{{guid}}}","ParentProcessId":{pid},"ParentImage":"C:\\\\Windows\\\\explorer.exe","ParentCommandLine":"C:\\\\Windows\\\\Explorer.EXE","ParentUser":"CORP\\\\{user}"}}}}}}',
        SYSMON % (1, 1) + '"RuleName":"-","UtcTime":"{T_utc}","ProcessGuid":"{{{guid}}}","ProcessId":{pid},"Image":"{wpath}","OriginalFileName":"{fname}","CommandLine":"{wpath_2} -connect {ip}:443 -ua \\"{ua}\\"","User":"CORP\\\\{user}","IntegrityLevel":"High","Hashes":"SHA1={sha1},MD5={md5},SHA256={sha256},IMPHASH={imphash}","ParentImage":"C:\\\\Windows\\\\System32\\\\cmd.exe"}}}}}}',
        SYSMON % (3, 3) + '"RuleName":"-","UtcTime":"{T_utc}","ProcessGuid":"{{{guid}}}","ProcessId":{pid},"Image":"{wpath}","User":"CORP\\\\{user}","Protocol":"tcp","Initiated":true,"SourceIsIpv6":false,"SourceIp":"{lip}","SourceHostname":"{ws}.corp.example.com","SourcePort":{port},"SourcePortName":"-","DestinationIsIpv6":false,"DestinationIp":"{ip}","DestinationHostname":"{host}","DestinationPort":443,"DestinationPortName":"https"}}}}}}',
        SYSMON % (3, 3) + '"RuleName":"-","UtcTime":"{T_utc}","ProcessGuid":"{{{guid}}}","ProcessId":{pid},"Image":"{wpath}","User":"CORP\\\\{user}","Protocol":"tcp","Initiated":true,"SourceIsIpv6":true,"SourceIp":"fe80::{v6tail}","SourcePort":{port},"DestinationIsIpv6":true,"DestinationIp":"{ip6}","DestinationHostname":"{host}","DestinationPort":443}}}}}}',
        SYSMON % (7, 7) + '"RuleName":"-","UtcTime":"{T_utc}","ProcessGuid":"{{{guid}}}","ProcessId":{pid},"Image":"{wpath}","ImageLoaded":"{wpath_2}","FileVersion":"10.0.22621.1","OriginalFileName":"{fname}","Hashes":"SHA1={sha1},MD5={md5},SHA256={sha256},IMPHASH={imphash}","Signed":"false","Signature":"-","SignatureStatus":"Unavailable","User":"CORP\\\\{user}"}}}}}}',
        SYSMON % (11, 11) + '"RuleName":"-","UtcTime":"{T_utc}","ProcessGuid":"{{{guid}}}","ProcessId":{pid},"Image":"{wpath}","TargetFilename":"{wpath_2}","CreationUtcTime":"{T_utc}","User":"CORP\\\\{user}"}}}}}}',
        SYSMON % (15, 15) + '"RuleName":"-","UtcTime":"{T_utc}","ProcessGuid":"{{{guid}}}","ProcessId":{pid},"Image":"{wpath}","TargetFilename":"{wpath_2}:Zone.Identifier","Contents":"[ZoneTransfer]  ZoneId=3  HostUrl={url}","Hash":"SHA256={sha256}","User":"CORP\\\\{user}"}}}}}}',
        SYSMON % (22, 22) + '"RuleName":"-","UtcTime":"{T_utc}","ProcessGuid":"{{{guid}}}","ProcessId":{pid},"QueryName":"{host}","QueryStatus":"0","QueryResults":"type:  5 {host_2};::ffff:{lip};","Image":"{wpath}","User":"CORP\\\\{user}"}}}}}}',
    ]),
    "windows-powershell": dict(path="windows/powershell", ext="jsonl", json=True, weight=1, rate=3, templates=[
        PWSH + '"MessageNumber":1,"MessageTotal":1,"ScriptBlockText":"$wc = New-Object Net.WebClient; $wc.Headers.Add(\'User-Agent\',\'{ua}\'); $wc.DownloadFile(\'{url}\', \'{wpath}\')","ScriptBlockId":"{guid}","Path":""}}}}}}',
        PWSH + '"MessageNumber":1,"MessageTotal":1,"ScriptBlockText":"if ((Get-FileHash -Algorithm SHA256 \'{wpath}\').Hash -eq \'{sha256}\') {{ Test-NetConnection -ComputerName {host} -Port 443 }}","ScriptBlockId":"{guid}","Path":"C:\\\\Users\\\\{user}\\\\Documents\\\\check.ps1"}}}}}}',
        PWSH + '"MessageNumber":1,"MessageTotal":1,"ScriptBlockText":"Get-ChildItem -Path \'C:\\\\Users\\\\{user}\\\\Downloads\' -Filter *.{ext} | Select-Object Name, Length","ScriptBlockId":"{guid}","Path":""}}}}}}',
        PWSH + '"MessageNumber":1,"MessageTotal":1,"ScriptBlockText":"Resolve-DnsName {host}; Send-MailMessage -To \'{email}\' -From \'it@corp.example.com\' -Subject \'report\' -SmtpServer mail.corp.example.com","ScriptBlockId":"{guid}","Path":""}}}}}}',
    ]),
    "linux-auth": dict(path="linux/auth", ext="log", json=False, weight=3, rate=4, templates=[
        "{T_syslog} {lhost} sshd[{pid}]: Accepted publickey for {user} from {ip} port {port} ssh2: RSA SHA256:{b64}",
        "{T_syslog} {lhost} sshd[{pid}]: Accepted password for {user} from {ip6} port {port} ssh2",
        "{T_syslog} {lhost} sshd[{pid}]: Failed password for invalid user {user} from {ip} port {port} ssh2",
        "{T_syslog} {lhost} sshd[{pid}]: Invalid user {user} from {ip} port {port}",
        "{T_syslog} {lhost} sshd[{pid}]: Disconnected from authenticating user root {ip} port {port} [preauth]",
        "{T_syslog} {lhost} sshd[{pid}]: Connection closed by {ip6} port {port} [preauth]",
        "{T_syslog} {lhost} sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}",
        "{T_syslog} {lhost} sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={host}",
        "{T_syslog} {lhost} sshd[{pid}]: Bad protocol version identification '{ua}' from {ip} port {port}",
        "{T_syslog} {lhost} sshd[{pid}]: pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)",
        "{T_syslog} {lhost} sudo: {user} : TTY=pts/{n} ; PWD=/home/{user} ; USER=root ; COMMAND={upath} {uargs}",
        "{T_syslog} {lhost} sudo: {user} : TTY=pts/{n} ; PWD=/tmp ; USER=root ; COMMAND=/usr/bin/curl -sk {url} -o {upath}",
        "{T_syslog} {lhost} sudo: {user} : TTY=pts/{n} ; PWD=/root ; USER=root ; COMMAND=/usr/bin/sha512sum -c {sha512}",
        "{T_syslog} {lhost} sudo: pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid=1000)",
        "{T_syslog} {lhost} CRON[{pid}]: pam_unix(cron:session): session closed for user root",
        "{T_syslog} {lhost} systemd-logind[{pid}]: New session {n} of user {user}.",
        "{T_syslog} {lhost} sshd[{pid}]: Received disconnect from {ip} port {port}:11: Bye Bye [preauth]",
        "{T_syslog} {lhost} postfix/smtpd[{pid}]: NOQUEUE: reject: RCPT from unknown[{ip}]: 554 5.7.1 <{email}>: Relay access denied; from=<{email_2}> to=<{email}> proto=ESMTP helo=<{host}>",
    ]),
    "cisco-asa": dict(path="vpn-cisco-asa/asa", ext="log", json=False, weight=3, rate=10, templates=[
        "<166>{T_asa} asa01 : %ASA-6-302013: Built inbound TCP connection {n} for outside:{ip}/{port} ({ip}/{port}) to inside:{lip}/443 ({lip}/443)",
        "<166>{T_asa} asa01 : %ASA-6-302014: Teardown TCP connection {n} for outside:{ip}/{port} to inside:{lip}/443 duration 0:00:{n2} bytes {n} TCP FINs from outside",
        "<164>{T_asa} asa01 : %ASA-4-106023: Deny tcp src outside:{ip}/{port} dst inside:{lip}/22 by access-group \"outside_access_in\" [0x0, 0x0]",
        "<166>{T_asa} asa01 : %ASA-6-113004: AAA user authentication Successful : server =  {lip} : user = {user}",
        "<166>{T_asa} asa01 : %ASA-6-113039: Group <VPN_USERS> User <{email}> IP <{ip}> AnyConnect parent session started.",
        "<166>{T_asa} asa01 : %ASA-6-722051: Group <VPN_USERS> User <{user}> IP <{ip}> IPv4 Address <{lip}> IPv6 address <::> assigned to session",
        "<166>{T_asa} asa01 : %ASA-6-722051: Group <VPN_USERS> User <{user}> IP <{ip6}> IPv4 Address <{lip}> IPv6 address <::> assigned to session",
        "<165>{T_asa} asa01 : %ASA-5-722037: Group <VPN_USERS> User <{email}> IP <{ip}> SVC closing connection: DPD failure.",
        "<164>{T_asa} asa01 : %ASA-4-113019: Group = VPN_USERS, Username = {user}, IP = {ip}, Session disconnected. Session Type: SSL, Duration: 0h:{n2}m:{n2}s, Bytes xmt: {n}, Bytes rcv: {n}, Reason: User Requested",
        "<166>{T_asa} asa01 : %ASA-6-716001: Group <VPN_USERS> User <{user}> IP <{ip}> WebVPN session started.",
        "<165>{T_asa} asa01 : %ASA-5-304001: {lip} Accessed URL {ip}:{url}",
        "<166>{T_asa} asa01 : %ASA-6-725001: Starting SSL handshake with client outside:{ip}/{port} to {lip}/443 for TLSv1.2 session",
        "<163>{T_asa} asa01 : %ASA-3-713167: Group = VPN_USERS, IP = {ip}, Remote peer has failed user authentication - check configured username and password",
    ]),
    "panw-globalprotect": dict(path="vpn-panw-globalprotect/globalprotect", ext="log", json=False, weight=2, rate=3, templates=[
        '{T_syslog} gp01 1,{T_panw},013101001305,GLOBALPROTECT,0,2305,{T_panw},vsys1,portal-prelogin,before-login,,,,BE,,{ip},0.0.0.0,{lip},0.0.0.0,{guid},,6.2.1,Windows,"Microsoft Windows 11 Enterprise , 64-bit",1,,,"",success,,0,,0,GlobalProtect Portal,{recid},0x0',
        '{T_syslog} gp01 1,{T_panw},013101001305,GLOBALPROTECT,0,2305,{T_panw},vsys1,gateway-auth,login,LDAP,,{email},BE,{ws},{ip},0.0.0.0,{lip},0.0.0.0,{guid},{serial},6.2.1,Windows,"Microsoft Windows 10 Pro , 64-bit",1,,,"",success,,0,user-logon,0,GlobalProtect_GW,{recid},0x0',
        '{T_syslog} gp01 1,{T_panw},013101001305,GLOBALPROTECT,0,2305,{T_panw},vsys1,gateway-connected,connected,,IPSec,corp\\{user},US,{ws},{ip},{ip6},{lip},0.0.0.0,{guid},{serial},6.2.1,Windows,"Microsoft Windows 11 Pro , 64-bit",1,,,"",success,,0,,0,GlobalProtect_GW,{recid},0x0',
        '{T_syslog} gp01 1,{T_panw},013101001305,GLOBALPROTECT,0,2305,{T_panw},vsys1,gateway-auth,login,SAML,,{email},,{ws},{ip},0.0.0.0,0.0.0.0,0.0.0.0,{guid},{serial},6.1.4,Mac,"Apple Mac OS X 14.4",1,,,"Authentication failed: Invalid username or password",failure,,0,,0,GlobalProtect_GW,{recid},0x0',
        '{T_syslog} gp01 1,{T_panw},013101001305,GLOBALPROTECT,0,2305,{T_panw},vsys1,gateway-hip-report,host-info,,,corp\\{user},,{ws},{ip},0.0.0.0,{lip},0.0.0.0,{guid},{serial},6.2.1,,"",1,,,"HIP report is not needed",success,,0,,0,GlobalProtect_GW,{recid},0x0',
        '{T_syslog} gp01 1,{T_panw},013101001305,GLOBALPROTECT,0,2305,{T_panw},vsys1,gateway-logout,logout,,IPSec,{email},US,{ws},{ip6},0.0.0.0,{lip},0.0.0.0,{guid},{serial},6.2.1,Windows,"Microsoft Windows 11 Pro , 64-bit",1,,,"client logout",success,,0,,0,GlobalProtect_GW,{recid},0x0',
    ]),
    "fortigate": dict(path="vpn-fortinet/fortigate", ext="log", json=False, weight=3, rate=12, templates=[
        'date={T_fdate} time={T_ftime} eventtime={T_epochns} tz="+0000" logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" srcip={lip} srcport={port} srcintf="port2" srcintfrole="lan" dstip={ip} dstport=443 dstintf="port1" dstintfrole="wan" sessionid={n} proto=6 action="close" policyid=3 policytype="policy" service="HTTPS" dstcountry="United States" srccountry="Reserved" trandisp="snat" duration={n2} sentbyte={n} rcvdbyte={n} sentpkt={n2} rcvdpkt={n2} appcat="unscanned"',
        'date={T_fdate} time={T_ftime} eventtime={T_epochns} tz="+0000" logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" srcip={ip6} srcport={port} srcintf="port1" srcintfrole="wan" dstip=2001:db8:10::{v6tail} dstport=443 dstintf="port2" sessionid={n} proto=6 action="deny" policyid=0 service="HTTPS" duration=0',
        'date={T_fdate} time={T_ftime} eventtime={T_epochns} tz="+0000" logid="0101039424" type="event" subtype="vpn" level="information" vd="root" logdesc="SSL VPN tunnel up" action="tunnel-up" tunneltype="ssl-tunnel" tunnelid={n} remip={ip} tunnelip={lip} user="{user}" group="VPN_USERS" dst_host="N/A" reason="N/A" msg="SSL tunnel established"',
        'date={T_fdate} time={T_ftime} eventtime={T_epochns} tz="+0000" logid="0101039426" type="event" subtype="vpn" level="alert" vd="root" logdesc="SSL VPN login fail" action="ssl-login-fail" tunneltype="ssl-web" tunnelid=0 remip={ip} user="{email}" group="N/A" dst_host="N/A" reason="sslvpn_login_unknown_user" msg="SSL user failed to logged in"',
        'date={T_fdate} time={T_ftime} eventtime={T_epochns} tz="+0000" logid="0316013056" type="utm" subtype="webfilter" eventtype="ftgd_blk" level="warning" vd="root" policyid=3 sessionid={n} srcip={lip} srcport={port} dstip={ip} dstport=443 service="HTTPS" hostname="{host}" profile="default" action="blocked" reqtype="direct" url="{url}" sentbyte={n} rcvdbyte=0 direction="outgoing" msg="URL belongs to a denied category in policy" agent="{ua}" cat=26 catdesc="Malicious Websites"',
        'date={T_fdate} time={T_ftime} eventtime={T_epochns} tz="+0000" logid="0211008192" type="utm" subtype="virus" eventtype="infected" level="warning" vd="root" policyid=3 msg="File is infected." action="blocked" service="HTTPS" sessionid={n} srcip={ip} dstip={lip} srcport=443 dstport={port} direction="incoming" filename="{fname}" quarskip="File-was-not-quarantined" virus="W32/Agent.{n}!tr" dtype="av-engine" ref="http://www.fortinet.com/ve?vn=W32%2FAgent" virusid={n} url="{url}" profile="default" agent="{ua}" analyticscksum="{sha256}" filehash="{hash}" analyticssubmit="false"',
        'date={T_fdate} time={T_ftime} eventtime={T_epochns} tz="+0000" logid="0419016384" type="utm" subtype="ips" eventtype="signature" level="alert" vd="root" severity="critical" srcip={ip} srccountry="Reserved" dstip={lip} srcintf="port1" dstintf="port2" sessionid={n} action="dropped" proto=6 service="HTTPS" policyid=3 attack="Fortinet.FortiOS.SSL.VPN.Heap.Buffer.Overflow" srcport={port} dstport=443 hostname="{host}" url="/remote/logincheck" direction="outgoing" attackid={n} profile="default" ref="http://www.fortinet.com/ids/VID{n}" incidentserialno={n} msg="applications3: Fortinet.FortiOS.SSL.VPN.Heap.Buffer.Overflow,"',
        'date={T_fdate} time={T_ftime} eventtime={T_epochns} tz="+0000" logid="1501054802" type="utm" subtype="dns" eventtype="dns-response" level="notice" vd="root" policyid=3 sessionid={n} srcip={lip} srcport={port} dstip={lip2} dstport=53 proto=17 profile="default" xid={n} qname="{host}" qtype="A" qtypeval=1 qclass="IN" ipaddr="{ip}" msg="Domain is monitored" action="pass" cat=52 catdesc="Information Technology"',
        'date={T_fdate} time={T_ftime} eventtime={T_epochns} tz="+0000" logid="0107045062" type="event" subtype="endpoint" level="warning" vd="root" logdesc="FortiClient malware detected" user="{user}" srcip={lip} name="{ws}" file="{wpath}" sha256="{sha256}" md5="{md5}" sha1="{sha1}" action="quarantined" msg="Malware detected on endpoint"',
    ]),
    "openvpn": dict(path="vpn-openvpn/openvpn", ext="log", json=False, weight=2, rate=5, templates=[
        "{T_ovpn} {ip}:{port} TLS: Initial packet from [AF_INET]{ip}:{port}, sid={hex8} {hex8}",
        "{T_ovpn} {ip}:{port} VERIFY OK: depth=1, CN=Easy-RSA CA",
        "{T_ovpn} {ip}:{port} VERIFY OK: depth=0, CN={email}",
        "{T_ovpn} {ip}:{port} peer info: IV_PLAT=win",
        "{T_ovpn} {ip}:{port} [{user}] Peer Connection Initiated with [AF_INET]{ip}:{port}",
        "{T_ovpn} {user}/{ip}:{port} MULTI_sva: pool returned IPv4=10.8.0.{n3}, IPv6=(Not enabled)",
        "{T_ovpn} {user}/{ip}:{port} MULTI: Learn: 10.8.0.{n3} -> {user}/{ip}:{port}",
        "{T_ovpn} {user}/{ip}:{port} SENT CONTROL [{user}]: 'PUSH_REPLY,route 10.8.0.1,topology net30,ping 10,ping-restart 120,ifconfig 10.8.0.{n3} 10.8.0.{n3}' (status=1)",
        "{T_ovpn} {ip}:{port} TLS Auth Error: Auth Username/Password verification failed for peer",
        "{T_ovpn} TCP connection established with [AF_INET6]{ip6} port {port}",
        "{T_ovpn} {user}/{ip}:{port} Connection reset, restarting [0]",
        "{T_ovpn} {user}/{ip}:{port} Data Channel: using negotiated cipher 'AES-256-GCM'",
    ]),
}

# which template kinds an IOC type can be planted into
KINDS_FOR = {
    "ipv4": ("ip",), "cidr4": ("ip",), "ipv6": ("ip6",), "cidr6": ("ip6",),
    "domain": ("host",), "url": ("url",), "email": ("email",),
    "md5": ("md5", "hash"), "sha1": ("sha1", "hash"), "sha256": ("sha256", "hash"),
    "sha512": ("sha512", "hash"), "fname-bare": ("fname", "wpath", "upath"),
    "fname-win": ("wpath",), "fname-unix": ("upath",), "string": ("ua",),
}
PLANT_WEIGHTS = {"ipv4": 25, "cidr4": 6, "ipv6": 8, "cidr6": 3, "domain": 14, "url": 9,
                 "email": 6, "md5": 5, "sha1": 3, "sha256": 6, "sha512": 2,
                 "fname-bare": 5, "fname-win": 5, "fname-unix": 2, "string": 4}


def _field_names(tpl):
    return [f for _, f, _, _ in string.Formatter().parse(tpl) if f]


def _kind(field):
    return field[:-2] if field.endswith("_2") else field


class Stream:
    def __init__(self, name, spec):
        self.name = name
        self.json = spec["json"]
        self.rate = spec["rate"]
        self.templates = []
        for t in spec["templates"]:
            fields = _field_names(t)
            slots = {}
            for f in dict.fromkeys(fields):
                if not f.startswith("T_"):
                    slots.setdefault(_kind(f), []).append(f)
            self.templates.append((t, fields, slots))
        self.by_kind = {}
        for i, (_, _, slots) in enumerate(self.templates):
            for k in slots:
                self.by_kind.setdefault(k, []).append(i)
        self.ptypes = [t for t, ks in KINDS_FOR.items() if any(k in self.by_kind for k in ks)]


# ---------------------------------------------------------------------------
# Per-file generation (runs in worker processes)
# ---------------------------------------------------------------------------

G = {}  # set in the parent before forking: index, iocs by plant type, args


def _case(rng, v, p=0.35):
    r = rng.random()
    if r > p:
        return v
    if r < p / 3:
        return v.upper()
    if r < 2 * p / 3:
        return v[:1].upper() + v[1:]
    return "".join(c.upper() if rng.random() < 0.5 else c for c in v)


def _v6_spell(rng, n):
    r = rng.random()
    s = v6_canonical(n) if r < 0.7 else (v6_full(n) if r < 0.85 else v6_nolz(n))
    return s.upper() if rng.random() < 0.1 else s


class Filler:
    """Background values, pre-built pools, every one checked clean."""

    def __init__(self, rng, index, extra_bad):
        self.rng = rng
        ch = rng.choice
        ok = lambda v: not index.find(v) and not extra_bad.find(v)  # noqa: E731
        self.ip = [v for v in (ch(BG_V4_NETS) + str(rng.randrange(1, 255)) for _ in range(600)) if ok(v)]
        self.lip = [("10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)))
                    if rng.random() < 0.5 else ("192.168.%d.%d" % (rng.randrange(256), rng.randrange(1, 255)))
                    for _ in range(300)]
        self.ip6 = [v for v in ("2001:db8:%x:%x::%x" % (rng.getrandbits(16), rng.getrandbits(8), rng.getrandbits(16) or 1)
                                for _ in range(200)) if ok(v)]
        self.host = [v for v in BG_DOMAINS + ["%s%d.corp.example.com" % (ch(["ws", "srv", "lt"]), rng.randrange(1000))
                                              for _ in range(50)] if ok(v)]
        self.url = [v for v in ("https://%s/%s" % (ch(BG_DOMAINS), ch(["", "index.html", "api/v2/status", "login?next=%2F",
                                                                       "downloads/setup.msi", "favicon.ico"]))
                                for _ in range(200)) if ok(v)]
        self.user = ["%s.%s" % (ch(FIRST), ch(LAST)) for _ in range(150)] + ["administrator", "svc_backup", "root"]
        self.email = [v for v in ("%s.%s@corp.example.com" % (ch(FIRST), ch(LAST)) for _ in range(100)) if ok(v)]
        self.hashes = {}
        for k, bits in (("md5", 128), ("sha1", 160), ("sha256", 256), ("sha512", 512), ("imphash", 128)):
            pool = ["%0*x" % (bits // 4, rng.getrandbits(bits)) for _ in range(300)]
            self.hashes[k] = [h for h in pool if ok(h)]
        self.wpath = [v for v in BG_EXES + BG_DLLS + ["C:\\Users\\%s\\Downloads\\%s" % (ch(FIRST), ch(["report.pdf", "setup.msi", "invoice.xlsx", "notes.txt"]))
                                                    for _ in range(30)] if ok(v)]
        self.upath = ["/usr/bin/systemctl", "/usr/bin/apt-get", "/usr/bin/tail", "/usr/sbin/useradd",
                      "/usr/bin/docker", "/bin/journalctl"]
        self.ua = [v for v in BG_UAS + BG_SSH_IDS if ok(v)]
        self.ws = ["WS%04d" % rng.randrange(10000) for _ in range(100)] + ["LT-%s" % ch(LAST).upper() for _ in range(20)]

    def value(self, kind):
        rng = self.rng
        ch = rng.choice
        if kind == "ip":
            return ch(self.ip)
        if kind in ("lip", "lip2"):
            return ch(self.lip)
        if kind == "ip6":
            return ch(self.ip6)
        if kind == "host":
            return ch(self.host)
        if kind == "url":
            return ch(self.url)
        if kind == "email":
            return ch(self.email)
        if kind in ("md5", "sha1", "sha256", "sha512", "imphash"):
            h = ch(self.hashes[kind])
            return h.upper() if kind in ("imphash",) or (kind != "sha512" and rng.random() < 0.5) else h
        if kind == "hash":
            return ch(self.hashes["sha256"])
        if kind == "wpath":
            return ch(self.wpath)
        if kind == "fname":
            return ch(self.wpath).rpartition("\\")[2]
        if kind == "upath":
            return ch(self.upath)
        if kind == "ua":
            return ch(self.ua)
        if kind in ("user",):
            return ch(self.user)
        if kind in ("ws", "comp"):
            return ch(self.ws)
        if kind == "lhost":
            return ch(["web01", "bastion", "db02", "ip-172-31-20-90"])
        if kind == "port":
            return str(rng.randrange(1024, 65536))
        if kind in ("pid", "tid"):
            return str(rng.randrange(100, 32768))
        if kind in ("recid", "n"):
            return str(rng.randrange(1000, 10000000))
        if kind == "n2":
            return "%02d" % rng.randrange(60)
        if kind == "n3":
            return str(rng.randrange(2, 254))
        if kind == "hexid":
            return "0x%x" % rng.getrandbits(24)
        if kind == "hex8":
            return "%016x" % rng.getrandbits(64)
        if kind == "guid":
            return "%08X-%04X-%04X-%04X-%012X" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16),
                                                   rng.getrandbits(16), rng.getrandbits(48))
        if kind == "sid":
            return "%d-%d-%d-%d" % (rng.getrandbits(31), rng.getrandbits(31), rng.getrandbits(31), rng.randrange(1000, 5000))
        if kind == "v6tail":
            return "%x:%x" % (rng.getrandbits(16) or 1, rng.getrandbits(16) or 1)
        if kind == "serial":
            return "%s%05d" % (ch("ABCDEFGH"), rng.randrange(100000))
        if kind == "b64":
            return "".join(ch("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(43))
        if kind == "logontype":
            return ch(["3", "3", "2", "7", "10"])
        if kind == "desc":
            return ch(["Windows Command Processor", "Windows PowerShell", "Host Process for Windows Services"])
        if kind == "args":
            return ch(["/c whoami", "-nop -w hidden", "/d /s /c \"dir\"", "--type=renderer", "-k netsvcs -p", ""])
        if kind == "uargs":
            return ch(["restart nginx", "update", "-f /var/log/syslog", "-m deploy", "ps -a"])
        if kind == "ext":
            return ch(["pdf", "docx", "xlsx", "zip"])
        raise KeyError(kind)


def _render_ioc(rng, ptype, ioc, kind):
    """Text of an IOC as planted into a slot of this kind (before JSON
    escaping)."""
    if ptype == "ipv4":
        return ioc.norm
    if ptype == "cidr4":
        size = 1 << (32 - ioc.plen)
        return str(ipaddress.IPv4Address(ioc.net + rng.randrange(size)))
    if ptype == "ipv6":
        return _v6_spell(rng, iocref.parse_ipv6(ioc.norm))
    if ptype == "cidr6":
        return _v6_spell(rng, ioc.net | rng.getrandbits(128 - ioc.plen))
    if ptype == "domain":
        d = _case(rng, ioc.norm)
        return (rng.choice(["www.", "cdn.", "a1."]) + d) if rng.random() < 0.15 else d
    if ptype == "url":
        host, rest = iocref.url_key(ioc.norm)
        scheme = rng.choice(["http://", "https://", ""])
        if kind != "url" or rng.random() < 0.2:
            scheme = ""
        if rng.random() < 0.2:
            rest += ("&" if "?" in rest else "?") + "utm_source=%s" % rng.choice(["mail", "sms", "qr"])
        return scheme + _case(rng, host) + rest
    if ptype == "email":
        return _case(rng, ioc.norm)
    if ptype in ("md5", "sha1", "sha256", "sha512"):
        return ioc.norm.upper() if rng.random() < 0.4 else ioc.norm
    if ptype == "fname-bare":
        name = _case(rng, ioc.norm)
        if kind == "wpath":
            return rng.choice(["C:\\Users\\Public\\", "C:\\Windows\\Temp\\", "C:\\Users\\%s\\Downloads\\" % rng.choice(FIRST),
                               "D:\\tools\\"]) + name
        if kind == "upath":
            return rng.choice(["/tmp/", "/home/%s/" % rng.choice(FIRST), "/opt/"]) + name
        return name
    if ptype in ("fname-win", "fname-unix"):
        return _case(rng, ioc.norm, 0.3 if ptype == "fname-win" else 0)
    if ptype == "string":
        return ioc.norm
    raise KeyError(ptype)


def _near_miss(rng, ptype, ioc, index):
    """(kind, text, why) of a near miss for this IOC, or None."""
    if ptype in ("ipv4", "cidr4"):
        if ptype == "cidr4":
            size = 1 << (32 - ioc.plen)
            a = ioc.net - 1 if rng.random() < 0.5 else ioc.net + size
            if not 0 < a < (1 << 32):
                return None
            return "ip", str(ipaddress.IPv4Address(a)), "outside " + ioc.norm
        r = rng.random()
        if r < 0.35:
            return "ip", ioc.norm + str(rng.randrange(10)), "digit after"
        if r < 0.7:
            return "ip", ioc.norm + "." + str(rng.randrange(10)), "'.digit' after"
        return "ip", str(rng.randrange(1, 10)) + ioc.norm, "digit before"
    if ptype == "ipv6":
        return "ip6", v6_canonical(iocref.parse_ipv6(ioc.norm)) + rng.choice("0123456789abcdef"), "hex digit after"
    if ptype == "cidr6":
        size = 1 << (128 - ioc.plen)
        a = ioc.net - 1 if rng.random() < 0.5 else ioc.net + size
        return "ip6", v6_canonical(a), "outside " + ioc.norm
    if ptype == "domain":
        r = rng.random()
        if r < 0.33:
            return "host", rng.choice("xq1-_") + ioc.norm, "prefixed label"
        if r < 0.66:
            return "host", ioc.norm + "." + rng.choice(["au", "uk", "local", "cn"]), "extra label"
        return "host", ioc.norm + "-cdn.com", "label suffix"
    if ptype == "url":
        host, rest = iocref.url_key(ioc.norm)
        letters = [i for i, c in enumerate(rest) if c.isalpha()]
        if letters and rng.random() < 0.5:
            i = rng.choice(letters)
            rest2 = rest[:i] + rest[i].swapcase() + rest[i + 1:]
            return "url", "https://" + host + rest2, "path case differs"
        return "url", "https://x" + host + rest, "letter before host"
    if ptype == "email":
        return "email", rng.choice("xz9.") + ioc.norm, "local part longer"
    if ptype in ("md5", "sha1", "sha256", "sha512"):
        return (ptype, "hash"), ioc.norm + rng.choice("0123456789abcdef"), "extra hex digit"
    if ptype == "fname-bare":
        c = rng.choice("xa1_.-")
        if rng.random() < 0.5:
            return "wpath", "C:\\Users\\Public\\" + c + ioc.norm, "character before"
        return "fname", c + ioc.norm, "character before"
    if ptype == "string":
        letters = [i for i, c in enumerate(ioc.norm) if c.isalpha()]
        if not letters:
            return None
        i = rng.choice(letters)
        return "ua", ioc.norm[:i] + ioc.norm[i].swapcase() + ioc.norm[i + 1:], "case differs"
    return None


def _esc(v):
    return v.replace("\\", "\\\\").replace('"', '\\"')


class FileGen:
    def __init__(self, job):
        self.job = job
        self.rng = random.Random("%s:%s" % (G["seed"], job["rel"]))
        self.stream = Stream(job["stream"], STREAMS[job["stream"]])
        self.index = G["index"]
        self.fill = Filler(self.rng, self.index, G["builtin_index"])
        self.sec = 1735689600 + self.rng.randrange(0, 86400 * 30)
        self._tsd_sec = None
        self.truth = []
        self.near = []
        self.stats = {"lines": 0, "hit_lines": 0, "near_lines": 0, "long_lines": 0}

    def tsd(self):
        if self._tsd_sec != self.sec:
            self._tsd = ts_formats(self.sec)
            self._tsd_sec = self.sec
        return self._tsd

    def render(self, ti, planted, tsd=None):
        """A line from template ti; planted maps field -> raw text. With tsd
        None, returns (parts, ts_kinds) with timestamps left open."""
        tpl, fields, _ = self.stream.templates[ti]
        vals = {}
        for f in fields:
            if f in vals:
                continue
            if f.startswith("T_"):
                vals[f] = tsd[f[2:]] if tsd is not None else "\x00"
                continue
            v = planted[f] if f in planted else self.fill.value(_kind(f))
            if f == "wpath_2" and f not in planted and "wpath" in fields and self.rng.random() < 0.6:
                v = planted.get("wpath") or vals.get("wpath_raw") or v
            if f == "wpath":
                vals["wpath_raw"] = v
            vals[f] = _esc(v) if self.stream.json else v
        line = tpl.format(**vals)
        if tsd is not None:
            return line
        kinds = [f[2:] for f in fields if f.startswith("T_")]
        return tuple(line.split("\x00")), tuple(kinds)

    def bodies(self, n):
        out = []
        tries = 0
        nt = len(self.stream.templates)
        bad = G["builtin_index"]
        while len(out) < n and tries < n * 3:
            tries += 1
            parts, kinds = self.render(self.rng.randrange(nt), {})
            probe = " ".join(parts)
            if self.index.find(probe):
                continue
            out.append((parts, kinds))
        return out

    # -- hits ---------------------------------------------------------------
    def pick_ioc(self, ptype):
        pool = G["by_ptype"].get(ptype)
        b = G["builtin_by_ptype"].get(ptype)
        if b and (not pool or self.rng.random() < 0.25):
            return self.rng.choice(b)
        return self.rng.choice(pool) if pool else None

    def hit_line(self, lineno, tsd):
        rng = self.rng
        st = self.stream
        avail = [t for t in st.ptypes if G["by_ptype"].get(t) or G["builtin_by_ptype"].get(t)]
        if not avail:
            return None
        for _ in range(20):
            ptype = rng.choices(avail, [PLANT_WEIGHTS[t] for t in avail])[0]
            ioc = self.pick_ioc(ptype)
            kinds = [k for k in KINDS_FOR[ptype] if k in st.by_kind]
            kind = rng.choice(kinds)
            ti = rng.choice(st.by_kind[kind])
            slots = st.templates[ti][2]
            planted = {}
            mode = rng.random()
            fields = slots[kind]
            if mode < 0.12 and len(fields) > 1:
                # the same IOC twice
                for f in fields[:2]:
                    planted[f] = _render_ioc(rng, ptype, ioc, kind)
            else:
                planted[rng.choice(fields)] = _render_ioc(rng, ptype, ioc, kind)
                if mode > 0.87:
                    # a second, different IOC in another slot
                    other = [(k, f) for k, fs in slots.items() for f in fs if f not in planted]
                    rng.shuffle(other)
                    for k, f in other:
                        cands = [t for t, ks in KINDS_FOR.items() if k in ks and (G["by_ptype"].get(t) or G["builtin_by_ptype"].get(t))]
                        if cands:
                            p2 = rng.choice(cands)
                            planted[f] = _render_ioc(rng, p2, self.pick_ioc(p2), k)
                            break
            line = self.render(ti, planted, tsd)
            hits = self.index.find(line)
            if hits:
                return line, hits
        return None

    def near_line(self, lineno, tsd):
        rng = self.rng
        st = self.stream
        for _ in range(20):
            ptype = rng.choice(st.ptypes)
            ioc = self.pick_ioc(ptype)
            if ioc is None:
                continue
            nm = _near_miss(rng, ptype, ioc, self.index)
            if nm is None:
                continue
            kinds, text, why = nm
            kinds = [k for k in ((kinds,) if isinstance(kinds, str) else kinds) if k in st.by_kind]
            if not kinds:
                continue
            kind = kinds[0]
            ti = rng.choice(st.by_kind[kind])
            f = rng.choice(st.templates[ti][2][kind])
            line = self.render(ti, {f: text}, tsd)
            if self.index.find(line):
                continue
            return line, {"value": text, "ioc": ioc.norm, "why": why}
        return None

    def long_line(self, tsd):
        """A PowerShell 4104 event whose ScriptBlockText is > 200 KB, with
        IOCs planted near its start, middle and end."""
        rng = self.rng
        frags = ["$env:TEMP = 'C:\\\\Users\\\\Public'; ", "Write-Verbose 'step done'; ",
                 "$d = [Convert]::FromBase64String($b); ", "foreach ($i in 1..100) { $s += $i }; ",
                 "Start-Sleep -Milliseconds 250; ", "$r = Invoke-RestMethod -Uri $u -Method Post -Body $p; ",
                 "[System.IO.File]::WriteAllBytes($path, $d); ", "Get-Process | Where-Object { $_.CPU -gt 10 }; "]
        frags = [f for f in frags if not self.index.find(f)]
        chunk = "".join(rng.choice(frags) for _ in range(400))
        mid = []
        while sum(map(len, mid)) < LONG_LINE_MIN + 1000:
            mid.append(chunk)
        body = "".join(mid)
        plants = []
        for _ in range(3):
            for _ in range(50):
                ptype = rng.choice([t for t in KINDS_FOR if G["by_ptype"].get(t) or G["builtin_by_ptype"].get(t)])
                ioc = self.pick_ioc(ptype)
                kind = "wpath" if ptype in ("fname-bare", "fname-win") else \
                    ("upath" if ptype == "fname-unix" else KINDS_FOR[ptype][0])
                text = _esc(_render_ioc(rng, ptype, ioc, kind))
                plants.append(" $ioc = '%s'; " % text)
                break
        n = len(body)
        cut1 = rng.randrange(100, 600)
        cut2 = n // 2 + rng.randrange(-500, 500)
        cut3 = n - rng.randrange(100, 600)
        body = body[:cut1] + plants[0] + body[cut1:cut2] + plants[1] + body[cut2:cut3] + plants[2] + body[cut3:]
        tpl = PWSH.replace("{{", "{").replace("}}", "}")
        head = tpl.replace("{T_isoz}", tsd["isoz"]).replace("{recid}", str(rng.randrange(10 ** 6))) \
            .replace("{pid}", "4242").replace("{tid}", "4243").replace("{comp}", self.fill.value("ws"))
        line = head + '"MessageNumber":1,"MessageTotal":1,"ScriptBlockText":"' + body + '","ScriptBlockId":"' + \
            self.fill.value("guid") + '","Path":""}}}'
        return line, self.index.find(line)

    # -- the file -----------------------------------------------------------
    def run(self):
        job = self.job
        rng = self.rng
        target = job["bytes"]
        eol = "\r\n" if job["crlf"] else "\n"
        eolb = len(eol)
        hit_rate, near_rate = G["hit_rate"], G["near_rate"]
        bodies = self.bodies(G["variety"])
        rate = self.stream.rate
        path = os.path.join(G["out"], job["rel"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        pending_long = job["long"]
        est_lines = max(1, target // 400)
        long_at = set(rng.randrange(1, est_lines + 1) for _ in range(pending_long))
        written = 0
        lineno = 0
        n = 2048
        with open(path, "wb") as f:
            done = False
            while not done:
                specials = {}
                k = int(n * hit_rate + rng.random())
                for i in rng.sample(range(n), min(n, k)):
                    specials[i] = "hit"
                k = int(n * near_rate + rng.random())
                for i in rng.sample(range(n), min(n, k)):
                    specials.setdefault(i, "near")
                for ln in long_at:
                    if lineno < ln <= lineno + n:
                        specials[ln - lineno - 1] = "long"
                if written >= target:
                    for i in range(pending_long):
                        specials[i] = "long"
                picks = rng.choices(bodies, k=n)
                lines = []
                chunk_bytes = 0
                base = lineno
                tsd = None
                for i in range(n):
                    ln = base + i + 1
                    if i % rate == 0:
                        self.sec += 1
                        tsd = self.tsd()
                    sp = specials.get(i)
                    line = None
                    last = pending_long == 0 and written + chunk_bytes >= target
                    if last and not job["final_nl"]:
                        # the last line of a file without a final newline
                        # carries a hit, so that edge is always exercised
                        sp = "hit"
                    if sp is None:
                        pass
                    elif sp == "long":
                        if pending_long > 0:
                            line, hits = self.long_line(tsd)
                            pending_long -= 1
                            self.stats["long_lines"] += 1
                            self._add_truth(ln, hits)
                    elif sp == "hit":
                        r = self.hit_line(ln, tsd)
                        if r:
                            line = r[0]
                            self._add_truth(ln, r[1])
                            self.stats["hit_lines"] += 1
                    else:
                        r = self.near_line(ln, tsd)
                        if r:
                            line = r[0]
                            r[1].update(path=job["rel"], line=ln)
                            self.near.append(r[1])
                            self.stats["near_lines"] += 1
                    if line is None:
                        parts, kinds = picks[i]
                        if len(kinds) == 1:
                            line = parts[0] + tsd[kinds[0]] + parts[1]
                        else:
                            line = parts[0]
                            for kk, p in zip(kinds, parts[1:]):
                                line += tsd[kk] + p
                    lines.append(line)
                    chunk_bytes += len(line) + eolb
                    if last:
                        done = True
                        break
                lineno = base + len(lines)
                data = eol.join(lines)
                if not (done and not job["final_nl"]):
                    data += eol
                data = data.encode("utf-8")
                written += len(data)
                f.write(data)
        self.stats["lines"] = lineno
        self.stats["bytes"] = written
        return self

    def _add_truth(self, ln, hits):
        rel = self.job["rel"]
        for norm, (typ, cnt, atomic) in hits.items():
            self.truth.append({"path": rel, "line": ln, "ioc": norm, "type": typ,
                               "count": cnt, "atomic": atomic})


def _run_job(job):
    fg = FileGen(job).run()
    return job["rel"], fg.truth, fg.near, fg.stats


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

def parse_size(s):
    s = s.strip().upper().rstrip("B")
    mult = 1
    for suf, m in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40)):
        if s.endswith(suf):
            s, mult = s[:-1], m
            break
    return int(float(s) * mult)


def plan_files(args):
    names = list(STREAMS)
    total_w = sum(STREAMS[n]["weight"] for n in names)
    jobs = []
    for name in names:
        spec = STREAMS[name]
        per = args.size * spec["weight"] // total_w // args.files
        for i in range(args.files):
            rel = "logs/%s%s.%s" % (spec["path"], "" if args.files == 1 else "-%02d" % (i + 1), spec["ext"])
            jobs.append({"stream": name, "rel": rel, "bytes": max(per, 1), "crlf": False,
                         "final_nl": not args.no_final_newline, "long": 0})
    if args.crlf_file:
        for j in jobs:
            if j["stream"] == "linux-auth":
                j["crlf"] = True
                break
    ps = [j for j in jobs if j["stream"] == "windows-powershell"]
    for k in range(args.long_lines):
        ps[k % len(ps)]["long"] += 1
    return jobs


def build_globals(args):
    rng = random.Random("iocs:%s" % args.seed)
    t0 = time.time()
    iocs = gen_iocs(args.iocs, rng)
    index = iocref.Index()
    by_ptype = {}
    for ioc in iocs:
        index.add(ioc.typ, ioc.norm)
        if ioc.typ == "cidr":
            pt = "cidr4" if ioc.sub == "v4" else "cidr6"
        elif ioc.typ == "filename":
            pt = {"bare": "fname-bare", "win": "fname-win", "unix": "fname-unix"}[ioc.sub]
        else:
            pt = ioc.typ
        by_ptype.setdefault(pt, []).append(ioc)
    builtin_index = iocref.Index()
    builtin_by_ptype = {}
    for typ, v in BUILTIN_IOCS:
        builtin_index.add(typ, v)
        if args.builtin:
            index.add(typ, v)
            builtin_by_ptype.setdefault(typ, []).append(Ioc(typ, v, v))
    G.update(index=index, builtin_index=builtin_index, by_ptype=by_ptype,
             builtin_by_ptype=builtin_by_ptype, seed=args.seed, out=args.out,
             hit_rate=args.hit_rate, near_rate=args.near_miss_rate, variety=args.variety)
    return iocs, time.time() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", default="1", help="seed (any string); same seed, same output")
    ap.add_argument("--size", default="16M", type=parse_size, help="total log bytes (64M, 1G, ...)")
    ap.add_argument("--iocs", default=1000, type=int, help="size of the generated IOC list")
    ap.add_argument("--ioc-file", help="where to write the IOC list (default OUT/iocs.txt)")
    ap.add_argument("--truth", help="ground truth JSON lines (default OUT/truth.jsonl)")
    ap.add_argument("--near-file", help="planted near misses, JSON lines (default OUT/near_misses.jsonl)")
    ap.add_argument("--hit-rate", default=0.002, type=float, help="fraction of lines with a planted IOC")
    ap.add_argument("--near-miss-rate", default=0.001, type=float, help="fraction of lines with a near miss")
    ap.add_argument("--long-lines", default=0, type=int, help="add N lines longer than 200 KB")
    ap.add_argument("--builtin", action="store_true",
                    help="also plant the built-in incident IOCs (not written to the IOC file)")
    ap.add_argument("--files", default=1, type=int, help="files per vendor stream")
    ap.add_argument("--crlf-file", action="store_true", help="write one file (linux auth) with CRLF line ends")
    ap.add_argument("--no-final-newline", action="store_true", help="no newline after the last line of each file")
    ap.add_argument("--jobs", "-j", default=os.cpu_count() or 1, type=int, help="worker processes")
    ap.add_argument("--variety", default=4096, type=int, help="distinct background line bodies per file")
    ap.add_argument("--quiet", "-q", action="store_true")
    args = ap.parse_args(argv)
    if args.files < 1:
        ap.error("--files must be >= 1")
    t0 = time.time()
    os.makedirs(args.out, exist_ok=True)
    ioc_file = args.ioc_file or os.path.join(args.out, "iocs.txt")
    truth_file = args.truth or os.path.join(args.out, "truth.jsonl")
    near_file = args.near_file or os.path.join(args.out, "near_misses.jsonl")
    iocs, t_iocs = build_globals(args)
    write_ioc_file(ioc_file, iocs, args.seed)
    jobs = plan_files(args)
    # biggest first, results kept in plan order
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i]["bytes"])
    results = [None] * len(jobs)
    if args.jobs > 1 and len(jobs) > 1:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(min(args.jobs, len(jobs))) as pool:
            for i, res in zip(order, pool.imap(_run_job, [jobs[i] for i in order])):
                results[i] = res
    else:
        for i in order:
            results[i] = _run_job(jobs[i])
    truth = []
    near = []
    stats = {}
    for rel, t, nm, st in results:
        truth.extend(t)
        near.extend(nm)
        for k, v in st.items():
            stats[k] = stats.get(k, 0) + v
    truth.sort(key=lambda r: (r["path"], r["line"], r["ioc"]))
    with open(truth_file, "w", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in truth))
    with open(near_file, "w", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in near))
    dt = time.time() - t0
    if not args.quiet:
        print("genlogs: %d files, %d bytes, %d lines, %d hit lines, %d truth rows, %d near misses, "
              "%d long lines, %d IOCs (%.1fs); %.1fs, %.1f MB/s"
              % (len(jobs), stats["bytes"], stats["lines"], stats["hit_lines"], len(truth),
                 stats["near_lines"], stats["long_lines"], len(iocs), t_iocs, dt, stats["bytes"] / dt / 1e6),
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
