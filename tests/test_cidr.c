/*
 * test_cidr.c - strict IP parsing, RFC 5952 formatting, CIDR parsing and
 * the prefix set.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <string.h>

#include "matchers/cidr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *text;
    int ok;
    uint8_t a[4];
} ip4_cases[] = {
    {"0.0.0.0", 1, {0, 0, 0, 0}},
    {"192.81.209.168", 1, {192, 81, 209, 168}},
    {"255.255.255.255", 1, {255, 255, 255, 255}},
    {"10.0.0.1", 1, {10, 0, 0, 1}},
    {"1.2.3.04", 0, {0}},
    {"01.2.3.4", 0, {0}},
    {"1.2.3.00", 0, {0}},
    {"999.1.1.1", 0, {0}},
    {"256.1.1.1", 0, {0}},
    {"1.2.3", 0, {0}},
    {"1.2.3.4.5", 0, {0}},
    {"1.2.3.", 0, {0}},
    {".1.2.3", 0, {0}},
    {"1..2.3", 0, {0}},
    {"1.2.3.4 ", 0, {0}},
    {" 1.2.3.4", 0, {0}},
    {"1.2.3.1234", 0, {0}},
    {"0x1.2.3.4", 0, {0}},
    {"1.2.3.-4", 0, {0}},
    {"", 0, {0}},
    {"16843009", 0, {0}},
};

/* Dotted quads: the accepted spellings and the inet_aton quirks refused. */
static void test_cidr_ip4_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(ip4_cases); i++) {
        uint8_t a[4] = {0};
        int err =
            iocs_ip4_parse(ip4_cases[i].text, strlen(ip4_cases[i].text), a);

        if (ip4_cases[i].ok) {
            assert_int_equal(err, 0);
            assert_memory_equal(a, ip4_cases[i].a, 4);
        } else if (err != -EINVAL) {
            fail_msg("%s: got %d, want -EINVAL", ip4_cases[i].text, err);
        }
    }
}

/* Parsing stops at n, not at a NUL: a token cut from a longer line. */
static void test_cidr_ip4_parse_respects_length(void **state)
{
    uint8_t a[4];

    (void)state;
    assert_int_equal(iocs_ip4_parse("1.2.3.4x", 7, a), 0);
    assert_int_equal(iocs_ip4_parse("1.2.3.45", 7, a), 0);
    assert_int_equal(a[3], 4);
}

static const struct {
    const char *text;
    const char *canon; /* NULL: must be rejected */
} ip6_cases[] = {
    /* RFC 5952 section 4 examples. */
    {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
    {"2001:0db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
    {"2001:db8::1:0:0:1", "2001:db8::1:0:0:1"},
    {"2001:db8::0:1:0:0:1", "2001:db8::1:0:0:1"},
    {"2001:0db8::1:0:0:1", "2001:db8::1:0:0:1"},
    {"2001:db8:0:0:1::1", "2001:db8::1:0:0:1"},
    {"2001:DB8:0:0:1::1", "2001:db8::1:0:0:1"},
    {"2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001",
     "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"},
    {"2001:db8::0:1", "2001:db8::1"},
    {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
    {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
    {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
    {"2001:db8::aaaa:0:0:1", "2001:db8::aaaa:0:0:1"},
    {"0:0:0:0:0:0:0:0", "::"},
    {"::", "::"},
    {"::1", "::1"},
    {"1::", "1::"},
    {"1:0:0:0:0:0:0:0", "1::"},
    {"0:0:0:0:0:0:0:1", "::1"},
    {"1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"},
    {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
    {"0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1"},
    {"::192.0.2.1", "::c000:201"},
    {"64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
    {"fe80::1:2:3:4:5:6", "fe80:0:1:2:3:4:5:6"},
    /* The BeyondTrust addresses, expanded and compressed. */
    {"2604:a880:0400:00d1:0000:0000:7716:0001", "2604:a880:400:d1::7716:1"},
    {"2604:A880:400:D1:0:0:7716:1", "2604:a880:400:d1::7716:1"},
    {"2604:a880:400:d1::7716:1", "2604:a880:400:d1::7716:1"},
    {"2604:a880:0400:00d1:0:0:7293:c001", "2604:a880:400:d1::7293:c001"},
    {"2604:a880:400:d1:0000:0000:8622:F001", "2604:a880:400:d1::8622:f001"},
    /* Rejected spellings. */
    {"", NULL},
    {":", NULL},
    {":::", NULL},
    {"1:2:3:4:5:6:7", NULL},
    {"1:2:3:4:5:6:7:8:9", NULL},
    {"1:2:3:4:5:6:7:8::", NULL},
    {"1::2::3", NULL},
    {"12345::", NULL},
    {":1:2:3:4:5:6:7", NULL},
    {"1:2:3:4:5:6:7:", NULL},
    {"fe80::1%eth0", NULL},
    {"[::1]", NULL},
    {"::g", NULL},
    {"1.2.3.4", NULL},
    {"::1.2.3", NULL},
    {"::1.2.3.04", NULL},
    {"1:2:3:4:5:6:7:1.2.3.4", NULL},
    {"::1.2.3.4:1", NULL},
};

/* Every RFC 4291 spelling parses; the RFC 5952 form comes out. */
static void test_cidr_ip6_parse_and_format(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(ip6_cases); i++) {
        const char *t = ip6_cases[i].text;
        char out[IOCS_IP6_TEXT_MAX];
        uint8_t a[16];
        int err = iocs_ip6_parse(t, strlen(t), a);

        if (!ip6_cases[i].canon) {
            if (err != -EINVAL)
                fail_msg("%s: got %d, want -EINVAL", t, err);
            continue;
        }
        if (err)
            fail_msg("%s: got %d, want 0", t, err);
        assert_int_equal(iocs_ip6_format(a, out), strlen(ip6_cases[i].canon));
        assert_string_equal(out, ip6_cases[i].canon);
    }
}

/* The longest textual form fits in IOCS_IP6_TEXT_MAX. */
static void test_cidr_ip6_format_longest(void **state)
{
    uint8_t a[16];
    char out[IOCS_IP6_TEXT_MAX];

    (void)state;
    memset(a, 0xff, sizeof(a));
    assert_int_equal(iocs_ip6_format(a, out), 39);
    assert_string_equal(out, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    memset(a, 0, 10);
    assert_int_equal(iocs_ip6_format(a, out), 22);
    assert_string_equal(out, "::ffff:255.255.255.255");
}

static const struct {
    const char *text;
    int family; /* 0: rejected */
    unsigned prefix;
    const char *addr; /* network address, in the family's text */
} cidr_cases[] = {
    {"10.0.0.0/8", 4, 8, "10.0.0.0"},
    {"10.1.2.3/8", 4, 8, "10.0.0.0"},
    {"192.168.1.255/23", 4, 23, "192.168.0.0"},
    {"1.2.3.4/32", 4, 32, "1.2.3.4"},
    {"1.2.3.4/0", 4, 0, "0.0.0.0"},
    {"2604:a880:400:d1::/64", 6, 64, "2604:a880:400:d1::"},
    {"2604:a880:400:d1::7716:1/64", 6, 64, "2604:a880:400:d1::"},
    {"2001:db8::1/128", 6, 128, "2001:db8::1"},
    {"2001:db8:ffff::/33", 6, 33, "2001:db8:8000::"},
    {"::/0", 6, 0, "::"},
    {"1.2.3.4/33", 0, 0, NULL},
    {"::/129", 0, 0, NULL},
    {"1.2.3.4/", 0, 0, NULL},
    {"1.2.3.4/08", 0, 0, NULL},
    {"1.2.3.4/-1", 0, 0, NULL},
    {"1.2.3.4/1000", 0, 0, NULL},
    {"1.2.3.4", 0, 0, NULL},
    {"1.2.3.04/8", 0, 0, NULL},
    {"/8", 0, 0, NULL},
    {"evil.example/8", 0, 0, NULL},
};

/* CIDR ranges parse with their host bits cleared; bad ones are refused. */
static void test_cidr_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cidr_cases); i++) {
        const char *t = cidr_cases[i].text;
        uint8_t a[16], want[16] = {0};
        unsigned prefix = 99;
        int family = 0;
        int err = iocs_cidr_parse(t, strlen(t), &family, a, &prefix);

        if (!cidr_cases[i].family) {
            if (err != -EINVAL)
                fail_msg("%s: got %d, want -EINVAL", t, err);
            continue;
        }
        if (err)
            fail_msg("%s: got %d, want 0", t, err);
        assert_int_equal(family, cidr_cases[i].family);
        assert_int_equal(prefix, cidr_cases[i].prefix);
        if (family == 4)
            assert_int_equal(iocs_ip4_parse(cidr_cases[i].addr,
                                            strlen(cidr_cases[i].addr), want),
                             0);
        else
            assert_int_equal(iocs_ip6_parse(cidr_cases[i].addr,
                                            strlen(cidr_cases[i].addr), want),
                             0);
        assert_memory_equal(a, want, family == 4 ? 4 : 16);
    }
}

static int setup(void **state)
{
    struct iocs_cidrset *s;

    if (iocs_cidrset_new(&s) < 0)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    iocs_cidrset_free(*state);
    return 0;
}

/* Add a range written as text; the id is the caller's. */
static void add(struct iocs_cidrset *s, const char *text, uint32_t id)
{
    uint8_t a[16];
    unsigned prefix;
    int family;

    assert_int_equal(iocs_cidr_parse(text, strlen(text), &family, a, &prefix),
                     0);
    assert_int_equal(iocs_cidrset_add(s, family, a, prefix, id), 0);
}

/* Look an address up and compare the ids with want[0..nwant). */
static void expect(const struct iocs_cidrset *s, const char *ip,
                   const uint32_t *want, size_t nwant)
{
    uint32_t ids[16];
    uint8_t a[16];
    int family = 4;
    size_t n;

    if (iocs_ip4_parse(ip, strlen(ip), a)) {
        family = 6;
        assert_int_equal(iocs_ip6_parse(ip, strlen(ip), a), 0);
    }
    n = iocs_cidrset_lookup(s, family, a, ids, ARRAY_LEN(ids));
    if (n != nwant)
        fail_msg("%s: %zu ranges matched, want %zu", ip, n, nwant);
    if (nwant)
        assert_memory_equal(ids, want, nwant * sizeof(*want));
}

/* Overlapping IPv4 ranges all match, shortest prefix first. */
static void test_cidr_set_lookup_v4_overlapping(void **state)
{
    struct iocs_cidrset *s = *state;

    assert_false(iocs_cidrset_has(s, 4));
    expect(s, "10.1.2.3", NULL, 0);
    add(s, "10.1.2.3/32", 4);
    add(s, "10.0.0.0/8", 1);
    add(s, "10.1.0.0/16", 2);
    add(s, "10.1.2.0/24", 3);
    add(s, "10.1.2.0/24", 5); /* The same range with a second id. */
    add(s, "10.1.2.0/24", 5); /* Added twice: kept once. */
    add(s, "192.168.0.0/16", 6);
    assert_true(iocs_cidrset_has(s, 4));
    assert_false(iocs_cidrset_has(s, 6));

    expect(s, "10.1.2.3", (const uint32_t[]){1, 2, 3, 5, 4}, 5);
    expect(s, "10.1.2.4", (const uint32_t[]){1, 2, 3, 5}, 4);
    expect(s, "10.1.3.3", (const uint32_t[]){1, 2}, 2);
    expect(s, "10.200.0.1", (const uint32_t[]){1}, 1);
    expect(s, "11.0.0.1", NULL, 0);
    expect(s, "192.168.255.255", (const uint32_t[]){6}, 1);
    expect(s, "192.169.0.0", NULL, 0);
    /* IPv6 has no ranges: nothing matches, even ::. */
    expect(s, "::", NULL, 0);
}

/* /0 matches everything of its family only; /32 and /128 match one. */
static void test_cidr_set_lookup_zero_and_host(void **state)
{
    struct iocs_cidrset *s = *state;

    add(s, "0.0.0.0/0", 10);
    add(s, "255.255.255.255/32", 11);
    add(s, "::/0", 20);
    add(s, "2604:a880:400:d1::7716:1/128", 21);

    expect(s, "0.0.0.0", (const uint32_t[]){10}, 1);
    expect(s, "8.8.8.8", (const uint32_t[]){10}, 1);
    expect(s, "255.255.255.255", (const uint32_t[]){10, 11}, 2);
    expect(s, "255.255.255.254", (const uint32_t[]){10}, 1);
    expect(s, "2604:a880:400:d1::7716:1", (const uint32_t[]){20, 21}, 2);
    expect(s, "2604:a880:400:d1::7716:2", (const uint32_t[]){20}, 1);
    expect(s, "::", (const uint32_t[]){20}, 1);
}

/* Overlapping IPv6 ranges, and a lookup with less room than matches. */
static void test_cidr_set_lookup_v6_overlapping(void **state)
{
    struct iocs_cidrset *s = *state;
    uint32_t ids[2];
    uint8_t a[16];

    add(s, "2604:a880:400:d1::/64", 2);
    add(s, "2604:a880::/32", 1);
    add(s, "2604:a880:400:d1::7716:0/112", 3);
    add(s, "2001:db8::/32", 4);

    expect(s, "2604:a880:400:d1::7716:1", (const uint32_t[]){1, 2, 3}, 3);
    expect(s, "2604:a880:400:d1::7293:c001", (const uint32_t[]){1, 2}, 2);
    expect(s, "2604:a880:401::1", (const uint32_t[]){1}, 1);
    expect(s, "2604:a881::1", NULL, 0);
    expect(s, "2001:db8:ffff::1", (const uint32_t[]){4}, 1);
    expect(s, "1.2.3.4", NULL, 0);

    assert_int_equal(iocs_ip6_parse("2604:a880:400:d1::7716:1", 24, a), 0);
    assert_int_equal(iocs_cidrset_lookup(s, 6, a, ids, 2), 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    assert_int_equal(iocs_cidrset_lookup(s, 6, a, NULL, 0), 3);
}

/* Bad family or prefix lengths are refused. */
static void test_cidr_set_add_rejects(void **state)
{
    struct iocs_cidrset *s = *state;
    uint8_t a[16] = {0};

    assert_int_equal(iocs_cidrset_add(s, 5, a, 8, 1), -EINVAL);
    assert_int_equal(iocs_cidrset_add(s, 4, a, 33, 1), -EINVAL);
    assert_int_equal(iocs_cidrset_add(s, 6, a, 129, 1), -EINVAL);
    assert_false(iocs_cidrset_has(s, 4));
    assert_false(iocs_cidrset_has(s, 6));
}

/* Many ranges: the node array grows and every one is still found. */
static void test_cidr_set_many_ranges(void **state)
{
    struct iocs_cidrset *s = *state;

    for (uint32_t i = 0; i < 50000; i++) {
        uint8_t a[16] = {10, (uint8_t)(i >> 8), (uint8_t)i, 0};

        assert_int_equal(iocs_cidrset_add(s, 4, a, 24, i), 0);
    }
    for (uint32_t i = 0; i < 50000; i += 97) {
        uint8_t a[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 77};
        uint32_t ids[4];

        assert_int_equal(iocs_cidrset_lookup(s, 4, a, ids, 4), 1);
        assert_int_equal(ids[0], i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_ip4_parse),
        cmocka_unit_test(test_cidr_ip4_parse_respects_length),
        cmocka_unit_test(test_cidr_ip6_parse_and_format),
        cmocka_unit_test(test_cidr_ip6_format_longest),
        cmocka_unit_test(test_cidr_parse),
        cmocka_unit_test_setup_teardown(test_cidr_set_lookup_v4_overlapping,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cidr_set_lookup_zero_and_host,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cidr_set_lookup_v6_overlapping,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cidr_set_add_rejects, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cidr_set_many_ranges, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
