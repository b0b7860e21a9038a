/*
 * status.h - error codes and shared error helpers.
 *
 * Every fallible call in iocstream returns 0 (or a count) on success and a
 * negative errno on failure, the same encoding as io_uring's cqe->res.
 * Hyperscan and msgpack codes are translated at the module edge. This module
 * turns those codes into text; it is the only place that knows all of them.
 */
#ifndef IOCS_STATUS_H
#define IOCS_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exit statuses, as grep: no hits, hits, error. */
enum {
    IOCS_EXIT_NOHIT = 0,
    IOCS_EXIT_HIT = 1,
    IOCS_EXIT_ERROR = 2,
};

/*
 * Text for a negative errno returned by any iocs_ call. Never NULL; the
 * string is static. Thread-safe.
 */
const char *iocs_strerror(int err);

/*
 * Format into errbuf (always NUL-terminated when errlen > 0), printf-style.
 * Used by config-time calls that explain what was wrong. Returns err, so a
 * caller can write `return iocs_seterr(errbuf, errlen, -EINVAL, ...)`.
 */
int iocs_seterr(char *errbuf, size_t errlen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#ifdef __cplusplus
}
#endif

#endif /* IOCS_STATUS_H */
