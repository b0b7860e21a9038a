/*
 * test_verify.c - the boundary rule of every IOC type, one table per type,
 * and IP token extraction for CIDR lookups.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <strings.h>

#include "matchers/verify.h"

struct edge_case {
    const char *line;
    const char *ioc; /* checked at its first occurrence, case-insensitive */
    bool want;
};

/* Find ioc in line ignoring ASCII case; the scanner gets positions from
 * Hyperscan, here we take the first occurrence. */
static size_t find(const char *line, const char *ioc)
{
    size_t n = strlen(line), k = strlen(ioc);

    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(line + i, ioc, k) == 0)
            return i;
    fail_msg("'%s' not in '%s'", ioc, line);
    return 0;
}

static void run_table(const struct edge_case *t, size_t n, enum iocs_edge l,
                      enum iocs_edge r)
{
    for (size_t i = 0; i < n; i++) {
        size_t s = find(t[i].line, t[i].ioc);
        bool got =
            iocs_verify_edges((const unsigned char *)t[i].line, 0,
                              strlen(t[i].line), s, s + strlen(t[i].ioc), l, r);

        if (got != t[i].want)
            fail_msg("case %zu: '%s' in '%s': got %d want %d", i, t[i].ioc,
                     t[i].line, got, t[i].want);
    }
}

#define RUN(t, l, r) run_table(t, sizeof(t) / sizeof(t[0]), l, r)

static void test_verify_ipv4(void **state)
{
    static const struct edge_case t[] = {
        {"src=192.81.209.168 dst", "192.81.209.168", true},
        {"192.81.209.168", "192.81.209.168", true},
        {"[192.81.209.168]:443", "192.81.209.168", true},
        {"from 192.81.209.168.", "192.81.209.168", true},
        {"::ffff:192.81.209.168", "192.81.209.168", true},
        {"ip=192.81.209.1689", "192.81.209.168", false},
        {"ip=1192.81.209.168", "192.81.209.168", false},
        {"ip=5.192.81.209.168", "192.81.209.168", false},
        {"ip=192.81.209.168.5", "192.81.209.168", false},
        {"ip=192.81.209.168.x", "192.81.209.168", true},
        {"v192.81.209.168x", "192.81.209.168", true},
    };
    (void)state;
    RUN(t, IOCS_EDGE_IPV4, IOCS_EDGE_IPV4);
}

static void test_verify_ipv6(void **state)
{
    static const struct edge_case t[] = {
        {"src=2604:a880:400:d1::7716:1 x", "2604:a880:400:d1::7716:1", true},
        {"[2604:a880:400:d1::7716:1]:443", "2604:a880:400:d1::7716:1", true},
        {"2604:A880:400:D1::7716:1", "2604:a880:400:d1::7716:1", true},
        {"2604:a880:400:d1::7716:12", "2604:a880:400:d1::7716:1", false},
        {"2604:a880:400:d1::7716:1:5", "2604:a880:400:d1::7716:1", false},
        {"f2604:a880:400:d1::7716:1", "2604:a880:400:d1::7716:1", false},
        {":2604:a880:400:d1::7716:1", "2604:a880:400:d1::7716:1", false},
        {"x2604:a880:400:d1::7716:1g", "2604:a880:400:d1::7716:1", true},
    };
    (void)state;
    RUN(t, IOCS_EDGE_IPV6, IOCS_EDGE_IPV6);
}

static void test_verify_domain(void **state)
{
    static const struct edge_case t[] = {
        {"query evil.example A", "evil.example", true},
        {"query a.evil.example A", "evil.example", true},
        {"https://EVIL.example/x", "evil.example", true},
        {"evil.example.", "evil.example", true},
        {"evil.example.au", "evil.example", false},
        {"xevil.example", "evil.example", false},
        {"my-evil.example", "evil.example", false},
        {"_evil.example", "evil.example", false},
        {"evil.example-cdn.com", "evil.example", false},
        {"evil.example_x", "evil.example", false},
        {"evil.example:443", "evil.example", true},
        {"\"evil.example\"", "evil.example", true},
        {"\xc3\xa9"
         "evil.example",
         "evil.example", true},
    };
    (void)state;
    RUN(t, IOCS_EDGE_DOMAIN, IOCS_EDGE_DOMAIN);
}

static void test_verify_url(void **state)
{
    static const struct edge_case t[] = {
        {"GET http://evil.example/x.php?a=1", "evil.example/x.php", true},
        {"evil.example/x.php2", "evil.example/x.php", true},
        {"notevil.example/x.php", "evil.example/x.php", false},
        {"a.evil.example/x.php", "evil.example/x.php", true},
    };
    (void)state;
    RUN(t, IOCS_EDGE_DOMAIN, IOCS_EDGE_NONE);
}

static void test_verify_email(void **state)
{
    static const struct edge_case t[] = {
        {"from=a@evil.example to", "a@evil.example", true},
        {"<A@Evil.Example>", "a@evil.example", true},
        {"ba@evil.example", "a@evil.example", false},
        {"x.a@evil.example", "a@evil.example", false},
        {"x+a@evil.example", "a@evil.example", false},
        {"a@evil.example.au", "a@evil.example", false},
        {"a@evil.example.", "a@evil.example", true},
    };
    (void)state;
    RUN(t, IOCS_EDGE_EMAIL, IOCS_EDGE_DOMAIN);
}

static void test_verify_hash(void **state)
{
    static const struct edge_case t[] = {
        {"md5=d41d8cd98f00b204e9800998ecf8427e,",
         "d41d8cd98f00b204e9800998ecf8427e", true},
        {"MD5:D41D8CD98F00B204E9800998ECF8427E",
         "d41d8cd98f00b204e9800998ecf8427e", true},
        {"ad41d8cd98f00b204e9800998ecf8427e",
         "d41d8cd98f00b204e9800998ecf8427e", false},
        {"d41d8cd98f00b204e9800998ecf8427e0",
         "d41d8cd98f00b204e9800998ecf8427e", false},
        {"gd41d8cd98f00b204e9800998ecf8427eg",
         "d41d8cd98f00b204e9800998ecf8427e", true},
    };
    (void)state;
    RUN(t, IOCS_EDGE_HEX, IOCS_EDGE_HEX);
}

static void test_verify_filename(void **state)
{
    static const struct edge_case t[] = {
        {"Image: C:\\Temp\\mimikatz.exe ran", "mimikatz.exe", true},
        {"\"Image\":\"C:\\\\Temp\\\\MIMIKATZ.EXE\"", "mimikatz.exe", true},
        {"/tmp/mimikatz.exe", "mimikatz.exe", true},
        {"xmimikatz.exe", "mimikatz.exe", false},
        {"x.mimikatz.exe", "mimikatz.exe", false},
        {"x-mimikatz.exe", "mimikatz.exe", false},
        {"mimikatz.exe.bak", "mimikatz.exe", false},
        {"mimikatz.exe.", "mimikatz.exe", true},
        {"mimikatz.exe2", "mimikatz.exe", false},
        {"/var/tmp/x.sh", "/tmp/x.sh", false},
        {"run /tmp/x.sh now", "/tmp/x.sh", true},
    };
    (void)state;
    RUN(t, IOCS_EDGE_FILE, IOCS_EDGE_DOMAIN);
}

static void test_verify_string(void **state)
{
    static const struct edge_case t[] = {
        {"xingredi support desk customer thinx",
         "ingredi support desk customer thin", true},
    };
    (void)state;
    RUN(t, IOCS_EDGE_NONE, IOCS_EDGE_NONE);
}

/* Line bounds are edges: a neighbour outside [lb, hb) is never checked. */
static void test_verify_line_bounds(void **state)
{
    const unsigned char *p = (const unsigned char *)"91.2.3.45";

    (void)state;
    /* As one line, the '9' before and the '5' after make it no hit. */
    assert_false(
        iocs_verify_edges(p, 0, 9, 1, 8, IOCS_EDGE_IPV4, IOCS_EDGE_IPV4));
    /* With the line cut to [1, 8) both neighbours are edges. */
    assert_true(
        iocs_verify_edges(p, 1, 8, 1, 8, IOCS_EDGE_IPV4, IOCS_EDGE_IPV4));
}

struct tok_case {
    const char *line;
    size_t trigger_end; /* v4: the token's start; v6: a trigger's end */
    const char *want;   /* NULL: no token */
};

static void test_verify_token4(void **state)
{
    static const struct tok_case t[] = {
        {"src=10.1.2.3 x", 4, "10.1.2.3"}, {"src=10.1.2.245,", 4, "10.1.2.245"},
        {"at 10.1.2.3.", 3, "10.1.2.3"},   {"v 1.2.3.4.5", 2, NULL},
        {"v 1.2.3.256", 2, NULL},          {"v 01.2.3.4", 2, NULL},
        {"v 11.2.3.4", 3, NULL}, /* a digit on the left */
        {"v .1.2.3.4", 3, NULL}, /* a '.' on the left */
        {"x10.1.2.3y", 1, "10.1.2.3"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const unsigned char *p = (const unsigned char *)t[i].line;
        size_t s = t[i].trigger_end, te;
        uint8_t a[4];
        int rc = iocs_token4_at(p, 0, strlen(t[i].line), s, &te, a);

        if (!t[i].want) {
            assert_int_equal(rc, -EINVAL);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(te - s, strlen(t[i].want));
        assert_memory_equal(p + s, t[i].want, te - s);
    }
}

static void test_verify_token6(void **state)
{
    static const struct tok_case t[] = {
        {"src=2604:a880:400:d1::7716:1 x", 15, "2604:a880:400:d1::7716:1"},
        {"[2604:A880:0400:00D1:0:0:7716:1]:443", 12,
         "2604:A880:0400:00D1:0:0:7716:1"},
        {"at 12:34:56 up", 9, NULL},
        {"mac aa:bb:cc:dd:ee:ff", 10, NULL},
        {"x ::1 y", 4, "::1"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const unsigned char *p = (const unsigned char *)t[i].line;
        uint8_t a[16];
        size_t ts, te;
        int rc =
            iocs_token6(p, 0, strlen(t[i].line), t[i].trigger_end, &ts, &te, a);

        if (!t[i].want) {
            assert_int_equal(rc, -EINVAL);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(te - ts, strlen(t[i].want));
        assert_memory_equal(p + ts, t[i].want, te - ts);
    }
}

/* A run of token characters longer than IOCS_TOKEN_MAX is no token. */
static void test_verify_token_too_long(void **state)
{
    char line[200];
    uint8_t a[4];
    size_t te;

    (void)state;
    memset(line, '1', sizeof(line));
    memcpy(line, "1.2.3.4", 7);
    line[7] = '.';
    assert_int_equal(
        iocs_token4_at((const unsigned char *)line, 0, 200, 0, &te, a),
        -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_ipv4),
        cmocka_unit_test(test_verify_ipv6),
        cmocka_unit_test(test_verify_domain),
        cmocka_unit_test(test_verify_url),
        cmocka_unit_test(test_verify_email),
        cmocka_unit_test(test_verify_hash),
        cmocka_unit_test(test_verify_filename),
        cmocka_unit_test(test_verify_string),
        cmocka_unit_test(test_verify_line_bounds),
        cmocka_unit_test(test_verify_token4),
        cmocka_unit_test(test_verify_token6),
        cmocka_unit_test(test_verify_token_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
