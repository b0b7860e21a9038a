/*
 * status.h - exit statuses and the text of error codes.
 *
 * Every fallible call in iocstream returns 0 (or a count) on success and a
 * negative errno on failure, the same encoding as io_uring's cqe->res.
 * Hyperscan and msgpack codes are translated at the module edge. This module
 * turns those codes into text; it is the only place that knows all of them.
 * (matchers/ fills its own error text: see matchers/util.h.)
 */
#ifndef IOCS_STATUS_H
#define IOCS_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exit statuses, as grep: something found, nothing found, an error (which
 * wins over hits, except with -q and a hit); killed by a signal: 128 + it. */
enum {
    IOCS_EXIT_HIT = 0,
    IOCS_EXIT_NOHIT = 1,
    IOCS_EXIT_ERROR = 2,
    IOCS_EXIT_SIGNAL = 128,
};

/*
 * Text for a negative errno returned by any iocs_ call. Never NULL; the
 * string is static. Thread-safe.
 */
const char *iocs_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_STATUS_H */
