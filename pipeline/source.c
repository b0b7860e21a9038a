/*
 * source.c - source records and their lists (see source.h).
 */
#include "pipeline/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int iocs_sourcelist_add(struct iocs_sourcelist *l, const struct iocs_source *s)
{
    char *copy;

    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct iocs_source *v = realloc(l->v, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    copy = strdup(s->path);
    if (!copy)
        return -ENOMEM;
    l->v[l->len] = *s;
    l->v[l->len++].path = copy;
    return 0;
}

void iocs_sourcelist_fini(struct iocs_sourcelist *l)
{
    for (size_t i = 0; i < l->len; i++)
        free((char *)l->v[i].path); /* the list's own copy */
    free(l->v);
    memset(l, 0, sizeof(*l));
}

uint64_t iocs_source_hash(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;

    if (n > IOCS_SOURCE_FP_MAX)
        n = IOCS_SOURCE_FP_MAX;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int iocs_source_fingerprint(struct iocs_source *s)
{
    unsigned char buf[IOCS_SOURCE_FP_MAX];
    size_t got = 0;
    int fd, err = 0;

    if (strcmp(s->path, "-") == 0)
        return -ESPIPE;
    fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    while (got < sizeof(buf)) {
        ssize_t n = pread(fd, buf + got, sizeof(buf) - got, (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = -errno;
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    s->fingerprint = iocs_source_hash(buf, got);
    s->fp_len = (uint32_t)got;
out:
    close(fd);
    return err;
}
