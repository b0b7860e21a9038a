/*
 * test_builtin.c - the built-in pack: every entry normalises, compiles into
 * one database and names its source; the BeyondTrust addresses are there;
 * the exploit and log rules fire on the request and log text that the
 * research (../shared/incident-iocs.md) quotes, and not on a benign line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "matchers/builtin.h"
#include "matchers/db.h"

struct fix {
    struct iocs_iocset *set;
    struct iocs_db *db;
    struct hs_scratch *scratch;
};

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    char errbuf[256];

    if (!f || iocs_iocset_new(&f->set) < 0 ||
        iocs_builtin_load(f->set, errbuf, sizeof(errbuf)) < 0 ||
        iocs_db_compile(&f->db, f->set, errbuf, sizeof(errbuf)) < 0 ||
        iocs_db_scratch_new(f->db, &f->scratch) < 0)
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

/* Every entry is in the set, with a reference and a description. */
static void test_builtin_entries_sourced(void **state)
{
    struct fix *f = *state;
    size_t n;
    const struct iocs_builtin *b = iocs_builtin_pack(&n);

    assert_true(n > 30);
    assert_int_equal(iocs_iocset_count(f->set), n);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(b[i].reference);
        assert_true(b[i].reference[0] != '\0');
        assert_non_null(b[i].description);
        if (b[i].type == IOCS_REGEX)
            assert_non_null(b[i].rule_id);
    }
}

/* The nine BeyondTrust addresses of the incident page. */
static void test_builtin_beyondtrust_addresses(void **state)
{
    static const char *const want[] = {
        "24.144.114.85",
        "142.93.119.175",
        "157.230.183.1",
        "192.81.209.168",
        "2604:a880:400:d1::7293:c001",
        "2604:a880:400:d1::72ad:3001",
        "2604:a880:400:d1::7716:1",
        "2604:a880:400:d1::7df0:7001",
        "2604:a880:400:d1::8622:f001",
    };
    struct fix *f = *state;

    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
        bool found = false;

        for (size_t i = 0; i < iocs_iocset_count(f->set); i++)
            found |= strcmp(iocs_iocset_get(f->set, i)->value, want[w]) == 0;
        if (!found)
            fail_msg("%s is not in the pack", want[w]);
    }
}

struct hit_ids {
    const struct iocs_db *db;
    const struct iocs_iocset *set;
    const char *want;
    bool found;
    unsigned n;
};

static int on_match(unsigned int id, unsigned long long from,
                    unsigned long long to, unsigned int flags, void *ctx)
{
    struct hit_ids *h = ctx;
    const struct iocs_pat *p = iocs_db_pat(h->db, id);
    const struct iocs_ioc *x = iocs_iocset_get(h->set, p->ioc);

    (void)from;
    (void)to;
    (void)flags;
    h->n++;
    if (x->rule_id && strcmp(x->rule_id, h->want) == 0)
        h->found = true;
    return 0;
}

static bool fires(struct fix *f, const char *rule_id, const char *text,
                  size_t len)
{
    struct hit_ids h = {.db = f->db, .set = f->set, .want = rule_id};

    assert_int_equal(iocs_db_scan(f->db, f->scratch,
                                  (const unsigned char *)text, len, on_match,
                                  &h),
                     0);
    return h.found;
}

#define FIRES(f, id, lit) fires(f, id, lit, sizeof(lit) - 1)

/* The exploit and log rules fire on the text the sources quote. */
static void test_builtin_rules_fire(void **state)
{
    struct fix *f = *state;

    assert_true(FIRES(f, "bt-cve-2024-12356-ws-protocol",
                      "GET /nw HTTP/1.1\r\nUpgrade: websocket\r\n"
                      "Sec-WebSocket-Protocol: ingredi support desk customer "
                      "thin\r\n"));
    assert_true(FIRES(f, "bt-get-rdf-version-check",
                      "GET /get_rdf?comp=sdcust&locale_code=en-us HTTP/1.1"));
    assert_true(
        FIRES(f, "bt-cve-2025-1094-payload-bytes", "frame: \xc0'; \\! id #"));
    assert_true(FIRES(f, "bt-cve-2025-1094-psql-error",
                      "ERROR:  invalid byte sequence for encoding \"UTF8\": "
                      "0xc0 0x27"));
    assert_true(FIRES(f, "ivanti-cve-2024-21887-rce",
                      "POST /api/v1/totp/user-backup-code/../../system/"
                      "maintenance/archiving/cloud-server-test-connection "
                      "200"));
}

/* A benign line of the same products fires nothing. */
static void test_builtin_quiet_on_benign(void **state)
{
    static const char benign[] =
        "2026-11-22T03:56:57Z rs-appliance httpd: GET /login HTTP/1.1 200 "
        "from 10.1.2.3 user=alice session started";
    struct fix *f = *state;
    struct hit_ids h = {.db = f->db, .set = f->set, .want = ""};

    assert_int_equal(iocs_db_scan(f->db, f->scratch,
                                  (const unsigned char *)benign,
                                  sizeof(benign) - 1, on_match, &h),
                     0);
    assert_int_equal(h.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_entries_sourced),
        cmocka_unit_test(test_builtin_beyondtrust_addresses),
        cmocka_unit_test(test_builtin_rules_fire),
        cmocka_unit_test(test_builtin_quiet_on_benign),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
