/*
 * wholefile.h - a source scanned from start to end by one thread, as one
 * job: a compressed stream (codec.h) or a Windows event log (codec_evtx.h).
 *
 * Beside the reader -> framer path of plain files (reader.h "Encoded
 * sources"): the thread that takes the job reads the file itself (read(2),
 * or the bytes a pack already holds), inflates it into one fixed buffer,
 * cuts it at line ends with its own framer (a line across two buffers is
 * carried, a line longer than a buffer goes through the scanner's long-line
 * state), scans each buffer with one hs_scan and hands each event to the
 * caller. So N compressed files keep N threads busy, and the memory is the
 * same whatever the ratio: a 1 MB file that inflates to 10 GB uses the
 * buffers below and the decoder's fixed state, nothing more.
 *
 * Offsets and line numbers are those of the decompressed stream; the
 * event's path is the file's own. A damaged stream ends the job: the events
 * of everything inflated before the damage are handed out, then the job
 * says where (res->err, errbuf: "damaged gzip stream at compressed offset
 * N").
 *
 * An .evtx file: each record is one line, its rendered JSON. Records are
 * gathered into the buffer, one per line, and scanned together; each event
 * then carries its record's fields: log.offset the record's byte offset in
 * the file, iocstream.line its ordinal, @timestamp its TimeCreated,
 * host.name and winlog.* (event.h). Damaged chunks are warnings (warn),
 * not errors: every readable record is scanned.
 *
 * A source resumed at start_offset (a checkpoint) is decoded from its start
 * again: events of lines before start_offset are not handed out.
 *
 * Memory, made in iocs_wholefile_new() and reused for every job: a read
 * buffer (IOCS_WHOLEFILE_IN), an output buffer of buf_size bytes plus the
 * framer's carry, a record index and the decoders (one per codec, made on
 * first use and reset between jobs). Nothing is allocated per line or
 * event. One per thread; not thread-safe.
 */
#ifndef IOCS_WHOLEFILE_H
#define IOCS_WHOLEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/scanner.h"
#include "pipeline/source.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Compressed bytes read at once. */
#define IOCS_WHOLEFILE_IN (256u << 10)

struct iocs_wholefile_opts {
    size_t buf_size; /* decompressed bytes scanned at once, >= 1 (the
                        slab size; tests use tiny ones) */
    size_t overlap;  /* as for the framer: iocs_db_overlap() */
    size_t max_line; /* as for the scanner */
};

/* One job: source number `source` of the run, src its record. mem: the
 * file's bytes when they are already read (a part of a pack), else NULL
 * and the file is read from src->path. An .evtx file is always opened by
 * its path. */
struct iocs_wholefile_job {
    const struct iocs_source *src;
    uint32_t source;
    enum iocs_codec codec; /* a stream codec or IOCS_CODEC_EVTX */
    const unsigned char *mem;
    size_t mem_len;
    uint64_t source_id; /* the source's key for event.id (eventid.h) */
};

/* What a job did. */
struct iocs_wholefile_res {
    int err;        /* < 0: the source failed (errbuf says why) */
    uint64_t bytes; /* decompressed bytes (or record bytes) scanned */
    uint64_t lines; /* lines (records) seen */
    uint64_t end;   /* the decompressed offset (.evtx: file size) reached */
};

/* Gets each warning about a source (an .evtx chunk: "chunk 3: record data
 * checksum mismatch"), from the thread that runs the job. msg is valid
 * during the call. */
typedef void (*iocs_wholefile_warn_fn)(void *ctx, const char *path,
                                       const char *msg);

struct iocs_wholefile;

/* Make the buffers of one thread. Returns 0, -EINVAL or -ENOMEM. */
int iocs_wholefile_new(struct iocs_wholefile **out,
                       const struct iocs_wholefile_opts *o);

/* Release wf. NULL is accepted and ignored. */
void iocs_wholefile_free(struct iocs_wholefile *wf);

/*
 * Scan job with sc, handing each event to fn (in input order) and each
 * warning to warn (may be NULL). res is always filled. Returns 0 when the
 * job ran to its end or the source failed (then res->err < 0 and errbuf
 * says why, without the path), or a negative errno that stops the whole
 * scan: what fn returned, -ENOMEM, or -EIO from Hyperscan.
 */
int iocs_wholefile_scan(struct iocs_wholefile *wf, struct iocs_scanner *sc,
                        const struct iocs_wholefile_job *job, iocs_event_fn fn,
                        void *ctx, iocs_wholefile_warn_fn warn, void *wctx,
                        struct iocs_wholefile_res *res, char *errbuf,
                        size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_WHOLEFILE_H */
