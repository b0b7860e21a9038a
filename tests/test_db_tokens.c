/*
 * test_db_tokens.c - the token path of the database (db.h): which IOCs the
 * token index takes and Hyperscan leaves out, the choice per set (auto,
 * on, off), the marker that records it in the pattern table and so in a
 * database file, the index rebuilt on load, and a recompile to the other
 * path that keeps the set.
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
#include <unistd.h>

#include "helpers.h"
#include "matchers/db.h"
#include "matchers/dbcache.h"
#include "matchers/feed.h"
#include "matchers/ioc.h"
#include "matchers/tokens.h"

/* Every type: 6 IOCs the token index takes, 4 it leaves to Hyperscan (an
 * IPv6 address with a dotted quad, a URL, a file name, a string). */
static const char feed[] = "type,value\n"
                           "ipv4,192.81.209.168\n"
                           "ipv6,2604:a880:400:d1::7716:1\n"
                           "cidr,10.20.0.0/16\n"
                           "domain,evil.example\n"
                           "email,a@evil.example\n"
                           "md5,d41d8cd98f00b204e9800998ecf8427e\n"
                           "ipv6,::ffff:192.0.2.1\n"
                           "url,http://bad.example/x.php\n"
                           "filename,mimikatz.exe\n"
                           "string,ingredi support desk\n";
#define TAKEN 6

static int setup(void **state)
{
    struct iocs_iocset *set;

    if (t_tmpdir_init() < 0 || iocs_iocset_new(&set) < 0 ||
        iocs_feed_load_mem(set, "feed.csv", feed, sizeof(feed) - 1, NULL, NULL,
                           NULL) < 0 ||
        iocs_iocset_count(set) != 10)
        return -1;
    *state = set;
    return 0;
}

static int teardown(void **state)
{
    iocs_iocset_free(*state);
    t_tmpdir_fini();
    return 0;
}

static struct iocs_db *compile(const struct iocs_iocset *set,
                               enum iocs_db_tokens mode)
{
    struct iocs_db *db = NULL;
    char errbuf[256];

    assert_int_equal(
        iocs_db_compile_mode(&db, set, mode, errbuf, sizeof(errbuf)), 0);
    return db;
}

static void test_db_tokens_parse(void **state)
{
    enum iocs_db_tokens m = IOCS_DB_TOKENS_AUTO;

    (void)state;
    assert_int_equal(iocs_db_tokens_parse("on", &m), 0);
    assert_int_equal(m, IOCS_DB_TOKENS_ON);
    assert_int_equal(iocs_db_tokens_parse("off", &m), 0);
    assert_int_equal(m, IOCS_DB_TOKENS_OFF);
    assert_int_equal(iocs_db_tokens_parse("auto", &m), 0);
    assert_int_equal(m, IOCS_DB_TOKENS_AUTO);
    assert_int_equal(iocs_db_tokens_parse("yes", &m), -EINVAL);
    assert_int_equal(iocs_db_tokens_parse("", &m), -EINVAL);
    assert_int_equal(m, IOCS_DB_TOKENS_AUTO);
}

/* On: the index takes the token IOCs, Hyperscan keeps the rest and the
 * marker; the set id (every event's iocstream.db) is the same. */
static void test_db_tokens_split(void **state)
{
    struct iocs_db *on = compile(*state, IOCS_DB_TOKENS_ON);
    struct iocs_db *off = compile(*state, IOCS_DB_TOKENS_OFF);
    const struct iocs_pat *m;

    assert_null(iocs_db_tokens(off));
    assert_non_null(iocs_db_tokens(on));
    assert_int_equal(iocs_tokens_count(iocs_db_tokens(on)), TAKEN);
    assert_string_equal(iocs_db_id(on), iocs_db_id(off));
    assert_true(iocs_db_patterns(on) < iocs_db_patterns(off));
    /* The marker is last; no other pattern is of a taken IOC. */
    m = iocs_db_pat(on, (unsigned)iocs_db_patterns(on) - 1);
    assert_int_equal(m->kind, IOCS_PAT_TOKEN6);
    assert_int_equal(m->left, IOCS_EDGE_FILE);
    assert_int_equal(m->right, IOCS_EDGE_FILE);
    assert_int_equal(m->ioc, IOCS_TOKENS_ALL);
    for (unsigned i = 0; i + 1 < iocs_db_patterns(on); i++) {
        const struct iocs_pat *p = iocs_db_pat(on, i);

        assert_int_equal(p->kind, IOCS_PAT_LITERAL);
        assert_false(iocs_tokens_takes(
            IOCS_TOKENS_ALL, iocs_iocset_get(iocs_db_set(on), p->ioc)));
    }
    assert_null(iocs_db_cidrs(on)); /* the CIDR is the index's */
    /* The overlap covers the longest token (tokens.h). */
    assert_true(iocs_db_overlap(on) >=
                iocs_tokens_maxlen(iocs_db_tokens(on)) + 66 + 2);
    assert_true(iocs_db_tokens_match(on, IOCS_DB_TOKENS_ON));
    assert_false(iocs_db_tokens_match(on, IOCS_DB_TOKENS_OFF));
    assert_true(iocs_db_tokens_match(on, IOCS_DB_TOKENS_AUTO));
    assert_true(iocs_db_tokens_match(off, IOCS_DB_TOKENS_OFF));
    assert_false(iocs_db_tokens_match(off, IOCS_DB_TOKENS_ON));
    iocs_db_free(on);
    iocs_db_free(off);
}

/* A set the index takes whole still has a Hyperscan database (the
 * marker) and scans. */
static void test_db_tokens_all_taken(void **state)
{
    struct iocs_iocset *set;
    struct iocs_db *db;
    struct hs_scratch *s;
    static const char v[] = "192.81.209.168\nevil.example\n";

    (void)state;
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(
        iocs_feed_load_mem(set, "f", v, sizeof(v) - 1, NULL, NULL, NULL), 0);
    db = compile(set, IOCS_DB_TOKENS_ON);
    assert_int_equal(iocs_db_patterns(db), 1);
    assert_int_equal(iocs_tokens_count(iocs_db_tokens(db)), 2);
    assert_int_equal(iocs_db_scratch_new(db, &s), 0);
    iocs_db_scratch_free(s);
    iocs_db_free(db);
    iocs_iocset_free(set);
}

/* Auto: all-Hyperscan for a small set; the token path from
 * IOCS_DB_TOKENS_AUTO_MIN IOCs the index takes. The process default is
 * what iocs_db_compile() uses. */
static void test_db_tokens_auto(void **state)
{
    struct iocs_iocset *big;
    struct iocs_db *db;
    char errbuf[256];

    assert_int_equal(iocs_db_tokens_mode(), IOCS_DB_TOKENS_AUTO);
    db = compile(*state, IOCS_DB_TOKENS_AUTO);
    assert_null(iocs_db_tokens(db));
    iocs_db_free(db);
    iocs_db_set_tokens_mode(IOCS_DB_TOKENS_ON);
    assert_int_equal(iocs_db_compile(&db, *state, errbuf, sizeof(errbuf)), 0);
    assert_non_null(iocs_db_tokens(db));
    iocs_db_free(db);
    iocs_db_set_tokens_mode(IOCS_DB_TOKENS_AUTO);

    assert_int_equal(iocs_iocset_new(&big), 0);
    for (uint32_t i = 0; i < IOCS_DB_TOKENS_AUTO_MIN; i++) {
        char v[16];
        int n = snprintf(v, sizeof(v), "11.%u.%u.%u", i >> 16 & 255,
                         i >> 8 & 255, i & 255);
        struct iocs_ioc x = {
            .type = IOCS_IPV4, .value = v, .len = (size_t)n, .feed = "big"};

        assert_int_equal(iocs_iocset_add(big, &x, NULL), 0);
    }
    db = compile(big, IOCS_DB_TOKENS_AUTO);
    assert_non_null(iocs_db_tokens(db));
    assert_int_equal(iocs_tokens_count(iocs_db_tokens(db)),
                     IOCS_DB_TOKENS_AUTO_MIN);
    iocs_db_free(db);
    iocs_iocset_free(big);
}

/* A database file keeps the choice: read back, the token path's index is
 * rebuilt from the set the file carries; an all-Hyperscan file stays so. */
static void test_db_tokens_file_roundtrip(void **state)
{
    char path[PATH_MAX], errbuf[256];

    t_path(path, sizeof(path), "t.db");
    for (int k = 0; k < 2; k++) {
        enum iocs_db_tokens mode = k ? IOCS_DB_TOKENS_ON : IOCS_DB_TOKENS_OFF;
        struct iocs_db *db = compile(*state, mode), *back = NULL;

        assert_int_equal(iocs_dbfile_write(db, path, errbuf, sizeof(errbuf)),
                         0);
        assert_int_equal(
            iocs_dbfile_read(&back, path, 0, errbuf, sizeof(errbuf)), 0);
        assert_true(iocs_db_tokens_match(back, mode));
        assert_int_equal(iocs_db_patterns(back), iocs_db_patterns(db));
        assert_int_equal(iocs_db_overlap(back), iocs_db_overlap(db));
        assert_string_equal(iocs_db_id(back), iocs_db_id(db));
        if (k) {
            assert_int_equal(iocs_tokens_count(iocs_db_tokens(back)), TAKEN);
            assert_null(iocs_db_cidrs(back));
        } else {
            assert_null(iocs_db_tokens(back));
            assert_non_null(iocs_db_cidrs(back));
        }
        iocs_db_free(back);
        iocs_db_free(db);
        unlink(path);
    }
}

/* A loaded database (it owns its set) compiled again for the other path:
 * the new one takes the set over (ASan: no leak, no double free). */
static void test_db_tokens_recompile(void **state)
{
    char path[PATH_MAX], errbuf[256];
    struct iocs_db *db = compile(*state, IOCS_DB_TOKENS_OFF), *back = NULL;
    const struct iocs_iocset *set;

    t_path(path, sizeof(path), "r.db");
    assert_int_equal(iocs_dbfile_write(db, path, errbuf, sizeof(errbuf)), 0);
    iocs_db_free(db);
    assert_int_equal(iocs_dbfile_read(&back, path, 0, errbuf, sizeof(errbuf)),
                     0);
    set = iocs_db_set(back);
    assert_int_equal(
        iocs_db_recompile(&back, IOCS_DB_TOKENS_ON, errbuf, sizeof(errbuf)), 0);
    assert_ptr_equal(iocs_db_set(back), set);
    assert_non_null(iocs_db_tokens(back));
    assert_int_equal(
        iocs_db_recompile(&back, IOCS_DB_TOKENS_OFF, errbuf, sizeof(errbuf)),
        0);
    assert_ptr_equal(iocs_db_set(back), set);
    assert_null(iocs_db_tokens(back));
    iocs_db_free(back);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_tokens_parse),
        cmocka_unit_test(test_db_tokens_split),
        cmocka_unit_test(test_db_tokens_all_taken),
        cmocka_unit_test(test_db_tokens_auto),
        cmocka_unit_test(test_db_tokens_file_roundtrip),
        cmocka_unit_test(test_db_tokens_recompile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
