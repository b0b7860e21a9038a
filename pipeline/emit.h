/*
 * emit.h - hits -> events -> bytes for the output sink.
 *
 * Last stage. The scanner hands over one struct iocs_event per (line, IOC);
 * this module packs it as one msgpack map in the ECS shape of
 * ../shared/DESIGN.md ("Events") or writes it as one JSON line, into a
 * buffer that is made once and reused, and writes the buffer to the output
 * file descriptor when it fills and on flush. Nothing is allocated per
 * event once the buffer has grown to its working size (hard cap:
 * IOCS_EMIT_BUF_MAX; an event larger than that is an error).
 *
 * Event map (msgpack), keys in this order:
 *   "@timestamp": ts ext(-1)
 *   "event": {"kind":"alert","category":["threat"],"type":["indicator"],
 *             "created": ts ext(-1), "severity": int, "original": str}
 *   "log": {"file": {"path": str}, "offset": uint}
 *   "threat": {"feed": {"name": str},
 *              "enrichments": [{"indicator": {"type": str, "name": str,
 *                                 [typed field], ["provider": str],
 *                                 ["description": str], ["reference": str],
 *                                 ["confidence": "Low"|"Medium"|"High"],
 *                                 ["tags": [str, ...]]},
 *                               "matched": {"atomic": str,
 *                                 "field": "event.original",
 *                                 "type": "indicator_match_rule",
 *                                 "id": str},
 *                               "feed": {"name": str}}, ...]}
 * One enrichment per record of the IOC: the IOC itself first, then each
 * record of its `also` chain (the same value from another feed or with
 * other metadata); "threat.feed.name" names the first record's feed and
 * each enrichment's "feed.name" its own. The confidence keyword is ECS's:
 * 1-29 Low, 30-69 Medium, 70-100 High; 0 or less is not written. Tags are
 * the record's comma-separated tags, split.
 *   "iocstream": {"line": uint, "match": {"start": uint, "end": uint},
 *                 "count": uint, "db": str, "truncated": bool,
 *                 "line_length": uint}
 * The typed field follows ECS threat.indicator.*: "ip" (ipv4, ipv6, cidr),
 * "url": {"domain"} (domain), "url": {"full"} (url), "email": {"address"},
 * "file": {"hash": {"md5"|"sha1"|"sha256"|"sha512"}}, "file": {"name"}
 * (file names; "path" when the value holds '/' or '\').
 *
 * Not thread-safe: one emitter per output.
 */
#ifndef IOCS_EMIT_H
#define IOCS_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "matchers/ioc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOCS_EMIT_BUF_MAX (64u << 20)

/* One hit of one IOC in one line. Pointers are valid during the call. */
struct iocs_event {
    const struct iocs_ioc *ioc;
    uint32_t ioc_id;               /* index in the IOC set */
    const char *path;              /* source name; "-" for stdin */
    size_t path_len;               /* strlen(path), or 0: the emitter
                                      measures it (set it once per source
                                      to spare a strlen per event) */
    uint64_t offset;               /* byte offset of the line start */
    uint64_t line;                 /* 1-based line number */
    const unsigned char *original; /* the line, cut to --max-line */
    size_t original_len;
    uint64_t line_len;           /* full line length ('\r\n' excluded) */
    const unsigned char *atomic; /* leftmost valid match, as in the log */
    size_t atomic_len;
    uint64_t start, end;       /* atomic's byte range in the line */
    uint32_t count;            /* valid occurrences in the line */
    struct timespec timestamp; /* @timestamp */
    struct timespec created;   /* scan time */
};

enum iocs_format {
    IOCS_FORMAT_MSGPACK,
    IOCS_FORMAT_JSON,
};

struct iocs_emitter;

/*
 * Make an emitter writing to fd (not closed by the emitter; -1 for buffer
 * mode: nothing is written until iocs_emitter_drain()) in format fmt;
 * db_id is the IOC set hash copied into every event ("iocstream.db").
 * Returns 0, -EINVAL or -ENOMEM.
 */
int iocs_emitter_new(struct iocs_emitter **out, int fd, enum iocs_format fmt,
                     const char *db_id);

/* Flush and release e. NULL is accepted and ignored. Returns nothing: call
 * iocs_emitter_flush() first to learn about write errors. */
void iocs_emitter_free(struct iocs_emitter *e);

/*
 * Encode one event. Returns 0, -EINVAL (NULL ioc, ioc->value, ioc->feed or
 * path), -ENOMEM (the event alone is over IOCS_EMIT_BUF_MAX, or out of
 * memory; nothing of it is kept), -EIO (msgpack failure), or a negative
 * errno from write(2) when the buffer had to be written out (EPIPE
 * included: the reader of the output went away; ignore SIGPIPE to get it).
 * On a write error the event is already encoded and counted; the bytes
 * not written stay buffered and the next flush retries them. fd should be
 * blocking: -EAGAIN from a non-blocking fd is passed through as well.
 * The buffer is written out once it holds 256 KiB, in whole events.
 */
int iocs_emitter_event(struct iocs_emitter *e, const struct iocs_event *ev);

/* Write out everything buffered. Returns 0 or a negative errno. In buffer
 * mode (fd < 0) it does nothing. */
int iocs_emitter_flush(struct iocs_emitter *e);

/*
 * Write everything buffered to fd and empty the buffer; what could not be
 * written stays buffered. For buffer mode: worker threads encode a unit's
 * events into an emitter made with fd -1, and the thread that owns the
 * output drains them in input order. Returns 0 or a negative errno.
 */
int iocs_emitter_drain(struct iocs_emitter *e, int fd);

/* Events encoded so far. */
uint64_t iocs_emitter_count(const struct iocs_emitter *e);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_EMIT_H */
