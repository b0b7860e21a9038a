/*
 * test_dbcache.c - database files and the on-disk cache: a round trip
 * keeps every IOC, record and pattern; a damaged, truncated or mismatched
 * file is refused and, in the cache, rebuilt; unchanged inputs are found
 * without parsing anything.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "matchers/builtin.h"
#include "matchers/cidr.h"
#include "matchers/db.h"
#include "matchers/dbcache.h"
#include "matchers/feed.h"
#include "matchers/ioc.h"
#include "matchers/rules.h"
#include "matchers/util.h"

static const char feed_text[] = "192.0.2.7\n"
                                "10.0.0.0/8\n"
                                "2001:db8::/32\n"
                                "evil.example\n"
                                "http://evil.example/x.php?a=1\n"
                                "C:\\Windows\\Temp\\x.dll\n"
                                "24.144.114.85\n"; /* also in the pack */
static const char rules_text[] = "r1 high /id=[A-Z]{2}[0-9]+/i ids\n";

/* One test's directory (inside the program's temporary one, so that no
 * test sees another's cache), feed and cache. */
struct fix {
    char dir[PATH_MAX];
    char feed[PATH_MAX + 16];
    char cache[PATH_MAX + 32];
};

static unsigned char *read_whole(const char *path, size_t *n)
{
    char *buf;

    assert_int_equal(iocs_read_file(path, &buf, n), 0);
    return (unsigned char *)buf;
}

static int setup(void **state)
{
    static unsigned seq;
    struct fix *f = calloc(1, sizeof(*f));
    char name[32];

    if (!f)
        return -1;
    snprintf(name, sizeof(name), "t%u", seq++);
    t_path(f->dir, sizeof(f->dir), name);
    if (mkdir(f->dir, 0700) < 0) {
        free(f);
        return -1;
    }
    snprintf(f->feed, sizeof(f->feed), "%s/feed.txt", f->dir);
    snprintf(f->cache, sizeof(f->cache), "%s/cache/iocstream", f->dir);
    t_write_file(f->feed, feed_text, sizeof(feed_text) - 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state); /* group_teardown removes the files */
    return 0;
}

/* The pack, the feed and a rule file: every type, CIDRs, a regex, and an
 * IOC read twice (an `also` record). */
static struct iocs_iocset *make_set(const struct fix *f)
{
    struct iocs_iocset *set;
    char errbuf[256];

    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_builtin_load(set, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(iocs_feed_load_file(set, f->feed, NULL, NULL, NULL), 0);
    assert_int_equal(iocs_rules_load_mem(set, "t.rules", rules_text,
                                         sizeof(rules_text) - 1, NULL, NULL,
                                         NULL),
                     0);
    return set;
}

static void same_str(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void same_ioc(const struct iocs_ioc *a, const struct iocs_ioc *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->severity, b->severity);
    assert_int_equal(a->len, b->len);
    assert_int_equal(a->confidence, b->confidence);
    assert_int_equal(a->expires, b->expires);
    assert_int_equal(a->hs_flags, b->hs_flags);
    same_str(a->value, b->value);
    same_str(a->feed, b->feed);
    same_str(a->provider, b->provider);
    same_str(a->description, b->description);
    same_str(a->reference, b->reference);
    same_str(a->source, b->source);
    same_str(a->tags, b->tags);
    same_str(a->rule_id, b->rule_id);
}

static int count_match(unsigned int id, unsigned long long from,
                       unsigned long long to, unsigned int flags, void *ctx)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    (*(size_t *)ctx)++;
    return 0;
}

static size_t scan_count(const struct iocs_db *db, const char *text)
{
    struct hs_scratch *s;
    size_t n = 0;

    assert_int_equal(iocs_db_scratch_new(db, &s), 0);
    assert_int_equal(iocs_db_scan(db, s, (const unsigned char *)text,
                                  strlen(text), count_match, &n),
                     0);
    iocs_db_scratch_free(s);
    return n;
}

/* Write then read: the same set (records and chains), patterns and id. */
static void test_dbcache_round_trip(void **state)
{
    static const char text[] =
        "x 192.0.2.7 10.1.2.3 2001:db8::1 evil.example "
        "ID=ab12 192.81.209.168 C:\\Windows\\Temp\\x.dll";
    struct fix *f = *state;
    struct iocs_iocset *set = make_set(f);
    struct iocs_db *db, *back;
    char path[PATH_MAX + 16], errbuf[256];
    uint64_t hash;

    snprintf(path, sizeof(path), "%s/iocs.db", f->dir);
    assert_int_equal(iocs_db_compile(&db, set, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(iocs_dbfile_write(db, path, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(iocs_dbcache_set_hash(set, &hash), 0);
    assert_int_equal(
        iocs_dbfile_read(&back, path, hash, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(iocs_iocset_count(iocs_db_set(back)),
                     iocs_iocset_count(set));
    for (size_t i = 0; i < iocs_iocset_count(set); i++) {
        const struct iocs_ioc *a = iocs_iocset_get(set, i);
        const struct iocs_ioc *b = iocs_iocset_get(iocs_db_set(back), i);

        for (; a && b; a = a->also, b = b->also)
            same_ioc(a, b);
        assert_ptr_equal(a, b); /* both chains ended */
    }
    assert_int_equal(iocs_db_patterns(back), iocs_db_patterns(db));
    for (size_t i = 0; i < iocs_db_patterns(db); i++) {
        const struct iocs_pat *a = iocs_db_pat(db, (unsigned)i);
        const struct iocs_pat *b = iocs_db_pat(back, (unsigned)i);

        assert_int_equal(a->ioc, b->ioc);
        assert_int_equal(a->len, b->len);
        assert_int_equal(a->kind, b->kind);
        assert_int_equal(a->left, b->left);
        assert_int_equal(a->right, b->right);
    }
    assert_string_equal(iocs_db_id(back), iocs_db_id(db));
    assert_int_equal(iocs_db_overlap(back), iocs_db_overlap(db));
    assert_non_null(iocs_db_cidrs(back));
    /* The stored prefix set answers as the built one. */
    for (size_t i = 0; i < 4; i++) {
        static const char *const ips[] = {"10.1.2.3", "192.0.2.7",
                                          "2001:db8::1", "2001:db9::1"};
        uint32_t ia[8], ib[8];
        uint8_t a[16] = {0};
        int fam = strchr(ips[i], ':') ? 6 : 4;
        size_t k;

        if (fam == 6)
            assert_int_equal(iocs_ip6_parse(ips[i], strlen(ips[i]), a), 0);
        else
            assert_int_equal(iocs_ip4_parse(ips[i], strlen(ips[i]), a), 0);
        k = iocs_cidrset_lookup(iocs_db_cidrs(db), fam, a, ia, 8);
        assert_int_equal(
            iocs_cidrset_lookup(iocs_db_cidrs(back), fam, a, ib, 8), k);
        assert_true(k <= 8);
        assert_memory_equal(ia, ib, k * sizeof(*ia));
        assert_true(k > 0 || i % 2); /* 10/8 and 2001:db8::/32 hold 0, 2 */
    }
    assert_true(scan_count(db, text) > 5);
    assert_int_equal(scan_count(back, text), scan_count(db, text));
    iocs_db_free(back);
    iocs_db_free(db);
    iocs_iocset_free(set);
}

/* Any damaged byte, a cut or a longer file, another version or set: never
 * loaded. */
static void test_dbcache_refuses_bad_files(void **state)
{
    struct fix *f = *state;
    struct iocs_iocset *set = make_set(f);
    struct iocs_db *db, *back = NULL;
    char path[PATH_MAX + 16], bad[PATH_MAX + 16], errbuf[256];
    unsigned char *buf, *copy;
    size_t n;
    uint64_t hash;

    snprintf(path, sizeof(path), "%s/iocs.db", f->dir);
    snprintf(bad, sizeof(bad), "%s/bad.db", f->dir);
    assert_int_equal(iocs_db_compile(&db, set, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(iocs_dbfile_write(db, path, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(iocs_dbcache_set_hash(set, &hash), 0);
    buf = read_whole(path, &n);
    copy = malloc(n + 1);
    assert_non_null(copy);

    for (size_t i = 0; i < n; i += i < 256 || i + 16 > n ? 1 : 97) {
        int err;

        memcpy(copy, buf, n);
        copy[i] ^= 0x20;
        t_write_file(bad, copy, n);
        err = iocs_dbfile_read(&back, bad, 0, errbuf, sizeof(errbuf));
        if (err != -EINVAL && err != -ESTALE)
            fail_msg("byte %zu of %zu flipped: %d", i, n, err);
    }
    for (size_t k = 0; k < 6; k++) {
        size_t cut[] = {0, 1, 100, 160, n / 2, n - 1};

        t_write_file(bad, buf, cut[k]);
        assert_int_equal(
            iocs_dbfile_read(&back, bad, 0, errbuf, sizeof(errbuf)), -EINVAL);
    }
    memcpy(copy, buf, n);
    copy[n] = 0;
    t_write_file(bad, copy, n + 1);
    assert_int_equal(iocs_dbfile_read(&back, bad, 0, errbuf, sizeof(errbuf)),
                     -EINVAL);

    /* Another format version, another Hyperscan, another set. */
    memcpy(copy, buf, n);
    copy[8]++;
    t_write_file(bad, copy, n);
    assert_int_equal(iocs_dbfile_read(&back, bad, 0, errbuf, sizeof(errbuf)),
                     -ESTALE);
    assert_non_null(strstr(errbuf, "version"));
    memcpy(copy, buf, n);
    copy[16] = 'X';
    t_write_file(bad, copy, n);
    assert_int_equal(iocs_dbfile_read(&back, bad, 0, errbuf, sizeof(errbuf)),
                     -ESTALE);
    assert_non_null(strstr(errbuf, "Hyperscan"));
    assert_int_equal(
        iocs_dbfile_read(&back, path, hash + 1, errbuf, sizeof(errbuf)),
        -ESTALE);
    assert_int_equal(
        iocs_dbfile_read(&back, f->feed, 0, errbuf, sizeof(errbuf)), -EINVAL);
    assert_int_equal(
        iocs_dbfile_read(&back, bad + 1, 0, errbuf, sizeof(errbuf)), -ENOENT);
    assert_int_equal(
        iocs_dbfile_read(&back, path, hash, errbuf, sizeof(errbuf)), 0);
    iocs_db_free(back);
    free(copy);
    free(buf);
    iocs_db_free(db);
    iocs_iocset_free(set);
}

/* Build, hit by set, hit by inputs; a bad cached file is rebuilt; changed
 * inputs miss. */
static void test_dbcache_cache(void **state)
{
    struct fix *f = *state;
    const char *inputs[] = {f->feed};
    struct iocs_dbcache_opts o = {
        .dir = f->cache, .inputs = inputs, .ninputs = 1, .salt = 42};
    struct iocs_dbcache_result res;
    struct iocs_db *db = NULL;
    char errbuf[256], path[PATH_MAX + 64];
    struct iocs_iocset *set;
    unsigned char *buf;
    uint64_t hash;
    size_t n, count;

    assert_int_equal(iocs_dbcache_find(&o, &db, &res), -ENOENT);

    set = make_set(f);
    count = iocs_iocset_count(set);
    assert_int_equal(iocs_dbcache_set_hash(set, &hash), 0);
    assert_int_equal(
        iocs_dbcache_get(&o, set, &db, &res, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(res.how, IOCS_DBCACHE_BUILT);
    assert_int_equal(res.store_err, 0);
    assert_ptr_equal(iocs_db_set(db), set); /* owned by db now */
    iocs_db_free(db);

    /* Unchanged inputs: the database, set included, with nothing parsed. */
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), 0);
    assert_int_equal(res.how, IOCS_DBCACHE_INPUTS);
    assert_int_equal(iocs_iocset_count(iocs_db_set(db)), count);
    iocs_db_free(db);

    /* Another salt: a miss by inputs, a hit by set. */
    o.salt = 43;
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), -ENOENT);
    assert_int_equal(
        iocs_dbcache_get(&o, make_set(f), &db, &res, errbuf, sizeof(errbuf)),
        0);
    assert_int_equal(res.how, IOCS_DBCACHE_SET);
    iocs_db_free(db);

    /* A damaged cache file: refused by find, rebuilt by get. */
    snprintf(path, sizeof(path), "%s/%016llx.db", f->cache,
             (unsigned long long)hash);
    buf = read_whole(path, &n);
    buf[n / 2] ^= 1;
    t_write_file(path, buf, n);
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), -ENOENT);
    assert_non_null(strstr(res.why, "checksum"));
    assert_int_equal(
        iocs_dbcache_get(&o, make_set(f), &db, &res, errbuf, sizeof(errbuf)),
        0);
    assert_int_equal(res.how, IOCS_DBCACHE_REBUILT);
    iocs_db_free(db);
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), 0);
    iocs_db_free(db);

    /* Truncated: rebuilt too. */
    t_write_file(path, buf, n / 3);
    assert_int_equal(
        iocs_dbcache_get(&o, make_set(f), &db, &res, errbuf, sizeof(errbuf)),
        0);
    assert_int_equal(res.how, IOCS_DBCACHE_REBUILT);
    iocs_db_free(db);
    free(buf);

    /* A changed feed: the index no longer applies. */
    t_write_file(f->feed, "198.51.100.1\n", 13);
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), -ENOENT);
    t_write_file(f->feed, feed_text, sizeof(feed_text) - 1);
}

/* Only a regular file (or a new path) is replaced: a FIFO, a link or a
 * device at the output path is refused and left as it was. */
static void test_dbcache_write_refuses_special_paths(void **state)
{
    struct fix *f = *state;
    struct iocs_iocset *set = make_set(f);
    char fifo[PATH_MAX + 16], link[PATH_MAX + 16], reg[PATH_MAX + 16];
    char errbuf[256];
    struct iocs_db *db;
    struct stat st;

    snprintf(fifo, sizeof(fifo), "%s/fifo.db", f->dir);
    snprintf(link, sizeof(link), "%s/link.db", f->dir);
    snprintf(reg, sizeof(reg), "%s/reg.db", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(symlink(f->feed, link), 0);
    assert_int_equal(iocs_db_compile(&db, set, errbuf, sizeof(errbuf)), 0);
    iocs__db_own_set(db);

    assert_int_equal(iocs_dbfile_write(db, fifo, errbuf, sizeof(errbuf)),
                     -EINVAL);
    assert_non_null(strstr(errbuf, "not a regular file"));
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(iocs_dbfile_write(db, link, errbuf, sizeof(errbuf)),
                     -ELOOP);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(iocs_dbfile_write(db, "/dev/null", errbuf, sizeof(errbuf)),
                     -EINVAL);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(iocs_check_replace(f->dir, "output", NULL, 0), -EINVAL);

    /* A regular file and a new path are written. */
    t_write_file(reg, "old", 3);
    assert_int_equal(iocs_dbfile_write(db, reg, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(unlink(reg), 0);
    assert_int_equal(iocs_dbfile_write(db, reg, errbuf, sizeof(errbuf)), 0);
    iocs_db_free(db);
}

/* Feeds and database files are read only when regular and not too big: a
 * FIFO neither blocks nor is read, /dev/zero is not read to exhaustion. */
static void test_dbcache_reads_only_regular_files(void **state)
{
    struct fix *f = *state;
    char fifo[PATH_MAX + 16], errbuf[256], *buf;
    struct iocs_db *db = NULL;
    size_t n;

    snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(iocs_read_file(fifo, &buf, &n), -EINVAL);
    assert_int_equal(iocs_read_file("/dev/zero", &buf, &n), -EINVAL);
    assert_int_equal(iocs_dbfile_read(&db, fifo, 0, errbuf, sizeof(errbuf)),
                     -EINVAL);
    assert_int_equal(
        iocs_dbfile_read(&db, "/dev/zero", 0, errbuf, sizeof(errbuf)), -EINVAL);
    assert_int_equal(iocs_read_file_max(f->feed, 4, &buf, &n), -EFBIG);
    assert_int_equal(iocs_read_file_max(f->feed, sizeof(feed_text), &buf, &n),
                     0);
    assert_int_equal(n, sizeof(feed_text) - 1);
    free(buf);
    /* A file that says it is empty but is not (/proc) is read to its end. */
    assert_int_equal(iocs_read_file("/proc/self/status", &buf, &n), 0);
    assert_true(n > 0);
    free(buf);
}

/* The path of the cached database of set in f's cache. */
static void db_path(char *out, size_t cap, const struct fix *f,
                    struct iocs_iocset *set)
{
    uint64_t hash;

    assert_int_equal(iocs_dbcache_set_hash(set, &hash), 0);
    snprintf(out, cap, "%s/%016llx.db", f->cache, (unsigned long long)hash);
}

/* A cache file that is a FIFO, or a link to /dev/zero: the cache is
 * skipped at once and the set compiled. */
static void test_dbcache_special_cache_files_fall_back(void **state)
{
    struct fix *f = *state;
    const char *inputs[] = {f->feed};
    struct iocs_dbcache_opts o = {
        .dir = f->cache, .inputs = inputs, .ninputs = 1, .salt = 7};
    struct iocs_dbcache_result res;
    struct iocs_iocset *set = make_set(f);
    char path[PATH_MAX + 64], errbuf[256];
    struct iocs_db *db = NULL;

    db_path(path, sizeof(path), f, set);
    assert_int_equal(
        iocs_dbcache_get(&o, set, &db, &res, errbuf, sizeof(errbuf)), 0);
    iocs_db_free(db);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), -ENOENT);
    assert_int_equal(
        iocs_dbcache_get(&o, make_set(f), &db, &res, errbuf, sizeof(errbuf)),
        0);
    assert_int_equal(res.how, IOCS_DBCACHE_REBUILT);
    iocs_db_free(db);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("/dev/zero", path), 0);
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), -ENOENT);
    assert_int_equal(
        iocs_dbcache_get(&o, make_set(f), &db, &res, errbuf, sizeof(errbuf)),
        0);
    assert_int_equal(res.how, IOCS_DBCACHE_REBUILT);
    assert_true(iocs_iocset_count(iocs_db_set(db)) > 0);
    iocs_db_free(db);
}

/* A cache directory or file writable by others (or, as root, owned by
 * someone else) is not used: a warning, and the set is compiled. A new
 * directory is made 0700. */
static void test_dbcache_untrusted_cache_is_skipped(void **state)
{
    struct fix *f = *state;
    const char *inputs[] = {f->feed};
    struct iocs_dbcache_opts o = {
        .dir = f->cache, .inputs = inputs, .ninputs = 1, .salt = 9};
    struct iocs_dbcache_result res;
    char path[PATH_MAX + 64], errbuf[256];
    struct iocs_db *db = NULL;
    struct stat st;

    assert_int_equal(
        iocs_dbcache_get(&o, make_set(f), &db, &res, errbuf, sizeof(errbuf)),
        0);
    iocs_db_free(db);
    assert_int_equal(stat(f->cache, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), 0);
    iocs_db_free(db);

    /* The directory group-writable: nothing read, nothing written. */
    assert_int_equal(chmod(f->cache, 0770), 0);
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), -ENOENT);
    assert_non_null(strstr(res.warn, "writable by group or others"));
    o.salt = 10;
    assert_int_equal(
        iocs_dbcache_get(&o, make_set(f), &db, &res, errbuf, sizeof(errbuf)),
        0);
    assert_int_equal(res.how, IOCS_DBCACHE_BUILT);
    assert_non_null(strstr(res.warn, "not using the cache"));
    iocs_db_free(db);
    assert_int_equal(chmod(f->cache, 0700), 0);
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), -ENOENT); /* unsaved */

    /* A database file others may write: not read. */
    o.salt = 9;
    {
        struct iocs_iocset *set = make_set(f);

        db_path(path, sizeof(path), f, set);
        iocs_iocset_free(set);
    }
    assert_int_equal(chmod(path, 0666), 0);
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), -ENOENT);
    assert_non_null(strstr(res.warn, "writable"));
    assert_int_equal(chmod(path, 0600), 0);
    if (geteuid() == 0) {
        assert_int_equal(chown(path, 1, (gid_t)-1), 0);
        assert_int_equal(iocs_dbcache_find(&o, &db, &res), -ENOENT);
        assert_non_null(strstr(res.warn, "not owned"));
        assert_int_equal(chown(path, 0, (gid_t)-1), 0);
    }
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), 0);
    iocs_db_free(db);
}

/* A feed rewritten between the identity taken before parsing and the
 * store: its new identity is not recorded with the old set. */
static void test_dbcache_feed_changed_while_parsed(void **state)
{
    struct fix *f = *state;
    const char *inputs[] = {f->feed};
    struct iocs_dbcache_opts o = {
        .dir = f->cache, .inputs = inputs, .ninputs = 1, .salt = 5};
    struct iocs_dbcache_result res;
    struct iocs_iocset *set;
    struct iocs_db *db = NULL;
    char errbuf[256];

    assert_int_equal(iocs_dbcache_inputs_key(&o, &o.inputs_key), 0);
    set = make_set(f); /* parsed from the old text */
    t_write_file(f->feed, "198.51.100.1\n", 13);
    assert_int_equal(
        iocs_dbcache_get(&o, set, &db, &res, errbuf, sizeof(errbuf)), 0);
    assert_true(res.inputs_changed);
    iocs_db_free(db);
    /* The rewritten feed is not found under the old set. */
    o.inputs_key = 0;
    assert_int_equal(iocs_dbcache_find(&o, &db, &res), -ENOENT);
    t_write_file(f->feed, feed_text, sizeof(feed_text) - 1);
}

/* The cache stays under its limit, least recently used first; a killed
 * writer's old temporary file is removed, a fresh one is not. */
static void test_dbcache_prunes(void **state)
{
    struct fix *f = *state;
    const char *inputs[] = {f->feed};
    struct iocs_dbcache_opts o = {
        .dir = f->cache, .inputs = inputs, .ninputs = 1, .salt = 1};
    struct iocs_dbcache_result res;
    char path[PATH_MAX + 64], a[PATH_MAX + 64], stale[PATH_MAX + 80],
        fresh[PATH_MAX + 80], errbuf[256];
    struct iocs_iocset *set;
    struct iocs_db *db = NULL;
    struct timespec old[2] = {{.tv_sec = 1000000}, {.tv_sec = 1000000}};
    struct stat st;

    set = make_set(f);
    db_path(a, sizeof(a), f, set);
    assert_int_equal(
        iocs_dbcache_get(&o, set, &db, &res, errbuf, sizeof(errbuf)), 0);
    iocs_db_free(db);
    assert_int_equal(stat(a, &st), 0);
    assert_int_equal(utimensat(AT_FDCWD, a, old, 0), 0); /* long unused */
    snprintf(stale, sizeof(stale), "%s.Ab12Cd", a);
    snprintf(fresh, sizeof(fresh), "%s.Zz99Yy", a);
    t_write_file(stale, "x", 1);
    t_write_file(fresh, "x", 1);
    assert_int_equal(utimensat(AT_FDCWD, stale, old, 0), 0);

    /* Another set, and a limit that holds only one database. */
    t_write_file(f->feed, "198.51.100.1\n", 13);
    o.max_bytes = (uint64_t)st.st_size + 64;
    o.inputs_key = 0;
    set = make_set(f);
    db_path(path, sizeof(path), f, set);
    assert_int_equal(
        iocs_dbcache_get(&o, set, &db, &res, errbuf, sizeof(errbuf)), 0);
    iocs_db_free(db);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(access(a, F_OK), -1); /* the least recently used */
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(access(fresh, F_OK), 0);
    t_write_file(f->feed, feed_text, sizeof(feed_text) - 1);
}

/* A Hyperscan section taken from another file (its ids index another
 * pattern table) is refused, checksum or not. */
static void test_dbcache_refuses_foreign_hyperscan(void **state)
{
    struct fix *f = *state;
    struct iocs_iocset *small, *big = make_set(f);
    struct iocs_db *a, *b, *back = NULL;
    char pa[PATH_MAX + 16], pb[PATH_MAX + 16], errbuf[256];
    unsigned char *ba, *bb, *c;
    size_t na, nb, hs_a, hs_b, n;

    assert_int_equal(iocs_iocset_new(&small), 0);
    assert_int_equal(
        iocs_feed_load_mem(small, "s", "192.0.2.7\n", 10, NULL, NULL, NULL), 0);
    snprintf(pa, sizeof(pa), "%s/a.db", f->dir);
    snprintf(pb, sizeof(pb), "%s/b.db", f->dir);
    assert_int_equal(iocs_db_compile(&a, small, errbuf, sizeof(errbuf)), 0);
    iocs__db_own_set(a);
    assert_int_equal(iocs_db_compile(&b, big, errbuf, sizeof(errbuf)), 0);
    iocs__db_own_set(b);
    assert_int_equal(iocs_dbfile_write(a, pa, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(iocs_dbfile_write(b, pb, errbuf, sizeof(errbuf)), 0);
    ba = read_whole(pa, &na);
    bb = read_whole(pb, &nb);
    hs_a = (size_t)(ba[144] | ba[145] << 8 | ba[146] << 16);
    hs_b = (size_t)(bb[144] | bb[145] << 8 | bb[146] << 16);

    /* a's header, set and patterns with b's Hyperscan section. */
    n = na - 8 - hs_a + hs_b + 8;
    c = calloc(1, n);
    assert_non_null(c);
    memcpy(c, ba, na - 8 - hs_a);
    memcpy(c + na - 8 - hs_a, bb + nb - 8 - hs_b, hs_b);
    for (int i = 0; i < 8; i++)
        c[144 + i] = (unsigned char)((uint64_t)hs_b >> (8 * i));
    iocs__dbfile_fixup(c, n, false);
    assert_int_equal(iocs__dbfile_parse(&back, c, n, 0, errbuf, sizeof(errbuf)),
                     -EINVAL);
    assert_non_null(strstr(errbuf, "does not belong"));
    free(c);
    free(ba);
    free(bb);
    iocs_db_free(a);
    iocs_db_free(b);
}

/* Whether path is mapped into this process (/proc/self/maps). */
static bool mapped(const char *path)
{
    size_t n;
    char *maps = t_read_file("/proc/self/maps", &n);
    bool yes = strstr(maps, path) != NULL;

    free(maps);
    return yes;
}

/* Every string of every record of set, read whole: a string that pointed
 * into a cut file would raise SIGBUS here. */
static void same_set(const struct iocs_iocset *a, const struct iocs_iocset *b)
{
    assert_int_equal(iocs_iocset_count(a), iocs_iocset_count(b));
    for (size_t i = 0; i < iocs_iocset_count(a); i++) {
        const struct iocs_ioc *x = iocs_iocset_get(a, i);
        const struct iocs_ioc *y = iocs_iocset_get(b, i);

        for (; x && y; x = x->also, y = y->also)
            same_ioc(x, y);
        assert_ptr_equal(x, y);
    }
}

/*
 * A file loaded with iocs_dbfile_read() (`scan --db`) keeps working when
 * the file is cut or rewritten in place afterwards (cp over it): what the
 * set uses was copied out of the file before it was checked. A cache
 * entry is used in place: it is only ever replaced by rename, which leaves
 * the inode mapped as it was. Either mapping goes with the database, and
 * a loaded set is read-only.
 */
static void test_dbcache_loaded_in_place(void **state)
{
    static const char text[] =
        "x 192.0.2.7 10.1.2.3 2001:db8::1 evil.example ID=ab12";
    struct fix *f = *state;
    const char *inputs[] = {f->feed};
    struct iocs_dbcache_opts o = {
        .dir = f->cache, .inputs = inputs, .ninputs = 1, .salt = 7};
    struct iocs_dbcache_result res;
    struct iocs_iocset *set = make_set(f), *other;
    struct iocs_db *db, *back;
    struct iocs_ioc x = {.type = IOCS_DOMAIN, .value = "x.example", .len = 9};
    char path[PATH_MAX + 16], cpath[PATH_MAX + 64], errbuf[256];
    unsigned char *buf;
    size_t n, hits;

    snprintf(path, sizeof(path), "%s/iocs.db", f->dir);
    assert_int_equal(iocs_db_compile(&db, set, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(iocs_dbfile_write(db, path, errbuf, sizeof(errbuf)), 0);
    hits = scan_count(db, text);
    assert_true(hits > 3);

    assert_int_equal(iocs_dbfile_read(&back, path, 0, errbuf, sizeof(errbuf)),
                     0);
    assert_true(mapped(path));
    assert_int_equal(
        iocs_iocset_add((struct iocs_iocset *)iocs_db_set(back), &x, NULL),
        -EPERM);
    buf = read_whole(path, &n);
    t_write_file(path, "", 0); /* cut in place: the same inode */
    same_set(set, iocs_db_set(back));
    assert_int_equal(scan_count(back, text), hits);
    t_write_file(path, buf, n / 2); /* and rewritten, half of it */
    same_set(set, iocs_db_set(back));
    iocs_db_free(back);
    assert_false(mapped(path));

    /* The cache: found, then its file replaced by rename. */
    assert_int_equal(
        iocs_dbcache_get(&o, make_set(f), &back, &res, errbuf, sizeof(errbuf)),
        0);
    iocs_db_free(back);
    assert_int_equal(iocs_dbcache_find(&o, &back, &res), 0);
    db_path(cpath, sizeof(cpath), f, set);
    assert_true(mapped(cpath));
    assert_int_equal(iocs_write_replace(cpath, "x", 1, 0600, "cache file",
                                        errbuf, sizeof(errbuf)),
                     0);
    same_set(set, iocs_db_set(back));
    assert_int_equal(scan_count(back, text), hits);
    iocs_db_free(back);
    assert_false(mapped(cpath));

    /* A file of format version 4 in the cache is rebuilt. */
    other = make_set(f);
    assert_int_equal(
        iocs_dbcache_get(&o, other, &back, &res, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(res.how, IOCS_DBCACHE_REBUILT); /* it held "x" */
    iocs_db_free(back);
    free(buf);
    buf = read_whole(cpath, &n);
    buf[8] = 4;
    t_write_file(cpath, buf, n);
    assert_int_equal(iocs_dbcache_find(&o, &back, &res), -ENOENT);
    assert_non_null(strstr(res.why, "version 4"));
    assert_int_equal(
        iocs_dbcache_get(&o, make_set(f), &back, &res, errbuf, sizeof(errbuf)),
        0);
    assert_int_equal(res.how, IOCS_DBCACHE_REBUILT);
    same_set(set, iocs_db_set(back));
    iocs_db_free(back);
    free(buf);
    iocs_db_free(db);
    iocs_iocset_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dbcache_round_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dbcache_refuses_bad_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dbcache_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_dbcache_write_refuses_special_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dbcache_reads_only_regular_files,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_dbcache_special_cache_files_fall_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dbcache_untrusted_cache_is_skipped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dbcache_feed_changed_while_parsed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dbcache_prunes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dbcache_refuses_foreign_hyperscan,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dbcache_loaded_in_place, setup,
                                        teardown),
    };
    return t_run_in_tmpdir(tests);
}
