/*
 * feed.h - IOC feed loading into an iocs_iocset.
 *
 * Today: plain lists (one value per line, '#' comments and blank lines
 * skipped, CRLF accepted, a UTF-8 BOM skipped, values refanged, typed with
 * iocs_type_detect() and normalised). Every line that cannot be taken is
 * passed to the reject callback as (file, line, why); nothing is printed
 * here. Config-time only; not thread-safe for one set.
 */
#ifndef IOCS_FEED_H
#define IOCS_FEED_H

#include <stddef.h>

#include "matchers/ioc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called once per rejected line. why is static or valid during the call. */
typedef void (*iocs_reject_fn)(void *ctx, const char *file, size_t line,
                               const char *why);

struct iocs_feed_report {
    size_t lines;      /* lines read, comments included */
    size_t loaded;     /* IOCs added to the set */
    size_t duplicates; /* values already in the set */
    size_t rejected;   /* lines passed to the reject callback */
};

/*
 * Load buf[0..n) as the feed named name (used in messages, in references
 * "name:line", and, without its directories, as iocs_ioc.feed; NULL reads
 * as "-"). Adds what parses to set and adds the counts to *rep (rep and
 * reject may be NULL). Returns 0 when the buffer was read (even if lines
 * were rejected: see rep->rejected), -ENOMEM, or -EINVAL when the whole
 * feed is unusable (binary data: a NUL byte; nothing is added then).
 */
int iocs_feed_load_mem(struct iocs_iocset *set, const char *name,
                       const char *buf, size_t n, iocs_reject_fn reject,
                       void *ctx, struct iocs_feed_report *rep);

/*
 * Read the file at path and load it as above, named by its path. Returns 0,
 * a negative errno from open/read, or what iocs_feed_load_mem() returns.
 */
int iocs_feed_load_file(struct iocs_iocset *set, const char *path,
                        iocs_reject_fn reject, void *ctx,
                        struct iocs_feed_report *rep);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_FEED_H */
