/*
 * test_load.c - the loader (matchers/load.h): the built-in pack without
 * inputs, allowlists dropping IOCs, rejected lines counted and reported
 * through the callback (an error under --strict), and the cache round trip
 * (the second load of unchanged inputs parses nothing).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "matchers/builtin.h"
#include "matchers/load.h"

/* What the reject callback saw. */
struct rejects {
    size_t n;
    char last[256];
};

static void on_reject(void *ctx, const char *file, size_t line, const char *why)
{
    struct rejects *r = ctx;

    r->n++;
    snprintf(r->last, sizeof(r->last), "%s:%zu: %s", file, line, why);
}

/* Counts the read hook saw, and when. */
struct read_seen {
    size_t calls, rejected;
};

static void on_read(void *ctx, const struct iocs_load_report *lr)
{
    struct read_seen *s = ctx;

    s->calls++;
    s->rejected = lr->rejected;
}

/* Options for one feed whose rejected lines and read hook are watched. */
static struct iocs_load_opts watched(const char **feeds, struct rejects *r,
                                     struct read_seen *seen)
{
    return (struct iocs_load_opts){.feeds = feeds,
                                   .nfeeds = 1,
                                   .reject = on_reject,
                                   .reject_ctx = r,
                                   .read = on_read,
                                   .read_ctx = seen};
}

static bool has_value(const struct iocs_iocset *s, const char *v)
{
    for (size_t i = 0; i < iocs_iocset_count(s); i++)
        if (strcmp(iocs_iocset_get(s, i)->value, v) == 0)
            return true;
    return false;
}

/* No feeds and no rules: the built-in pack, every entry of it. */
static void test_load_builtin_without_inputs(void **state)
{
    struct iocs_load_opts o = {0};
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    struct iocs_iocset *set;
    size_t n;

    (void)state;
    assert_true(iocs_load_builtin_used(&o));
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_load_set(&o, &set, &lr, &e), 0);
    assert_true(lr.builtin);
    assert_int_equal(lr.rejected, 0);
    iocs_builtin_pack(&n);
    assert_true(iocs_iocset_count(set) > 0);
    assert_true(iocs_iocset_count(set) <= n);
    for (size_t i = 0; i < iocs_iocset_count(set); i++)
        assert_string_equal(iocs_iocset_get(set, i)->feed, "builtin");
    iocs_iocset_free(set);
}

/* A feed without --builtin: the pack stays out. */
static void test_load_feed_replaces_builtin(void **state)
{
    char feed[PATH_MAX];
    const char *feeds[] = {feed};
    struct iocs_load_input in[1];
    struct iocs_load_opts o = {.feeds = feeds, .nfeeds = 1};
    struct iocs_load_report lr = {.inputs = in};
    struct iocs_load_err e;
    struct iocs_iocset *set;

    (void)state;
    t_tmp_text(feed, sizeof(feed), "only.txt", "192.0.2.7\nevil.example\n");
    assert_false(iocs_load_builtin_used(&o));
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_load_set(&o, &set, &lr, &e), 0);
    assert_false(lr.builtin);
    assert_int_equal(iocs_iocset_count(set), 2);
    assert_string_equal(in[0].path, feed);
    assert_int_equal(in[0].rep.loaded, 2);
    iocs_iocset_free(set);
}

/* An allowlist drops the IOCs it covers (a range covers an address, a
 * domain its subdomains) and counts them; a set left empty is an error. */
static void test_load_allowlist_drops(void **state)
{
    char feed[PATH_MAX], allow[PATH_MAX], all[PATH_MAX];
    const char *feeds[] = {feed}, *allows[] = {allow};
    struct iocs_load_opts o = {
        .feeds = feeds, .nfeeds = 1, .allows = allows, .nallows = 1};
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    struct iocs_iocset *set;

    (void)state;
    t_tmp_text(feed, sizeof(feed), "feed.txt",
               "192.0.2.7\n198.51.100.9\nevil.example\nx.good.example\n");
    t_tmp_text(allow, sizeof(allow), "allow.txt",
               "192.0.2.0/24\ngood.example\n");
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_load_set(&o, &set, &lr, &e), 0);
    assert_int_equal(lr.allowed, 2);
    assert_int_equal(iocs_iocset_count(set), 2);
    assert_true(has_value(set, "198.51.100.9"));
    assert_true(has_value(set, "evil.example"));
    assert_false(has_value(set, "192.0.2.7"));
    assert_false(has_value(set, "x.good.example"));
    iocs_iocset_free(set);

    /* Everything allowlisted: nothing left to match. */
    t_tmp_text(all, sizeof(all), "all.txt",
               "192.0.2.0/24\n198.51.100.9\nevil.example\ngood.example\n");
    allows[0] = all;
    memset(&lr, 0, sizeof(lr));
    assert_int_equal(iocs_iocset_new(&set), 0);
    o.feeds = feeds;
    assert_int_equal(iocs_load_set(&o, &set, &lr, &e), -ENODATA);
    assert_string_equal(e.msg, "the feeds hold no indicators");
    iocs_iocset_free(set);
}

/* A rejected line goes to the callback with file:line and is counted,
 * before the read hook runs; the other lines still load. */
static void test_load_reject_reported(void **state)
{
    char feed[PATH_MAX], want[PATH_MAX + 32];
    const char *feeds[] = {feed};
    struct rejects r = {0};
    struct read_seen seen = {0};
    struct iocs_load_opts o = watched(feeds, &r, &seen);
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    struct iocs_iocset *set;

    (void)state;
    t_tmp_text(feed, sizeof(feed), "rej.txt",
               "192.0.2.7\n10.0.0.0/33\nevil.example\n");
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_load_set(&o, &set, &lr, &e), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(lr.rejected, 1);
    snprintf(want, sizeof(want), "%s:2: ", feed);
    assert_memory_equal(r.last, want, strlen(want));
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.rejected, 1);
    assert_int_equal(iocs_iocset_count(set), 2);
    iocs_iocset_free(set);
}

/* --strict: the same file is an error that counts the lines; the hook
 * does not run; a rejected allowlist line stops the load, already said. */
static void test_load_strict(void **state)
{
    char feed[PATH_MAX], good[PATH_MAX], allow[PATH_MAX];
    const char *feeds[] = {feed}, *allows[] = {allow};
    struct rejects r = {0};
    struct read_seen seen = {0};
    struct iocs_load_opts o = watched(feeds, &r, &seen);
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    struct iocs_iocset *set;

    (void)state;
    o.strict = true;
    t_tmp_text(feed, sizeof(feed), "strict.txt",
               "192.0.2.7\n10.0.0.0/33\n2001:db8::/129\n");
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_load_set(&o, &set, &lr, &e), -EINVAL);
    assert_int_equal(r.n, 2);
    assert_string_equal(e.msg,
                        "2 IOC lines rejected (--strict); nothing scanned");
    assert_false(e.reported);
    assert_int_equal(seen.calls, 0);
    iocs_iocset_free(set);

    t_tmp_text(good, sizeof(good), "good.txt", "192.0.2.7\n");
    t_tmp_text(allow, sizeof(allow), "strict-allow.txt",
               "198.51.100.1\n10.0.0.0/33\n");
    feeds[0] = good;
    o.allows = allows;
    o.nallows = 1;
    r.n = 0;
    memset(&lr, 0, sizeof(lr));
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_load_set(&o, &set, &lr, &e), -EINVAL);
    assert_true(e.reported);
    assert_int_equal(r.n, 1);
    assert_int_equal(lr.rejected, 1);
    iocs_iocset_free(set);
}

/* A file that cannot be read: its errno, and the error names it. */
static void test_load_missing_file(void **state)
{
    char feed[PATH_MAX];
    const char *feeds[] = {feed};
    struct iocs_load_opts o = {.feeds = feeds, .nfeeds = 1};
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    struct iocs_iocset *set;

    (void)state;
    t_path(feed, sizeof(feed), "absent.txt");
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_load_set(&o, &set, &lr, &e), -ENOENT);
    assert_ptr_equal(e.path, feed);
    assert_string_equal(e.msg, "");
    iocs_iocset_free(set);
}

/* The cache: the first load compiles, the second finds the unchanged
 * inputs and parses nothing; a changed feed is parsed again. A set with a
 * rejected line is never found by its inputs, so its lines are reported
 * again. A database file written by compile loads through --db. */
static void test_load_cache_round_trip(void **state)
{
    char feed[PATH_MAX], dbfile[PATH_MAX], cache[PATH_MAX];
    const char *feeds[] = {feed};
    struct rejects r = {0};
    struct iocs_load_opts o = {.feeds = feeds,
                               .nfeeds = 1,
                               .use_cache = true,
                               .reject = on_reject,
                               .reject_ctx = &r};
    struct iocs_dbcache_result res;
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    struct iocs_db *db = NULL;
    char id[64];

    (void)state;
    /* The cache goes where iocs_dbcache_dir() looks, inside the test's
     * own directory. */
    t_path(cache, sizeof(cache), "cache");
    assert_int_equal(setenv("XDG_CACHE_HOME", cache, 1), 0);
    t_tmp_text(feed, sizeof(feed), "cached.txt",
               "192.0.2.7\nevil.example\nhttp://evil.example/x.php\n");
    assert_int_equal(iocs_load_db(&o, &db, &res, &lr, &e), 0);
    assert_true(res.how == IOCS_DBCACHE_BUILT || res.how == IOCS_DBCACHE_SET);
    assert_int_equal(iocs_iocset_count(iocs_db_set(db)), 3);
    snprintf(id, sizeof(id), "%s", iocs_db_id(db));
    iocs_db_free(db);

    memset(&lr, 0, sizeof(lr));
    assert_int_equal(iocs_load_db(&o, &db, &res, &lr, &e), 0);
    assert_int_equal(res.how, IOCS_DBCACHE_INPUTS);
    assert_string_equal(iocs_db_id(db), id);
    assert_int_equal(iocs_iocset_count(iocs_db_set(db)), 3);

    /* The same database through a file, as compile and --db do. */
    t_path(dbfile, sizeof(dbfile), "iocs.db");
    assert_int_equal(iocs_dbfile_write(db, dbfile, e.msg, sizeof(e.msg)), 0);
    iocs_db_free(db);
    o.db = dbfile;
    assert_int_equal(iocs_load_db(&o, &db, &res, &lr, &e), 0);
    assert_string_equal(iocs_db_id(db), id);
    iocs_db_free(db);
    o.db = NULL;

    /* A rejected line: parsed and reported on every load. */
    t_tmp_text(feed, sizeof(feed), "cached.txt",
               "192.0.2.7\nevil.example\n10.0.0.0/33\n");
    for (int i = 0; i < 2; i++) {
        memset(&lr, 0, sizeof(lr));
        assert_int_equal(iocs_load_db(&o, &db, &res, &lr, &e), 0);
        assert_int_not_equal(res.how, IOCS_DBCACHE_INPUTS);
        assert_int_equal(lr.rejected, 1);
        assert_int_equal(r.n, (size_t)i + 1);
        iocs_db_free(db);
    }
}

/* A damaged --db file is refused with the reason, naming the file. */
static void test_load_bad_db_file(void **state)
{
    char bad[PATH_MAX];
    struct iocs_load_opts o = {0};
    struct iocs_dbcache_result res;
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    struct iocs_db *db = NULL;

    (void)state;
    t_tmp_text(bad, sizeof(bad), "bad.db", "not a database at all\n");
    o.db = bad;
    assert_int_equal(iocs_load_db(&o, &db, &res, &lr, &e), -EINVAL);
    assert_null(db);
    assert_ptr_equal(e.path, bad);
    assert_true(e.msg[0] != '\0');
}

/* A MISP event whose attributes all have to_ids false says what to do. */
static void test_load_misp_not_for_ids(void **state)
{
    char feed[PATH_MAX];
    const char *feeds[] = {feed};
    struct iocs_load_opts o = {.feeds = feeds, .nfeeds = 1};
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    struct iocs_iocset *set;

    (void)state;
    t_tmp_text(feed, sizeof(feed), "event.json",
               "{\"Event\": {\"Orgc\": {\"name\": \"ESET\"}, "
               "\"Attribute\": [{\"type\": \"domain\", \"value\": "
               "\"evil.example\", \"to_ids\": false}]}}");
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_load_set(&o, &set, &lr, &e), -ENODATA);
    assert_int_equal(lr.not_ids, 1);
    assert_non_null(strstr(e.msg, "to_ids false"));
    assert_non_null(strstr(e.msg, "--all-attributes"));
    iocs_iocset_free(set);

    /* With --all-attributes it loads, the event's Orgc as the provider. */
    o.all_attributes = true;
    memset(&lr, 0, sizeof(lr));
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_load_set(&o, &set, &lr, &e), 0);
    assert_int_equal(iocs_iocset_count(set), 1);
    assert_string_equal(iocs_iocset_get(set, 0)->provider, "ESET");
    iocs_iocset_free(set);
}

/* --db with --allow: exact-value IOCs the allowlist covers are dropped
 * too (the database is rebuilt), not only CIDR-matched addresses. */
static void test_load_db_allow(void **state)
{
    char feed[PATH_MAX], allow[PATH_MAX], dbfile[PATH_MAX], all[PATH_MAX];
    const char *feeds[] = {feed}, *allows[] = {allow};
    struct iocs_load_opts o = {.feeds = feeds, .nfeeds = 1};
    struct iocs_dbcache_result res;
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    const struct iocs_iocset *set;
    struct iocs_db *db = NULL;

    (void)state;
    t_tmp_text(feed, sizeof(feed), "dbfeed.txt",
               "evil.example\n192.81.209.168\n"
               "d41d8cd98f00b204e9800998ecf8427e\n10.9.0.0/16\n");
    t_tmp_text(allow, sizeof(allow), "dballow.txt",
               "evil.example\nD41D8CD98F00B204E9800998ECF8427E\n");
    t_path(dbfile, sizeof(dbfile), "allow.db");
    assert_int_equal(iocs_load_db(&o, &db, &res, &lr, &e), 0);
    assert_int_equal(iocs_dbfile_write(db, dbfile, e.msg, sizeof(e.msg)), 0);
    iocs_db_free(db);
    db = NULL;

    memset(&o, 0, sizeof(o));
    memset(&lr, 0, sizeof(lr));
    o.db = dbfile;
    o.allows = allows;
    o.nallows = 1;
    assert_int_equal(iocs_load_db(&o, &db, &res, &lr, &e), 0);
    assert_int_equal(lr.allowed, 2);
    set = iocs_db_set(db);
    assert_int_equal(iocs_iocset_count(set), 2);
    assert_true(has_value(set, "192.81.209.168"));
    assert_true(has_value(set, "10.9.0.0/16"));
    assert_false(has_value(set, "evil.example"));
    iocs_db_free(db);
    db = NULL;

    /* Covering everything leaves nothing to scan: an error, not a hang. */
    t_tmp_text(all, sizeof(all), "dball.txt",
               "evil.example\n192.81.209.168\nd41d8cd98f00b204e9800998ecf8427e"
               "\n10.0.0.0/8\n");
    allows[0] = all;
    assert_int_equal(iocs_load_db(&o, &db, &res, &lr, &e), -ENODATA);
    assert_null(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_builtin_without_inputs),
        cmocka_unit_test(test_load_misp_not_for_ids),
        cmocka_unit_test(test_load_db_allow),
        cmocka_unit_test(test_load_feed_replaces_builtin),
        cmocka_unit_test(test_load_allowlist_drops),
        cmocka_unit_test(test_load_reject_reported),
        cmocka_unit_test(test_load_strict),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_load_cache_round_trip),
        cmocka_unit_test(test_load_bad_db_file),
    };
    return t_run_in_tmpdir(tests);
}
