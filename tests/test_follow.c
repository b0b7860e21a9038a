/*
 * test_follow.c - tail -F: a writer thread appends numbered lines while
 * the follower runs, through rename rotation (the writer still appending
 * to the renamed file), copytruncate, compression of a rotated file, a new
 * subdirectory with a new file, and deletion; the test reads exactly what
 * iocs_follow_next() says (pread, or zlib for a compressed file) and
 * checks that every line written is seen once and nothing else. Also: the
 * history and the resume checkpoint, and that an idle follower sleeps in
 * the kernel.
 *
 * IOCS_FOLLOW_LATENCY=N (environment) makes test_follow_latency append N
 * lines and print the p50/p99/max delay from write(2) to the item that
 * covers the line; without it that test is skipped.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>

#include "pipeline/follow.h"
#include "tests/helpers.h"

#define NLINES 1000 /* lines of the main log, through every rotation */
#define NSUB 100    /* lines of the file in the new subdirectory */
#define QUIET_MS 300
/* Every line written has the same length. */
#define LINE_FMT "%c %06u the quick brown fox jumps over the lazy dog\n"
#define LINE_LEN 53

static int setup(void **state)
{
    (void)state;
    return t_tmpdir_init();
}

static int teardown(void **state)
{
    (void)state;
    t_tmpdir_fini();
    return 0;
}

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

/* --- the consumer: what the reader would do --------------------------- */

struct seen {
    unsigned a[NLINES], s[NSUB];
    unsigned other;    /* lines that are none of the written ones */
    unsigned kinds[8]; /* items by kind */
    char last_other[128];
};

static void take_line(struct seen *sn, const char *p, size_t n)
{
    char buf[128];
    unsigned v;
    char c;

    snprintf(buf, sizeof(buf), "%.*s", (int)n, p);
    if (sscanf(buf, "%c %u", &c, &v) == 2 && c == 'a' && v < NLINES)
        sn->a[v]++;
    else if (sscanf(buf, "%c %u", &c, &v) == 2 && c == 's' && v < NSUB)
        sn->s[v]++;
    else {
        sn->other++;
        snprintf(sn->last_other, sizeof(sn->last_other), "%s", buf);
    }
}

/* Inflate a whole gzip file read from fd. */
static unsigned char *inflate_fd(int fd, size_t *outlen)
{
    struct stat st;
    unsigned char *in, *out = NULL;
    size_t cap = 1 << 16, n = 0;
    z_stream z = {0};
    int zr = Z_OK;

    if (fstat(fd, &st) < 0)
        return NULL;
    in = malloc((size_t)st.st_size + 1);
    out = malloc(cap);
    if (!in || !out ||
        pread(fd, in, (size_t)st.st_size, 0) != (ssize_t)st.st_size)
        fail_msg("reading a compressed file");
    inflateInit2(&z, 16 + MAX_WBITS);
    z.next_in = in;
    z.avail_in = (uInt)st.st_size;
    while (zr == Z_OK) {
        if (n == cap)
            out = realloc(out, cap *= 2);
        z.next_out = out + n;
        z.avail_out = (uInt)(cap - n);
        zr = inflate(&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
    }
    inflateEnd(&z);
    free(in);
    *outlen = n;
    return out;
}

/*
 * Act on one item: read its bytes, count its whole lines, say how far.
 * Returns the number of lines taken.
 */
static unsigned consume(struct iocs_follow *f,
                        const struct iocs_follow_item *it, struct seen *sn)
{
    unsigned char *buf = NULL;
    size_t len = 0, used = 0;
    unsigned lines = 0;

    sn->kinds[it->kind]++;
    if (it->kind == IOCS_FOLLOW_CLOSED)
        return 0;
    if (it->compressed) {
        unsigned char *all = inflate_fd(it->fd, &len);

        assert_non_null(all);
        if (it->offset < len) {
            buf = malloc(len - it->offset);
            memcpy(buf, all + it->offset, len - it->offset);
            len -= it->offset;
        } else {
            len = 0;
        }
        free(all);
    } else if (it->end > it->offset) {
        ssize_t r;

        buf = malloc(it->end - it->offset);
        r = pread(it->fd, buf, it->end - it->offset, (off_t)it->offset);
        /* Short when the file was truncated under us: its old bytes live
         * on in the copy. */
        len = r > 0 ? (size_t)r : 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            take_line(sn, (char *)buf + used, i - used);
            used = i + 1;
            lines++;
        }
    }
    if (it->final && used < len) {
        take_line(sn, (char *)buf + used, len - used);
        used = len;
        lines++;
    }
    free(buf);
    assert_int_equal(
        iocs_follow_done(f, it->handle, it->offset + used, it->line + lines),
        0);
    return lines;
}

/* --- the writer ------------------------------------------------------- */

struct writer {
    char dir[PATH_MAX];
    volatile int done;
};

static void put_line(int fd, char kind, unsigned seq)
{
    char line[80];
    int n = snprintf(line, sizeof(line), LINE_FMT, kind, seq);

    if (write(fd, line, (size_t)n) != n)
        fail_msg("write: %s", strerror(errno));
}

static int open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    if (fd < 0)
        fail_msg("open %s: %s", path, strerror(errno));
    return fd;
}

/* x copied to dst, then x truncated: what logrotate's copytruncate does
 * (here nothing is written between the two, as the writer is this
 * thread; with logrotate those lines are lost in any tail). */
static void copytruncate(const char *x, const char *dst)
{
    size_t n = 0;
    char *data = t_read_file(x, &n);

    int fd;

    assert_non_null(data);
    /* In two halves with a pause, so that the follower sees the copy
     * while it is still being written. */
    fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n / 2), (ssize_t)(n / 2));
    sleep_ms(20);
    assert_int_equal(write(fd, data + n / 2, n - n / 2), (ssize_t)(n - n / 2));
    close(fd);
    free(data);
    assert_int_equal(truncate(x, 0), 0);
}

/* gzip src into dst, then remove src (what logrotate's compress does). */
static void gzip_file(const char *src, const char *dst)
{
    size_t n = 0;
    char *data = t_read_file(src, &n);
    gzFile g = gzopen(dst, "wb");

    assert_non_null(data);
    assert_non_null(g);
    assert_int_equal(gzwrite(g, data, (unsigned)n), (int)n);
    assert_int_equal(gzclose(g), Z_OK);
    free(data);
    assert_int_equal(unlink(src), 0);
}

static void join(char out[PATH_MAX], const char *dir, const char *name)
{
    if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
        fail_msg("path too long");
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    char log[PATH_MAX], log1[PATH_MAX], copy[PATH_MAX], copy3[PATH_MAX],
        gz[PATH_MAX], sub[PATH_MAX], subf[PATH_MAX];
    int fd, old, sfd = -1;

    join(log, w->dir, "app.log");
    join(log1, w->dir, "app.log.1");
    join(copy, w->dir, "app.log.2");
    join(copy3, w->dir, "app.log.3");
    join(gz, w->dir, "app.log.1.gz");
    join(sub, w->dir, "sub");
    join(subf, w->dir, "sub/new.log");

    fd = open_log(log);
    for (unsigned i = 0; i < NLINES; i++) {
        if (i == 300) {
            /* Rename rotation; the writer goes on with the old file for
             * 50 lines before it reopens. */
            assert_int_equal(rename(log, log1), 0);
        }
        if (i == 350) {
            old = fd;
            fd = open_log(log);
            close(old);
        }
        if (i == 600)
            copytruncate(log, copy);
        if (i == 700)
            gzip_file(log1, gz);
        if (i == 800) {
            /* The copy is closed once quiet; renamed later it must not be
             * read again (x.1 -> x.2 of the next rotation). */
            sleep_ms(3 * QUIET_MS);
            assert_int_equal(rename(copy, copy3), 0);
        }
        if (i == 750) {
            assert_int_equal(mkdir(sub, 0755), 0);
            sfd = open_log(subf);
        }
        put_line(fd, 'a', i);
        if (sfd >= 0 && i - 750 < NSUB)
            put_line(sfd, 's', i - 750);
        if (i % 4 == 0)
            sleep_ms(1);
    }
    /* Delete the subdirectory's file while it may still be unread. */
    close(sfd);
    unlink(subf);
    close(fd);
    w->done = 1;
    return NULL;
}

/* Consume until every line is in, or the deadline. */
static void run_until_all(struct iocs_follow *f, struct seen *sn,
                          struct writer *w, int64_t deadline_us)
{
    struct iocs_follow_item it;

    for (;;) {
        unsigned have = 0;
        int r = iocs_follow_next(f, &it, 100);

        if (r == 0) {
            consume(f, &it, sn);
            continue;
        }
        assert_int_equal(r, -EAGAIN);
        for (unsigned i = 0; i < NLINES; i++)
            have += sn->a[i] > 0;
        for (unsigned i = 0; i < NSUB; i++)
            have += sn->s[i] > 0;
        if ((have == NLINES + NSUB && w->done) || mono_us() > deadline_us)
            return;
    }
}

/* Every line written, through every kind of rotation, is seen once. */
static void test_follow_exactly_once_through_rotations(void **state)
{
    struct iocs_follow_opts o = {.quiet_ms = QUIET_MS, .max_open = 8};
    struct writer w = {0};
    struct iocs_follow *f;
    struct seen *sn = calloc(1, sizeof(*sn));
    const char *paths[1];
    char err[256];
    pthread_t th;
    int64_t end;

    (void)state;
    t_path(w.dir, sizeof(w.dir), "logs");
    assert_int_equal(mkdir(w.dir, 0755), 0);
    paths[0] = w.dir;
    assert_int_equal(iocs_follow_new(&f, paths, 1, &o, err, sizeof(err)), 0);
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    run_until_all(f, sn, &w, mono_us() + 20 * 1000000);
    pthread_join(th, NULL);
    /* Let every quiet period pass: nothing more may come (no copy read
     * twice, no compressed file read again). */
    end = mono_us() + 4 * QUIET_MS * 1000;
    while (mono_us() < end) {
        struct iocs_follow_item it;

        if (iocs_follow_next(f, &it, 50) == 0)
            consume(f, &it, sn);
    }
    {
        unsigned bad = 0, first = 0;

        for (unsigned i = 0; i < NLINES; i++) {
            if (sn->a[i] != 1) {
                if (!bad++)
                    first = i;
                fprintf(stderr, "a %u: %u\n", i, sn->a[i]);
            }
        }
        if (bad)
            fail_msg("%u lines not seen once, first a %u (%u times)", bad,
                     first, sn->a[first]);
    }
    for (unsigned i = 0; i < NSUB; i++)
        if (sn->s[i] != 1)
            fail_msg("line s %u seen %u times", i, sn->s[i]);
    if (sn->other)
        fail_msg("%u unexpected lines, e.g. '%s'", sn->other, sn->last_other);
    assert_true(sn->kinds[IOCS_FOLLOW_ROTATED_AWAY] >= 1);
    assert_true(sn->kinds[IOCS_FOLLOW_TRUNCATED] >= 1);
    assert_true(sn->kinds[IOCS_FOLLOW_CLOSED] >= 1);
    iocs_follow_free(f);
    free(sn);
}

static int count_fds(void)
{
    struct dirent *d;
    DIR *dir = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(dir);
    while ((d = readdir(dir)))
        n += d->d_name[0] != '.';
    closedir(dir);
    return n - 1; /* the directory's own */
}

/* Many files, few descriptors: fully read files are closed and reopened
 * by path when they change, and nothing is read twice. */
static void test_follow_bounded_descriptors(void **state)
{
    struct iocs_follow_opts o = {.quiet_ms = QUIET_MS, .max_open = 4};
    struct seen *sn = calloc(1, sizeof(*sn));
    const char *paths[1] = {t_tmp};
    struct iocs_follow_item it;
    struct iocs_follow *f;
    char path[PATH_MAX], name[32], err[256];
    int base, fd, most = 0;

    (void)state;
    for (unsigned i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "f%02u.log", i);
        t_path(path, sizeof(path), name);
        fd = open_log(path);
        put_line(fd, 'a', i);
        close(fd);
    }
    base = count_fds();
    assert_int_equal(iocs_follow_new(&f, paths, 1, &o, err, sizeof(err)), 0);
    while (iocs_follow_next(f, &it, 100) == 0) {
        consume(f, &it, sn);
        most = count_fds() - base > most ? count_fds() - base : most;
    }
    for (unsigned i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "f%02u.log", i);
        t_path(path, sizeof(path), name);
        fd = open_log(path);
        put_line(fd, 'a', 40 + i);
        close(fd);
    }
    while (iocs_follow_next(f, &it, 200) == 0) {
        consume(f, &it, sn);
        most = count_fds() - base > most ? count_fds() - base : most;
    }
    for (unsigned i = 0; i < 80; i++)
        if (sn->a[i] != 1)
            fail_msg("line a %u seen %u times", i, sn->a[i]);
    /* The inotify descriptor, and at most max_open files (one more may
     * be opened before the least recently used is closed). */
    if (most > 1 + 4 + 1)
        fail_msg("%d descriptors held", most);
    iocs_follow_free(f);
    free(sn);
}

/* A file deleted, and one moved out of the watched tree, while their
 * writers still append: both are read to their end through the open
 * descriptor (late writes too), then closed. */
static void test_follow_deleted_and_moved_out(void **state)
{
    struct iocs_follow_opts o = {.quiet_ms = QUIET_MS};
    struct seen *sn = calloc(1, sizeof(*sn));
    struct iocs_follow_item it;
    struct iocs_follow *f;
    char dir[PATH_MAX], away[PATH_MAX], a[PATH_MAX], b[PATH_MAX], b2[PATH_MAX],
        err[256];
    const char *paths[1] = {dir};
    int fa, fb, closed = 0;
    int64_t end;

    (void)state;
    t_path(dir, sizeof(dir), "watched");
    t_path(away, sizeof(away), "away");
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkdir(away, 0755), 0);
    join(a, dir, "a.log");
    join(b, dir, "b.log");
    join(b2, away, "b.log");
    fa = open_log(a);
    fb = open_log(b);
    put_line(fa, 'a', 0);
    put_line(fb, 's', 0);
    assert_int_equal(iocs_follow_new(&f, paths, 1, &o, err, sizeof(err)), 0);
    assert_int_equal(unlink(a), 0);
    assert_int_equal(rename(b, b2), 0);
    for (unsigned i = 1; i < 20; i++) {
        put_line(fa, 'a', i);
        put_line(fb, 's', i);
        sleep_ms(QUIET_MS / 10);
        while (iocs_follow_next(f, &it, 0) == 0)
            consume(f, &it, sn);
    }
    end = mono_us() + 5 * QUIET_MS * 1000;
    while (mono_us() < end && closed < 2) {
        if (iocs_follow_next(f, &it, 50) == 0) {
            closed += it.kind == IOCS_FOLLOW_CLOSED;
            consume(f, &it, sn);
        }
    }
    for (unsigned i = 0; i < 20; i++) {
        if (sn->a[i] != 1 || sn->s[i] != 1)
            fail_msg("line %u seen %u and %u times", i, sn->a[i], sn->s[i]);
    }
    assert_int_equal(closed, 2);
    assert_true(sn->kinds[IOCS_FOLLOW_DELETED] >= 1);
    assert_true(sn->kinds[IOCS_FOLLOW_ROTATED_AWAY] >= 1);
    close(fa);
    close(fb);
    iocs_follow_free(f);
    free(sn);
}

/* Files present at start come first, each from its checkpoint. */
static void test_follow_history_and_resume(void **state)
{
    struct iocs_follow_opts o = {.quiet_ms = QUIET_MS};
    struct iocs_checkpoint *ck;
    struct iocs_follow_item it;
    struct iocs_follow *f;
    struct iocs_ckpt_id id;
    struct seen *sn = calloc(1, sizeof(*sn));
    char a[PATH_MAX], b[PATH_MAX], err[256];
    const char *paths[1] = {t_tmp};
    struct stat st;
    int fd;

    (void)state;
    t_path(a, sizeof(a), "a.log");
    t_path(b, sizeof(b), "b.log");
    fd = open_log(a);
    for (unsigned i = 0; i < 100; i++)
        put_line(fd, 'a', i);
    close(fd);
    fd = open_log(b);
    for (unsigned i = 0; i < 10; i++)
        put_line(fd, 's', i);
    close(fd);

    /* a.log was committed up to line 40 in an earlier run. */
    {
        size_t n;
        char *data = t_read_file(a, &n);
        size_t off = 40 * LINE_LEN;

        assert_int_equal(stat(a, &st), 0);
        id.dev = (uint64_t)st.st_dev;
        id.ino = (uint64_t)st.st_ino;
        id.fp_len = IOCS_CKPT_FP_BYTES;
        id.fp = iocs_checkpoint_fingerprint(data, id.fp_len);
        assert_int_equal(data[off - 1], '\n');
        assert_int_equal(iocs_checkpoint_new(&ck), 0);
        assert_int_equal(iocs_checkpoint_set(ck, &id, off, 41, a, 1), 0);
        free(data);
    }
    o.resume = ck;
    assert_int_equal(iocs_follow_new(&f, paths, 1, &o, err, sizeof(err)), 0);
    iocs_checkpoint_free(ck);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(iocs_follow_next(f, &it, 1000), 0);
        assert_int_equal(it.kind, IOCS_FOLLOW_NEW);
        if (strcmp(it.path, a) == 0) {
            assert_int_equal(it.offset, 40 * LINE_LEN);
            assert_int_equal(it.line, 41);
        } else {
            assert_int_equal(it.offset, 0);
        }
        consume(f, &it, sn);
    }
    for (unsigned i = 0; i < 100; i++)
        assert_int_equal(sn->a[i], i >= 40);
    assert_int_equal(iocs_follow_next(f, &it, 50), -EAGAIN);

    /* Growth after the history. */
    fd = open_log(a);
    put_line(fd, 'a', 100 - 1);
    close(fd);
    assert_int_equal(iocs_follow_next(f, &it, 1000), 0);
    assert_int_equal(it.kind, IOCS_FOLLOW_GROWN);
    assert_int_equal(it.offset, 100 * LINE_LEN);
    assert_int_equal(it.line, 101);
    consume(f, &it, sn);
    assert_int_equal(sn->a[99], 2);
    iocs_follow_free(f);
    free(sn);
}

/* An idle follower sleeps in the kernel: -EAGAIN after the timeout, and
 * next to no CPU time over an idle second. */
static void test_follow_idle_uses_no_cpu(void **state)
{
    struct iocs_follow *f;
    struct iocs_follow_item it;
    struct rusage r0, r1;
    const char *paths[1] = {t_tmp};
    char err[256];
    int64_t t0, t1, cpu_us;

    (void)state;
    assert_int_equal(iocs_follow_new(&f, paths, 1, NULL, err, sizeof(err)), 0);
    getrusage(RUSAGE_THREAD, &r0);
    t0 = mono_us();
    assert_int_equal(iocs_follow_next(f, &it, 1000), -EAGAIN);
    t1 = mono_us();
    getrusage(RUSAGE_THREAD, &r1);
    cpu_us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1000000 +
             (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
             (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000 +
             (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
    assert_true(t1 - t0 >= 990000);
    assert_true(t1 - t0 < 1500000);
    if (cpu_us > 10000)
        fail_msg("idle second used %lld us of CPU", (long long)cpu_us);
    iocs_follow_free(f);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

struct lat_writer {
    int fd;
    long n;
    int64_t *t0; /* when each line was written */
};

/* Another thread writes, as a logging process would: the follower is
 * asleep in poll(2) and pays a real wake-up for each line. */
static void *lat_writer_main(void *arg)
{
    struct lat_writer *lw = arg;

    for (long i = 0; i < lw->n; i++) {
        sleep_ms(2);
        lw->t0[i] = mono_us();
        put_line(lw->fd, 'a', (unsigned)i);
    }
    return NULL;
}

/* Delay from write(2) of a line to the item that covers it. */
static void test_follow_latency(void **state)
{
    const char *env = getenv("IOCS_FOLLOW_LATENCY");
    struct iocs_follow *f;
    struct iocs_follow_item it;
    struct lat_writer lw;
    const char *paths[1] = {t_tmp};
    char path[PATH_MAX], err[256];
    int64_t *lat;
    long n = env ? atol(env) : 0, got = 0;
    pthread_t th;

    (void)state;
    if (n <= 0 || n > 10000000)
        skip();
    lat = calloc((size_t)n, sizeof(*lat));
    lw.t0 = calloc((size_t)n, sizeof(*lw.t0));
    lw.n = n;
    t_path(path, sizeof(path), "lat.log");
    lw.fd = open_log(path);
    assert_int_equal(iocs_follow_new(&f, paths, 1, NULL, err, sizeof(err)), 0);
    assert_int_equal(iocs_follow_next(f, &it, 1000), 0);
    assert_int_equal(iocs_follow_done(f, it.handle, 0, 1), 0);
    assert_int_equal(pthread_create(&th, NULL, lat_writer_main, &lw), 0);
    while (got < n) {
        int64_t t1;

        assert_int_equal(iocs_follow_next(f, &it, 5000), 0);
        t1 = mono_us();
        /* Every whole line the item covers, from its write to now. */
        for (long k = (long)(it.offset / LINE_LEN);
             k < (long)(it.end / LINE_LEN); k++)
            lat[got++] = t1 - lw.t0[k];
        assert_int_equal(iocs_follow_done(f, it.handle,
                                          it.end - it.end % LINE_LEN,
                                          1 + it.end / LINE_LEN),
                         0);
    }
    pthread_join(th, NULL);
    qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
    printf("follow latency over %ld lines: p50 %lld us, p90 %lld us, p99 "
           "%lld us, max %lld us\n",
           n, (long long)lat[n / 2], (long long)lat[n * 9 / 10],
           (long long)lat[n * 99 / 100], (long long)lat[n - 1]);
    close(lw.fd);
    free(lat);
    free(lw.t0);
    iocs_follow_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_follow_exactly_once_through_rotations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_history_and_resume, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_follow_bounded_descriptors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_follow_deleted_and_moved_out,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_idle_uses_no_cpu, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_follow_latency, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
