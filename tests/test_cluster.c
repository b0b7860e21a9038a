/*
 * test_cluster.c - cluster.h: unit planning (cuts at line starts, with the
 * file's own line numbers), range ownership, the reader reading a byte
 * range (source.h's end_offset) and the records' formats, table-driven.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/helpers.h"

#include "pipeline/cluster.h"
#include "pipeline/reader.h"
#include "pipeline/source.h"

/* Write text to a temporary file; return it opened for reading. */
static int text_fd(const char *name, const void *p, size_t n)
{
    char path[PATH_MAX];
    int fd;

    t_path(path, sizeof(path), name);
    t_write_file(path, p, n);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    return fd;
}

static uint64_t newlines(const char *p, size_t n)
{
    uint64_t k = 0;

    for (size_t i = 0; i < n; i++)
        k += p[i] == '\n';
    return k;
}

/* Every cut is at a line start, right after the first '\n' at or past
 * the previous cut + unit - 1, with the line number of the file. */
static void check_plan(const char *p, size_t n, uint64_t unit)
{
    struct iocs_cluster_cut *v = NULL;
    size_t nv = 0;
    uint64_t lines = 0;
    int fd = text_fd("plan.txt", p, n);

    assert_int_equal(iocs_cluster_plan(fd, n, unit, &v, &nv, &lines), 0);
    close(fd);
    assert_true(nv >= 1);
    assert_int_equal(v[0].offset, 0);
    assert_int_equal(v[0].line, 1);
    assert_int_equal(lines, newlines(p, n));
    for (size_t i = 1; i < nv; i++) {
        uint64_t prev = v[i - 1].offset, c = v[i].offset;
        const char *nl;

        assert_true(c > prev && c < n);
        assert_int_equal(p[c - 1], '\n');
        assert_int_equal(v[i].line, newlines(p, (size_t)c) + 1);
        /* The first '\n' at or past prev + unit - 1. */
        assert_true(c - 1 >= prev + unit - 1);
        nl = memchr(p + prev + unit - 1, '\n', n - (prev + unit - 1));
        assert_non_null(nl);
        assert_int_equal((uint64_t)(nl - p) + 1, c);
    }
    /* No cut was left out: the tail is shorter than a unit, or one line. */
    if (n > v[nv - 1].offset + unit) {
        const char *nl = memchr(p + v[nv - 1].offset + unit - 1, '\n',
                                n - (v[nv - 1].offset + unit - 1));

        assert_true(nl == NULL || (size_t)(nl - p) + 1 == n);
    }
    free(v);
}

static void test_cluster_plan_table(void **state)
{
    static const struct {
        const char *text;
        uint64_t unit;
    } cases[] = {
        {"", 4},
        {"a\n", 1},
        {"a\nb\nc\n", 1},
        {"a\nb\nc\n", 2},
        {"a\nb\nc", 2},
        {"abcdefgh\nij\nkl\n", 3}, /* a line longer than the unit */
        {"ab\ncd\nef\ngh\n", 3},   /* a unit that ends on a line end */
        {"\n\n\n\n\n\n", 2},       /* empty lines */
        {"no newline at all", 4},
        {"x\r\ny\r\nz\r\n", 3},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_plan(cases[i].text, strlen(cases[i].text), cases[i].unit);
}

/* Random lines across the 1 MiB read blocks, at several unit sizes. */
static void test_cluster_plan_random(void **state)
{
    size_t n = (3u << 20) + 12345;
    char *p = malloc(n);
    unsigned seed = 7;

    (void)state;
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (seed >> 16) % 61 == 0 ? '\n' : (char)('a' + (seed >> 8) % 26);
    }
    memset(p + 1500000, 'L', 800000); /* one line longer than some units */
    for (uint64_t unit = 1000; unit <= (4u << 20); unit *= 7)
        check_plan(p, n, unit);
    free(p);
}

static void test_cluster_plan_rejects_zero_unit(void **state)
{
    struct iocs_cluster_cut *v = NULL;
    size_t nv = 0;
    int fd = text_fd("z.txt", "a\n", 2);

    (void)state;
    assert_int_equal(iocs_cluster_plan(fd, 2, 0, &v, &nv, NULL), -EINVAL);
    close(fd);
}

static void test_cluster_range_own_table(void **state)
{
    static const char text[] = "aaa\nbbbb\ncc\n\ndd"; /* 16 bytes */
    static const struct {
        uint64_t start, end, want_start, want_end;
        int moved;
    } cases[] = {
        {0, 0, 0, 16, 0},    /* the whole file */
        {0, 4, 0, 4, 0},     /* ends at a line start */
        {0, 5, 0, 9, 0},     /* finishes its last line */
        {4, 9, 4, 9, 0},     /* exactly one line */
        {5, 12, 9, 12, 1},   /* skips the partial first line */
        {1, 3, 4, 4, 1},     /* inside one line: owns nothing */
        {12, 13, 12, 13, 0}, /* the empty line */
        {14, 0, 16, 16, 1},  /* the last line has no '\n' */
        {13, 0, 13, 16, 0},
    };
    int fd = text_fd("own.txt", text, 16);

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t s = cases[i].start, e = cases[i].end;

        assert_int_equal(iocs_cluster_range_own(fd, 16, &s, &e),
                         cases[i].moved);
        assert_int_equal(s, cases[i].want_start);
        assert_int_equal(e, cases[i].want_end);
    }
    {
        uint64_t nl = 0;

        assert_int_equal(iocs_cluster_count_lines(fd, 13, &nl), 0);
        assert_int_equal(nl, 4);
        assert_int_equal(iocs_cluster_count_lines(fd, 17, &nl), -EIO);
    }
    close(fd);
}

/* The reader, given each planned range as a source (start_offset,
 * end_offset), hands out exactly the file's bytes, once, in order; with
 * io_uring and read(2), at odd slab sizes. */
static void test_cluster_reader_reads_ranges(void **state)
{
    size_t n = 200000;
    char *p = malloc(n), path[PATH_MAX];
    struct iocs_cluster_cut *v = NULL;
    struct iocs_source *src;
    size_t nv = 0;
    int fd;

    (void)state;
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = i % 97 == 0 ? '\n' : (char)('0' + i % 10);
    fd = text_fd("ranges.txt", p, n);
    assert_int_equal(iocs_cluster_plan(fd, n, 20000, &v, &nv, NULL), 0);
    close(fd);
    assert_true(nv > 5);
    t_path(path, sizeof(path), "ranges.txt");
    src = calloc(nv, sizeof(*src));
    assert_non_null(src);
    for (size_t i = 0; i < nv; i++) {
        src[i] = iocs_source_of(path);
        src[i].start_offset = v[i].offset;
        src[i].start_line = v[i].line;
        src[i].end_offset = i + 1 < nv ? v[i + 1].offset : 0;
    }
    for (int no_uring = 0; no_uring <= 1; no_uring++) {
        for (size_t slab = 4096; slab <= 65536; slab *= 4) {
            struct iocs_reader_opts o = {.slab_size = slab,
                                         .headroom = 0,
                                         .nslabs = 4,
                                         .depth = 3,
                                         .no_uring = no_uring,
                                         .pack_max = 1024};
            struct iocs_reader *r = NULL;
            struct iocs_slab *s;
            size_t got = 0;
            int rc;

            assert_int_equal(iocs_reader_new(&r, &o, src, nv), 0);
            while ((rc = iocs_reader_next(r, &s)) == 1) {
                const struct iocs_source *rs = &src[s->source];

                assert_int_equal(s->nparts, 0); /* a range is never packed */
                assert_int_equal(s->err, 0);
                assert_true(s->offset >= rs->start_offset);
                if (rs->end_offset)
                    assert_true(s->offset + s->len <= rs->end_offset);
                assert_int_equal(s->offset, got);
                assert_memory_equal(s->data, p + got, s->len);
                got += s->len;
                iocs_reader_release(r, s);
            }
            assert_int_equal(rc, 0);
            assert_int_equal(got, n);
            iocs_reader_free(r);
        }
    }
    free(src);
    free(v);
    free(p);
}

/* u and v hold the same unit. */
static void assert_same_unit(const struct iocs_cluster_unit *u,
                             const struct iocs_cluster_unit *v)
{
    assert_string_equal(u->job, v->job);
    assert_string_equal(u->db, v->db);
    assert_true(u->unit == v->unit && u->start == v->start &&
                u->end == v->end && u->line == v->line);
    assert_int_equal(u->nfiles, v->nfiles);
    for (uint32_t i = 0; i < u->nfiles; i++) {
        assert_string_equal(iocs_cluster_unit_path(u, i),
                            iocs_cluster_unit_path(v, i));
        assert_int_equal(u->files[i].codec, v->files[i].codec);
        assert_int_equal(u->files[i].size, v->files[i].size);
    }
}

static void test_cluster_unit_roundtrip(void **state)
{
    struct iocs_cluster_unit *u = calloc(1, sizeof(*u));
    struct iocs_cluster_unit *back = calloc(1, sizeof(*back));
    char *buf = malloc(IOCS_CLUSTER_REC_MAX + 1);
    int n;

    (void)state;
    assert_true(u && back && buf);
    snprintf(u->job, sizeof(u->job), "hunt-2024_12");
    u->unit = 42;
    snprintf(u->db, sizeof(u->db), "0123456789abcdef");
    /* A range of one file whose path needs escapes. */
    assert_int_equal(iocs_cluster_unit_add(u,
                                           "/logs/a b%c=d,\n\xc3\xa9\x01.log",
                                           IOCS_CODEC_PLAIN, 1u << 30),
                     0);
    u->start = 268435456;
    u->end = 536870912;
    u->line = 1234567;
    n = iocs_cluster_unit_format(u, buf, IOCS_CLUSTER_REC_MAX + 1);
    assert_true(n > 0);
    /* Every odd byte escaped: no space after the first line. */
    assert_null(memchr(buf + 17, ' ', (size_t)n - 17));
    assert_int_equal(iocs_cluster_unit_parse(back, buf, (size_t)n), 0);
    assert_same_unit(u, back);
    assert_int_equal(iocs_cluster_unit_format(u, buf, 40), -ENOSPC);

    /* A range of several files is refused; whole files are fine. */
    assert_int_equal(
        iocs_cluster_unit_add(u, "/logs/x.gz", IOCS_CODEC_GZIP, 77), 0);
    assert_int_equal(iocs_cluster_unit_format(u, buf, IOCS_CLUSTER_REC_MAX + 1),
                     -EINVAL);
    u->start = u->end = 0;
    u->line = 1;
    n = iocs_cluster_unit_format(u, buf, IOCS_CLUSTER_REC_MAX + 1);
    assert_true(n > 0);
    assert_int_equal(iocs_cluster_unit_parse(back, buf, (size_t)n), 0);
    assert_same_unit(u, back);

    /* A unit takes files until the count or the record's room runs out,
     * and what it took always formats and parses back. */
    memset(u, 0, sizeof(*u));
    snprintf(u->job, sizeof(u->job), "j");
    snprintf(u->db, sizeof(u->db), "0123456789abcdef");
    u->line = 1;
    for (int i = 0;; i++) {
        char path[1200];

        memset(path, '%', sizeof(path) - 1); /* three bytes escaped */
        path[0] = '/';
        path[sizeof(path) - 1] = '\0';
        snprintf(path + 1, 12, "%d", i);
        path[strlen(path)] = '%';
        if (iocs_cluster_unit_add(u, path, IOCS_CODEC_PLAIN, 1) == -ENOSPC)
            break;
        assert_true(i < IOCS_CLUSTER_UNIT_FILES);
    }
    assert_true(u->nfiles > 1);
    n = iocs_cluster_unit_format(u, buf, IOCS_CLUSTER_REC_MAX + 1);
    assert_true(n > 0);
    assert_int_equal(iocs_cluster_unit_parse(back, buf, (size_t)n), 0);
    assert_same_unit(u, back);

    memset(u, 0, sizeof(*u));
    for (int i = 0; i < IOCS_CLUSTER_UNIT_FILES; i++)
        assert_int_equal(iocs_cluster_unit_add(u, "/a", IOCS_CODEC_PLAIN, 1),
                         0);
    assert_int_equal(iocs_cluster_unit_add(u, "/a", IOCS_CODEC_PLAIN, 1),
                     -ENOSPC);
    assert_int_equal(iocs_cluster_unit_add(u, "", IOCS_CODEC_PLAIN, 1),
                     -EINVAL);
    snprintf(u->job, sizeof(u->job), "bad job");
    assert_int_equal(iocs_cluster_unit_format(u, buf, IOCS_CLUSTER_REC_MAX + 1),
                     -EINVAL);
    free(u);
    free(back);
    free(buf);
}

static void test_cluster_unit_rejects(void **state)
{
    static const char ok_tail[] = "start=0\nend=0\nline=1\n"
                                  "db=0123456789abcdef\n";
    static const char *const bad[] = {
        "",
        "iocstream-unit 2\n",
        "iocstream-unit 1",                                  /* no newline */
        "iocstream-unit 1\njob=j\nfiles=1\nf0=plain,5,/x\n", /* no unit */
        "iocstream-unit 1\njob=j\njob=k\nunit=1\nfiles=1\nf0=plain,5,/x\n",
        "iocstream-unit 1\njob=j j\nunit=1\nfiles=1\nf0=plain,5,/x\n",
        "iocstream-unit 1\njob=j\nunit=-1\nfiles=1\nf0=plain,5,/x\n",
        "iocstream-unit 1\njob=j\nunit=99999999999999999999\nfiles=1\n"
        "f0=plain,5,/x\n",
        "iocstream-unit 1\njob=j\nunit=1\nfiles=1\nf0=plain,5,/x%0\n",
        "iocstream-unit 1\njob=j\nunit=1\nfiles=1\nf0=plain,5,/x%zz\n",
        "iocstream-unit 1\njob=j\nunit=1\nfiles=1\nf0=plain,5,/x%00\n",
        "iocstream-unit 1\njob=j\nunit=1\nfiles=1\nf0=plain,5,\n",
        "iocstream-unit 1\njob=a.b\nunit=1\nfiles=1\nf0=plain,5,/x\n",
        "iocstream-unit 1\n=v\njob=j\nunit=1\nfiles=1\nf0=plain,5,/x\n",
        "iocstream-unit 1\njob=j\nunit=1\nfiles=0\n",
        "iocstream-unit 1\njob=j\nunit=1\nfiles=2\nf0=plain,5,/x\n",
        "iocstream-unit 1\njob=j\nunit=1\nfiles=1\nf0=odd,5,/x\n",
        "iocstream-unit 1\njob=j\nunit=1\nfiles=1\nf0=plain,/x\n",
        "iocstream-unit 1\njob=j\nunit=1\nfiles=1\nf0=plain,x,/x\n",
        "iocstream-unit 1\njob=j\nunit=1\nfiles=1\nf0=plain,5,/x,y\n",
        "iocstream-unit 1\njob=j\nunit=1\nfiles=257\nf0=plain,5,/x\n",
    };
    struct iocs_cluster_unit *u = calloc(1, sizeof(*u));
    char rec[1024];

    (void)state;
    assert_non_null(u);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(rec, sizeof(rec), "%s%s", bad[i], i < 3 ? "" : ok_tail);
        assert_int_equal(iocs_cluster_unit_parse(u, rec, strlen(rec)), -EINVAL);
    }
    /* Good fields parse; an unknown key is ignored. */
    snprintf(rec, sizeof(rec),
             "iocstream-unit 1\njob=j\nunit=1\nfiles=2\nf1=gzip,9,/y\n"
             "f0=plain,5,/x\nnew=1\n%s",
             ok_tail);
    assert_int_equal(iocs_cluster_unit_parse(u, rec, strlen(rec)), 0);
    assert_string_equal(iocs_cluster_unit_path(u, 0), "/x");
    assert_string_equal(iocs_cluster_unit_path(u, 1), "/y");
    assert_int_equal(u->files[1].codec, IOCS_CODEC_GZIP);
    /* A range that ends before it starts; a range of two files. */
    snprintf(rec, sizeof(rec),
             "iocstream-unit 1\njob=j\nunit=1\nfiles=1\nf0=plain,5,/x\n"
             "start=9\nend=3\nline=1\ndb=0123456789abcdef\n");
    assert_int_equal(iocs_cluster_unit_parse(u, rec, strlen(rec)), -EINVAL);
    snprintf(rec, sizeof(rec),
             "iocstream-unit 1\njob=j\nunit=1\nfiles=2\nf0=plain,5,/x\n"
             "f1=plain,5,/y\nstart=1\nend=3\nline=1\ndb=0123456789abcdef\n");
    assert_int_equal(iocs_cluster_unit_parse(u, rec, strlen(rec)), -EINVAL);
    free(u);
}

static void test_cluster_status_roundtrip(void **state)
{
    struct iocs_cluster_status s = {.state = IOCS_CLUSTER_FAILED,
                                    .events = 7,
                                    .bytes = 1u << 31},
                               back;
    char buf[2048];
    int n;

    (void)state;
    snprintf(s.worker, sizeof(s.worker), "host-1:1234");
    snprintf(s.error, sizeof(s.error), "/x y: No such file or directory");
    n = iocs_cluster_status_format(&s, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(iocs_cluster_status_parse(&back, buf, (size_t)n), 0);
    assert_true(back.state == s.state && back.events == s.events &&
                back.bytes == s.bytes);
    assert_string_equal(back.worker, s.worker);
    assert_string_equal(back.error, s.error);
    assert_string_equal(iocs_cluster_state_name(back.state), "failed");
    {
        static const char odd[] =
            "iocstream-status 1\nstate=odd\nevents=1\nbytes=1\n";

        assert_int_equal(iocs_cluster_status_parse(&back, odd, strlen(odd)),
                         -EINVAL);
    }
}

static void test_cluster_job_and_manifest_roundtrip(void **state)
{
    struct iocs_cluster_job j = {.units = 1000,
                                 .bytes = 1ull << 40,
                                 .allows = 2,
                                 .created = 1733368455},
                            jb;
    struct iocs_cluster_manifest m = {.size = 1048577,
                                      .chunks = 3,
                                      .sum = 0xfedcba9876543210ull},
                                 mb;
    char buf[1024];
    int n;

    (void)state;
    snprintf(j.db, sizeof(j.db), "00000000deadbeef");
    snprintf(j.since, sizeof(j.since), "2024-12-01T00:00:00Z");
    n = iocs_cluster_job_format(&j, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(iocs_cluster_job_parse(&jb, buf, (size_t)n), 0);
    assert_true(jb.units == j.units && jb.bytes == j.bytes &&
                jb.allows == j.allows && jb.created == j.created);
    assert_string_equal(jb.db, j.db);
    assert_string_equal(jb.since, j.since);
    assert_string_equal(jb.until, j.until);

    n = iocs_cluster_manifest_format(&m, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(iocs_cluster_manifest_parse(&mb, buf, (size_t)n), 0);
    assert_memory_equal(&mb, &m, sizeof(m));
    m.chunks = 2; /* disagrees with the size */
    n = iocs_cluster_manifest_format(&m, buf, sizeof(buf));
    assert_int_equal(iocs_cluster_manifest_parse(&mb, buf, (size_t)n), -EINVAL);
    assert_true(iocs_cluster_dbid_ok("0123456789abcdef"));
    assert_false(iocs_cluster_dbid_ok("0123456789ABCDEF"));
    assert_false(iocs_cluster_dbid_ok("0123"));
    assert_true(iocs_cluster_job_ok("a-b_C9"));
    assert_false(iocs_cluster_job_ok(""));
    assert_false(iocs_cluster_job_ok("a.b"));
    assert_false(iocs_cluster_job_ok("a>"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_plan_table),
        cmocka_unit_test(test_cluster_plan_random),
        cmocka_unit_test(test_cluster_plan_rejects_zero_unit),
        cmocka_unit_test(test_cluster_range_own_table),
        cmocka_unit_test(test_cluster_reader_reads_ranges),
        cmocka_unit_test(test_cluster_unit_roundtrip),
        cmocka_unit_test(test_cluster_unit_rejects),
        cmocka_unit_test(test_cluster_status_roundtrip),
        cmocka_unit_test(test_cluster_job_and_manifest_roundtrip),
    };
    return t_run_in_tmpdir(tests);
}
