/*
 * framer.h - cuts the reader's slabs into units of whole lines.
 *
 * Second stage. For one source at a time, the framer prepends the tail
 * carried from the previous slab (into the slab's headroom) and cuts the
 * result after its last '\n'; what follows is carried to the next slab.
 * Units therefore hold whole lines, except in three cases:
 *   - the last line of a source with no final newline: emitted as the last
 *     unit of the source, ends_line set;
 *   - a line longer than the slab (no '\n' in carry + new bytes, and more
 *     of them than the carry holds, max(carry_cap, overlap)): the whole
 *     buffer is emitted as a piece with ends_line clear, and only its last
 *     `overlap` bytes are carried; the next unit starts with those bytes
 *     again, with `rescan` saying how many. Callers must not report a
 *     match again that ended inside the rescanned bytes (see scanner.h).
 *     A partial line that still fits the carry (a short pipe read, or a
 *     line that starts a slab and fills it) is carried whole instead, so
 *     the slab yields no unit.
 *   - the last slab of a source that failed (s->err < 0): every byte left
 *     is emitted as its last unit, ends_line set (the data ends there);
 *     the caller learns of the failure from the slab.
 * With overlap >= the longest pattern plus its context bytes, every match
 * lies whole inside at least one unit, whatever the slab size.
 *
 * The framer copies only the carried tail (at most one slab), never the new
 * bytes; into a mapped slab (reader.h, "Mapped files"), whose headroom
 * already holds the file's bytes before it, not even the tail. Not
 * thread-safe; one framer per reader.
 */
#ifndef IOCS_FRAMER_H
#define IOCS_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iocs_unit {
    uint32_t source;          /* as in the slab */
    uint64_t offset;          /* byte offset in the source of ptr[0] */
    time_t mtime;             /* as in the slab: the source's mtime */
    const unsigned char *ptr; /* inside the slab (headroom included) */
    size_t len;               /* may be 0 (an empty source's only unit) */
    size_t rescan;            /* leading bytes already in the previous unit */
    bool starts_line;         /* ptr[0] is the first byte of a line */
    bool ends_line;           /* the unit ends at a line end or EOF */
    bool first;               /* first unit of its source */
    bool last;                /* last unit of its source */
    uint64_t source_id;       /* the source's key for event.id (eventid.h):
                                 0 from the framer, set by the caller */
};

struct iocs_framer;

/*
 * Make a framer. overlap (> 0) is how many bytes of a long line are carried
 * into the next unit; carry_cap is the largest tail it may need to carry
 * (the slab size): the reader's headroom must be >= max(carry_cap,
 * overlap). Returns 0, -EINVAL or -ENOMEM.
 */
int iocs_framer_new(struct iocs_framer **out, size_t carry_cap, size_t overlap);

/* Release f. NULL is accepted and ignored. */
void iocs_framer_free(struct iocs_framer *f);

/*
 * Frame slab s (the next slab of the current source, or the first slab of
 * the next source: carry from an unfinished source is dropped only if
 * s->first, which cannot happen after a proper last slab). Fills *u and
 * returns 1 when there is a unit to scan, 0 when the slab produced none
 * (its bytes are all carried, or it is an empty non-last slab), or -EINVAL
 * if s->headroom is too small (below max(carry_cap, overlap); for a mapped
 * slab, below the carried tail), s->len > carry_cap, or s is not first and
 * no source is under way. A last slab always yields a unit (len 0 when
 * nothing is left), so the caller always sees u->last for every source. u
 * points into s: the slab must stay held while u is used.
 */
int iocs_framer_frame(struct iocs_framer *f, struct iocs_slab *s,
                      struct iocs_unit *u);

/*
 * The unit of a whole source read at once: a part of a pack (see
 * reader.h), first and last set, needing no carry. u covers all of part's
 * bytes (even after a failure, as above) and points into it. Does not
 * touch any framer's state: a pack comes between sources.
 */
void iocs_framer_whole(const struct iocs_slab *part, struct iocs_unit *u);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_FRAMER_H */
