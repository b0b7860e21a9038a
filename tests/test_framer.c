/*
 * test_framer.c - reader and framer together over generated logs: units
 * hold whole lines (or long-line pieces), and reassemble every source.
 * The invariants themselves are in framecheck.h. Every test runs twice:
 * with slabs the reader copies into, then with mapped slabs (reader.h,
 * "Mapped files"), whose tail the framer takes in place, never writing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <liburing.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "helpers.h"
#include "pipeline/framer.h"
#include "tests/framecheck.h"

static bool have_uring;
static bool use_mmap; /* the pass: mapped slabs */

static const size_t slab_sizes[] = {1, 2, 3, 7, 64, 4096};
static const size_t overlaps[] = {1, 3, 16};

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 16;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_run(struct buf *b, unsigned char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(b, &c, 1);
}

/* Random log lines: lengths 0..199, CRLF endings, NUL and high bytes. */
static void put_lines(struct buf *b, uint32_t seed, size_t nlines)
{
    uint32_t x = seed | 1;

    for (size_t i = 0; i < nlines; i++) {
        size_t n;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        n = x % 200;
        for (size_t k = 0; k < n; k++) {
            unsigned char c =
                (unsigned char)("ab.c:0\0\r\xff x"[(x >> 8) % 11]);

            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            put(b, &c, 1);
        }
        put(b, x & 4 ? "\r\n" : "\n", x & 4 ? 2 : 1);
    }
}

enum content {
    C_EMPTY,
    C_ONE_NL,
    C_ONLY_NL,
    C_NO_FINAL_NL,
    C_ONE_LINE,
    C_LOG,
    C_LOG_NO_FINAL_NL,
    C_LONG_LINES,
    C_LINE_ENDS_AT_SLAB_END, /* slab-1 bytes then '\n': '\n' last */
    C_NL_FIRST_AFTER_PIECE,  /* 3 slabs of bytes, '\n' opens the next */
    C_LONG_LINE_NO_FINAL_NL, /* exactly 4 slabs, no '\n' at all */
    C_CRLF_NUL,
    C_COUNT,
};

static void make(struct buf *b, enum content c, size_t slab)
{
    b->len = 0;
    switch (c) {
    case C_EMPTY:
        break;
    case C_ONE_NL:
        put(b, "\n", 1);
        break;
    case C_ONLY_NL:
        put_run(b, '\n', 3 * slab + 5);
        break;
    case C_NO_FINAL_NL:
        put(b, "first\nsecond", 12);
        break;
    case C_ONE_LINE:
        put(b, "GET /a HTTP/1.1\n", 16);
        break;
    case C_LOG:
        put_lines(b, 42, 300);
        break;
    case C_LOG_NO_FINAL_NL:
        put_lines(b, 43, 300);
        put(b, "tail without newline", 20);
        break;
    case C_LONG_LINES:
        put(b, "short\n", 6);
        put_run(b, 'L', 10 * slab + 3);
        put(b, "\nmid\n", 5);
        put_run(b, 'M', 3 * slab);
        put(b, "\n", 1);
        put_lines(b, 44, 20);
        break;
    case C_LINE_ENDS_AT_SLAB_END:
        put_run(b, 'a', 2 * slab - 1);
        put(b, "\n", 1);
        put_run(b, 'b', slab - 1);
        put(b, "\n", 1);
        break;
    case C_NL_FIRST_AFTER_PIECE:
        put_run(b, 'a', 3 * slab);
        put(b, "\nnext\n", 6);
        break;
    case C_LONG_LINE_NO_FINAL_NL:
        put_run(b, 'z', 4 * slab);
        break;
    case C_CRLF_NUL:
        put(b, "a\r\nb\0c\r\n\0\n\r\r\n\0", 14);
        break;
    case C_COUNT:
        break;
    }
}

/*
 * Every content at every slab size and overlap: each file alone, and all
 * of them in one reader, so carries never leak from one source to the next.
 */
static void contents_case(bool no_uring)
{
    struct buf b[C_COUNT] = {{0}};
    char names[C_COUNT][PATH_MAX];
    const char *paths[C_COUNT];
    const unsigned char *data[C_COUNT];
    size_t len[C_COUNT];

    if (!no_uring && !have_uring)
        skip();
    for (size_t i = 0; i < sizeof(slab_sizes) / sizeof(*slab_sizes); i++) {
        size_t slab = slab_sizes[i];

        for (int c = 0; c < C_COUNT; c++) {
            char name[16];

            snprintf(name, sizeof(name), "c%d", c);
            t_path(names[c], sizeof(names[c]), name);
            make(&b[c], (enum content)c, slab);
            t_write_file(names[c], b[c].p, b[c].len);
            paths[c] = names[c];
            data[c] = b[c].p;
            len[c] = b[c].len;
        }
        for (size_t k = 0; k < sizeof(overlaps) / sizeof(*overlaps); k++) {
            struct iocs_reader_opts o = {
                .slab_size = slab,
                .nslabs = 4,
                .depth = 3,
                .no_uring = no_uring,
                .mmap = use_mmap,
            };
            const char *why;

            for (int c = 0; c < C_COUNT; c++) {
                why = framecheck_run(&paths[c], &data[c], &len[c], 1, &o,
                                     overlaps[k]);
                if (why)
                    fail_msg("slab %zu overlap %zu content %d: %s", slab,
                             overlaps[k], c, why);
            }
            why = framecheck_run(paths, data, len, C_COUNT, &o, overlaps[k]);
            if (why)
                fail_msg("slab %zu overlap %zu all: %s", slab, overlaps[k],
                         why);
        }
    }
    for (int c = 0; c < C_COUNT; c++) {
        unlink(names[c]);
        free(b[c].p);
    }
}

static void test_framer_contents_uring(void **state)
{
    (void)state;
    contents_case(false);
}

static void test_framer_contents_read(void **state)
{
    (void)state;
    contents_case(true);
}

/*
 * Hand-made slabs, to pin the exact units. A slab is built in a local
 * buffer with headroom before its data; in the mapped pass, as a window
 * of a read-only "file" (one page, its bytes at their offsets), whose
 * headroom is the file before it, as the reader maps it.
 */
struct fake {
    unsigned char mem[64];
    struct iocs_slab s;
};

static unsigned char *file_page; /* the mapped pass's file, PROT_READ */

static struct iocs_slab *fake(struct fake *f, const char *bytes,
                              uint64_t offset, bool first, bool last)
{
    size_t n = strlen(bytes);

    if (use_mmap) {
        assert_true(offset + n <= 4096);
        assert_int_equal(mprotect(file_page, 4096, PROT_READ | PROT_WRITE), 0);
        memcpy(file_page + offset, bytes, n);
        assert_int_equal(mprotect(file_page, 4096, PROT_READ), 0);
        f->s = (struct iocs_slab){
            .offset = offset,
            .data = file_page + offset,
            .len = n,
            .headroom = (size_t)offset,
            .mapped = true,
            .first = first,
            .last = last,
        };
        return &f->s;
    }
    memcpy(f->mem + 32, bytes, n);
    f->s = (struct iocs_slab){
        .offset = offset,
        .data = f->mem + 32,
        .len = n,
        .headroom = 32,
        .first = first,
        .last = last,
    };
    return &f->s;
}

static int setup(void **state)
{
    struct iocs_framer *f;

    if (iocs_framer_new(&f, 8, 3) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    iocs_framer_free(*state);
    return 0;
}

static void assert_unit(const struct iocs_unit *u, const char *bytes,
                        uint64_t offset, size_t rescan, bool starts, bool ends,
                        bool first, bool last)
{
    assert_int_equal(u->len, strlen(bytes));
    assert_memory_equal(u->ptr, bytes, u->len);
    assert_int_equal(u->offset, offset);
    assert_int_equal(u->rescan, rescan);
    assert_int_equal(u->starts_line, starts);
    assert_int_equal(u->ends_line, ends);
    assert_int_equal(u->first, first);
    assert_int_equal(u->last, last);
}

/* A tail is carried and joined to the next slab's bytes. */
static void test_framer_joins_split_line(void **state)
{
    struct iocs_framer *f = *state;
    struct fake a, b;
    struct iocs_unit u;

    assert_int_equal(
        iocs_framer_frame(f, fake(&a, "ab\ncd", 0, true, false), &u), 1);
    assert_unit(&u, "ab\n", 0, 0, true, true, true, false);
    assert_int_equal(iocs_framer_frame(f, fake(&b, "e\nf", 5, false, true), &u),
                     1);
    assert_unit(&u, "cde\nf", 3, 0, true, true, false, true);
}

/* A long line: a piece, then its overlap rescanned before a '\n' that is
 * the very first new byte. */
static void test_framer_newline_first_after_piece(void **state)
{
    struct iocs_framer *f = *state;
    struct fake a, b, c;
    struct iocs_unit u;

    assert_int_equal(
        iocs_framer_frame(f, fake(&a, "x\nabcdef", 0, true, false), &u), 1);
    assert_unit(&u, "x\n", 0, 0, true, true, true, false);
    /* "abcdef" + "ghijklmn": no '\n' in 14 bytes > 8 carried at most. */
    assert_int_equal(
        iocs_framer_frame(f, fake(&b, "ghijklmn", 8, false, false), &u), 1);
    assert_unit(&u, "abcdefghijklmn", 2, 0, true, false, false, false);
    assert_int_equal(
        iocs_framer_frame(f, fake(&c, "\nok", 16, false, false), &u), 1);
    assert_unit(&u, "lmn\n", 13, 3, false, true, false, false);
}

/* A partial line that still fits the carry is held, not cut (short pipe
 * reads), and an empty non-last slab yields nothing. */
static void test_framer_holds_short_partial_line(void **state)
{
    struct iocs_framer *f = *state;
    struct fake a, b, c, d;
    struct iocs_unit u;

    assert_int_equal(iocs_framer_frame(f, fake(&a, "abc", 0, true, false), &u),
                     0);
    assert_int_equal(iocs_framer_frame(f, fake(&b, "", 3, false, false), &u),
                     0);
    assert_int_equal(iocs_framer_frame(f, fake(&c, "de", 3, false, false), &u),
                     0);
    assert_int_equal(iocs_framer_frame(f, fake(&d, "f\n", 5, false, false), &u),
                     1);
    assert_unit(&u, "abcdef\n", 0, 0, true, true, true, false);
}

/* A source that fails mid-way: what was read comes out, marked last. */
static void test_framer_error_ends_source(void **state)
{
    struct iocs_framer *f = *state;
    struct fake a, b;
    struct iocs_unit u;

    assert_int_equal(
        iocs_framer_frame(f, fake(&a, "one\ntw", 0, true, false), &u), 1);
    fake(&b, "", 6, false, false)->err = -EIO;
    assert_int_equal(iocs_framer_frame(f, &b.s, &u), 1);
    assert_unit(&u, "tw", 4, 0, true, true, false, true);
}

/* An empty source still yields one (empty) unit, first and last. A new
 * source drops the carry of one that never ended. */
static void test_framer_empty_source_and_restart(void **state)
{
    struct iocs_framer *f = *state;
    struct fake a, b, c;
    struct iocs_unit u;

    assert_int_equal(iocs_framer_frame(f, fake(&a, "", 0, true, true), &u), 1);
    assert_unit(&u, "", 0, 0, true, true, true, true);
    assert_int_equal(
        iocs_framer_frame(f, fake(&b, "stale", 0, true, false), &u), 0);
    fake(&c, "new\n", 0, true, true)->source = 1;
    assert_int_equal(iocs_framer_frame(f, &c.s, &u), 1);
    assert_unit(&u, "new\n", 0, 0, true, true, true, true);
    assert_int_equal(u.source, 1);
}

/* Misuse is refused: too little headroom (a mapped slab needs only the
 * tail carried before it), a slab over carry_cap, a slab of no started
 * source. */
static void test_framer_rejects_bad_slabs(void **state)
{
    struct iocs_framer *f = *state;
    struct fake a, b;
    struct iocs_unit u;

    if (use_mmap) {
        /* The first slab of a source at offset 0 has no headroom. */
        assert_int_equal(
            iocs_framer_frame(f, fake(&a, "a\nbc", 0, true, false), &u), 1);
        assert_unit(&u, "a\n", 0, 0, true, true, true, false);
        fake(&b, "d\n", 4, false, false)->headroom = 1; /* "bc" carried */
        assert_int_equal(iocs_framer_frame(f, &b.s, &u), -EINVAL);
        b.s.headroom = 2;
        assert_int_equal(iocs_framer_frame(f, &b.s, &u), 1);
        assert_unit(&u, "bcd\n", 2, 0, true, true, false, false);
        assert_int_equal(iocs_framer_frame(f, fake(&b, "", 6, false, true), &u),
                         1);
    } else {
        fake(&a, "a\n", 0, true, false)->headroom = 7;
        assert_int_equal(iocs_framer_frame(f, &a.s, &u), -EINVAL);
    }
    assert_int_equal(
        iocs_framer_frame(f, fake(&a, "123456789", 0, true, false), &u),
        -EINVAL);
    assert_int_equal(iocs_framer_frame(f, fake(&a, "a\n", 0, false, false), &u),
                     -EINVAL);
    assert_int_equal(iocs_framer_new(&f, 0, 1), -EINVAL);
    assert_int_equal(iocs_framer_new(&f, 1, 0), -EINVAL);
}

static int group_setup(void **state)
{
    struct io_uring ring;
    (void)state;
    if (t_tmpdir_init() < 0)
        return -1;
    file_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (file_page == MAP_FAILED)
        return -1;
    have_uring = io_uring_queue_init(2, &ring, 0) == 0;
    if (have_uring)
        io_uring_queue_exit(&ring);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    munmap(file_page, 4096);
    t_tmpdir_fini();
    return 0;
}

int main(void)
{
    int rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framer_contents_uring),
        cmocka_unit_test(test_framer_contents_read),
        cmocka_unit_test_setup_teardown(test_framer_joins_split_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framer_newline_first_after_piece,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_framer_holds_short_partial_line,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_framer_error_ends_source, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framer_empty_source_and_restart,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_framer_rejects_bad_slabs, setup,
                                        teardown),
    };
    /* Every test twice: slabs read into, then mapped slabs. */
    rc = _cmocka_run_group_tests("framer, copied", tests,
                                 sizeof(tests) / sizeof(*tests), group_setup,
                                 group_teardown);
    use_mmap = true;
    rc |= _cmocka_run_group_tests("framer, mapped", tests,
                                  sizeof(tests) / sizeof(*tests), group_setup,
                                  group_teardown);
    return rc;
}
