/*
 * test_reader.c - the reader hands out every byte of every source, in
 * order, exactly once, with io_uring and with read(2), copied into slabs
 * and mapped (opts.mmap: every test runs both ways). A mapped file cut
 * under the scan reads as zeros and its slab says it faulted.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <liburing.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "pipeline/mapguard.h"
#include "pipeline/reader.h"

static bool have_uring;
static bool use_mmap; /* the group's pass: opts.mmap for every reader */
/* The guard's SIGBUS handler: cmocka puts its own in place around each
 * test, so a test that faults puts the guard's back for its duration. */
static struct sigaction guard_sa;

/* iocs_reader_new() with opts.mmap as the pass says. */
static int reader_new(struct iocs_reader **r, const struct iocs_reader_opts *o,
                      const struct iocs_source *src, size_t n)
{
    struct iocs_reader_opts m = *o;

    m.mmap = use_mmap;
    return iocs_reader_new(r, &m, src, n);
}

/* Deterministic bytes (xorshift), so every failure reproduces. */
static void fill(unsigned char *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

/* The reader over bare paths, each a source read from its start. The
 * records live in one array: a test has one reader at a time. */
static int reader_new_paths(struct iocs_reader **r,
                            const struct iocs_reader_opts *o,
                            const char *const *paths, size_t n)
{
    static struct iocs_source src[512];

    assert_true(n <= sizeof(src) / sizeof(src[0]));
    for (size_t i = 0; i < n; i++)
        src[i] = iocs_source_of(paths[i]);
    return reader_new(r, o, paths ? src : NULL, n);
}

struct expect {
    const unsigned char *data; /* NULL: the source must fail */
    size_t len;
    int err; /* the error expected when data is NULL */
    bool seekable;
};

/* The parts of a pack: whole sources, in order, each first and last. */
static void check_pack(const struct iocs_reader_opts *opts,
                       const struct iocs_slab *s, const struct expect *want,
                       size_t n, size_t *src)
{
    assert_true(opts->pack_max > 0);
    assert_true(s->nparts <= IOCS_READER_PARTS_MAX);
    for (unsigned i = 0; i < s->nparts; i++) {
        const struct iocs_slab *p = &s->parts[i];
        const struct expect *w;

        assert_true(*src < n);
        w = &want[*src];
        assert_int_equal(p->source, *src);
        assert_true(p->first && p->last);
        assert_int_equal(p->offset, 0);
        assert_int_equal(p->headroom, 0);
        assert_int_equal(p->nparts, 0);
        /* Inside the pack's own bytes. */
        assert_true(p->data >= s->data &&
                    p->data + p->len <= s->data + opts->slab_size);
        if (!w->data) {
            assert_int_equal(p->err, w->err);
            assert_int_equal(p->len, 0);
        } else {
            assert_int_equal(p->err, 0);
            assert_true(w->len <= opts->pack_max);
            assert_int_equal(p->len, w->len);
            assert_memory_equal(p->data, w->data, w->len);
        }
        (*src)++;
    }
}

/*
 * Read every source and compare: offsets consecutive, first and last once
 * each, bytes equal. Up to nslabs - 1 slabs are held at once and released
 * in a scrambled order, as workers would. Returns how many sources came
 * in packs.
 */
static size_t read_and_check(const struct iocs_reader_opts *opts,
                             const char *const *paths,
                             const struct expect *want, size_t n)
{
    struct iocs_slab *held[64];
    struct iocs_reader *r;
    struct iocs_slab *s;
    size_t nheld = 0, src = 0, got = 0, packed = 0;
    bool in_src = false;
    int rc;

    assert_true(opts->nslabs <= 64);
    assert_int_equal(reader_new_paths(&r, opts, paths, n), 0);
    assert_int_equal(iocs_reader_uring(r), !opts->no_uring);

    while ((rc = iocs_reader_next(r, &s)) == 1) {
        const struct expect *w;

        if (s->nparts) {
            assert_false(in_src);
            packed += s->nparts;
            check_pack(opts, s, want, n, &src);
            goto hold;
        }
        assert_true(src < n);
        w = &want[src];
        assert_int_equal(s->source, src);
        assert_int_equal(s->first, !in_src);
        if (!s->mapped)
            assert_int_equal(s->headroom, opts->headroom);
        assert_int_equal(s->offset, got);
        /* A plain file read on its own is mapped when asked (not stdin,
         * not with O_DIRECT); its bytes are in place, never copied. */
        if (use_mmap && w->data && w->seekable && s->len > 0 && !opts->direct &&
            strcmp(paths[src], "-") != 0)
            assert_true(s->mapped);
        if (!use_mmap)
            assert_false(s->mapped);
        assert_false(iocs_reader_slab_faulted(s));
        assert_true(s->len <= opts->slab_size);
        if (!w->data) {
            assert_int_equal(s->err, w->err);
            assert_true(s->last);
            assert_int_equal(s->len, 0);
        } else {
            assert_int_equal(s->err, 0);
            assert_true(got + s->len <= w->len);
            assert_memory_equal(s->data, w->data + got, s->len);
            /* Files give full slabs but the last; pipes may give less. */
            if (w->seekable && !s->last)
                assert_int_equal(s->len, opts->slab_size);
            if (!s->last)
                assert_true(s->len > 0);
            if (s->mapped) {
                /* The headroom is the file's own bytes before data. */
                size_t k = got < opts->headroom ? got : opts->headroom;

                assert_true(s->headroom >= k);
                assert_memory_equal(s->data - k, w->data + got - k, k);
            } else {
                /* The headroom is writable (ASan checks the bounds). */
                memset(s->data - s->headroom, 0xAA, s->headroom);
            }
        }
        got += s->len;
        in_src = !s->last;
        if (s->last) {
            if (w->data)
                assert_int_equal(got, w->len);
            src++;
            got = 0;
        }
    hold:
        held[nheld++] = s;
        if (nheld == opts->nslabs - 1) {
            /* Release the middle one first, then the rest backwards. */
            size_t mid = nheld / 2;

            iocs_reader_release(r, held[mid]);
            held[mid] = held[--nheld];
            while (nheld)
                iocs_reader_release(r, held[--nheld]);
        }
    }
    assert_int_equal(rc, 0);
    assert_int_equal(src, n);
    assert_false(in_src);
    /* Done stays done. */
    assert_int_equal(iocs_reader_next(r, &s), 0);
    while (nheld)
        iocs_reader_release(r, held[--nheld]);
    iocs_reader_free(r);
    return packed;
}

/* Open file descriptors of this process. */
static size_t count_fds(void)
{
    char path[64];
    size_t n = 0;

    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n += access(path, F_OK) == 0;
    }
    return n;
}

/*
 * Many small files, some larger than the pack limit, empty ones, a missing
 * one and a directory among them: packs carry the small ones whole and in
 * order, the rest come in their own slabs between them. Several slab
 * counts, opens ahead and holding patterns; no fd is left open.
 */
static void packs_case(bool no_uring, bool direct)
{
    enum { N = 300 };
    static char names[N][PATH_MAX];
    static const char *paths[N];
    static struct expect want[N];
    static unsigned char *data[N];
    static const unsigned shapes[][3] = {
        /* nslabs, depth, open_ahead */
        {2, 1, 1},
        {3, 2, 2},
        {4, 2, 0},
        {8, 4, 64},
    };
    size_t slab = direct ? 16384 : 1024, pack_max = direct ? 8192 : 256;
    size_t fds0 = count_fds();

    if (!no_uring && !have_uring)
        skip();
    for (size_t k = 0; k < N; k++) {
        /* Mostly small; every 7th bigger than the pack limit, every 11th
         * empty. */
        size_t len = (k * 37) % (pack_max + 1);
        char name[32];

        if (k % 7 == 3)
            len = pack_max + 1 + (k * 13) % (2 * slab);
        if (k % 11 == 5)
            len = 0;
        snprintf(name, sizeof(name), "p%03zu", k);
        t_path(names[k], sizeof(names[k]), name);
        paths[k] = names[k];
        if (k == 100) {
            want[k] = (struct expect){.err = -ENOENT};
            continue;
        }
        if (k == 200) {
            paths[k] = t_tmp;
            want[k] = (struct expect){.err = -EISDIR};
            continue;
        }
        data[k] = malloc(len + 1);
        assert_non_null(data[k]);
        fill(data[k], len, (uint32_t)(k + 7));
        t_write_file(names[k], data[k], len);
        want[k] = (struct expect){.data = data[k], .len = len, .seekable = 1};
    }
    for (size_t j = 0; j < sizeof(shapes) / sizeof(*shapes); j++) {
        struct iocs_reader_opts o = {
            .slab_size = slab,
            .headroom = direct ? 4096 : 64,
            .nslabs = shapes[j][0],
            .depth = shapes[j][1],
            .open_ahead = shapes[j][2],
            .no_uring = no_uring,
            .direct = direct,
            .pack_max = pack_max,
        };
        size_t packed = read_and_check(&o, paths, want, N);

        /* Most files are small enough to be packed. */
        assert_true(packed > N / 2);
        assert_int_equal(count_fds(), fds0);
    }
    for (size_t k = 0; k < N; k++) {
        if (data[k])
            unlink(names[k]);
        free(data[k]);
        data[k] = NULL;
    }
}

static void test_reader_packs_uring(void **state)
{
    (void)state;
    packs_case(false, false);
}

static void test_reader_packs_read(void **state)
{
    (void)state;
    packs_case(true, false);
}

static void test_reader_packs_direct(void **state)
{
    (void)state;
    packs_case(false, true);
}

/* A reader freed while packs are being read and files opened ahead closes
 * everything it opened. */
static void test_reader_packs_free_early(void **state)
{
    enum { N = 64 };
    static char names[N][PATH_MAX];
    static const char *paths[N];
    static const unsigned char byte[] = "z\n";
    struct iocs_reader_opts o = {.slab_size = 64,
                                 .nslabs = 3,
                                 .depth = 2,
                                 .open_ahead = 16,
                                 .pack_max = 16};
    size_t fds0 = count_fds();
    struct iocs_reader *r;
    struct iocs_slab *s;

    (void)state;
    for (size_t k = 0; k < N; k++) {
        char name[32];

        snprintf(name, sizeof(name), "e%02zu", k);
        t_path(names[k], sizeof(names[k]), name);
        t_write_file(names[k], byte, 2);
        paths[k] = names[k];
    }
    for (int stop = 0; stop < 3; stop++) {
        o.no_uring = !have_uring;
        assert_int_equal(reader_new_paths(&r, &o, paths, N), 0);
        for (int i = 0; i < stop; i++) {
            assert_int_equal(iocs_reader_next(r, &s), 1);
            assert_true(s->nparts > 0);
            iocs_reader_release(r, s);
        }
        iocs_reader_free(r);
        assert_int_equal(count_fds(), fds0);
    }
    for (size_t k = 0; k < N; k++)
        unlink(names[k]);
}

/* Files of sizes around the slab size, at several slab sizes and depths,
 * each alone in a reader and then all of them in one reader. */
static void sizes_case(bool no_uring)
{
    static const size_t slab_sizes[] = {1, 3, 64, 4096};
    static const unsigned shapes[][2] = {
        {2, 1}, {2, 2}, {4, 1}, {8, 4}, {8, 8}};

    if (!no_uring && !have_uring)
        skip();
    for (size_t i = 0; i < sizeof(slab_sizes) / sizeof(*slab_sizes); i++) {
        size_t slab = slab_sizes[i];
        size_t sizes[] = {0,        1, slab - 1, slab, slab + 1, 5 * slab + 3,
                          16 * slab};
        enum { NSIZES = sizeof(sizes) / sizeof(*sizes) };
        char names[NSIZES][PATH_MAX];
        const char *paths[NSIZES];
        struct expect want[NSIZES];
        unsigned char *data[NSIZES];

        for (size_t k = 0; k < NSIZES; k++) {
            char name[64];

            snprintf(name, sizeof(name), "f%zu_%zu", slab, k);
            t_path(names[k], sizeof(names[k]), name);
            data[k] = malloc(sizes[k] + 1);
            assert_non_null(data[k]);
            fill(data[k], sizes[k], (uint32_t)(k + 1));
            t_write_file(names[k], data[k], sizes[k]);
            paths[k] = names[k];
            want[k] = (struct expect){
                .data = data[k], .len = sizes[k], .seekable = true};
        }
        for (size_t j = 0; j < sizeof(shapes) / sizeof(*shapes); j++) {
            struct iocs_reader_opts o = {
                .slab_size = slab,
                .headroom = j,
                .nslabs = shapes[j][0],
                .depth = shapes[j][1],
                .no_uring = no_uring,
            };

            for (size_t k = 0; k < NSIZES; k++)
                read_and_check(&o, &paths[k], &want[k], 1);
            read_and_check(&o, paths, want, NSIZES);
        }
        for (size_t k = 0; k < NSIZES; k++) {
            unlink(names[k]);
            free(data[k]);
        }
    }
}

static void test_reader_sizes_uring(void **state)
{
    (void)state;
    sizes_case(false);
}

static void test_reader_sizes_read(void **state)
{
    (void)state;
    sizes_case(true);
}

/* A missing file and a directory between good ones: an err slab each, and
 * the reader goes on. */
static void errors_case(bool no_uring)
{
    static const unsigned char a[] = "alpha\nbeta\n", b[] = "gamma";
    char pa[PATH_MAX], pm[PATH_MAX], pb[PATH_MAX];
    const char *paths[] = {pa, pm, t_tmp, pb};
    struct expect want[] = {
        {.data = a, .len = sizeof(a) - 1, .seekable = true},
        {.err = -ENOENT},
        {.err = -EISDIR},
        {.data = b, .len = sizeof(b) - 1, .seekable = true},
    };
    struct iocs_reader_opts o = {
        .slab_size = 4, .nslabs = 3, .depth = 2, .no_uring = no_uring};

    if (!no_uring && !have_uring)
        skip();
    t_path(pa, sizeof(pa), "a");
    t_path(pm, sizeof(pm), "missing");
    t_path(pb, sizeof(pb), "b");
    t_write_file(pa, a, sizeof(a) - 1);
    t_write_file(pb, b, sizeof(b) - 1);
    read_and_check(&o, paths, want, 4);
    unlink(pa);
    unlink(pb);
}

static void test_reader_errors_uring(void **state)
{
    (void)state;
    errors_case(false);
}

static void test_reader_errors_read(void **state)
{
    (void)state;
    errors_case(true);
}

/* A file cut short while it is read (copytruncate): the bytes before the
 * cut are handed out, then the source ends with -ENODATA at the cut. */
static void truncated_case(bool no_uring)
{
    enum { N = 65536, CUT = 10000 };
    static unsigned char data[N];
    char p[PATH_MAX];
    const char *paths[] = {p};
    struct iocs_reader_opts o = {
        .slab_size = 4096, .nslabs = 2, .depth = 1, .no_uring = no_uring};
    struct iocs_reader *r;
    struct iocs_slab *s;
    size_t got = 0;
    bool truncated = false, cut = false;
    int rc;

    if (!no_uring && !have_uring)
        skip();
    fill(data, N, 11);
    t_path(p, sizeof(p), "cut");
    t_write_file(p, data, N);
    assert_int_equal(reader_new_paths(&r, &o, paths, 1), 0);
    while ((rc = iocs_reader_next(r, &s)) == 1) {
        assert_int_equal(s->offset, got);
        assert_memory_equal(s->data, data + got, s->len);
        got += s->len;
        if (s->err == -ENODATA) {
            assert_true(s->last);
            assert_int_equal(s->offset + s->len, CUT);
            truncated = true;
        } else {
            assert_int_equal(s->err, 0);
        }
        iocs_reader_release(r, s);
        if (!cut) {
            assert_int_equal(truncate(p, CUT), 0);
            cut = true;
        }
    }
    assert_int_equal(rc, 0);
    assert_int_equal(got, CUT);
    assert_true(truncated);
    iocs_reader_free(r);
    unlink(p);
}

static void test_reader_truncated_uring(void **state)
{
    (void)state;
    truncated_case(false);
}

static void test_reader_truncated_read(void **state)
{
    (void)state;
    truncated_case(true);
}

/* A file that grows while it is read is read on to its new end: a read
 * (or a window) that reaches the size seen looks at it again. Its size a
 * multiple of the slab and not. */
static void grows_case(bool no_uring)
{
    enum { SLAB = 4096, MORE = 5000 };
    static unsigned char data[3 * SLAB + 100 + MORE];
    static const size_t starts[] = {3 * SLAB, 3 * SLAB + 100};
    char p[PATH_MAX];
    const char *paths[] = {p};
    struct iocs_reader_opts o = {.slab_size = SLAB,
                                 .headroom = SLAB,
                                 .nslabs = 2,
                                 .depth = 1,
                                 .no_uring = no_uring};

    if (!no_uring && !have_uring)
        skip();
    fill(data, sizeof(data), 21);
    t_path(p, sizeof(p), "grows");
    for (size_t k = 0; k < sizeof(starts) / sizeof(*starts); k++) {
        size_t n0 = starts[k], got = 0;
        struct iocs_reader *r;
        struct iocs_slab *s;
        bool grown = false;
        int fd, rc;

        t_write_file(p, data, n0);
        assert_int_equal(reader_new_paths(&r, &o, paths, 1), 0);
        while ((rc = iocs_reader_next(r, &s)) == 1) {
            assert_int_equal(s->err, 0);
            assert_int_equal(s->offset, got);
            assert_memory_equal(s->data, data + got, s->len);
            got += s->len;
            if (!grown) {
                /* Appended while the first two slabs are taken. */
                fd = open(p, O_WRONLY | O_APPEND);
                assert_true(fd >= 0);
                assert_int_equal(write(fd, data + n0, MORE), MORE);
                close(fd);
                grown = true;
            }
            iocs_reader_release(r, s);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(got, n0 + MORE);
        iocs_reader_free(r);
    }
    unlink(p);
}

static void test_reader_grows_uring(void **state)
{
    (void)state;
    grows_case(false);
}

static void test_reader_grows_read(void **state)
{
    (void)state;
    grows_case(true);
}

/* Mappings of path in this process (lines of /proc/self/maps). */
static size_t count_maps(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[PATH_MAX + 256];
    size_t n = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, path) != NULL;
    fclose(f);
    return n;
}

/*
 * Mapped windows are bounded: never more than nslabs of the file are
 * mapped, whatever its size, and none once the slabs are released and
 * the reader freed.
 */
static void test_reader_mmap_windows_bounded(void **state)
{
    enum { SLAB = 8192, N = 64 * SLAB + 17 };
    static unsigned char data[N];
    char p[PATH_MAX];
    const char *paths[] = {p};
    struct iocs_reader_opts o = {
        .slab_size = SLAB, .headroom = SLAB, .nslabs = 4, .depth = 2};
    struct iocs_slab *held[3];
    struct iocs_reader *r;
    struct iocs_slab *s;
    size_t got = 0, nheld = 0;
    int rc;

    (void)state;
    if (!use_mmap)
        skip();
    o.no_uring = !have_uring;
    fill(data, N, 3);
    t_path(p, sizeof(p), "windows");
    t_write_file(p, data, N);
    assert_int_equal(reader_new_paths(&r, &o, paths, 1), 0);
    while ((rc = iocs_reader_next(r, &s)) == 1) {
        assert_true(s->mapped || s->len == 0);
        assert_memory_equal(s->data, data + got, s->len);
        got += s->len;
        assert_true(count_maps(p) <= o.nslabs);
        held[nheld++] = s;
        if (nheld == 3)
            while (nheld)
                iocs_reader_release(r, held[--nheld]);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(got, N);
    while (nheld)
        iocs_reader_release(r, held[--nheld]);
    iocs_reader_free(r);
    assert_int_equal(count_maps(p), 0);
    unlink(p);
}

/*
 * A mapped file cut while its slabs are held (copytruncate, or an editor):
 * the bytes past the cut read as zeros instead of killing the process with
 * SIGBUS, the slab that holds them says it faulted and the one before it
 * does not; the next window sees the cut (-ENODATA, as without mmap), and
 * its headroom, cut away too, faults in turn.
 */
static void test_reader_mmap_cut_under_scan(void **state)
{
    enum { SLAB = 16384, N = 4 * SLAB, CUT = 20000 };
    static unsigned char data[N];
    char p[PATH_MAX];
    const char *paths[] = {p};
    struct iocs_reader_opts o = {
        .slab_size = SLAB, .headroom = SLAB, .nslabs = 2, .depth = 1};
    uint64_t faults0 = iocs_mapguard_faults();
    struct iocs_slab *a, *b, *c;
    struct iocs_reader *r;

    struct sigaction cmocka_sa;

    (void)state;
    if (!use_mmap)
        skip();
    o.no_uring = !have_uring;
    assert_int_equal(sigaction(SIGBUS, &guard_sa, &cmocka_sa), 0);
    fill(data, N, 9);
    t_path(p, sizeof(p), "cut_mapped");
    t_write_file(p, data, N);
    assert_int_equal(reader_new_paths(&r, &o, paths, 1), 0);
    assert_int_equal(iocs_reader_next(r, &a), 1);
    assert_int_equal(iocs_reader_next(r, &b), 1);
    assert_true(a->mapped && b->mapped);
    assert_int_equal(b->offset, SLAB);
    assert_int_equal(b->len, SLAB);
    assert_int_equal(truncate(p, CUT), 0);

    /* Up to the cut the file's bytes, past it zeros: no SIGBUS. */
    assert_memory_equal(b->data, data + SLAB, CUT - SLAB);
    for (size_t i = CUT - SLAB; i < SLAB; i++)
        if (b->data[i] != 0)
            fail_msg("byte %zu past the cut is %d", SLAB + i, b->data[i]);
    assert_true(iocs_reader_slab_faulted(b));
    assert_true(iocs_mapguard_faults() > faults0);
    assert_memory_equal(a->data, data, SLAB);
    assert_false(iocs_reader_slab_faulted(a));
    iocs_reader_release(r, a);
    iocs_reader_release(r, b);

    /* The next window looks at the size first: the cut, as a read finds
     * it. */
    assert_int_equal(iocs_reader_next(r, &c), 1);
    assert_int_equal(c->offset, 2 * SLAB);
    assert_int_equal(c->len, 0);
    assert_int_equal(c->err, -ENODATA);
    assert_true(c->last);
    assert_true(c->mapped && c->headroom >= SLAB);
    assert_false(iocs_reader_slab_faulted(c));
    assert_int_equal(c->data[-1], 0); /* the tail a framer would take */
    assert_true(iocs_reader_slab_faulted(c));
    iocs_reader_release(r, c);
    assert_int_equal(iocs_reader_next(r, &c), 0);
    iocs_reader_free(r);
    assert_int_equal(count_maps(p), 0);
    unlink(p);
    assert_int_equal(sigaction(SIGBUS, &cmocka_sa, NULL), 0);
}

/* A file whose size says 0 but that has content (/proc) is read to its
 * end, packed or not. */
static void proc_case(bool no_uring, size_t pack_max)
{
    const char *paths[] = {"/proc/self/status", "/proc/self/maps"};
    struct iocs_reader_opts o = {.slab_size = 4096,
                                 .nslabs = 4,
                                 .depth = 4,
                                 .no_uring = no_uring,
                                 .pack_max = pack_max};
    struct iocs_reader *r;
    struct iocs_slab *s;
    size_t got[2] = {0, 0};
    int rc;

    if (!no_uring && !have_uring)
        skip();
    assert_int_equal(reader_new_paths(&r, &o, paths, 2), 0);
    while ((rc = iocs_reader_next(r, &s)) == 1) {
        if (s->nparts) {
            for (unsigned i = 0; i < s->nparts; i++) {
                assert_int_equal(s->parts[i].err, 0);
                got[s->parts[i].source] += s->parts[i].len;
            }
        } else {
            assert_int_equal(s->err, 0);
            got[s->source] += s->len;
        }
        iocs_reader_release(r, s);
    }
    assert_int_equal(rc, 0);
    assert_true(got[0] > 100); /* "Name:", "State:", ... */
    assert_true(got[1] > 100);
    iocs_reader_free(r);
}

static void test_reader_proc_files_uring(void **state)
{
    (void)state;
    proc_case(false, 0);
    proc_case(false, 1024);
}

static void test_reader_proc_files_read(void **state)
{
    (void)state;
    proc_case(true, 0);
    proc_case(true, 1024);
}

/*
 * Encoded sources (reader.h): a gzip file read on its own and an .evtx
 * come out as one empty slab with their codec, not read; a small zstd
 * file is packed and its part has the codec and the file's bytes; the
 * plain files around them are read as before. Packed and not, both ways.
 */
static void encoded_case(bool no_uring, size_t pack_max)
{
    static const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3};
    static const unsigned char zst[] = {0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x00};
    static const unsigned char evtx[] = "ElfFile\0 and the rest of a header";
    static const unsigned char plain[] = "a line\nanother\n";
    static const struct {
        const char *name;
        const unsigned char *p;
        size_t n;
        enum iocs_codec codec;
    } f[] = {
        {"p1", plain, sizeof(plain) - 1, IOCS_CODEC_PLAIN},
        {"g.log", gz, sizeof(gz), IOCS_CODEC_GZIP},
        {"z", zst, sizeof(zst), IOCS_CODEC_ZSTD},
        {"e.bin", evtx, sizeof(evtx), IOCS_CODEC_EVTX},
        {"p2", plain, sizeof(plain) - 1, IOCS_CODEC_PLAIN},
    };
    char path[5][PATH_MAX];
    const char *paths[5];
    struct iocs_reader_opts o = {.slab_size = 64,
                                 .headroom = 64,
                                 .nslabs = 4,
                                 .depth = 2,
                                 .no_uring = no_uring,
                                 .pack_max = pack_max};
    struct iocs_reader *r;
    struct iocs_slab *s;
    size_t seen = 0;
    int rc;

    if (!no_uring && !have_uring)
        skip();
    for (size_t i = 0; i < 5; i++) {
        t_path(path[i], sizeof(path[i]), f[i].name);
        t_write_file(path[i], f[i].p, f[i].n);
        paths[i] = path[i];
    }
    assert_int_equal(reader_new_paths(&r, &o, paths, 5), 0);
    while ((rc = iocs_reader_next(r, &s)) == 1) {
        unsigned n = s->nparts ? s->nparts : 1;

        for (unsigned k = 0; k < n; k++) {
            const struct iocs_slab *p = s->nparts ? &s->parts[k] : s;

            assert_int_equal(p->err, 0);
            assert_int_equal(p->codec, f[p->source].codec);
            if (p->first)
                assert_int_equal(p->source, seen);
            if (p->codec == IOCS_CODEC_PLAIN || s->nparts) {
                /* Read as ever: the file's bytes, whatever its codec. */
                if (p->last)
                    assert_int_equal(p->offset + p->len, f[p->source].n);
            } else {
                /* Not read: its consumer reads it as one job. */
                assert_int_equal(p->len, 0);
                assert_true(p->first && p->last);
            }
            if (p->last)
                seen++;
        }
        iocs_reader_release(r, s);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(seen, 5);
    iocs_reader_free(r);
    for (size_t i = 0; i < 5; i++)
        unlink(path[i]);
}

static void test_reader_encoded_uring(void **state)
{
    (void)state;
    encoded_case(false, 0);
    encoded_case(false, 64);
}

static void test_reader_encoded_read(void **state)
{
    (void)state;
    encoded_case(true, 0);
    encoded_case(true, 64);
}

/* A pipe fed by a child in uneven chunks, between two files. */
static void pipe_case(bool no_uring)
{
    enum { N = 100000 };
    static unsigned char data[N];
    static const unsigned char a[] = "x\n";
    char pa[PATH_MAX], pp[64];
    const char *paths[] = {pa, pp, pa};
    struct expect want[] = {
        {.data = a, .len = 2, .seekable = true},
        {.data = data, .len = N},
        {.data = a, .len = 2, .seekable = true},
    };
    struct iocs_reader_opts o = {
        .slab_size = 4096, .nslabs = 4, .depth = 4, .no_uring = no_uring};
    int fds[2], status;
    pid_t pid;

    if (!no_uring && !have_uring)
        skip();
    fill(data, N, 7);
    t_path(pa, sizeof(pa), "pa");
    t_write_file(pa, a, 2);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t off = 0, chunk = 1;

        close(fds[0]);
        while (off < N) {
            size_t k = chunk < N - off ? chunk : N - off;
            ssize_t w = write(fds[1], data + off, k);

            if (w <= 0)
                _exit(1);
            off += (size_t)w;
            chunk = chunk * 3 % 7919 + 1;
        }
        _exit(0);
    }
    close(fds[1]);
    snprintf(pp, sizeof(pp), "/proc/self/fd/%d", fds[0]);
    read_and_check(&o, paths, want, 3);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unlink(pa);
}

static void test_reader_pipe_uring(void **state)
{
    (void)state;
    pipe_case(false);
}

static void test_reader_pipe_read(void **state)
{
    (void)state;
    pipe_case(true);
}

/* "-" reads stdin; a file on stdin is read from its current position. */
static void stdin_case(bool no_uring)
{
    static const unsigned char data[] = "skip:one\ntwo\nthree";
    struct expect want = {
        .data = data + 5, .len = sizeof(data) - 6, .seekable = true};
    const char *paths[] = {"-"};
    struct iocs_reader_opts o = {
        .slab_size = 3, .nslabs = 2, .depth = 2, .no_uring = no_uring};
    char p[PATH_MAX];
    int saved, fd;

    if (!no_uring && !have_uring)
        skip();
    t_path(p, sizeof(p), "stdin");
    t_write_file(p, data, sizeof(data) - 1);
    fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, 5, SEEK_SET), 5);
    saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    read_and_check(&o, paths, &want, 1);
    /* stdin is not closed by the reader. */
    assert_true(fcntl(STDIN_FILENO, F_GETFD) >= 0);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
    unlink(p);
}

static void test_reader_stdin_uring(void **state)
{
    (void)state;
    stdin_case(false);
}

static void test_reader_stdin_read(void **state)
{
    (void)state;
    stdin_case(true);
}

/* A source with a start offset is read from there: offsets are the
 * file's, it is never packed, and a start past the end is an empty last
 * slab there. */
static void start_offset_case(bool no_uring)
{
    static const unsigned char data[] = "line1\nline2\nline3\n";
    struct iocs_reader_opts o = {.slab_size = 4,
                                 .nslabs = 4,
                                 .depth = 2,
                                 .pack_max = 4,
                                 .no_uring = no_uring};
    struct iocs_source src[2];
    struct iocs_reader *r;
    struct iocs_slab *s;
    unsigned char got[64];
    size_t n = 0;
    uint64_t next = 6;
    char p[PATH_MAX];

    if (!no_uring && !have_uring)
        skip();
    t_path(p, sizeof(p), "resumed");
    t_write_file(p, data, sizeof(data) - 1);
    src[0] = iocs_source_of(p);
    src[0].start_offset = 6;
    src[0].start_line = 2;
    src[1] = iocs_source_of(p);
    src[1].start_offset = 1000;
    assert_int_equal(reader_new(&r, &o, src, 2), 0);
    for (;;) {
        assert_int_equal(iocs_reader_next(r, &s), 1);
        assert_int_equal(s->nparts, 0);
        assert_int_equal(s->source, 0);
        assert_int_equal(s->offset, next);
        assert_int_equal(s->first, next == 6);
        assert_true(n + s->len <= sizeof(got));
        memcpy(got + n, s->data, s->len);
        n += s->len;
        next += s->len;
        iocs_reader_release(r, s);
        if (s->last)
            break;
    }
    assert_int_equal(n, sizeof(data) - 1 - 6);
    assert_memory_equal(got, data + 6, n);
    assert_int_equal(iocs_reader_next(r, &s), 1);
    assert_int_equal(s->source, 1);
    assert_int_equal(s->offset, 1000);
    assert_int_equal(s->len, 0);
    assert_true(s->first && s->last);
    iocs_reader_release(r, s);
    assert_int_equal(iocs_reader_next(r, &s), 0);
    iocs_reader_free(r);
    unlink(p);
}

static void test_reader_start_offset(void **state)
{
    (void)state;
    start_offset_case(true);
    start_offset_case(false);
}

/* A non-blocking stdin pipe with no bytes yet is -EAGAIN (not a hang, not
 * the end); iocs_reader_wait() says when bytes came; the end is still
 * an empty last slab, then 0. */
static void eagain_case(bool no_uring)
{
    struct iocs_reader_opts o = {
        .slab_size = 64, .nslabs = 2, .depth = 1, .no_uring = no_uring};
    struct iocs_source src = iocs_source_of("-");
    struct iocs_reader *r;
    struct iocs_slab *s;
    int fds[2], saved, rc;

    if (!no_uring && !have_uring)
        skip();
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
    alarm(10); /* a hang fails the test instead of the suite */
    assert_int_equal(reader_new(&r, &o, &src, 1), 0);
    assert_int_equal(iocs_reader_next(r, &s), -EAGAIN);
    assert_int_equal(iocs_reader_next(r, &s), -EAGAIN);
    assert_int_equal(iocs_reader_wait(r, 0), 0);
    assert_int_equal(write(fds[1], "abc\n", 4), 4);
    assert_int_equal(iocs_reader_wait(r, 1000), 1);
    assert_int_equal(iocs_reader_next(r, &s), 1);
    assert_int_equal(s->len, 4);
    assert_memory_equal(s->data, "abc\n", 4);
    assert_int_equal(s->offset, 0);
    iocs_reader_release(r, s);
    close(fds[1]);
    while ((rc = iocs_reader_next(r, &s)) == -EAGAIN)
        assert_true(iocs_reader_wait(r, 1000) >= 0);
    assert_int_equal(rc, 1);
    assert_int_equal(s->len, 0);
    assert_true(s->last);
    iocs_reader_release(r, s);
    assert_int_equal(iocs_reader_next(r, &s), 0);
    iocs_reader_free(r);
    alarm(0);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
    close(fds[0]);
}

static void test_reader_nonblocking_pipe_eagain(void **state)
{
    (void)state;
    eagain_case(true);
    eagain_case(false);
}

/* Holding every slab is a caller bug, reported rather than a hang; freeing
 * a reader with reads in flight and slabs held is clean. */
static void test_reader_busy_and_early_free(void **state)
{
    static unsigned char data[1000];
    struct iocs_reader_opts o = {.slab_size = 10, .nslabs = 2, .depth = 2};
    struct iocs_slab *s1, *s2, *s3;
    struct iocs_reader *r;
    const char *paths[1];
    char p[PATH_MAX];

    (void)state;
    o.no_uring = !have_uring;
    t_path(p, sizeof(p), "busy");
    t_write_file(p, data, sizeof(data));
    paths[0] = p;
    assert_int_equal(reader_new_paths(&r, &o, paths, 1), 0);
    assert_int_equal(iocs_reader_next(r, &s1), 1);
    assert_int_equal(iocs_reader_next(r, &s2), 1);
    assert_int_equal(iocs_reader_next(r, &s3), -EBUSY);
    iocs_reader_release(r, s1);
    assert_int_equal(iocs_reader_next(r, &s3), 1);
    assert_int_equal(s3->offset, 20);
    iocs_reader_release(r, s2);
    iocs_reader_free(r); /* s3 held, a read may be in flight */
    unlink(p);
}

/* A read waiting on an empty pipe when the reader is freed: the read is
 * cancelled, not waited for. The missing file ahead of the pipe makes
 * iocs_reader_next() return while the pipe read is in flight. */
static void test_reader_free_cancels_pipe_read(void **state)
{
    struct iocs_reader_opts o = {.slab_size = 10, .nslabs = 2, .depth = 1};
    struct iocs_reader *r;
    struct iocs_slab *s;
    const char *paths[2];
    char pm[PATH_MAX], pp[64];
    int fds[2];

    (void)state;
    if (!have_uring)
        skip();
    assert_int_equal(pipe(fds), 0);
    t_path(pm, sizeof(pm), "missing");
    snprintf(pp, sizeof(pp), "/proc/self/fd/%d", fds[0]);
    paths[0] = pm;
    paths[1] = pp;
    assert_int_equal(reader_new_paths(&r, &o, paths, 2), 0);
    assert_int_equal(iocs_reader_next(r, &s), 1);
    assert_int_equal(s->err, -ENOENT);
    alarm(20); /* a hang below fails the test instead of CI */
    iocs_reader_free(r);
    alarm(0);
    close(fds[0]);
    close(fds[1]);
}

static void test_reader_rejects_bad_opts(void **state)
{
    static const struct iocs_reader_opts bad[] = {
        {.slab_size = 0, .nslabs = 2, .depth = 1},
        {.slab_size = 1, .nslabs = 1, .depth = 1},
        {.slab_size = 1, .nslabs = 2, .depth = 0},
        {.slab_size = 1, .nslabs = 2, .depth = 3},
        {.slab_size = (size_t)1 << 31, .nslabs = 2, .depth = 1},
        {.slab_size = 8, .nslabs = 2, .depth = 1, .pack_max = 9},
        {.slab_size = 100, .nslabs = 2, .depth = 1, .direct = true},
    };
    struct iocs_reader *r = NULL;
    const char *paths[] = {"-"};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_int_equal(reader_new_paths(&r, &bad[i], paths, 1), -EINVAL);
    assert_null(r);
}

/* No paths: done at once. With no_uring, uring_err stays 0. */
static void test_reader_empty_list(void **state)
{
    struct iocs_reader_opts o = {
        .slab_size = 8, .nslabs = 2, .depth = 1, .no_uring = true};
    struct iocs_reader *r;
    struct iocs_slab *s;

    (void)state;
    assert_int_equal(reader_new(&r, &o, NULL, 0), 0);
    assert_false(iocs_reader_uring(r));
    assert_int_equal(iocs_reader_uring_err(r), 0);
    assert_int_equal(iocs_reader_next(r, &s), 0);
    iocs_reader_free(r);
}

static int group_setup(void **state)
{
    struct io_uring ring;
    (void)state;
    if (t_tmpdir_init() < 0)
        return -1;
    have_uring = io_uring_queue_init(2, &ring, 0) == 0;
    if (have_uring)
        io_uring_queue_exit(&ring);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    t_tmpdir_fini();
    return 0;
}

int main(void)
{
    int rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_sizes_uring),
        cmocka_unit_test(test_reader_sizes_read),
        cmocka_unit_test(test_reader_packs_uring),
        cmocka_unit_test(test_reader_packs_read),
        cmocka_unit_test(test_reader_packs_direct),
        cmocka_unit_test(test_reader_packs_free_early),
        cmocka_unit_test(test_reader_errors_uring),
        cmocka_unit_test(test_reader_errors_read),
        cmocka_unit_test(test_reader_encoded_uring),
        cmocka_unit_test(test_reader_encoded_read),
        cmocka_unit_test(test_reader_truncated_uring),
        cmocka_unit_test(test_reader_truncated_read),
        cmocka_unit_test(test_reader_grows_uring),
        cmocka_unit_test(test_reader_grows_read),
        cmocka_unit_test(test_reader_mmap_windows_bounded),
        cmocka_unit_test(test_reader_mmap_cut_under_scan),
        cmocka_unit_test(test_reader_proc_files_uring),
        cmocka_unit_test(test_reader_proc_files_read),
        cmocka_unit_test(test_reader_pipe_uring),
        cmocka_unit_test(test_reader_pipe_read),
        cmocka_unit_test(test_reader_stdin_uring),
        cmocka_unit_test(test_reader_stdin_read),
        cmocka_unit_test(test_reader_busy_and_early_free),
        cmocka_unit_test(test_reader_start_offset),
        cmocka_unit_test(test_reader_nonblocking_pipe_eagain),
        cmocka_unit_test(test_reader_free_cancels_pipe_read),
        cmocka_unit_test(test_reader_rejects_bad_opts),
        cmocka_unit_test(test_reader_empty_list),
    };
    if (iocs_mapguard_init() < 0 || sigaction(SIGBUS, NULL, &guard_sa) < 0)
        return 1;
    /* Every test twice: copied into slabs, then mapped. */
    rc = _cmocka_run_group_tests("reader, copied", tests,
                                 sizeof(tests) / sizeof(*tests), group_setup,
                                 group_teardown);
    use_mmap = true;
    rc |= _cmocka_run_group_tests("reader, mapped", tests,
                                  sizeof(tests) / sizeof(*tests), group_setup,
                                  group_teardown);
    return rc;
}
