/*
 * summary.h - the per-IOC hunt summary: which indicators were seen, how
 * often, first and last seen, on which hosts and in which files
 * (`iocstream summary` and `iocstream scan --summary`).
 *
 * Events go in as the encoder wrote them, msgpack maps or JSON lines (the
 * format is told by the first byte of a stream: '{' or white space is
 * JSON, anything else msgpack), in pieces cut anywhere. One row per
 * (indicator, type), where the indicator is the first enrichment's
 * threat.enrichments[0].indicator.name: events, feeds (every enrichment's
 * feed.name), first_seen and last_seen (the events' @timestamp), hosts
 * (host.name, when an event has one) and files (log.file.path). Memory
 * grows with the number of distinct indicators, hosts and files, never
 * with the number of events.
 *
 * Output (iocs_summary_print): with json, one object per line with exactly
 * the keys indicator, type, feeds, events, first_seen, last_seen, hosts,
 * files (feeds, hosts and files are sorted arrays of strings; the times
 * RFC 3339 in UTC with nanoseconds); otherwise an aligned text table.
 * Rows are sorted by first_seen, then indicator.
 *
 * Not thread-safe: one summary per thread.
 */
#ifndef IOCS_SUMMARY_H
#define IOCS_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iocs_summary;

/* Make an empty summary. Returns 0 or -ENOMEM. */
int iocs_summary_new(struct iocs_summary **out);

/* Release s. NULL is accepted and ignored. */
void iocs_summary_free(struct iocs_summary *s);

/*
 * Add the next n bytes of one event stream. Events may be cut anywhere
 * between calls; call iocs_summary_end() after the last piece of a
 * stream before a new stream starts. Returns 0, -EBADMSG (the bytes are
 * neither our msgpack events nor JSON objects; errbuf says at which byte
 * of the stream) or -ENOMEM. An object that is valid but not an event
 * (no indicator name) is counted in skipped and ignored.
 */
int iocs_summary_add(struct iocs_summary *s, const void *p, size_t n,
                     char *errbuf, size_t errlen);

/* End the current stream. Returns 0, or -EBADMSG when it stops inside an
 * object. */
int iocs_summary_end(struct iocs_summary *s, char *errbuf, size_t errlen);

/* Events counted so far, and objects skipped as not events. */
uint64_t iocs_summary_events(const struct iocs_summary *s);
uint64_t iocs_summary_skipped(const struct iocs_summary *s);

/* Print the rows to out (see above). Returns 0 or -EIO. */
int iocs_summary_print(const struct iocs_summary *s, FILE *out, bool json);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_SUMMARY_H */
