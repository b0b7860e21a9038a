/*
 * helpers.h - what the cmocka tests share (in the manner of liburing's
 * test/helpers.h): a temporary directory per test program, files written
 * into it, the shared corpus found relative to the source tree, and the
 * skip code. Header-only: each test includes it after <cmocka.h>.
 *
 * The corpus is ../shared next to the source tree (IOCS_SOURCE_DIR, set
 * by CTest); a test that needs it calls t_shared_dir() and skips (exit 77
 * through t_skip()) when it is absent. No test names a machine path.
 */
#ifndef IOCS_TEST_HELPERS_H
#define IOCS_TEST_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* CTest's SKIP_RETURN_CODE: a missing kernel feature or corpus. */
#define T_SKIP 77

/* The test program's temporary directory, made by t_tmpdir_init(). */
static char t_tmp[PATH_MAX - 64] __attribute__((unused));

/* Make the temporary directory (under $TMPDIR or /tmp). Returns 0 or -1. */
static inline int t_tmpdir_init(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(t_tmp, sizeof(t_tmp), "%s/iocs-test-XXXXXX",
             base && *base ? base : "/tmp");
    return mkdtemp(t_tmp) ? 0 : -1;
}

/* Remove the temporary directory and everything in it. */
static inline void t_tmpdir_fini(void)
{
    char cmd[PATH_MAX + 16];

    if (!t_tmp[0])
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", t_tmp);
    t_tmp[0] = '\0';
}

/* Run the cmocka group tests[] inside the program's temporary directory,
 * removed afterwards: `return t_run_in_tmpdir(tests);` in main(). Returns
 * what cmocka returns, or 1 when the directory cannot be made. */
#define t_run_in_tmpdir(tests)                                                 \
    t__run_in_tmpdir(#tests, tests, sizeof(tests) / sizeof((tests)[0]))

static inline int t__run_in_tmpdir(const char *name,
                                   const struct CMUnitTest *tests, size_t n)
{
    int rc;

    if (t_tmpdir_init() < 0)
        return 1;
    rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    t_tmpdir_fini();
    return rc;
}

/* out = the temporary directory + "/" + name. */
static inline void t_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", t_tmp, name);
}

/* Write n bytes to path (created or truncated, mode 0644); fails the test
 * when it cannot. */
static inline void t_write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const char *c = p;

    if (fd < 0)
        fail_msg("open %s: %s", path, strerror(errno));
    while (n > 0) {
        ssize_t w = write(fd, c, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fail_msg("write %s: %s", path, strerror(errno));
        c += w;
        n -= (size_t)w;
    }
    close(fd);
}

/* As t_write_file() with a NUL-terminated text, into the temporary
 * directory under name; the full path goes to out. */
static inline void t_tmp_text(char *out, size_t cap, const char *name,
                              const char *text)
{
    t_path(out, cap, name);
    t_write_file(out, text, strlen(text));
}

/* Read a whole file into a malloc'd, NUL-terminated buffer; *len (if
 * non-NULL) gets its size. NULL when it cannot be read. */
static inline char *t_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    if (!f)
        return NULL;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);

            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);

        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/*
 * The shared corpus directory (../shared beside the source tree) into
 * out. Returns 0, or -ENOENT when it is absent (the caller skips).
 */
static inline int t_shared_dir(char *out, size_t cap)
{
    const char *src = getenv("IOCS_SOURCE_DIR");
    struct stat st;

    if (!src || !*src)
        return -ENOENT;
    snprintf(out, cap, "%s/../shared", src);
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return -ENOENT;
}

/* The path of the built iocstream binary (IOCS_BINARY, set by CTest), or
 * NULL. */
static inline const char *t_binary(void)
{
    const char *b = getenv("IOCS_BINARY");

    return b && *b ? b : NULL;
}

#endif /* IOCS_TEST_HELPERS_H */
