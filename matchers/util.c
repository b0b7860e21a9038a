/*
 * util.c - the helpers of util.h: error text, FNV-1a, whole-file I/O.
 */
#include "matchers/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int iocs_seterr(char *errbuf, size_t errlen, int err, const char *fmt, ...)
{
    va_list ap;

    if (errbuf && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return err;
}

uint64_t iocs_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

uint32_t iocs_fnv1a32(uint64_t h, const void *p, size_t n)
{
    h = iocs_fnv1a(h, p, n);
    return (uint32_t)(h ^ (h >> 32));
}

/* Read all of fd into *out (malloc'd, NUL-terminated) and *len. Returns 0
 * or -errno. */
static int read_all(int fd, char **out, size_t *len)
{
    struct stat st;
    size_t cap = 64 * 1024, n = 0;
    char *buf = NULL, *nb;
    int err;

    /* A regular file is read in one allocation; a pipe grows by doubling. */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    for (;;) {
        ssize_t r;

        if (n + 1 >= cap || !buf) {
            if (buf)
                cap *= 2;
            nb = realloc(buf, cap);
            if (!nb) {
                err = -ENOMEM;
                goto fail;
            }
            buf = nb;
        }
        r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;

fail:
    free(buf);
    return err;
}

int iocs_read_file(const char *path, char **out, size_t *len)
{
    int fd, err;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    err = read_all(fd, out, len);
    close(fd);
    return err;
}

int iocs_write_all(int fd, const void *p, size_t n)
{
    const unsigned char *s = p;

    while (n > 0) {
        ssize_t w = write(fd, s, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}
