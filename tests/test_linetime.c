/*
 * test_linetime.c - a line's own time and host: every form, the RFC 3164
 * year rule around New Year, zones, fractions of 1-9 digits, leap days,
 * invalid dates, hosts of 3164 and 5424 headers, and the --since/--until
 * argument parser. Many lines are quoted from the shared corpus
 * (../shared/corpus/logs); the last test reads the corpus itself.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/linetime.h"
#include "tests/helpers.h"

/* Reference times (the file's mtime) used below. */
#define REF_2024_12_06 1733443200 /* 2024-12-06T00:00:00Z */
#define REF_2025_01_01 1735691400 /* 2025-01-01T00:30:00Z */
#define REF_2024_12_31 1735646400 /* 2024-12-31T12:00:00Z */
#define REF_2024_12_30 1735560000 /* 2024-12-30T12:00:00Z */
#define REF_2024_11_01 1730419200 /* 2024-11-01T00:00:00Z */
#define REF_2026_09_01 1788220800 /* 2026-09-01T00:00:00Z */
#define REF_2021_10_20 1634688000 /* 2021-10-20T00:00:00Z */
#define REF_2025_03_01 1740787200 /* 2025-03-01T00:00:00Z */
#define REF_2024_06_01 1717200000 /* 2024-06-01T00:00:00Z */

struct lt_case {
    const char *line;
    time_t ref;
    const char *tz; /* --tz, NULL: UTC */
    int has;        /* expected return */
    int64_t sec;    /* expected UTC seconds */
    long nsec;
    const char *host; /* NULL: no host */
};

static const struct lt_case cases[] = {
    /* RFC 3164, with and without <PRI>; host, or a tag where the host
     * would be. */
    {"Dec  5 03:14:15 fw01 sshd[1]: Accepted", REF_2024_12_06, NULL, 1,
     1733368455, 0, "fw01"},
    {"<34>Oct 11 22:14:15 mymachine su: 'su root' failed", REF_2024_11_01, NULL,
     1, 1728684855, 0, "mymachine"},
    {"Dec  5 03:14:15 sshd[123]: no host here", REF_2024_12_06, NULL, 1,
     1733368455, 0, NULL},
    {"Dec 5 03:14:15 kernel: one-digit day", REF_2024_12_06, NULL, 1,
     1733368455, 0, NULL},
    {"Dec 05 03:14:15.250 web-3 nginx: fraction", REF_2024_12_06, NULL, 1,
     1733368455, 250000000, "web-3"},
    /* corpus: vpn-wireguard/crowdsec_wireguard-auth.log */
    {"Jun 20 08:42:20 workshop kernel: [82508.102168] wireguard: wg1: "
     "Invalid handshake initiation from 192.168.100.30:51820",
     REF_2024_06_01 + 30 * 86400, NULL, 1, 1718872940, 0, "workshop"},
    /* corpus: vpn-pulse-ivanti/elastic_test-log-vpn.log: a 3164 header
     * wrapping a 5424 one; the first time wins. */
    {"Oct 19 09:11:09 pcs-node0 1 2021-10-19T09:11:09+02:00 10.5.2.3 "
     "PulseSecure: - - - 2021-10-19 09:11:09 - pcs-node0 - [127.0.0.1] "
     "System()[] - No new virus signature list",
     REF_2021_10_20, NULL, 1, 1634634669, 0, "pcs-node0"},
    /* The year rule around New Year. */
    {"Dec 31 23:59:59 h a", REF_2025_01_01, NULL, 1, 1735689599, 0, "h"},
    {"Jan  1 00:10:00 h a", REF_2024_12_31, NULL, 1, 1735690200, 0, "h"},
    {"Jan  1 00:10:00 h a", REF_2024_12_30, NULL, 1, 1704067800, 0, "h"},
    /* Leap day: Feb 29 goes back to 2024 from a 2025 mtime. */
    {"Feb 29 12:00:00 h a", REF_2025_03_01, NULL, 1, 1709208000, 0, "h"},
    /* RFC 5424. corpus: vpn-strongswan/crowdsec_charon-ipsec-logs.log */
    {"<30>1 2024-02-18T02:29:57+08:00 exmaple.com charon 15894 - [meta "
     "sequenceId=\"31\"] 06[NET] <3fdb463d-f7db-4140-ab65-17398e37efd8|83> "
     "sending packet: from 116.178.2.180[4500] to 116.178.2.170[28808]",
     0, NULL, 1, 1708194597, 0, "exmaple.com"},
    {"<165>1 2003-10-11T22:14:15.003Z - evntslog - ID47 - nil host", 0, NULL, 1,
     1065910455, 3000000, NULL},
    {"<165>1 - mymachine app - - - nil time", 0, NULL, 0, 0, 0, "mymachine"},
    /* ISO 8601: fractions of 1 to 9 digits (and more, cut to 9). */
    {"at 2024-12-05T03:14:15.1Z x", 0, NULL, 1, 1733368455, 100000000, NULL},
    {"at 2024-12-05T03:14:15.12Z x", 0, NULL, 1, 1733368455, 120000000, NULL},
    {"at 2024-12-05T03:14:15.123Z", 0, NULL, 1, 1733368455, 123000000, NULL},
    {"at 2024-12-05T03:14:15.1234Z", 0, NULL, 1, 1733368455, 123400000, NULL},
    {"at 2024-12-05T03:14:15.12345Z", 0, NULL, 1, 1733368455, 123450000, NULL},
    {"at 2024-12-05T03:14:15.123456Z", 0, NULL, 1, 1733368455, 123456000, NULL},
    {"at 2024-12-05T03:14:15.1234567Z", 0, NULL, 1, 1733368455, 123456700,
     NULL},
    {"at 2024-12-05T03:14:15.12345678Z", 0, NULL, 1, 1733368455, 123456780,
     NULL},
    {"at 2024-12-05T03:14:15.123456789Z", 0, NULL, 1, 1733368455, 123456789,
     NULL},
    {"at 2024-12-05T03:14:15.1234567891Z", 0, NULL, 1, 1733368455, 123456789,
     NULL},
    {"2024-12-05 03:14:15,5 log4j comma", 0, NULL, 1, 1733368455, 500000000,
     NULL},
    {"2024-12-05 03:14:15,123,next,field", 0, NULL, 1, 1733368455, 0, NULL},
    /* Zones. */
    {"2024-12-05T03:14:15+05:30 x", 0, NULL, 1, 1733348655, 0, NULL},
    {"2024-12-05T03:14:15+0530 x", 0, NULL, 1, 1733348655, 0, NULL},
    {"2024-12-05T03:14:15-08 x", 0, NULL, 1, 1733397255, 0, NULL},
    {"2024-12-05T03:14:15z x", 0, NULL, 1, 1733368455, 0, NULL},
    {"2024-12-05T03:14:15 x", 0, "+01:00", 1, 1733364855, 0, NULL},
    {"2024-12-05T03:14:15 x", 0, "-1000", 1, 1733404455, 0, NULL},
    {"2024-12-05T03:14:15Z x", 0, "+01:00", 1, 1733368455, 0, NULL},
    /* corpus: vpn-auth/sekoia_cisco-ise.log: a zone after a space */
    {"0003360952 1 0 2025-05-07 14:27:57.047 +02:00 0051005548 25002 INFO  "
     "AD-Connector: ISE server TGT refresh succeeded",
     0, NULL, 1, 1746620877, 47000000, NULL},
    /* rsyslog's file format. corpus: linux/crowdsec_CVE-2023-4911.log */
    {"2023-10-05T11:47:20.799042+02:00 leto kernel: [869507.505196] "
     "su[1433535]: segfault at 7f1f9b891000",
     0, NULL, 1, 1696499240, 799042000, "leto"},
    /* corpus: vpn-other/crowdsec_mikrotik-bf.log: no tag, no host */
    {"2023-03-19T12:34:09.757188+01:00 10.120.127.1 system,error,critical "
     "login failure for user admin from 10.10.0.35 via winbox",
     0, NULL, 1, 1679225649, 757188000, NULL},
    /* corpus: vpn-openvpn/crowdsec_openvpn-bf.log */
    {"2024-12-15 14:12:12 192.168.1.31:45321 TLS Error: incoming packet "
     "authentication failed from [AF_INET]192.168.1.31:45321",
     0, NULL, 1, 1734271932, 0, NULL},
    /* Slashes. corpus: fail2ban_xrdp.log, sekoia_paloalto-ngfw.log */
    {"2022/05/06 04:53:57 [190.2.139.67:58629] [channel 106] direct TCP/IP "
     "forwarding from 127.0.0.1:22",
     0, NULL, 1, 1651812837, 0, NULL},
    {"1,2020/12/04 16:00:02,016401002222,USERID,login,2305", 0, NULL, 1,
     1607097602, 0, NULL},
    {"2024/12-05 03:14:15 mixed separators", 0, NULL, 0, 0, 0, NULL},
    /* Apache/CLF. corpus: vpn-fortinet/crowdsec_CVE-2022-40684.log */
    {"127.0.0.1 - - [14/Oct/2022:09:55:53 +0200] \"PUT "
     "/api/v2/cmdb/system/admin/hes HTTP/1.1\" 404 134 \"-\" \"Report "
     "Runner\"",
     0, NULL, 1, 1665734153, 0, NULL},
    {"[05/Dec/2024:03:14:15 -0500]", 0, NULL, 1, 1733386455, 0, NULL},
    /* Cisco. corpus: vpn-cisco-asa/elastic_test-751025-vpn-session.log */
    {"<166>Aug 20 2026 08:53:11 asa-vpn-01 : %ASA-6-751025: "
     "Local:203.0.113.10:4500 Remote:198.51.100.25:50466",
     REF_2026_09_01, NULL, 1, 1787215991, 0, "asa-vpn-01"},
    /* corpus: vpn-cisco-asa/elastic_test-anyconnect-messages.log, + ms */
    {"Oct 10 2018 12:34:56.789 localhost CiscoASA[999]: %ASA-4-113029: "
     "Group VPN_USERS",
     REF_2026_09_01, NULL, 1, 1539174896, 789000000, "localhost"},
    /* ctime. corpus: linux-apache/loghub_Apache_2k.log: the year is
     * read, not guessed from the mtime */
    {"[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok "
     "/etc/httpd/conf/workers2.properties",
     REF_2024_12_06, NULL, 1, 1133671664, 0, NULL},
    /* auditd. corpus: linux/crowdsec_auditd-logs.log */
    {"type=SYSCALL msg=audit(1684329817.579:2995): arch=c000003e "
     "syscall=59 success=yes",
     0, NULL, 1, 1684329817, 579000000, NULL},
    {"type=LOGIN msg=audit(1733368455:456): pid=1", 0, NULL, 1, 1733368455, 0,
     NULL},
    /* FortiGate. corpus: vpn-fortinet/crowdsec_fortinet-vpn-bf.log */
    {"date=2024-10-14 time=13:46:40 eventtime=1728938800841267391 "
     "tz=\"-0700\" logid=\"1234567890\" type=\"event\" subtype=\"vpn\"",
     0, NULL, 1, 1728938800, 0, NULL},
    {"date=2024-10-14 time=13:46:40 devname=fw1 logid=1", 0, NULL, 1,
     1728913600, 0, NULL},
    {"date=2024-10-14 time=13:46:40 tz=-0700", 0, NULL, 1, 1728938800, 0, NULL},
    /* The first timestamp wins. */
    {"x 2024-12-05T03:14:15Z then 2023-01-01T00:00:00Z", 0, NULL, 1, 1733368455,
     0, NULL},
    {"a 2024-02-30T00:00:00Z b 2024-12-05T03:14:15Z", 0, NULL, 1, 1733368455, 0,
     NULL},
    /* Leap days and invalid dates. */
    {"2024-02-29T12:00:00Z", 0, NULL, 1, 1709208000, 0, NULL},
    {"2023-02-29T12:00:00Z", 0, NULL, 0, 0, 0, NULL},
    {"2024-02-30T00:00:00Z", 0, NULL, 0, 0, 0, NULL},
    {"2024-12-05T25:00:00Z", 0, NULL, 0, 0, 0, NULL},
    {"2024-12-05T24:00:00Z", 0, NULL, 0, 0, 0, NULL},
    {"2024-12-05T23:60:00Z", 0, NULL, 0, 0, 0, NULL},
    {"2024-13-01T00:00:00Z", 0, NULL, 0, 0, 0, NULL},
    {"2024-00-01T00:00:00Z", 0, NULL, 0, 0, 0, NULL},
    {"Dec 32 03:14:15 h x", REF_2024_12_06, NULL, 0, 0, 0, NULL},
    {"Dec  5 25:14:15 h x", REF_2024_12_06, NULL, 0, 0, 0, NULL},
    {"Feb 30 2024 03:14:15 h x", REF_2024_12_06, NULL, 0, 0, 0, NULL},
    {"[31/Apr/2024:03:14:15 +0000]", 0, NULL, 0, 0, 0, NULL},
    /* No time at all. */
    {"GET /index.html HTTP/1.1 200 1234", 0, NULL, 0, 0, 0, NULL},
    {"2024-12-15 OpenVPN 2.6.3 x86_64-linux-gnu started", 0, NULL, 0, 0, 0,
     NULL},
    {"12024-12-05T03:14:15Z", 0, NULL, 0, 0, 0, NULL},
    {"Decimal 5 03:14:15", 0, NULL, 0, 0, 0, NULL},
    {"", 0, NULL, 0, 0, 0, NULL},
    {"<13>", 0, NULL, 0, 0, 0, NULL},
};

static void test_linetime_forms(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct lt_case *c = &cases[i];
        struct iocs_linetime_ctx ctx = {.ref = c->ref};
        struct iocs_linetime lt;
        int ret;

        if (c->tz)
            assert_int_equal(iocs_linetime_zone_init(&ctx.zone, c->tz), 0);
        ret = iocs_linetime_parse(&ctx, c->line, strlen(c->line), &lt);
        if (ret != c->has || lt.has_time != c->has)
            fail_msg("case %zu \"%s\": has %d, want %d", i, c->line, ret,
                     c->has);
        if (c->has &&
            ((int64_t)lt.ts.tv_sec != c->sec || lt.ts.tv_nsec != c->nsec))
            fail_msg("case %zu \"%s\": %lld.%09ld, want %lld.%09ld", i, c->line,
                     (long long)lt.ts.tv_sec, lt.ts.tv_nsec, (long long)c->sec,
                     c->nsec);
        if (!c->host != !lt.host ||
            (c->host && (lt.host_len != strlen(c->host) ||
                         memcmp(lt.host, c->host, lt.host_len))))
            fail_msg("case %zu \"%s\": host \"%.*s\", want \"%s\"", i, c->line,
                     lt.host ? (int)lt.host_len : 6,
                     lt.host ? lt.host : "(none)",
                     c->host ? c->host : "(none)");
    }
}

/* The line is not NUL-terminated: nothing is read past len. */
static void test_linetime_respects_len(void **state)
{
    static const char buf[] = "Dec  5 03:14:15 fw01 sshd: x";
    struct iocs_linetime_ctx ctx = {.ref = REF_2024_12_06};
    struct iocs_linetime lt;

    (void)state;
    for (size_t n = 0; n <= 20; n++) {
        char *line = malloc(n ? n : 1);

        assert_non_null(line);
        memcpy(line, buf, n);
        /* Under ASan a read past n is caught; shorter than the time: no. */
        assert_int_equal(iocs_linetime_parse(&ctx, line, n, &lt),
                         n >= 15 ? 1 : 0);
        if (lt.host)
            assert_true(lt.host + lt.host_len <= line + n);
        free(line);
    }
}

/* An IANA zone for zone-less times, DST included. */
static void test_linetime_iana_zone(void **state)
{
    struct iocs_linetime_ctx ctx = {0};
    struct iocs_linetime lt;
    struct iocs_linetime_zone z = {.kind = IOCS_LINETIME_FIXED, .offset = 42};
    struct timespec ts;

    (void)state;
    assert_int_equal(iocs_linetime_zone_init(&z, "Nowhere/Atlantis"), -EINVAL);
    assert_int_equal(z.offset, 42); /* untouched */
    assert_int_equal(iocs_linetime_zone_init(&z, "../../etc/passwd"), -EINVAL);
    if (iocs_linetime_zone_init(&ctx.zone, "America/New_York") != 0) {
        skip(); /* no tzdata installed */
        return;
    }
    assert_int_equal(ctx.zone.kind, IOCS_LINETIME_LOCAL);
    /* EST (-5) in December, EDT (-4) in July. */
    assert_int_equal(iocs_linetime_parse(&ctx, "2024-12-05 03:14:15", 19, &lt),
                     1);
    assert_int_equal(lt.ts.tv_sec, 1733386455);
    assert_int_equal(iocs_linetime_parse(&ctx, "2024-07-05 03:14:15", 19, &lt),
                     1);
    assert_int_equal(lt.ts.tv_sec, 1720163655);
    /* A time with its own zone ignores --tz. */
    assert_int_equal(iocs_linetime_parse(&ctx, "2024-12-05T03:14:15Z", 20, &lt),
                     1);
    assert_int_equal(lt.ts.tv_sec, 1733368455);
    /* --since 2024-12-01 is midnight in New York. */
    assert_int_equal(iocs_linetime_parse_arg(&ctx.zone, "2024-12-01", &ts), 0);
    assert_int_equal(ts.tv_sec, 1733011200 + 5 * 3600);
    assert_int_equal(iocs_linetime_zone_init(&z, "UTC"), 0);
    assert_int_equal(z.kind, IOCS_LINETIME_UTC);
}

struct arg_case {
    const char *arg;
    const char *tz;
    int ret;
    int64_t sec;
    long nsec;
};

static void test_linetime_parse_arg(void **state)
{
    static const struct arg_case args[] = {
        {"2024-12-01", NULL, 0, 1733011200, 0},
        {"2024-12-01", "+01:00", 0, 1733011200 - 3600, 0},
        {"2024-12-01T10:00:00Z", NULL, 0, 1733047200, 0},
        {"2024-12-01 10:00:00+02:00", NULL, 0, 1733040000, 0},
        {"2024-12-01T10:00:00", "+02:00", 0, 1733040000, 0},
        {"2024-12-01T10:00:00.5Z", NULL, 0, 1733047200, 500000000},
        {"2024-02-29", NULL, 0, 1709164800, 0},
        {"2023-02-29", NULL, -EINVAL, 0, 0},
        {"2024-12-01x", NULL, -EINVAL, 0, 0},
        {"2024-12-01T10:00:00Z junk", NULL, -EINVAL, 0, 0},
        {"2024-12-01T25:00:00Z", NULL, -EINVAL, 0, 0},
        {"yesterday", NULL, -EINVAL, 0, 0},
        {"", NULL, -EINVAL, 0, 0},
        {"2024-12-01 time=10:00:00", NULL, -EINVAL, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
        struct iocs_linetime_zone z = {0};
        struct timespec ts = {-1, -1};
        int ret;

        if (args[i].tz)
            assert_int_equal(iocs_linetime_zone_init(&z, args[i].tz), 0);
        ret = iocs_linetime_parse_arg(&z, args[i].arg, &ts);
        if (ret != args[i].ret)
            fail_msg("arg %zu \"%s\": %d", i, args[i].arg, ret);
        if (ret == 0 &&
            (ts.tv_sec != args[i].sec || ts.tv_nsec != args[i].nsec))
            fail_msg("arg %zu \"%s\": %lld.%09ld", i, args[i].arg,
                     (long long)ts.tv_sec, ts.tv_nsec);
        if (ret != 0)
            assert_int_equal(ts.tv_sec, -1); /* untouched */
    }
}

/*
 * The corpus: in the syslog-style logs (vpn-*, linux), most lines carry a
 * time, and every 3164 line that names a host has one found.
 */
static void test_linetime_corpus(void **state)
{
    static const char *files[] = {
        "vpn-wireguard/crowdsec_wireguard-logs.log",
        "vpn-openvpn/fail2ban_openvpn.log",
        "vpn-cisco-asa/elastic_test-anyconnect-messages.log",
        "vpn-strongswan/crowdsec_charon-ipsec-logs.log",
        "vpn-fortinet/crowdsec_fortinet-vpn-bf.log",
        "linux/crowdsec_auditd-logs.log",
        "linux/crowdsec_CVE-2023-4911.log",
    };
    char dir[PATH_MAX - 256], path[PATH_MAX];
    struct iocs_linetime_ctx ctx = {.ref = REF_2026_09_01};

    (void)state;
    if (t_shared_dir(dir, sizeof(dir)) < 0) {
        skip();
        return;
    }
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        size_t len, lines = 0, timed = 0, hosts = 0;
        char *text, *p, *nl;

        snprintf(path, sizeof(path), "%s/corpus/logs/%s", dir, files[i]);
        text = t_read_file(path, &len);
        if (!text)
            continue; /* the corpus may change: only what is there */
        for (p = text; p < text + len; p = nl + 1) {
            struct iocs_linetime lt;

            nl = memchr(p, '\n', (size_t)(text + len - p));
            if (!nl)
                nl = text + len;
            if (nl == p)
                continue;
            lines++;
            timed +=
                (size_t)iocs_linetime_parse(&ctx, p, (size_t)(nl - p), &lt);
            hosts += lt.host != NULL;
        }
        if (timed * 10 < lines * 9)
            fail_msg("%s: %zu of %zu lines with a time", files[i], timed,
                     lines);
        if (!strncmp(files[i], "vpn-wireguard", 13) ||
            !strncmp(files[i], "vpn-strongswan", 14) ||
            !strncmp(files[i], "vpn-cisco", 9))
            if (hosts * 10 < lines * 9)
                fail_msg("%s: %zu of %zu lines with a host", files[i], hosts,
                         lines);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linetime_forms),
        cmocka_unit_test(test_linetime_respects_len),
        cmocka_unit_test(test_linetime_parse_arg),
        cmocka_unit_test(test_linetime_corpus),
        /* Last: it sets TZ for the process. */
        cmocka_unit_test(test_linetime_iana_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
