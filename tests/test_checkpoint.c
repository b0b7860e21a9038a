/*
 * test_checkpoint.c - the state file: round trip, atomic replace, refusal
 * of links and FIFOs, damaged files named by line and offset, lookup by
 * inode and by fingerprint after a rename, copy or compression.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <dirent.h>

#include "pipeline/checkpoint.h"
#include "tests/helpers.h"

static int setup(void **state)
{
    struct iocs_checkpoint *s;

    if (t_tmpdir_init() < 0 || iocs_checkpoint_new(&s) < 0)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    iocs_checkpoint_free(*state);
    t_tmpdir_fini();
    return 0;
}

static struct iocs_ckpt_id id_of(uint64_t dev, uint64_t ino,
                                 const unsigned char *p, size_t n)
{
    struct iocs_ckpt_id id = {.dev = dev, .ino = ino};

    id.fp_len = (uint32_t)(n < IOCS_CKPT_FP_BYTES ? n : IOCS_CKPT_FP_BYTES);
    id.fp = iocs_checkpoint_fingerprint(p, id.fp_len);
    return id;
}

static unsigned char log_a[8192], log_b[8192];

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (i % 40 == 39) ? '\n' : (unsigned char)('a' + (seed + i) % 26);
}

/* What is saved loads back the same, and formats to the same bytes. */
static void test_checkpoint_round_trip(void **state)
{
    struct iocs_checkpoint *s = *state, *r = NULL;
    struct iocs_ckpt_id a, b;
    char path[PATH_MAX], err[256];
    char *t1, *t2;
    size_t l1, l2;

    fill(log_a, sizeof(log_a), 1);
    fill(log_b, 100, 2);
    a = id_of(2049, 17, log_a, sizeof(log_a));
    b = id_of(2049, 18, log_b, 100);
    assert_int_equal(
        iocs_checkpoint_set(s, &a, 4000, 101, "/var/log/a b%", 1700000000), 0);
    assert_int_equal(
        iocs_checkpoint_set(s, &b, 40, 2, "/var/log/\xc3\xa9t\xc3\xa9", 5), 0);
    iocs_checkpoint_set_output(s, 123456);
    assert_int_equal(iocs_checkpoint_set_db(s, "00ff12ab"), 0);
    assert_int_equal(iocs_checkpoint_set_db(s, "XYZ"), -EINVAL);

    t_path(path, sizeof(path), "state");
    assert_int_equal(iocs_checkpoint_save(path, s, err, sizeof(err)), 0);
    assert_int_equal(iocs_checkpoint_load(path, &r, err, sizeof(err)), 0);
    assert_int_equal(r->n, 2);
    assert_string_equal(r->v[0].path, "/var/log/a b%");
    assert_string_equal(r->v[1].path, "/var/log/\xc3\xa9t\xc3\xa9");
    assert_int_equal(r->v[0].offset, 4000);
    assert_int_equal(r->v[0].line, 101);
    assert_int_equal(r->v[0].id.fp, a.fp);
    assert_int_equal(r->v[1].id.fp_len, 100);
    assert_int_equal(r->output_len, 123456);
    assert_string_equal(r->db, "00ff12ab");

    assert_int_equal(iocs_checkpoint_format(s, &t1, &l1), 0);
    assert_int_equal(iocs_checkpoint_format(r, &t2, &l2), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(t1, t2, l1);
    free(t1);
    free(t2);
    iocs_checkpoint_free(r);
}

/* A save replaces the file by rename: a reader holding the old file sees
 * it whole, and no temporary file is left behind. */
static void test_checkpoint_atomic_replace(void **state)
{
    struct iocs_checkpoint *s = *state;
    char path[PATH_MAX], err[256];
    struct stat st1, st2;
    struct dirent *d;
    DIR *dir;
    int n = 0;

    t_path(path, sizeof(path), "state");
    iocs_checkpoint_set_output(s, 1);
    assert_int_equal(iocs_checkpoint_save(path, s, err, sizeof(err)), 0);
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(st1.st_mode & 0777, 0600);
    iocs_checkpoint_set_output(s, 2);
    assert_int_equal(iocs_checkpoint_save(path, s, err, sizeof(err)), 0);
    assert_int_equal(stat(path, &st2), 0);
    assert_true(st1.st_ino != st2.st_ino); /* a new file, renamed over */
    dir = opendir(t_tmp);
    assert_non_null(dir);
    while ((d = readdir(dir)))
        n += d->d_name[0] != '.';
    closedir(dir);
    assert_int_equal(n, 1);
}

/* A symlink or FIFO at the state path is neither read nor replaced. */
static void test_checkpoint_refuses_link_and_fifo(void **state)
{
    struct iocs_checkpoint *s = *state, *r = NULL;
    char path[PATH_MAX], target[PATH_MAX], err[256];
    struct stat st;

    t_tmp_text(target, sizeof(target), "target", "precious\n");
    t_path(path, sizeof(path), "link");
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(iocs_checkpoint_save(path, s, err, sizeof(err)), -ELOOP);
    assert_non_null(strstr(err, "symbolic link"));
    assert_int_equal(iocs_checkpoint_load(path, &r, err, sizeof(err)), -ELOOP);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));

    t_path(path, sizeof(path), "fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(iocs_checkpoint_save(path, s, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(iocs_checkpoint_load(path, &r, err, sizeof(err)), -EINVAL);
    assert_null(r);

    t_path(path, sizeof(path), "absent");
    assert_int_equal(iocs_checkpoint_load(path, &r, err, sizeof(err)), -ENOENT);
}

/* Damaged files: each is refused with -EBADMSG and a message that names
 * where. */
static void test_checkpoint_corrupt_is_clear_error(void **state)
{
    struct iocs_checkpoint *s = *state, *r = NULL;
    struct iocs_ckpt_id a;
    char *text, err[256], path[PATH_MAX];
    size_t len;

    fill(log_a, sizeof(log_a), 3);
    a = id_of(1, 2, log_a, sizeof(log_a));
    assert_int_equal(iocs_checkpoint_set(s, &a, 10, 2, "/x", 7), 0);
    assert_int_equal(iocs_checkpoint_format(s, &text, &len), 0);

    /* A flipped byte anywhere: the checksum catches it. */
    text[30] ^= 1;
    assert_int_equal(iocs_checkpoint_parse(text, len, &r, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(err, "checksum"));
    text[30] ^= 1;
    /* Cut short. */
    assert_int_equal(iocs_checkpoint_parse(text, len - 3, &r, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(err, "byte"));
    /* Not ours at all. */
    assert_int_equal(iocs_checkpoint_parse("hello\n", 6, &r, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(err, "line"));
    assert_null(r);

    /* Through load(): the message names the file too. */
    text[len - 2] = text[len - 2] == '0' ? '1' : '0';
    t_path(path, sizeof(path), "state");
    t_write_file(path, text, len);
    assert_int_equal(iocs_checkpoint_load(path, &r, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(err, path));
    if (!strstr(err, "line 6"))
        fail_msg("%s", err);
    free(text);
}

/* Table-driven: hand-written bodies with a valid checksum, each breaking
 * one rule of the canonical form. */
static void test_checkpoint_parser_rules(void **state)
{
    static const struct {
        const char *body;
        const char *why;
    } cases[] = {
        {"iocstream-state 2\ndb -\noutput -\nsources 0\n", "version"},
        {"iocstream-state 1\ndb -\noutput 01\nsources 0\n", "leading zero"},
        {"iocstream-state 1\ndb -\noutput -\nsources 1\n", "keyword"},
        {"iocstream-state 1\ndb -\noutput -\nsources 0\nx\n", "announced"},
        {"iocstream-state 1\ndb AB\noutput -\nsources 0\n", "database"},
        {"iocstream-state 1\ndb -\noutput -\nsources 1\n"
         "s 1 2 00000000000000ff 4097 0 1 0 /x\n",
         "range"},
        {"iocstream-state 1\ndb -\noutput -\nsources 1\n"
         "s 1 2 00000000000000ff 4 0 0 0 /x\n",
         "start at 1"},
        {"iocstream-state 1\ndb -\noutput -\nsources 1\n"
         "s 1 2 00000000000000ff 4 0 1 0 /a%41\n",
         "needless"},
        {"iocstream-state 1\ndb -\noutput -\nsources 1\n"
         "s 1 2 00000000000000ff 4 0 1 0 /a\tb\n",
         "unescaped"},
        {"iocstream-state 1\ndb -\noutput -\nsources 2\n"
         "s 1 2 00000000000000ff 4 0 1 0 /a\n"
         "s 1 2 00000000000000ff 4 0 1 0 /b\n",
         "twice"},
        {"iocstream-state 1\ndb -\noutput 99999999999999999999\nsources 0\n",
         "range"},
    };
    char buf[1024], err[256];
    struct iocs_checkpoint *r = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].body);

        memcpy(buf, cases[i].body, n);
        n += (size_t)snprintf(
            buf + n, sizeof(buf) - n, "end %016llx\n",
            (unsigned long long)iocs_checkpoint_fingerprint(buf, n));
        err[0] = '\0';
        assert_int_equal(iocs_checkpoint_parse(buf, n, &r, err, sizeof(err)),
                         -EBADMSG);
        if (!strstr(err, cases[i].why))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].why);
    }
}

/* A renamed file keeps its inode; a copy (copytruncate) or a compressed
 * rotation has a new inode and the same fingerprint; a reused inode with
 * other contents is not a match. */
static void test_checkpoint_find_by_fingerprint(void **state)
{
    struct iocs_checkpoint *s = *state;
    const struct iocs_ckpt_entry *e;
    struct iocs_ckpt_id a, small;

    fill(log_a, sizeof(log_a), 4);
    fill(log_b, sizeof(log_b), 5);
    a = id_of(9, 100, log_a, sizeof(log_a));
    assert_int_equal(iocs_checkpoint_set(s, &a, 5000, 126, "/l/x", 10), 0);

    /* Same inode, renamed to x.1 and grown. */
    e = iocs_checkpoint_find(s, 9, 100, log_a, IOCS_CKPT_FP_BYTES);
    assert_non_null(e);
    assert_int_equal(e->offset, 5000);
    /* A copy (x.1 after copytruncate) or x.1.gz inflated: new inode. */
    e = iocs_checkpoint_find(s, 9, 555, log_a, IOCS_CKPT_FP_BYTES);
    assert_non_null(e);
    assert_int_equal(e->line, 126);
    e = iocs_checkpoint_find(s, 12, 7, log_a, IOCS_CKPT_FP_BYTES);
    assert_non_null(e);
    /* x truncated and rewritten in place: same inode, new contents. */
    assert_null(iocs_checkpoint_find(s, 9, 100, log_b, IOCS_CKPT_FP_BYTES));

    /* A short file's fingerprint covers what it had: it still matches
     * once the file has grown, by inode; by fingerprint only when long
     * enough to mean something. */
    small = id_of(9, 200, log_b, 30);
    assert_int_equal(iocs_checkpoint_set(s, &small, 30, 2, "/l/y", 11), 0);
    e = iocs_checkpoint_find(s, 9, 200, log_b, 500);
    assert_non_null(e);
    assert_int_equal(e->offset, 30);
    assert_null(iocs_checkpoint_find(s, 9, 201, log_b, 500));

    /* Forgetting. */
    assert_int_equal(iocs_checkpoint_remove(s, 9, 200), 1);
    assert_int_equal(iocs_checkpoint_forget(s, 11), 1);
    assert_int_equal(s->n, 0);
}

/* The table is bounded: the least recently seen entry gives way. */
static void test_checkpoint_bounded(void **state)
{
    struct iocs_checkpoint *s = *state;
    struct iocs_ckpt_id id = {.dev = 1, .fp_len = 0};

    id.fp = iocs_checkpoint_fingerprint("", 0);

    for (uint64_t i = 0; i < IOCS_CKPT_MAX_SOURCES + 10; i++) {
        id.ino = i + 1;
        assert_int_equal(
            iocs_checkpoint_set(s, &id, 0, 1, "/p", (int64_t)(i + 100)), 0);
    }
    assert_int_equal(s->n, IOCS_CKPT_MAX_SOURCES);
    assert_null(iocs_checkpoint_find(s, 1, 1, NULL, 0));
    assert_non_null(
        iocs_checkpoint_find(s, 1, IOCS_CKPT_MAX_SOURCES + 10, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpoint_round_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_atomic_replace, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_refuses_link_and_fifo,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_corrupt_is_clear_error,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_parser_rules, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_find_by_fingerprint,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_bounded, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
