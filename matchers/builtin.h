/*
 * builtin.h - the IOC pack compiled into the binary, used when `scan` is
 * given no -i and no --rules (or with --builtin). Every entry carries its
 * source reference; `iocstream iocs --builtin` lists them. See
 * ../shared/incident-iocs.md for the research behind it: only values marked
 * there as verbatim (V) from a high-confidence source (H), plus the
 * BeyondTrust request and log patterns the issue names.
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
    const char *value; /* IOCS_REGEX: a Hyperscan expression */
    int severity;
    const char *description;
    const char *reference; /* the source: a URL or repo:path */
    const char *provider;  /* who published it */
    const char *rule_id;   /* IOCS_REGEX only */
    unsigned hs_flags;     /* IOCS_REGEX only: HS_FLAG_CASELESS, ... */
};

/* The pack and its length. */
const struct iocs_builtin *iocs_builtin_pack(size_t *n);

/*
 * Add every entry of the pack to set (feed "builtin"). Returns 0, -ENOMEM,
 * or -EINVAL if an entry does not normalise or a rule does not compile (a
 * bug in the pack; errbuf names it).
 */
int iocs_builtin_load(struct iocs_iocset *set, char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_BUILTIN_H */
