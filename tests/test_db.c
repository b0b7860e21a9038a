/*
 * test_db.c - what the database compiles each IOC into: the spellings of
 * IPv6 addresses and Windows paths, URL hosts folded but paths exact, CIDR
 * ranges as the literals of their leading octets/groups, the long-line
 * overlap, the set id, and errors that name the IOC.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matchers/cidr.h"
#include "matchers/db.h"
#include "matchers/ioc.h"

struct fix {
    struct iocs_iocset *set;
    struct iocs_db *db;
    struct hs_scratch *scratch;
};

static void add(struct iocs_iocset *s, enum iocs_type t, const char *v)
{
    char norm[IOCS_IOC_MAX + 1];
    const char *why = NULL;
    size_t len;

    assert_int_equal(
        iocs_ioc_normalise(&t, v, strlen(v), norm, sizeof(norm), &len, &why),
        0);
    struct iocs_ioc ioc = {.type = t,
                           .value = norm,
                           .len = len,
                           .feed = "test",
                           .reference = "test.txt:1"};
    assert_int_equal(iocs_iocset_add(s, &ioc, NULL), 0);
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    if (!f || iocs_iocset_new(&f->set) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    iocs_db_scratch_free(f->scratch);
    iocs_db_free(f->db);
    iocs_iocset_free(f->set);
    free(f);
    return 0;
}

static void compile(struct fix *f)
{
    char errbuf[256];

    assert_int_equal(iocs_db_compile(&f->db, f->set, errbuf, sizeof(errbuf)),
                     0);
    assert_int_equal(iocs_db_scratch_new(f->db, &f->scratch), 0);
}

/* Raw matches of one scan: (pattern kind, ioc, start) triples. */
struct seen {
    const struct iocs_db *db;
    unsigned n;
    unsigned kind[32];
    unsigned ioc[32];
    unsigned long long start[32];
};

static int on_match(unsigned int id, unsigned long long from,
                    unsigned long long to, unsigned int flags, void *ctx)
{
    struct seen *s = ctx;
    const struct iocs_pat *p = iocs_db_pat(s->db, id);

    (void)from;
    (void)flags;
    if (s->n < 32) {
        s->kind[s->n] = p->kind;
        s->ioc[s->n] = p->ioc;
        s->start[s->n] = to - p->len;
        s->n++;
    }
    return 0;
}

static unsigned scan(struct fix *f, const char *text, struct seen *s)
{
    memset(s, 0, sizeof(*s));
    s->db = f->db;
    assert_int_equal(iocs_db_scan(f->db, f->scratch,
                                  (const unsigned char *)text, strlen(text),
                                  on_match, s),
                     0);
    return s->n;
}

/* An IPv6 IOC is a one-address range of the prefix set: its first group,
 * padded or not, triggers a token read at the trigger's start, whatever
 * the spelling of the rest (mixed padding included). */
static void test_db_ipv6_spellings(void **state)
{
    static const char *const texts[] = {
        "x 2604:a880:400:d1::7716:1 y",
        "x 2604:A880:400:D1::7716:1 y",
        "x 2604:a880:0400:00d1:0000:0000:7716:0001 y",
        "x 2604:a880:400:d1:0:0:7716:1 y",
        "x 2604:a880:0400:00d1::7716:0001 y",
    };
    struct fix *f = *state;
    const struct iocs_ioc *x;
    uint32_t id;
    uint8_t a[16];
    struct seen s;

    add(f->set, IOCS_IPV6, "2604:A880:400:D1:0:0:7716:1");
    compile(f);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        assert_int_equal(scan(f, texts[i], &s), 1);
        assert_int_equal(s.kind[0], IOCS_PAT_CIDR6);
        assert_int_equal(s.start[0], 2);
    }
    /* The token's address finds the IOC in the prefix set. */
    x = iocs_iocset_get(iocs_db_set(f->db), 0);
    assert_string_equal(x->value, "2604:a880:400:d1::7716:1");
    assert_int_equal(iocs_ip6_parse("2604:a880:0400:00d1::7716:0001", 30, a),
                     0);
    assert_int_equal(iocs_cidrset_lookup(iocs_db_cidrs(f->db), 6, a, &id, 1),
                     1);
    assert_int_equal(id, 0);
    a[15] ^= 1;
    assert_int_equal(iocs_cidrset_lookup(iocs_db_cidrs(f->db), 6, a, &id, 1),
                     0);
}

/* A Windows path matches as written and JSON-escaped. */
static void test_db_windows_path_json(void **state)
{
    struct fix *f = *state;
    struct seen s;

    add(f->set, IOCS_FILENAME, "C:\\Windows\\Temp\\x.dll");
    compile(f);
    assert_int_equal(scan(f, "Image: C:\\Windows\\Temp\\x.dll", &s), 1);
    assert_int_equal(
        scan(f, "{\"Image\":\"c:\\\\windows\\\\temp\\\\X.DLL\"}", &s), 1);
    assert_int_equal(s.start[0], 10);
}

/* A URL without its scheme: host folded, path exact. */
static void test_db_url_host_folded(void **state)
{
    struct fix *f = *state;
    struct seen s;

    add(f->set, IOCS_URL, "hxxp://Evil.Example/A.php?x=1");
    compile(f);
    assert_int_equal(scan(f, "GET http://EVIL.example/A.php?x=1", &s), 1);
    assert_int_equal(s.start[0], 11);
    assert_int_equal(scan(f, "GET http://evil.example/a.php?x=1", &s), 0);
}

/* A CIDR range fires only on addresses that share its leading octets or
 * groups; the pattern is a prefix literal, never a generic IP shape. */
static void test_db_cidr_prefix_literals(void **state)
{
    struct fix *f = *state;
    struct seen s;

    add(f->set, IOCS_CIDR4, "10.16.0.0/12");
    add(f->set, IOCS_CIDR6, "2001:db8:abcd::/48");
    compile(f);
    assert_non_null(iocs_db_cidrs(f->db));
    assert_int_equal(scan(f, "a 10.20.1.2 b", &s), 1);
    assert_int_equal(s.kind[0], IOCS_PAT_CIDR4);
    assert_int_equal(s.start[0], 2);
    assert_int_equal(scan(f, "a 10.32.1.2 b 192.168.1.1 12:34:56", &s), 0);
    assert_int_equal(scan(f, "a 2001:DB8:ABCD::1 b", &s), 1);
    assert_int_equal(s.kind[0], IOCS_PAT_CIDR6);
    assert_int_equal(scan(f, "a 2001:0db8:abcd:0:0:0:0:1 b", &s), 1);
    assert_int_equal(scan(f, "a 2001:db8:abce::1 b", &s), 0);
}

/* The overlap covers the longest pattern plus the scanner's margins. */
static void test_db_overlap_and_id(void **state)
{
    struct fix *f = *state;
    char longv[600];
    char id[17];

    memset(longv, 'a', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    add(f->set, IOCS_STRING, longv);
    compile(f);
    assert_true(iocs_db_overlap(f->db) >= 599 + 66);
    assert_int_equal(strlen(iocs_db_id(f->db)), 16);
    snprintf(id, sizeof(id), "%s", iocs_db_id(f->db));
    assert_true(iocs_db_patterns(f->db) >= 1);
    assert_true(iocs_db_size(f->db) > 0);
}

/* A regex that Hyperscan refuses: -EINVAL, and the message names it. */
static void test_db_bad_regex_named(void **state)
{
    struct fix *f = *state;
    struct iocs_ioc ioc = {.type = IOCS_REGEX,
                           .value = "a(?<=b)c",
                           .len = 8,
                           .feed = "rules",
                           .reference = "rules.txt:7",
                           .rule_id = "bad"};
    char errbuf[256] = "";

    assert_int_equal(iocs_iocset_add(f->set, &ioc, NULL), 0);
    assert_int_equal(iocs_db_compile(&f->db, f->set, errbuf, sizeof(errbuf)),
                     -EINVAL);
    assert_null(f->db);
    assert_non_null(strstr(errbuf, "rules.txt:7"));
}

/* An empty set is refused with a reason. */
static void test_db_empty_set(void **state)
{
    struct fix *f = *state;
    char errbuf[256] = "";

    assert_int_equal(iocs_db_compile(&f->db, f->set, errbuf, sizeof(errbuf)),
                     -EINVAL);
    assert_true(errbuf[0] != '\0');
}

/* Whole addresses (/32, /128, kept apart from the trie) come after the
 * ranges around them, each one's ids in the order they were added; the
 * same (range, id) twice is one. */
static void test_db_cidrset_hosts(void **state)
{
    struct iocs_cidrset *c;
    uint8_t a[16], b[16], v4[4] = {10, 1, 2, 3};
    uint32_t ids[8];

    (void)state;
    assert_int_equal(iocs_ip6_parse("2001:db8::1", 11, a), 0);
    assert_int_equal(iocs_ip6_parse("2001:db8::2", 11, b), 0);
    assert_int_equal(iocs_cidrset_new(&c), 0);
    assert_int_equal(iocs_cidrset_lookup(c, 6, a, ids, 8), 0);
    assert_int_equal(iocs_cidrset_add(c, 6, a, 128, 7), 0);
    assert_int_equal(iocs_cidrset_add(c, 6, a, 32, 3), 0);
    assert_int_equal(iocs_cidrset_add(c, 6, a, 128, 5), 0);
    assert_int_equal(iocs_cidrset_add(c, 6, a, 128, 7), 0);
    assert_int_equal(iocs_cidrset_add(c, 4, v4, 32, 9), 0);
    assert_int_equal(iocs_cidrset_add(c, 4, v4, 8, 1), 0);
    assert_int_equal(iocs_cidrset_add(c, 6, b, 128, 100), 0);
    /* Enough hosts (2001:db8::1:0 and on) to grow the table a few times. */
    for (uint32_t i = 0; i < 300; i++) {
        uint8_t h[16];

        memcpy(h, b, 16);
        h[13] = 1;
        h[14] = (uint8_t)(i >> 8);
        h[15] = (uint8_t)i;
        assert_int_equal(iocs_cidrset_add(c, 6, h, 128, 1000 + i), 0);
    }
    assert_int_equal(iocs_cidrset_lookup(c, 6, a, ids, 8), 3);
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 7);
    assert_int_equal(ids[2], 5);
    assert_int_equal(iocs_cidrset_lookup(c, 6, b, ids, 8), 2);
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 100);
    assert_int_equal(iocs_cidrset_lookup(c, 4, v4, ids, 1), 2); /* cap 1 */
    assert_int_equal(ids[0], 1);
    v4[3] = 4;
    assert_int_equal(iocs_cidrset_lookup(c, 4, v4, ids, 8), 1);
    /* The IPv4 host is not an IPv6 one with the same leading bytes. */
    memset(b, 0, 16);
    memcpy(b, (uint8_t[]){10, 1, 2, 3}, 4);
    assert_int_equal(iocs_cidrset_lookup(c, 6, b, ids, 8), 0);
    iocs_cidrset_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_db_ipv6_spellings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_windows_path_json, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_url_host_folded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_cidr_prefix_literals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_overlap_and_id, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_bad_regex_named, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_db_empty_set, setup, teardown),
        cmocka_unit_test(test_db_cidrset_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
