/*
 * util.c - the helpers of util.h: error text, FNV-1a, whole-file I/O.
 */
#include "matchers/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Read all of the regular file fd into *out (malloc'd, NUL-terminated)
 * and *len, at most max bytes. Returns 0 or -errno. */
static int read_all(int fd, uint64_t max, char **out, size_t *len)
{
    struct stat st;
    size_t cap = 64 * 1024, n = 0;
    char *buf = NULL, *nb;
    int err;

    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EINVAL; /* a FIFO would block, /dev/zero never end */
    if ((uint64_t)st.st_size > max || max >= SIZE_MAX)
        return -EFBIG;
    /* One allocation at the size fstat gives; a file that says 0 (as
     * /proc files do) grows by doubling. */
    if (st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    for (;;) {
        ssize_t r;

        if (n + 1 >= cap || !buf) {
            if (buf) {
                if (n >= max) {
                    err = -EFBIG; /* it grew past the cap while read */
                    goto fail;
                }
                cap = cap > max / 2 ? (size_t)max + 2 : cap * 2;
            }
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
    if (n > max) {
        err = -EFBIG;
        goto fail;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;

fail:
    free(buf);
    return err;
}

int iocs_read_file_max(const char *path, uint64_t max, char **out, size_t *len)
{
    int fd, err;

    /* O_NONBLOCK: a FIFO put where a file was expected is refused by
     * read_all(), not waited on. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -errno;
    err = read_all(fd, max, out, len);
    close(fd);
    return err;
}

int iocs_read_file(const char *path, char **out, size_t *len)
{
    return iocs_read_file_max(path, IOCS_READ_MAX, out, len);
}

int iocs_check_replace(const char *path, const char *what, char *errbuf,
                       size_t errlen)
{
    struct stat st;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return iocs_seterr(errbuf, errlen, -errno, "%s: %s", path,
                           strerror(errno));
    }
    if (S_ISLNK(st.st_mode))
        return iocs_seterr(errbuf, errlen, -ELOOP,
                           "%s: the %s path is a symbolic link; refusing to "
                           "replace it",
                           path, what);
    if (!S_ISREG(st.st_mode))
        return iocs_seterr(errbuf, errlen, -EINVAL,
                           "%s: the %s path is not a regular file (a device, "
                           "FIFO, socket or directory); refusing to replace it",
                           path, what);
    return 0;
}

int iocs_write_replace(const char *path, const void *p, size_t n, unsigned mode,
                       const char *what, char *errbuf, size_t errlen)
{
    char *tmp;
    int fd, err;

    err = iocs_check_replace(path, what, errbuf, errlen);
    if (err)
        return err;
    tmp = malloc(strlen(path) + 8);
    if (!tmp)
        return iocs_seterr(errbuf, errlen, -ENOMEM, "out of memory");
    sprintf(tmp, "%s.XXXXXX", path);
    fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
    if (fd < 0) {
        err =
            iocs_seterr(errbuf, errlen, -errno, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return err;
    }
    err = iocs_write_all(fd, p, n);
    if (!err && fchmod(fd, (mode_t)mode) < 0)
        err = -errno;
    if (!err && fsync(fd) < 0 && errno != EINVAL)
        err = -errno;
    if (close(fd) < 0 && !err)
        err = -errno;
    if (err) {
        iocs_seterr(errbuf, errlen, err, "%s: %s", tmp, strerror(-err));
    } else if (rename(tmp, path) < 0) {
        err = -errno;
        iocs_seterr(errbuf, errlen, err, "%s: %s", path, strerror(errno));
    }
    if (err)
        unlink(tmp);
    free(tmp);
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
        if (w == 0)
            return -EIO; /* no progress: never spin */
        s += w;
        n -= (size_t)w;
    }
    return 0;
}
