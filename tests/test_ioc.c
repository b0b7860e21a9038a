/*
 * test_ioc.c - refanging, type detection, normalisation and the IOC set.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matchers/ioc.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *in;
    const char *out;
} refang_cases[] = {
    {"evil[.]example", "evil.example"},
    {"evil(.)example", "evil.example"},
    {"evil{.}example", "evil.example"},
    {"evil[dot]example", "evil.example"},
    {"evil[DOT]example", "evil.example"},
    {"evil(dot)example", "evil.example"},
    {"23[.]155[.]24[.]6", "23.155.24.6"},
    {"hxxp://evil[.]example/a", "http://evil.example/a"},
    {"hxxps://evil.example", "https://evil.example"},
    {"HXXPS://evil.example", "HTTPS://evil.example"},
    {"hXXp://evil.example", "hTTp://evil.example"},
    {"hxxp[:]//evil.example", "http://evil.example"},
    {"hxxps[://]evil.example", "https://evil.example"},
    {"http[:]//evil.example", "http://evil.example"},
    {"2604[:]a880[:]400[:]d1[:][:]7716[:]1", "2604:a880:400:d1::7716:1"},
    {"a[@]evil.example", "a@evil.example"},
    {"a[at]evil.example", "a@evil.example"},
    {"a(at)evil.example", "a@evil.example"},
    {"a[AT]evil[.]example", "a@evil.example"},
    {"  \tevil.example \r\n", "evil.example"},
    {"url=hxxp://x.example", "url=http://x.example"},
    {"hxxp", "http"},
    {"hxxps", "https"},
    {"see hxxp x", "see http x"},
    /* Not defanged: left alone. */
    {"hxxpd.example", "hxxpd.example"},
    {"xhxxpz", "xhxxpz"},
    {"a[b]c", "a[b]c"},
    {"[.", "[."},
    {"(", "("},
    {"", ""},
    {"   ", ""},
};

/* Every defanged spelling comes back, and nothing else changes. */
static void test_ioc_refang(void **state)
{
    char out[64];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(refang_cases); i++) {
        const char *in = refang_cases[i].in;
        int n = iocs_refang(out, sizeof(out), in, strlen(in));

        if (n < 0 || strcmp(out, refang_cases[i].out) != 0)
            fail_msg("%s: got %d \"%s\", want \"%s\"", in, n, n < 0 ? "" : out,
                     refang_cases[i].out);
        assert_int_equal(n, strlen(refang_cases[i].out));
    }
}

/* Output that does not fit gives -E2BIG; an exact fit works. */
static void test_ioc_refang_too_big(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(iocs_refang(out, sizeof(out), "1234567", 7), 7);
    assert_string_equal(out, "1234567");
    assert_int_equal(iocs_refang(out, sizeof(out), "12345678", 8), -E2BIG);
    assert_int_equal(iocs_refang(out, sizeof(out), "a[.]b[.]c[.]d", 13), 7);
    assert_int_equal(iocs_refang(out, sizeof(out), "hxxps://a", 9), -E2BIG);
    assert_int_equal(iocs_refang(out, 0, "", 0), -E2BIG);
}

static const struct {
    const char *v;
    enum iocs_type type;
} detect_cases[] = {
    {"10.0.0.0/8", IOCS_CIDR4},
    {"10.1.2.3/24", IOCS_CIDR4},
    {"1.2.3.4/33", IOCS_CIDR4}, /* normalise says why it is bad */
    {"2604:a880:400:d1::/64", IOCS_CIDR6},
    {"192.81.209.168", IOCS_IPV4},
    {"0.0.0.0", IOCS_IPV4},
    {"2604:a880:400:d1::7716:1", IOCS_IPV6},
    {"::1", IOCS_IPV6},
    {"::ffff:1.2.3.4", IOCS_IPV6},
    {"http://evil.example/x.php", IOCS_URL},
    {"HTTPS://Evil.Example", IOCS_URL},
    {"ftp://1.2.3.4/a.exe", IOCS_URL},
    {"a@evil.example", IOCS_EMAIL},
    {"first.last+tag@mail.evil.example", IOCS_EMAIL},
    {"d41d8cd98f00b204e9800998ecf8427e", IOCS_MD5},
    {"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", IOCS_SHA1},
    {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     IOCS_SHA256},
    {"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13"
     "c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
     IOCS_SHA512},
    {"mimikatz.exe", IOCS_FILENAME},
    {"Invoke-Thing.PS1", IOCS_FILENAME},
    {"C:\\Windows\\Temp\\x", IOCS_FILENAME},
    {"/var/tmp/x", IOCS_FILENAME},
    {"payload.7z", IOCS_FILENAME},
    {"thin-scc-wrapper.sh", IOCS_FILENAME},
    {"evil.example", IOCS_DOMAIN},
    {"EVIL.Example", IOCS_DOMAIN},
    {"a-b_c.evil.example.", IOCS_DOMAIN},
    {"suroot.com", IOCS_DOMAIN}, /* "com" is not a file extension here */
    {"xn--80ak6aa92e.com", IOCS_DOMAIN},
    /* Tricky negatives. */
    {"1.2.3.04", IOCS_STRING},
    {"999.1.1.1", IOCS_STRING},
    {"1.2.3", IOCS_STRING},
    {"a.b", IOCS_STRING},
    {"evil.example.123", IOCS_STRING},
    {"evil..example", IOCS_STRING},
    {".evil.example", IOCS_STRING},
    {"evil.e", IOCS_STRING},
    {"localhost", IOCS_STRING},
    {"d41d8cd98f00b204e9800998ecf8427", IOCS_STRING},
    {"d41d8cd98f00b204e9800998ecf8427g", IOCS_STRING},
    {"@evil.example", IOCS_STRING},
    {"a@b", IOCS_STRING},
    {"://evil.example", IOCS_STRING},
    {"http://", IOCS_STRING},
    {"1.2.3.4/x", IOCS_URL},     /* host/path with no scheme */
    {"report.dat", IOCS_STRING}, /* "dat" is no top-level domain */
    {"ingredi support desk customer thin", IOCS_STRING},
    {"1:2:3", IOCS_STRING},
    {"", IOCS_STRING},
};

/* The first rule that fits decides, in DESIGN.md's order. */
static void test_ioc_type_detect(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(detect_cases); i++) {
        const char *v = detect_cases[i].v;
        enum iocs_type t = iocs_type_detect(v, strlen(v));

        if (t != detect_cases[i].type)
            fail_msg("%s: got %s, want %s", v, iocs_type_name(t),
                     iocs_type_name(detect_cases[i].type));
    }
}

static const struct {
    enum iocs_type type;
    const char *in;
    enum iocs_type want_type;
    const char *out; /* NULL: rejected with why */
    const char *why;
} norm_cases[] = {
    {IOCS_IPV4, "192.81.209.168", IOCS_IPV4, "192.81.209.168", NULL},
    {IOCS_IPV4, "1.2.3.04", IOCS_IPV4, NULL, "octet with a leading zero"},
    {IOCS_IPV4, "999.1.1.1", IOCS_IPV4, NULL, "octet over 255"},
    {IOCS_IPV4, "1.2.3", IOCS_IPV4, NULL, "not four octets"},
    {IOCS_IPV4, "evil.example", IOCS_IPV4, NULL, "not a dotted quad"},
    /* RFC 5952 forms. */
    {IOCS_IPV6, "2001:db8:0:0:1:0:0:1", IOCS_IPV6, "2001:db8::1:0:0:1", NULL},
    {IOCS_IPV6, "2001:0db8::0001", IOCS_IPV6, "2001:db8::1", NULL},
    {IOCS_IPV6, "2001:DB8::AAAA:0:0:1", IOCS_IPV6, "2001:db8::aaaa:0:0:1",
     NULL},
    {IOCS_IPV6, "2001:db8:0:1:1:1:1:1", IOCS_IPV6, "2001:db8:0:1:1:1:1:1",
     NULL},
    {IOCS_IPV6, "0:0:0:0:0:ffff:c000:201", IOCS_IPV6, "::ffff:192.0.2.1", NULL},
    {IOCS_IPV6, "2604:a880:0400:00d1:0000:0000:7716:0001", IOCS_IPV6,
     "2604:a880:400:d1::7716:1", NULL},
    {IOCS_IPV6, "2604:A880:400:D1:0:0:7DF0:7001", IOCS_IPV6,
     "2604:a880:400:d1::7df0:7001", NULL},
    {IOCS_IPV6, "2604:a880:400:d1:0::72ad:3001", IOCS_IPV6,
     "2604:a880:400:d1::72ad:3001", NULL},
    {IOCS_IPV6, "2604::a880::1", IOCS_IPV6, NULL, "not an IPv6 address"},
    /* CIDRs: host bits cleared, family from the value. */
    {IOCS_CIDR4, "10.1.2.3/8", IOCS_CIDR4, "10.0.0.0/8", NULL},
    {IOCS_CIDR4, "2604:a880:400:d1:0:0:7716:1/64", IOCS_CIDR6,
     "2604:a880:400:d1::/64", NULL},
    {IOCS_CIDR6, "192.168.1.1/16", IOCS_CIDR4, "192.168.0.0/16", NULL},
    {IOCS_CIDR4, "1.2.3.4", IOCS_CIDR4, "1.2.3.4/32", NULL},
    {IOCS_CIDR4, "::/0", IOCS_CIDR6, "::/0", NULL},
    {IOCS_CIDR4, "1.2.3.4/33", IOCS_CIDR4, NULL, "prefix length over 32"},
    {IOCS_CIDR6, "::/129", IOCS_CIDR6, NULL, "prefix length over 128"},
    {IOCS_CIDR4, "1.2.3.4/", IOCS_CIDR4, NULL, "bad prefix length"},
    {IOCS_CIDR4, "1.2.3.4/08", IOCS_CIDR4, NULL, "bad prefix length"},
    {IOCS_CIDR4, "300.2.3.4/8", IOCS_CIDR4, NULL, "octet over 255"},
    {IOCS_CIDR4, "evil/8", IOCS_CIDR4, NULL, "not an IP address"},
    /* Folded types. */
    {IOCS_DOMAIN, "EVIL.Example.", IOCS_DOMAIN, "evil.example", NULL},
    {IOCS_DOMAIN, "evil..example", IOCS_DOMAIN, NULL,
     "empty label in a domain name"},
    {IOCS_DOMAIN, "evil.example/x", IOCS_DOMAIN, NULL, "not a domain name"},
    {IOCS_EMAIL, "A.B@Evil.Example", IOCS_EMAIL, "a.b@evil.example", NULL},
    {IOCS_EMAIL, "nobody", IOCS_EMAIL, NULL, "not an email address"},
    {IOCS_MD5, "D41D8CD98F00B204E9800998ECF8427E", IOCS_MD5,
     "d41d8cd98f00b204e9800998ecf8427e", NULL},
    {IOCS_MD5, "d41d8cd98f00b204", IOCS_MD5, NULL, "md5 is not 32 hex digits"},
    {IOCS_SHA1, "d41d8cd98f00b204e9800998ecf8427e", IOCS_SHA1, NULL,
     "sha1 is not 40 hex digits"},
    /* URL: scheme and host folded, port kept, the rest byte-exact. */
    {IOCS_URL, "HTTP://Evil.Example:8080/A/B.php?Q=X#F", IOCS_URL,
     "http://evil.example:8080/A/B.php?Q=X#F", NULL},
    {IOCS_URL, "hTTps://EVIL.example?Q", IOCS_URL, "https://evil.example?Q",
     NULL},
    {IOCS_URL, "https://User:Pw@EVIL.example/P", IOCS_URL,
     "https://User:Pw@evil.example/P", NULL},
    {IOCS_URL, "Evil.Example/Path", IOCS_URL, "evil.example/Path", NULL},
    {IOCS_URL, "http:///x", IOCS_URL, NULL, "URL without a host"},
    /* Unchanged types. */
    {IOCS_FILENAME, "C:\\Windows\\Temp\\X.dll", IOCS_FILENAME,
     "C:\\Windows\\Temp\\X.dll", NULL},
    {IOCS_STRING, "Sec-WebSocket-Protocol: ingredi", IOCS_STRING,
     "Sec-WebSocket-Protocol: ingredi", NULL},
    {IOCS_STRING, "a\tb c", IOCS_STRING, "a\tb c", NULL},
    {IOCS_STRING, "abcd", IOCS_STRING, "abcd", NULL},
    {IOCS_STRING, "abc", IOCS_STRING, NULL, "shorter than 4 bytes"},
    {IOCS_STRING, "ab\x01x", IOCS_STRING, NULL, "contains a control character"},
    {IOCS_STRING, "ab\x7fx", IOCS_STRING, NULL, "contains a control character"},
    {IOCS_DOMAIN, "evil\t.example", IOCS_DOMAIN, NULL,
     "contains a control character"},
    {IOCS_REGEX, "\\xC0';(if|select)", IOCS_REGEX, "\\xC0';(if|select)", NULL},
    {IOCS_STRING, "", IOCS_STRING, NULL, "empty value"},
};

/* Each type's canonical form, and a precise reason for what is refused. */
static void test_ioc_normalise(void **state)
{
    char out[IOCS_IOC_MAX + 64];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(norm_cases); i++) {
        enum iocs_type t = norm_cases[i].type;
        const char *in = norm_cases[i].in, *why = NULL;
        size_t len = 0;
        int err = iocs_ioc_normalise(&t, in, strlen(in), out, sizeof(out), &len,
                                     &why);

        if (!norm_cases[i].out) {
            if (err != -EINVAL || !why || strcmp(why, norm_cases[i].why) != 0)
                fail_msg("%s: got %d (%s), want -EINVAL (%s)", in, err,
                         why ? why : "-", norm_cases[i].why);
            continue;
        }
        if (err)
            fail_msg("%s: got %d (%s), want 0", in, err, why ? why : "-");
        if (strcmp(out, norm_cases[i].out) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", in, out, norm_cases[i].out);
        assert_int_equal(len, strlen(norm_cases[i].out));
        assert_int_equal(t, norm_cases[i].want_type);
    }
}

/* Values over IOCS_IOC_MAX are refused; a small out gives -E2BIG. */
static void test_ioc_normalise_limits(void **state)
{
    char *big = malloc(IOCS_IOC_MAX + 2);
    char out[IOCS_IOC_MAX + 2];
    enum iocs_type t = IOCS_STRING;
    const char *why = NULL;
    size_t len;

    (void)state;
    assert_non_null(big);
    memset(big, 'a', IOCS_IOC_MAX + 1);
    assert_int_equal(
        iocs_ioc_normalise(&t, big, IOCS_IOC_MAX, out, sizeof(out), &len, &why),
        0);
    assert_int_equal(len, IOCS_IOC_MAX);
    assert_int_equal(iocs_ioc_normalise(&t, big, IOCS_IOC_MAX + 1, out,
                                        sizeof(out), &len, &why),
                     -EINVAL);
    assert_string_equal(why, "longer than 2048 bytes");
    assert_int_equal(iocs_ioc_normalise(&t, big, 8, out, 8, &len, &why),
                     -E2BIG);
    t = IOCS_IPV6;
    assert_int_equal(
        iocs_ioc_normalise(&t, "0:0:0:0:0:0:0:1", 15, out, 3, &len, &why),
        -E2BIG);
    /* In place: out may be in. */
    t = IOCS_IPV6;
    strcpy(out, "2604:A880:0400:00D1:0:0:7716:0001");
    assert_int_equal(
        iocs_ioc_normalise(&t, out, strlen(out), out, sizeof(out), &len, &why),
        0);
    assert_string_equal(out, "2604:a880:400:d1::7716:1");
    t = IOCS_URL;
    strcpy(out, "HTTP://EVIL.example/A");
    assert_int_equal(
        iocs_ioc_normalise(&t, out, strlen(out), out, sizeof(out), &len, &why),
        0);
    assert_string_equal(out, "http://evil.example/A");
    free(big);
}

static int setup(void **state)
{
    struct iocs_iocset *s;

    if (iocs_iocset_new(&s) < 0)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    iocs_iocset_free(*state);
    return 0;
}

static int add(struct iocs_iocset *s, enum iocs_type t, const char *v,
               bool *dup)
{
    struct iocs_ioc ioc = {
        .type = t, .value = v, .len = strlen(v), .feed = "test"};

    return iocs_iocset_add(s, &ioc, dup);
}

/* Same type and value is one IOC; the first one's strings are kept. */
static void test_ioc_set_dedupe(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_ioc ioc = {.type = IOCS_DOMAIN,
                           .severity = 3,
                           .value = "evil.example",
                           .len = 12,
                           .feed = "first",
                           .provider = "Talos",
                           .description = "C2",
                           .reference = "first:1"};
    char value[] = "evil.example";
    const struct iocs_ioc *got;
    bool dup = true;

    ioc.value = value;
    assert_int_equal(iocs_iocset_add(s, &ioc, &dup), 0);
    assert_false(dup);
    value[0] = 'X'; /* The set holds its own copy. */
    ioc.value = "evil.example";
    ioc.feed = "second";
    assert_int_equal(iocs_iocset_add(s, &ioc, &dup), 0);
    assert_true(dup);
    assert_int_equal(add(s, IOCS_STRING, "evil.example", &dup), 0);
    assert_false(dup);
    assert_int_equal(add(s, IOCS_DOMAIN, "evil.example2", NULL), 0);
    assert_int_equal(add(s, IOCS_DOMAIN, "evil.example", NULL), 0);
    assert_int_equal(iocs_iocset_count(s), 3);

    got = iocs_iocset_get(s, 0);
    assert_non_null(got);
    assert_int_equal(got->type, IOCS_DOMAIN);
    assert_string_equal(got->value, "evil.example");
    assert_int_equal(got->len, 12);
    assert_int_equal(got->severity, 3);
    assert_string_equal(got->feed, "first");
    assert_string_equal(got->provider, "Talos");
    assert_string_equal(got->description, "C2");
    assert_string_equal(got->reference, "first:1");
    assert_int_equal(iocs_iocset_get(s, 1)->type, IOCS_STRING);
    assert_null(iocs_iocset_get(s, 1)->provider);
    assert_string_equal(iocs_iocset_get(s, 2)->value, "evil.example2");
    assert_null(iocs_iocset_get(s, 3));
}

/* An empty value is refused. */
static void test_ioc_set_rejects_empty(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_ioc ioc = {.type = IOCS_STRING, .value = "", .len = 0};

    assert_int_equal(iocs_iocset_add(s, &ioc, NULL), -EINVAL);
    ioc.value = NULL;
    assert_int_equal(iocs_iocset_add(s, &ioc, NULL), -EINVAL);
    assert_int_equal(iocs_iocset_count(s), 0);
}

/* 200k distinct IOCs grow the table; order, lookups and pointers hold. */
static void test_ioc_set_growth(void **state)
{
    struct iocs_iocset *s = *state;
    const struct iocs_ioc *first;
    enum { N = 200000 };
    char v[64];
    bool dup;

    assert_int_equal(add(s, IOCS_IPV4, "10.0.0.0", NULL), 0);
    first = iocs_iocset_get(s, 0);
    for (int i = 1; i < N; i++) {
        snprintf(v, sizeof(v), "%d.%d.%d.%d", 10 + i % 3, (i >> 16) & 0xff,
                 (i >> 8) & 0xff, i & 0xff);
        assert_int_equal(add(s, IOCS_IPV4, v, &dup), 0);
        if (dup)
            fail_msg("%s: reported as a duplicate", v);
    }
    assert_int_equal(iocs_iocset_count(s), N);
    for (int i = 0; i < N; i += 7) {
        snprintf(v, sizeof(v), "%d.%d.%d.%d", 10 + i % 3, (i >> 16) & 0xff,
                 (i >> 8) & 0xff, i & 0xff);
        assert_int_equal(add(s, IOCS_IPV4, v, &dup), 0);
        assert_true(dup);
        assert_string_equal(iocs_iocset_get(s, (size_t)i)->value, v);
    }
    assert_int_equal(iocs_iocset_count(s), N);
    assert_ptr_equal(iocs_iocset_get(s, 0), first);
    assert_string_equal(first->value, "10.0.0.0");
}

/* Free accepts NULL. */
static void test_ioc_set_free_null(void **state)
{
    (void)state;
    iocs_iocset_free(NULL);
}

/* Issue 9, the values real feeds write: typed by what they are. */
static const struct {
    const char *v;
    enum iocs_type type;
} realfeed_cases[] = {
    /* host/path with no scheme is a URL (Maltrail trails). */
    {"unwomen.org/jquery-3.3.1.min.js", IOCS_URL},
    {"ando.co.kr/service/s_top.asp", IOCS_URL},
    {"1.2.3.4:8080/gate.php", IOCS_URL},
    {"evil.example:8443/x", IOCS_URL},
    {"C:\\x/y.exe", IOCS_FILENAME}, /* a backslash: a path, not a URL */
    {"/gate.php", IOCS_FILENAME},
    /* The last label must be a top-level domain of the public suffix list,
     * or one of the special-use names example, test, invalid, localhost. */
    {"test.user", IOCS_STRING},
    {"cking", IOCS_STRING},
    {"epic.pwnage.loc", IOCS_STRING},
    {"evil.co.kr", IOCS_DOMAIN},
    {"Evil.COM", IOCS_DOMAIN},
    {"evil.example", IOCS_DOMAIN},
    {"c2.test", IOCS_DOMAIN},
    {"x.invalid", IOCS_DOMAIN},
    {"db.localhost", IOCS_DOMAIN},
    /* Words, numbers and section headers are no indicator type. */
    {"usernames:", IOCS_STRING},
    {"ip addresses:", IOCS_STRING},
    {"admin", IOCS_STRING},
    {"12345", IOCS_STRING},
    /* An address with a port is split by iocs_addr_port() first. */
    {"144.34.218.157:23333", IOCS_STRING},
};

static void test_ioc_type_detect_realfeeds(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(realfeed_cases); i++) {
        const char *v = realfeed_cases[i].v;
        enum iocs_type t = iocs_type_detect(v, strlen(v));

        if (t != realfeed_cases[i].type)
            fail_msg("%s: got %s, want %s", v, iocs_type_name(t),
                     iocs_type_name(realfeed_cases[i].type));
    }
}

/* "a.b.c.d:port" and "[v6]:port": the address inside, and the port. */
static void test_ioc_addr_port(void **state)
{
    static const struct {
        const char *v;
        const char *addr; /* NULL: not an address with a port */
        unsigned port;
    } t[] = {
        {"144.34.218.157:23333", "144.34.218.157", 23333},
        {"[2604:a880:400:d1::7716:1]:443", "2604:a880:400:d1::7716:1", 443},
        {"1.2.3.4:65535", "1.2.3.4", 65535},
        {"1.2.3.4:65536", NULL, 0},
        {"1.2.3.4:0", NULL, 0},
        {"1.2.3.4:", NULL, 0},
        {"1.2.3.4:+80", NULL, 0},
        {"31.76.252.47:443:443", NULL, 0},
        {"182.86.133:8880", NULL, 0},
        {"1.2.3.04:80", NULL, 0},
        {"[2604::1]", NULL, 0},
        {"[2604::1]:", NULL, 0},
        {"2604::1:80", NULL, 0}, /* no brackets: an IPv6 address, no port */
        {"evil.example:80", NULL, 0},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(t); i++) {
        size_t off = 99, len = 99;
        unsigned port = 99;
        int err = iocs_addr_port(t[i].v, strlen(t[i].v), &off, &len, &port);

        if (!t[i].addr) {
            if (err != -EINVAL)
                fail_msg("%s: taken as an address with a port", t[i].v);
            continue;
        }
        if (err)
            fail_msg("%s: %d", t[i].v, err);
        assert_int_equal(len, strlen(t[i].addr));
        assert_memory_equal(t[i].v + off, t[i].addr, len);
        assert_int_equal(port, t[i].port);
    }
}

/* One severity scale, 0-100: low 25, medium 50, high 75, critical 100. */
static void test_ioc_severity_scale(void **state)
{
    static const struct {
        const char *s;
        int want; /* -1: not a severity */
    } t[] = {
        {"low", 25},       {"Medium", 50}, {"moderate", 50}, {"HIGH", 75},
        {"critical", 100}, {" high ", 75}, {"none", 0},      {"0", 0},
        {"42", 42},        {"100", 100},   {"101", -1},      {"-1", -1},
        {"1000", -1},      {"severe", -1}, {"", -1},
    };

    (void)state;
    assert_int_equal(IOCS_SEV_LOW, 25);
    assert_int_equal(IOCS_SEV_MEDIUM, 50);
    assert_int_equal(IOCS_SEV_HIGH, 75);
    assert_int_equal(IOCS_SEV_CRITICAL, 100);
    for (size_t i = 0; i < ARRAY_LEN(t); i++) {
        int v = -7, err = iocs_severity_parse(t[i].s, strlen(t[i].s), &v);

        if (t[i].want < 0) {
            assert_int_equal(err, -EINVAL);
            assert_int_equal(v, -7); /* untouched */
        } else {
            assert_int_equal(err, 0);
            assert_int_equal(v, t[i].want);
        }
    }
}

static void count_release(void *ctx)
{
    (*(int *)ctx)++;
}

/* A borrowed set (a database file loaded in place): one record array the
 * loader fills, IOCs by index as in any set, `also` records after them;
 * read-only; what it borrows from is released once, when it is freed. */
static void test_ioc_set_borrowed(void **state)
{
    static const char values[] = "192.0.2.1\0evil.example\0";
    struct iocs_iocset *s;
    struct iocs_ioc *r,
        x = {.type = IOCS_DOMAIN, .value = "x.example", .len = 9};
    int released = 0;
    bool dup;

    (void)state;
    assert_int_equal(iocs__iocset_new_borrowed(&s, 5000, 5001), 0);
    r = iocs__iocset_records(s);
    assert_non_null(r);
    for (size_t i = 0; i < 5001; i++)
        r[i] = (struct iocs_ioc){.type = i % 2 ? IOCS_DOMAIN : IOCS_IPV4,
                                 .value = i % 2 ? values + 10 : values,
                                 .len = i % 2 ? 12 : 9,
                                 .severity = (int)i};
    r[4999].also = &r[5000]; /* past the first page of IOCs */
    iocs__iocset_borrow(s, count_release, &released);
    assert_int_equal(iocs_iocset_count(s), 5000);
    assert_int_equal(iocs_iocset_get(s, 4097)->severity, 4097);
    assert_string_equal(iocs_iocset_get(s, 4097)->value, "evil.example");
    assert_ptr_equal(iocs_iocset_get(s, 4999)->also, &r[5000]);
    assert_null(iocs_iocset_get(s, 5000));
    assert_int_equal(iocs_iocset_add(s, &x, &dup), -EPERM);
    assert_int_equal(iocs_iocset_count(s), 5000);
    assert_int_equal(released, 0);
    iocs_iocset_free(s);
    assert_int_equal(released, 1);

    /* A set of feeds has no record array. */
    assert_int_equal(iocs_iocset_new(&s), 0);
    assert_null(iocs__iocset_records(s));
    iocs_iocset_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ioc_refang),
        cmocka_unit_test(test_ioc_refang_too_big),
        cmocka_unit_test(test_ioc_type_detect),
        cmocka_unit_test(test_ioc_type_detect_realfeeds),
        cmocka_unit_test(test_ioc_addr_port),
        cmocka_unit_test(test_ioc_severity_scale),
        cmocka_unit_test(test_ioc_normalise),
        cmocka_unit_test(test_ioc_normalise_limits),
        cmocka_unit_test_setup_teardown(test_ioc_set_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ioc_set_rejects_empty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ioc_set_growth, setup, teardown),
        cmocka_unit_test(test_ioc_set_free_null),
        cmocka_unit_test(test_ioc_set_borrowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
