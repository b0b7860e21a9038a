/*
 * encode.h - events -> bytes: msgpack maps or JSON lines in the ECS shape
 * of ../shared/DESIGN.md ("Events"), collected in one buffer per job (or
 * per output) together with where each event ends, ready to hand to a sink
 * as one batch (sink.h).
 *
 * Both formats come from ONE table in encode.c: one row per ECS field (its
 * key path, which event field, how to write it). The msgpack writer and
 * the JSON writer walk the same tree built from that table, so a new field
 * is one new row, and the JSON text is byte for byte what `iocstream
 * decode` prints for the msgpack form.
 *
 * Event map, keys in this order ([] is one map per record of the IOC:
 * the IOC itself first, then each record of its `also` chain):
 *   @timestamp                      time (msgpack ext -1, or RFC 3339 text)
 *   event.kind "alert", event.category ["threat"], event.type ["indicator"]
 *   event.id                        str, 32 hex digits (eventid.h); also
 *                                   each batch record's id
 *   event.created                   time
 *   event.severity                  int
 *   event.original                  str (the line, cut to --max-line), or
 *                                   bin with opts raw (msgpack only)
 *   log.file.path, log.offset       str, uint
 *   threat.feed.name                str (the first record's feed)
 *   threat.enrichments[].indicator  type, name, [typed field], [provider],
 *                                   [description], [reference],
 *                                   [confidence "Low"|"Medium"|"High"],
 *                                   [tags [str...]]
 *   threat.enrichments[].matched    atomic, field "event.original",
 *                                   type "indicator_match_rule", id
 *   threat.enrichments[].feed.name  str (this record's feed)
 *   iocstream.line, .match.start, .match.end, .count, .db, .truncated,
 *   .line_length
 * The typed field follows ECS threat.indicator.*: "ip" (ipv4, ipv6, cidr),
 * "url": {"domain"} (domain), "url": {"full"} (url), "email": {"address"},
 * "file": {"hash": {"md5"|"sha1"|"sha256"|"sha512"}}, "file": {"name"}
 * (file names; "path" when the value holds '/' or '\'). Confidence is
 * ECS's keyword: 1-29 Low, 30-69 Medium, 70-100 High; 0 or less is not
 * written. Tags are the record's comma-separated tags, split.
 *
 * Strings are valid UTF-8 (../shared/DESIGN.md, "Events"): in every str,
 * msgpack and JSON alike, each ill-formed part of the bytes becomes U+FFFD
 * (EF BF BD; one per maximal subpart, see utf8.h), so event.original may
 * be longer than the line it shows. The offsets (log.offset,
 * iocstream.match.start/end, line_length) are always byte offsets and
 * lengths in the original bytes; with opts raw, msgpack event.original is
 * a bin of exactly those bytes. JSON text cannot hold bytes, so raw does
 * not change it. Plain ASCII strings are copied after one check of 16
 * bytes at a time; only strings with a byte >= 0x80 are validated.
 *
 * Memory: the buffer starts at IOCS_ENCODE_FLUSH_AT plus a few events and
 * grows only for an event that is itself huge, never past
 * IOCS_ENCODE_BUF_MAX; the per-event records grow the same way. Nothing is
 * allocated per event once both have their working size. An event that
 * fails to encode is rolled back: the buffer only ever holds whole events.
 *
 * Not thread-safe: one encoder per thread (a worker's job, or the output).
 */
#ifndef IOCS_ENCODE_H
#define IOCS_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/event.h"
#include "pipeline/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most one encoder buffers. */
#define IOCS_ENCODE_BUF_MAX (64u << 20)
/* Where a caller that writes as it goes hands a batch to its sink: big
 * writes, few syscalls. */
#define IOCS_ENCODE_FLUSH_AT (256u << 10)

struct iocs_encoder_opts {
    enum iocs_format format;
    bool str_times;    /* msgpack: times as RFC 3339 str, not ext -1
                          (sink->str_times; JSON always writes text) */
    const char *db_id; /* IOC set hash copied into every event
                          ("iocstream.db"); copied */
    bool raw;          /* msgpack: event.original as bin holding the line's
                          exact bytes (--raw); ignored for JSON */
};

struct iocs_encoder;

/* Make an encoder. Returns 0, -EINVAL (no db_id, unknown format) or
 * -ENOMEM. */
int iocs_encoder_new(struct iocs_encoder **out,
                     const struct iocs_encoder_opts *o);

/* Release e. NULL is accepted and ignored. */
void iocs_encoder_free(struct iocs_encoder *e);

/*
 * Append one event. Returns 0, -EINVAL (NULL ioc, ioc->value, ioc->feed or
 * path), or -ENOMEM (no room within IOCS_ENCODE_BUF_MAX, or out of
 * memory; nothing of the event is kept: a caller that writes as it goes
 * hands the buffered events to its sink, clears and retries once).
 */
int iocs_encoder_event(struct iocs_encoder *e, const struct iocs_event *ev);

/* Bytes buffered. */
size_t iocs_encoder_len(const struct iocs_encoder *e);

/* Events buffered. */
size_t iocs_encoder_events(const struct iocs_encoder *e);

/* Events encoded since e was made. */
uint64_t iocs_encoder_count(const struct iocs_encoder *e);

/*
 * Point b's data, len, rec and n at what is buffered (seq and pos are the
 * caller's). Valid until the next call that changes e.
 */
void iocs_encoder_batch(const struct iocs_encoder *e,
                        struct iocs_sink_batch *b);

/* Forget what is buffered, keeping the memory. */
void iocs_encoder_clear(struct iocs_encoder *e);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_ENCODE_H */
