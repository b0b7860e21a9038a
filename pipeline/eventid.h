/*
 * eventid.h - event.id: the identity of one hit, the same every time the
 * same line of the same source matches the same IOC (DESIGN.md, "Events").
 *
 * An id is a 128-bit hash, written as 32 lowercase hex digits, of
 *   - the source key: the source's device and inode and the fingerprint of
 *     its first bytes (iocs_source_hash() of up to IOCS_SOURCE_FP_MAX
 *     bytes, as source.h defines it), made once per source by
 *     iocs_eventid_source();
 *   - the byte offset of the line start (decompressed);
 *   - the IOC's type and normalised value: not its index in the set, so a
 *     set compiled again, with other feeds beside it, keeps the ids.
 * So a retry, a resent batch, a redelivered work unit or a scan run again
 * after a restart gives the same id, and a consumer (or JetStream's
 * duplicate window, through Nats-Msg-Id) can drop the copy.
 *
 * Standard input has no identity of its own. When it is a regular file
 * (`< file`) its device and inode are used, as for a named file; a pipe or
 * terminal is known by the name "-" only, so its ids depend on the offset
 * and the IOC alone: the same bytes give the same ids, but two different
 * streams with the same IOC at the same offset share one (the caller warns
 * where a destination drops duplicates).
 *
 * The hash is fixed: ids are stored downstream, so changing it changes
 * every id. Per event it costs a pass over the IOC's value and a few
 * multiplications; nothing is allocated.
 */
#ifndef IOCS_EVENTID_H
#define IOCS_EVENTID_H

#include <stddef.h>
#include <stdint.h>

#include "matchers/ioc.h"
#include "pipeline/source.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hex digits of an id (a NUL follows in the buffers below). */
#define IOCS_EVENTID_LEN 32

/*
 * The key of a source for its events' ids: src's dev, ino and, when
 * src->fp_len > 0, its fingerprint; a source of unknown identity (dev and
 * ino 0) is keyed by its path too. Pure: the caller fills the record.
 */
uint64_t iocs_eventid_source(const struct iocs_source *src);

/*
 * Write the id of a hit of ioc in the line starting at offset of the
 * source keyed source_key into out, as IOCS_EVENTID_LEN hex digits and a
 * NUL. Thread-safe; no allocation.
 */
void iocs_eventid_make(char out[IOCS_EVENTID_LEN + 1], uint64_t source_key,
                       uint64_t offset, const struct iocs_ioc *ioc);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_EVENTID_H */
