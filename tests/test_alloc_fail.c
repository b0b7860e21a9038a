/*
 * test_alloc_fail.c - fault injection (STYLE.md): the Nth allocation
 * fails, for every N until the call succeeds untouched, in the loaders
 * (feeds, rules, allowlists through iocs_load_db(); a database file; the
 * cache) and in one scan (reader, framer, scanner); and reads and writes
 * fail (EIO, ENOSPC), stop short or are interrupted (EINTR) under the
 * reader and the file sink. Nothing may crash or leak (checked here with
 * a set of live blocks, and by ASan in the asan preset) and every failure must
 * come back as a clear error.
 *
 * Linked with -Wl,--wrap=malloc,calloc,realloc,free,strdup,strndup,read,pread,
 * write (tests/CMakeLists.txt): iocstream's own calls go through the
 * wrappers below; Hyperscan's and libc's own do not.
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
#include <sys/types.h>
#include <unistd.h>

#include "helpers.h"
#include "matchers/db.h"
#include "matchers/dbcache.h"
#include "matchers/load.h"
#include "pipeline/framer.h"
#include "pipeline/reader.h"
#include "pipeline/scanner.h"
#include "pipeline/sink.h"

/* ---- the wrappers ---- */

void *__real_malloc(size_t n);
void __real_free(void *p);
void __wrap_free(void *p);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __real_write(int fd, const void *buf, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_write(int fd, const void *buf, size_t n);

static long countdown = -1; /* allocations left before one fails; < 0: off */
static bool failed;         /* the countdown fired */

/*
 * The blocks iocstream allocated and has not freed since tracking began:
 * an open-addressing set of pointers (tombstones on delete), so a leak is
 * found whatever the allocator keeps in its caches.
 */
#define LIVE_CAP (1u << 18)
#define TOMB ((void *)1)
static void *live[LIVE_CAP];
static size_t nlive;
static bool tracking;

static size_t slot_of(const void *p)
{
    return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ull >> 46) &
           (LIVE_CAP - 1);
}

static void *track(void *p)
{
    if (!p || !tracking)
        return p;
    for (size_t i = slot_of(p);; i = (i + 1) & (LIVE_CAP - 1)) {
        if (!live[i] || live[i] == TOMB) {
            live[i] = p;
            nlive++;
            return p;
        }
    }
}

static void untrack(void *p)
{
    if (!p || !tracking)
        return;
    for (size_t i = slot_of(p); live[i]; i = (i + 1) & (LIVE_CAP - 1)) {
        if (live[i] == p) {
            live[i] = TOMB;
            nlive--;
            return;
        }
    }
}

static void track_begin(void)
{
    memset(live, 0, sizeof(live));
    nlive = 0;
    tracking = true;
}

/* Stop tracking; returns the blocks still live. */
static size_t track_end(void)
{
    tracking = false;
    return nlive;
}

static bool fail_alloc(void)
{
    if (countdown < 0)
        return false;
    if (countdown-- > 0)
        return false;
    failed = true;
    countdown = -1; /* one failure per run, as a real shortage might */
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t n)
{
    return fail_alloc() ? NULL : track(__real_malloc(n));
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_alloc() ? NULL : track(__real_calloc(n, size));
}

void *__wrap_realloc(void *p, size_t n)
{
    void *np;

    if (fail_alloc())
        return NULL;
    np = __real_realloc(p, n);
    if (np || n == 0)
        untrack(p);
    return track(np);
}

char *__wrap_strdup(const char *s)
{
    return fail_alloc() ? NULL : track(__real_strdup(s));
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fail_alloc() ? NULL : track(__real_strndup(s, n));
}

void __wrap_free(void *p)
{
    untrack(p);
    __real_free(p);
}

/* An I/O fault for the next reads or writes on descriptors above 2. */
enum io_fault { IO_NONE, IO_EINTR, IO_SHORT, IO_EIO, IO_ENOSPC, IO_SHORT_EIO };
static enum io_fault read_fault, write_fault;
static int read_faults, write_faults; /* how many times still */

/* What the fault does to a call of n bytes: -1 with errno set, a byte
 * count (short), or 0 for "call through". */
static ssize_t fault(enum io_fault *f, int *left, size_t *n)
{
    if (*f == IO_NONE || *left == 0)
        return 0;
    (*left)--;
    switch (*f) {
    case IO_EINTR:
        errno = EINTR;
        return -1;
    case IO_EIO:
        errno = EIO;
        return -1;
    case IO_ENOSPC:
        errno = ENOSPC;
        return -1;
    case IO_SHORT_EIO: /* a short call, then EIO */
        if (*left == 0) {
            errno = EIO;
            return -1;
        }
        /* fall through */
    case IO_SHORT:
        if (*n > 1)
            *n /= 2;
        return 0;
    case IO_NONE:
        break;
    }
    return 0;
}

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
    if (fd > 2 && fault(&read_fault, &read_faults, &n) < 0)
        return -1;
    return __real_read(fd, buf, n);
}

ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
    if (fd > 2 && fault(&read_fault, &read_faults, &n) < 0)
        return -1;
    return __real_pread(fd, buf, n, off);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    if (fd > 2 && fault(&write_fault, &write_faults, &n) < 0)
        return -1;
    return __real_write(fd, buf, n);
}

/* ---- the loop ---- */

/*
 * Run fn(ctx) with the Nth allocation failing, N = 0, 1, 2, ... until a
 * run completes without the failure firing; that run must succeed. Every
 * failing run must return a negative errno and leave the heap as it was.
 * Returns the number of allocation points found.
 */
static long fail_each(int (*fn)(void *ctx), void *ctx)
{
    size_t left;
    long n;
    int err;

    assert_int_equal(fn(ctx), 0); /* warm up: lazy library state */
    if (getenv("T_FAIL_AT")) {    /* debugging one case under valgrind */
        countdown = atol(getenv("T_FAIL_AT"));
        (void)fn(ctx);
        countdown = -1;
        return 1;
    }
    for (n = 0; n < 100000; n++) {
        failed = false;
        track_begin();
        countdown = n;
        err = fn(ctx);
        countdown = -1;
        left = track_end();
        if (!failed) {
            assert_int_equal(err, 0);
            assert_int_equal(left, 0);
            break;
        }
        if (err >= 0)
            fail_msg("allocation %ld failed, yet the call returned %d", n, err);
        if (left)
            fail_msg("allocation %ld failed: %zu blocks leaked", n, left);
    }
    assert_true(n > 0);
    print_message("%ld allocation points, each failed once\n", n);
    return n;
}

/* ---- the loaders ---- */

struct files {
    char feed[PATH_MAX], csv[PATH_MAX], rules[PATH_MAX], allow[PATH_MAX];
    char dbfile[PATH_MAX], cache[PATH_MAX], log[PATH_MAX];
};

static struct files fx;

static void make_files(void)
{
    static bool made;

    if (made)
        return;
    made = true;
    t_tmp_text(
        fx.feed, sizeof(fx.feed), "feed.txt",
        "# a plain list\n192.0.2.7\n10.0.0.0/8\n2001:db8::/32\n"
        "evil[.]example\nhxxp://evil.example/x.php?a=1\n"
        "C:\\Windows\\Temp\\x.dll\n"
        "8b448f47e36909f3a921b4ff803cf3a61985d8a10f0fe594b405b92ed0fc21f1"
        "\nnot an ioc at all\n");
    t_tmp_text(fx.csv, sizeof(fx.csv), "feed.csv",
               "type,value,severity,description\n"
               "domain,bad.example,high,a domain\n"
               "ip,198.51.100.9,low,an address\n"
               "string,ingredi support desk,medium,a phrase\n");
    t_tmp_text(fx.rules, sizeof(fx.rules), "r.rules",
               "r1 high /id=[A-Z]{2}[0-9]+/i ids\n"
               "r2 low /(user|acct)=root/ root\n");
    t_tmp_text(fx.allow, sizeof(fx.allow), "allow.txt",
               "10.1.2.3\nok.example\n");
    t_path(fx.dbfile, sizeof(fx.dbfile), "iocs.db");
    t_path(fx.cache, sizeof(fx.cache), "cache");
    t_tmp_text(fx.log, sizeof(fx.log), "a.log",
               "GET http://evil.example/x.php?a=1 from 192.0.2.7\n"
               "10.1.2.3 and 10.9.9.9 id=AB12 user=root\n"
               "2001:db8::1 C:\\Windows\\Temp\\x.dll bad.example\n");
}

static const char *feeds[2], *rules[1], *allows[1];

static struct iocs_load_opts load_opts(void)
{
    make_files();
    feeds[0] = fx.feed;
    feeds[1] = fx.csv;
    rules[0] = fx.rules;
    allows[0] = fx.allow;
    return (struct iocs_load_opts){.feeds = feeds,
                                   .nfeeds = 2,
                                   .rules = rules,
                                   .nrules = 1,
                                   .allows = allows,
                                   .nallows = 1};
}

static int load_db(void *ctx)
{
    struct iocs_load_opts o = load_opts();
    struct iocs_dbcache_result res;
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    struct iocs_db *db = NULL;
    int err;

    (void)ctx;
    err = iocs_load_db(&o, &db, &res, &lr, &e);
    if (err == 0)
        assert_true(iocs_iocset_count(iocs_db_set(db)) >= 9);
    iocs_db_free(db);
    return err;
}

/* Feeds (plain and CSV), rules and an allowlist, parsed and compiled. */
static void test_alloc_fail_loaders(void **state)
{
    (void)state;
    fail_each(load_db, NULL);
}

static int load_allow(void *ctx)
{
    struct iocs_load_opts o = load_opts();
    struct iocs_allow *allow = NULL;
    struct iocs_load_err e;
    size_t rejected = 0;
    int err;

    (void)ctx;
    err = iocs_load_allow(&o, false, &allow, &rejected, &e);
    iocs_allow_free(allow);
    return err;
}

static void test_alloc_fail_allowlist(void **state)
{
    (void)state;
    fail_each(load_allow, NULL);
}

/* A compiled database for the file, cache and scan cases. */
static struct iocs_db *the_db(void)
{
    static struct iocs_db *db;

    if (!db) {
        struct iocs_load_opts o = load_opts();
        struct iocs_dbcache_result res;
        struct iocs_load_report lr = {0};
        struct iocs_load_err e;

        assert_int_equal(iocs_load_db(&o, &db, &res, &lr, &e), 0);
    }
    return db;
}

static int read_dbfile(void *ctx)
{
    struct iocs_db *db = NULL;
    char errbuf[256];
    int err;

    (void)ctx;
    err = iocs_dbfile_read(&db, fx.dbfile, 0, errbuf, sizeof(errbuf));
    iocs_db_free(db);
    return err;
}

/* A database file: read, checked, the set rebuilt, deserialized. */
static void test_alloc_fail_dbfile(void **state)
{
    char errbuf[256];

    (void)state;
    assert_int_equal(
        iocs_dbfile_write(the_db(), fx.dbfile, errbuf, sizeof(errbuf)), 0);
    fail_each(read_dbfile, NULL);
}

static int cache_find(void *ctx)
{
    const char *inputs[] = {fx.feed};
    struct iocs_dbcache_opts o = {
        .dir = fx.cache, .inputs = inputs, .ninputs = 1, .salt = 77};
    struct iocs_dbcache_result res;
    struct iocs_db *db = NULL;
    int err;

    (void)ctx;
    err = iocs_dbcache_find(&o, &db, &res);
    iocs_db_free(db);
    /* A cache problem (out of memory too) is a miss: the caller compiles.
     * Here it must be a hit once nothing fails. */
    return err == -ENOENT && failed ? -ENOMEM : err;
}

/* The cache: the inputs index, then the database file it names. */
static void test_alloc_fail_dbcache(void **state)
{
    const char *inputs[] = {fx.feed};
    struct iocs_dbcache_opts o = {
        .dir = fx.cache, .inputs = inputs, .ninputs = 1, .salt = 77};
    struct iocs_dbcache_result res;
    struct iocs_iocset *set;
    struct iocs_db *db = NULL;
    char errbuf[256];

    (void)state;
    make_files();
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_feed_load_file(set, fx.feed, NULL, NULL, NULL), 0);
    assert_int_equal(
        iocs_dbcache_get(&o, set, &db, &res, errbuf, sizeof(errbuf)), 0);
    iocs_db_free(db);
    fail_each(cache_find, NULL);
}

/* ---- one scan ---- */

struct scan_out {
    size_t events;
    int slab_err; /* the first slab error seen */
};

static int count_event(void *ctx, const struct iocs_event *ev)
{
    (void)ev;
    ((struct scan_out *)ctx)->events++;
    return 0;
}

/* Read, frame and scan fx.log (read(2), small slabs). */
static int scan_log(void *ctx)
{
    struct scan_out *out = ctx;
    const struct iocs_db *db = the_db();
    struct iocs_source src = iocs_source_of(fx.log);
    struct iocs_reader_opts ro = {
        .slab_size = 64, .nslabs = 4, .depth = 2, .no_uring = true};
    struct iocs_scanner_opts so = {.max_line = 4096};
    struct iocs_reader *r = NULL;
    struct iocs_framer *f = NULL;
    struct iocs_scanner *sc = NULL;
    struct iocs_linestate *ls = NULL;
    struct iocs_slab *s;
    uint64_t line0 = 1, nl;
    int err, rc;

    out->events = 0;
    out->slab_err = 0;
    ro.headroom = iocs_db_overlap(db) + 64;
    err = iocs_reader_new(&r, &ro, &src, 1);
    if (!err)
        err = iocs_framer_new(&f, 64, iocs_db_overlap(db));
    if (!err)
        err = iocs_scanner_new(&sc, db, &so);
    if (!err)
        err = iocs_linestate_new(&ls, 4096);
    while (!err && (rc = iocs_reader_next(r, &s)) != 0) {
        struct iocs_unit u;

        if (rc < 0) {
            err = rc;
            break;
        }
        if (s->err && !out->slab_err)
            out->slab_err = s->err;
        rc = iocs_framer_frame(f, s, &u);
        if (rc < 0)
            err = rc;
        else if (rc > 0)
            err = iocs_scanner_unit(sc, &u, fx.log, line0, ls, count_event, out,
                                    &nl);
        if (rc > 0 && !err)
            line0 += nl;
        iocs_reader_release(r, s);
    }
    iocs_linestate_free(ls);
    iocs_scanner_free(sc);
    iocs_framer_free(f);
    iocs_reader_free(r);
    return err;
}

static void test_alloc_fail_scan(void **state)
{
    struct scan_out out;

    (void)state;
    assert_int_equal(scan_log(&out), 0);
    assert_true(out.events >= 5);
    fail_each(scan_log, &out);
}

/* ---- I/O faults ---- */

/* Under the reader: an interrupted or short read changes nothing; EIO
 * ends the source with that error, reported on its slab. */
static void test_io_faults_reader(void **state)
{
    static const enum io_fault benign[] = {IO_EINTR, IO_SHORT};
    struct scan_out want, got;

    (void)state;
    assert_int_equal(scan_log(&want), 0);
    for (size_t i = 0; i < 2; i++) {
        read_fault = benign[i];
        read_faults = 3;
        assert_int_equal(scan_log(&got), 0);
        read_fault = IO_NONE;
        assert_int_equal(got.slab_err, 0);
        assert_int_equal(got.events, want.events);
    }
    read_fault = IO_EIO;
    read_faults = 1;
    assert_int_equal(scan_log(&got), 0);
    read_fault = IO_NONE;
    assert_int_equal(got.slab_err, -EIO);
}

/* Under the file sink: EINTR and short writes still write every byte
 * once; ENOSPC comes back as -ENOSPC, and the retry of that batch goes on
 * where it stopped (no byte twice). */
static void test_io_faults_sink(void **state)
{
    static const char data[] = "event one\nevent two\nevent three\n";
    struct iocs_sink_opts so = {.format = IOCS_FORMAT_JSON};
    struct iocs_sink_batch b = {
        .seq = 1, .data = (const unsigned char *)data, .len = 32, .n = 3};
    struct iocs_sink *sink;
    char path[PATH_MAX], errbuf[256], *back;
    size_t n;

    (void)state;
    t_path(path, sizeof(path), "out.json");
    assert_int_equal(iocs_sink_open(&sink, path, &so, errbuf, sizeof(errbuf)),
                     0);
    write_fault = IO_EINTR;
    write_faults = 2;
    assert_int_equal(iocs_sink_write(sink, &b), 0);
    write_fault = IO_SHORT;
    write_faults = 3;
    b.seq = 2;
    assert_int_equal(iocs_sink_write(sink, &b), 0);
    write_fault = IO_ENOSPC;
    write_faults = 1;
    b.seq = 3;
    assert_int_equal(iocs_sink_write(sink, &b), -ENOSPC);
    write_fault = IO_NONE;
    assert_int_equal(iocs_sink_write(sink, &b), 0); /* the retry */
    /* Half the batch out, then EIO: the retry writes the other half. */
    write_fault = IO_SHORT_EIO;
    write_faults = 2;
    b.seq = 4;
    assert_int_equal(iocs_sink_write(sink, &b), -EIO);
    write_fault = IO_NONE;
    assert_int_equal(iocs_sink_write(sink, &b), 0);
    assert_int_equal(iocs_sink_flush(sink, -1), 0);
    iocs_sink_close(sink);
    back = t_read_file(path, &n);
    assert_non_null(back);
    assert_int_equal(n, 4 * 32);
    for (size_t i = 0; i < 4; i++)
        assert_memory_equal(back + i * 32, data, 32);
    free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_fail_loaders),
        cmocka_unit_test(test_alloc_fail_allowlist),
        cmocka_unit_test(test_alloc_fail_dbfile),
        cmocka_unit_test(test_alloc_fail_dbcache),
        cmocka_unit_test(test_alloc_fail_scan),
        cmocka_unit_test(test_io_faults_reader),
        cmocka_unit_test(test_io_faults_sink),
    };
    return t_run_in_tmpdir(tests);
}
