/*
 * builtin.h - the IOC pack compiled into the binary, used when `scan` is
 * given no -i. Every entry carries its source reference. See
 * ../shared/incident-iocs.md for the research behind it.
 */
#ifndef IOCS_BUILTIN_H
#define IOCS_BUILTIN_H

#include <stddef.h>

#include "matchers/ioc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One entry of the pack, as written (normalised on load). */
struct iocs_builtin {
    enum iocs_type type;
    const char *value;
    int severity;
    const char *description;
    const char *reference;
};

/* The pack and its length. */
const struct iocs_builtin *iocs_builtin_pack(size_t *n);

/*
 * Add every entry of the pack to set (feed "builtin", provider from the
 * entry's reference). Returns 0, -ENOMEM, or -EINVAL if an entry does not
 * normalise (a bug in the pack; errbuf names it).
 */
int iocs_builtin_load(struct iocs_iocset *set, char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_BUILTIN_H */
