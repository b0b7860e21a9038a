/*
 * test_walk.c - PATH arguments to sources: sorted recursive walks, links
 * skipped or followed, special files skipped, errors reported in order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "pipeline/walk.h"

/* The tree's root: the test program's temporary directory. */
#define root t_tmp

/*
 * The tree, relative to root. "sub-x" sorts before "sub/" byte-wise ('-'
 * is 0x2d, '/' is 0x2f), so the order is by full path, not per directory.
 */
static const char *const files[] = {
    "b.log", "a.log", ".hidden", "sub/z.log", "sub/deeper/y.log", "sub-x/c.log",
};
static const char *const dirs[] = {"sub", "sub/deeper", "sub-x", "empty"};

static void at(char *out, const char *rel)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", root, rel);

    assert_true(n > 0 && n < PATH_MAX);
}

static int setup(void **state)
{
    char p[PATH_MAX];

    (void)state;
    if (t_tmpdir_init() < 0)
        return -1;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
        at(p, dirs[i]);
        if (mkdir(p, 0755) < 0)
            return -1;
    }
    for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
        int fd;

        at(p, files[i]);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, "x\n", 2) != 2 || close(fd) < 0)
            return -1;
    }
    at(p, "link.log");
    if (symlink("a.log", p) < 0)
        return -1;
    at(p, "dirlink");
    if (symlink("sub", p) < 0)
        return -1;
    at(p, "sub/loop");
    if (symlink("..", p) < 0)
        return -1;
    at(p, "dangling");
    if (symlink("nowhere", p) < 0)
        return -1;
    at(p, "fifo");
    if (mkfifo(p, 0644) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    t_tmpdir_fini(); /* links, files, the FIFO and the directories */
    return 0;
}

struct errs {
    size_t n;
    int last;
    char path[PATH_MAX];
};

static void on_err(void *ctx, const char *path, int err)
{
    struct errs *e = ctx;

    e->n++;
    e->last = err;
    snprintf(e->path, sizeof(e->path), "%s", path);
}

/* The list must be exactly root + each of want, in order. */
static void assert_list(const struct iocs_sourcelist *l,
                        const char *const *want, size_t n)
{
    char p[PATH_MAX];

    for (size_t i = 0; i < n && i < l->len; i++) {
        at(p, want[i]);
        assert_string_equal(l->v[i].path, p);
        /* Identity as walked: the file's own device and inode, and a
         * source read from its start. */
        {
            struct stat st;

            assert_int_equal(stat(p, &st), 0);
            if (S_ISREG(st.st_mode)) { /* not an unwalkable directory */
                assert_int_equal(l->v[i].dev, st.st_dev);
                assert_int_equal(l->v[i].ino, st.st_ino);
            }
            assert_int_equal(l->v[i].start_offset, 0);
            assert_int_equal(l->v[i].start_line, 1);
            assert_int_equal(l->v[i].codec, IOCS_CODEC_PLAIN);
            assert_int_equal(l->v[i].fp_len, 0);
        }
    }
    assert_int_equal(l->len, n);
}

static void test_walk_sorted_skips_links_and_fifos(void **state)
{
    static const char *const want[] = {
        ".hidden",          "a.log",     "b.log", "sub-x/c.log",
        "sub/deeper/y.log", "sub/z.log",
    };
    struct iocs_sourcelist l = {0};
    struct errs e = {0};
    size_t nerr = 0;

    (void)state;
    assert_int_equal(iocs_walk_add(&l, root, false, on_err, &e, &nerr), 0);
    assert_list(&l, want, sizeof(want) / sizeof(*want));
    assert_int_equal(nerr, 0);
    assert_int_equal(e.n, 0);
    iocs_sourcelist_fini(&l);
    assert_null(l.v);
    assert_int_equal(l.len, 0);
}

/* Followed links: the file link and the directory link are walked; the
 * loop back to the root and the dangling link are not errors. */
static void test_walk_follows_links(void **state)
{
    static const char *const want[] = {
        ".hidden",       "a.log",    "b.log",       "dirlink/deeper/y.log",
        "dirlink/z.log", "link.log", "sub-x/c.log", "sub/deeper/y.log",
        "sub/z.log",
    };
    struct iocs_sourcelist l = {0};
    size_t nerr = 0;

    (void)state;
    assert_int_equal(iocs_walk_add(&l, root, true, NULL, NULL, &nerr), 0);
    assert_list(&l, want, sizeof(want) / sizeof(*want));
    assert_int_equal(nerr, 0);
    iocs_sourcelist_fini(&l);
}

/* An output iocstream writes (by device and inode) is never yielded by a
 * directory walk, whether met directly or through a followed link. */
static void test_walk_skips_outputs(void **state)
{
    static const char *const want[] = {
        ".hidden",       "b.log",       "dirlink/deeper/y.log",
        "dirlink/z.log", "sub-x/c.log", "sub/deeper/y.log",
        "sub/z.log",
    };
    struct iocs_sourcelist l = {0};
    struct iocs_walk_skip skip;
    struct stat st;
    char p[PATH_MAX];
    size_t nerr = 0;

    (void)state;
    at(p, "a.log");
    assert_int_equal(stat(p, &st), 0);
    skip = (struct iocs_walk_skip){st.st_dev, st.st_ino};
    /* link.log points at a.log: left out too. */
    assert_int_equal(
        iocs_walk_add_except(&l, root, true, NULL, NULL, &nerr, &skip, 1), 0);
    assert_list(&l, want, sizeof(want) / sizeof(*want));
    assert_int_equal(nerr, 0);
    iocs_sourcelist_fini(&l);
}

/* Arguments keep their order; each directory's run is sorted on its own;
 * a missing path is reported and kept in place; "-" is stdin; a link named
 * on the command line is followed; a trailing '/' is not doubled. */
static void test_walk_arguments_in_order(void **state)
{
    struct iocs_sourcelist l = {0};
    struct errs e = {0};
    char p[PATH_MAX], missing[PATH_MAX], dirlink[PATH_MAX], want[PATH_MAX];
    size_t nerr = 0;

    (void)state;
    at(p, "b.log");
    at(missing, "missing.log");
    at(dirlink, "dirlink/");
    assert_int_equal(iocs_walk_add(&l, p, false, on_err, &e, &nerr), 0);
    assert_int_equal(iocs_walk_add(&l, missing, false, on_err, &e, &nerr), 0);
    assert_int_equal(iocs_walk_add(&l, "-", false, on_err, &e, &nerr), 0);
    assert_int_equal(iocs_walk_add(&l, dirlink, false, on_err, &e, &nerr), 0);
    assert_int_equal(l.len, 5);
    assert_string_equal(l.v[0].path, p);
    assert_string_equal(l.v[1].path, missing);
    assert_string_equal(l.v[2].path, "-");
    at(want, "dirlink/deeper/y.log");
    assert_string_equal(l.v[3].path, want);
    at(want, "dirlink/z.log");
    assert_string_equal(l.v[4].path, want);
    assert_int_equal(nerr, 1);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.last, -ENOENT);
    assert_string_equal(e.path, missing);
    iocs_sourcelist_fini(&l);
}

/* A FIFO named on the command line is taken as it is (the reader reads
 * it); an empty directory adds nothing. */
static void test_walk_named_fifo_and_empty_dir(void **state)
{
    struct iocs_sourcelist l = {0};
    char p[PATH_MAX], fifo[PATH_MAX];

    (void)state;
    at(p, "empty");
    at(fifo, "fifo");
    assert_int_equal(iocs_walk_add(&l, p, false, NULL, NULL, NULL), 0);
    assert_int_equal(l.len, 0);
    assert_int_equal(iocs_walk_add(&l, fifo, false, NULL, NULL, NULL), 0);
    assert_int_equal(l.len, 1);
    assert_string_equal(l.v[0].path, fifo);
    iocs_sourcelist_fini(&l);
}

/* An unreadable subdirectory is reported, kept in sorted place, and the
 * walk goes on. Root reads everything, so this runs only as a user. */
static void test_walk_unreadable_dir(void **state)
{
    static const char *const want[] = {
        ".hidden", "a.log", "b.log", "sub-x/c.log", "sub/deeper", "sub/z.log",
    };
    struct iocs_sourcelist l = {0};
    struct errs e = {0};
    char p[PATH_MAX];
    size_t nerr = 0;

    (void)state;
    if (geteuid() == 0)
        skip();
    at(p, "sub/deeper");
    assert_int_equal(chmod(p, 0), 0);
    assert_int_equal(iocs_walk_add(&l, root, false, on_err, &e, &nerr), 0);
    assert_int_equal(chmod(p, 0755), 0);
    assert_list(&l, want, sizeof(want) / sizeof(*want));
    assert_int_equal(nerr, 1);
    assert_int_equal(e.last, -EACCES);
    iocs_sourcelist_fini(&l);
}

/* The fingerprint is the hash of the first bytes, read on demand; stdin
 * has none. */
static void test_walk_fingerprint(void **state)
{
    struct iocs_source s;
    char p[PATH_MAX];

    (void)state;
    at(p, "a.log");
    s = iocs_source_of(p);
    assert_int_equal(iocs_source_fingerprint(&s), 0);
    assert_int_equal(s.fp_len, 2);
    assert_true(s.fingerprint == iocs_source_hash("x\n", 2));
    assert_true(s.fingerprint != iocs_source_hash("y\n", 2));
    s = iocs_source_of("-");
    assert_int_equal(iocs_source_fingerprint(&s), -ESPIPE);
    at(p, "nowhere");
    s = iocs_source_of(p);
    assert_int_equal(iocs_source_fingerprint(&s), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_sorted_skips_links_and_fifos),
        cmocka_unit_test(test_walk_follows_links),
        cmocka_unit_test(test_walk_skips_outputs),
        cmocka_unit_test(test_walk_arguments_in_order),
        cmocka_unit_test(test_walk_named_fifo_and_empty_dir),
        cmocka_unit_test(test_walk_unreadable_dir),
        cmocka_unit_test(test_walk_fingerprint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
