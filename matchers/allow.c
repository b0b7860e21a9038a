/*
 * allow.c - TEMP stub so that h/dbcache links before the real allowlist
 * module (h/feeds) is merged. Drop this file at merge.
 */
#include "matchers/allow.h"

#include <errno.h>
#include <stdlib.h>

struct iocs_allow {
    int unused;
};

int iocs_allow_new(struct iocs_allow **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : -ENOMEM;
}

void iocs_allow_free(struct iocs_allow *a)
{
    free(a);
}

int iocs_allow_load_file(struct iocs_allow *a, const char *path,
                         iocs_reject_fn reject, void *ctx, size_t *loaded)
{
    (void)a;
    (void)path;
    (void)reject;
    (void)ctx;
    (void)loaded;
    return -ENOSYS;
}

bool iocs_allow_ioc(const struct iocs_allow *a, enum iocs_type t,
                    const char *value, size_t n)
{
    (void)a;
    (void)t;
    (void)value;
    (void)n;
    return false;
}

bool iocs_allow_ip(const struct iocs_allow *a, int family,
                   const unsigned char *addr)
{
    (void)a;
    (void)family;
    (void)addr;
    return false;
}

size_t iocs_allow_count(const struct iocs_allow *a)
{
    (void)a;
    return 0;
}
