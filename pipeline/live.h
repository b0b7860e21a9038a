/*
 * live.h - the scanning stages for `scan --follow`: one follower item
 * (follow.h: "read [offset, end) of this descriptor", plain or compressed)
 * at a time through framer -> scanner -> encoder, on the calling thread,
 * into a sink in batches that carry the caller's position.
 *
 * Sits between the follower (which says which bytes) and the sink. Live
 * tails are small, so one thread scans (as -j 0); a large history file is
 * one long item, scanned slab by slab in bounded memory (one slab plus its
 * headroom, one compressed-input buffer, one decoder per codec met).
 *
 * Exactly-once bookkeeping: a non-final item is scanned up to its last
 * whole line only (the partial line after it is offered again by the
 * follower once it is complete), so a line's events are made once. Every
 * batch written carries pos (iocs_live_set_pos(): the caller numbers its
 * items in pos.source); events of an item not yet finished may go out in a
 * batch whose pos is still the previous item's, so a checkpoint taken at
 * an acknowledged batch never claims more input than the output holds,
 * but the output may hold more: with -o FILE the committed length is
 * taken only at a batch written between items (iocs_live_write() after
 * iocs_live_scan()).
 *
 * The database can be swapped between items (a reload): events before the
 * swap carry the old iocstream.db, events after it the new one.
 *
 * One thread uses a live scanner. Nothing is allocated per line, event or
 * item; decoders are made once per codec.
 */
#ifndef IOCS_LIVE_H
#define IOCS_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "matchers/db.h"
#include "pipeline/follow.h"
#include "pipeline/scanner.h"
#include "pipeline/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iocs_allow;

struct iocs_live_opts {
    size_t slab_size;               /* bytes read at once, >= 1 */
    size_t max_line;                /* event.original cap */
    const struct iocs_allow *allow; /* as for the scanner; may be NULL */
    struct iocs_scan_time time;     /* as for the scanner: line times, the
                                       --since/--until window */
    int wake_fd; /* > 0: polled (not read) between units; when readable,
                    iocs_live_scan() stops at the next line end (the
                    caller learns it from res.stopped) */
};

/* What an item scan consumed. */
struct iocs_live_res {
    uint64_t end;  /* consumed up to here: a line start, or the item's end
                      when final (for iocs_follow_done()) */
    uint64_t line; /* number of the line at end */
    int damaged;   /* < 0: a compressed stream was damaged (-EBADMSG) or a
                      read failed; what came before was scanned */
    bool stopped;  /* stopped early for wake_fd: more is left */
};

struct iocs_live;

/*
 * Make a live scanner over db (which must outlive it, or its swap) writing
 * to sink (the caller's; its format and str_times are used). Returns 0,
 * -EINVAL or -ENOMEM.
 */
int iocs_live_new(struct iocs_live **out, const struct iocs_db *db,
                  struct iocs_sink *sink, const struct iocs_live_opts *o);

/* Release l (not the sink, db or allow). NULL is accepted and ignored. */
void iocs_live_free(struct iocs_live *l);

/*
 * Scan it's bytes: [offset, end) up to the last '\n' (to end when final),
 * or the inflated stream from offset for a compressed item. Events go into
 * the encoder, and to the sink whenever IOCS_ENCODE_FLUSH_AT bytes are
 * buffered. Fills *res. Returns 0 (a damaged source is res->damaged, not
 * a failure), or a negative errno: the sink failed, the scanner failed
 * (-EIO), -ENOMEM.
 */
int iocs_live_scan(struct iocs_live *l, const struct iocs_follow_item *it,
                   struct iocs_live_res *res);

/* The position the next batch carries (every event before it is
 * encoded). */
void iocs_live_set_pos(struct iocs_live *l, const struct iocs_sink_pos *pos);

/*
 * Hand what is buffered to the sink as one batch carrying the current
 * position (even with no events, when the position moved). Returns 0 or
 * the sink's error (the events stay buffered and the same batch goes again
 * on the next call).
 */
int iocs_live_write(struct iocs_live *l);

/* The last batch seq written (0: none) and the bytes of batches 1..seq. */
uint64_t iocs_live_written(const struct iocs_live *l, uint64_t *bytes);

/*
 * Scan with db and allow from now on (a reload). Writes what is buffered
 * first (events of the old set leave before any of the new). On failure
 * the old set stays. Returns 0, or a negative errno (the sink's, -ENOMEM).
 */
int iocs_live_set_db(struct iocs_live *l, const struct iocs_db *db,
                     const struct iocs_allow *allow);

/* The follower's prefix hook (follow.h) with codec.h: ctx is the live
 * scanner (its decoders). */
int iocs_live_prefix(void *ctx, int fd, unsigned char *buf, size_t cap,
                     size_t *len);

/* Totals of the scanners used so far (bytes, lines, events...). */
void iocs_live_stats(const struct iocs_live *l, struct iocs_scan_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_LIVE_H */
