/*
 * sink.h - where events go: a file or stdout, a Fluent Forward receiver
 * (TCP, TLS or a Unix socket), a NATS JetStream subject.
 *
 * Last stage of the pipeline. The collector hands a sink batches of events
 * that are already encoded (encode.h), in input order; a sink never sees a
 * bare event struct and never encodes. Each destination is one file behind
 * this table of operations (sink_file.c, sink_forward.c, sink_nats.c), in
 * the manner of redis's connection.h: callers use the inline wrappers
 * below, whose comments are the contract every implementation keeps.
 *
 * Positions and acknowledgements: batches are numbered 1, 2, 3... in the
 * order they are written (batch.seq). Each batch says how far into the
 * input it reaches (batch.pos): every event of the input before pos is in
 * this batch or an earlier one. A sink acknowledges batches in order;
 * iocs_sink_acked() gives the last batch whose events are all durable at
 * the destination (written and, with --state, fsynced; acked by the
 * Forward receiver; publish-acked by JetStream) and its pos, so a
 * checkpoint advances only past what the destination really holds.
 *
 * Backpressure: write() may block while the sink holds as many unacked
 * bytes as it may (a slow or absent destination slows the reader; memory
 * stays bounded). A destination that goes away is reconnected with backoff
 * inside write() and flush(), and unacknowledged batches are resent; only
 * a failure that cannot heal (bad credentials, no stream for the subject,
 * a full disk) is returned.
 *
 * One thread drives a sink (the collector); implementations may run their
 * own threads (acks, reconnects) behind it.
 */
#ifndef IOCS_SINK_H
#define IOCS_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "pipeline/event.h" /* enum iocs_format */

#ifdef __cplusplus
extern "C" {
#endif

/* A position in the input: source index (the walk's order) and the byte
 * offset and 1-based line number in that source's (decompressed) bytes. */
struct iocs_sink_pos {
    uint32_t source;
    uint64_t offset;
    uint64_t line;
};

/* What a sink needs to know of each event in a batch besides its bytes. */
struct iocs_sink_rec {
    size_t end;                /* offset in batch.data just past the event */
    struct timespec timestamp; /* the event's @timestamp (Forward's
                                  EventTime) */
    const char *id;            /* event.id, NUL-terminated (NATS's
                                  Nats-Msg-Id); NULL when not computed */
    const char *path;          /* the event's source (iocs_event.path) */
};

/* Encoded events, back to back, in input order. Valid during write(): a
 * sink that keeps them for a resend copies what it needs. */
struct iocs_sink_batch {
    uint64_t seq;                    /* 1, 2, 3... */
    const unsigned char *data;       /* encoded events */
    size_t len;                      /* bytes in data */
    const struct iocs_sink_rec *rec; /* one per event, in order */
    size_t n;                        /* events (may be 0: a batch that only
                                        moves the position) */
    struct iocs_sink_pos pos;        /* the input before pos is covered */
};

/* What a scan prints: events, or as grep's -q, -l and -c. */
enum iocs_report {
    IOCS_REPORT_EVENTS, /* the events, to -o DEST */
    IOCS_REPORT_QUIET,  /* -q: nothing; stop at the first hit */
    IOCS_REPORT_LIST,   /* -l: the path of each input with a hit */
    IOCS_REPORT_COUNT,  /* -c: PATH:EVENTS per input */
};

/* Options for every sink; each uses those it knows. */
struct iocs_sink_opts {
    enum iocs_format format; /* what the user asked for (--format, or from
                                the name: .json/.jsonl mean JSON) */
    const char *tag;         /* Forward tag; NULL: "iocstream.hit" */
    const char *tls_ca, *tls_cert, *tls_key; /* forward+tls:// */
    const char *shared_key;                  /* --forward-shared-key */
    bool compress;                           /* Forward: gzip batches */
    const char *nats_creds;                  /* --nats-creds FILE */
    int ack_timeout_ms;   /* wait this long for an ack before resending;
                             0: the sink's default */
    int drain_timeout_ms; /* how long close()/flush() wait for acks at
                             the end; 0: the sink's default */
    bool durable;         /* file: fsync before acknowledging (--state) */
};

/* Counters every sink keeps (--stats). */
struct iocs_sink_stats {
    uint64_t events_sent;  /* events written or published */
    uint64_t events_acked; /* of those, acknowledged */
    uint64_t events_resent;
    uint64_t bytes_sent;
    double wait_seconds; /* time write()/flush() spent waiting on the
                            destination */
};

struct iocs_sink;

struct iocs_sink_ops {
    const char *name; /* "file", "forward", "nats" */
    int (*write)(struct iocs_sink *s, const struct iocs_sink_batch *b);
    int (*flush)(struct iocs_sink *s, int timeout_ms);
    uint64_t (*acked)(const struct iocs_sink *s, struct iocs_sink_pos *pos);
    void (*close)(struct iocs_sink *s);
    /* What went wrong last, or NULL (may itself be NULL: nothing to add
     * to the errno). */
    const char *(*error)(const struct iocs_sink *s);
};

/* Every implementation's struct starts with this. */
struct iocs_sink {
    const struct iocs_sink_ops *ops;
    enum iocs_format format; /* the encoding write() expects: the encoder
                                is set up from this */
    bool str_times;          /* times inside the record as RFC 3339
                                strings, not a msgpack timestamp ext
                                (Forward: receivers reject other exts) */
    struct iocs_sink_stats stats;
};

/*
 * Open the sink for dest: NULL or "-" is stdout; "forward://HOST:PORT",
 * "forward+tls://HOST:PORT", "unix:///PATH", "nats://HOST:PORT/SUBJECT";
 * anything else is a file path. On success *out is set and
 * (*out)->format says which encoding write() takes. Returns 0 or a
 * negative errno, with errbuf saying what is wrong (-EINVAL: a malformed
 * destination; -EPROTONOSUPPORT: a scheme this build has no sink for;
 * errors of open(2) or connect(2) as they are).
 */
int iocs_sink_open(struct iocs_sink **out, const char *dest,
                   const struct iocs_sink_opts *o, char *errbuf, size_t errlen);

/*
 * Hand over one batch. Like write(2) on a blocking descriptor, but whole:
 * returns 0 once the sink owns every byte of the batch (copied, written or
 * queued for sending), or a negative errno for a failure that cannot heal;
 * batches must come with seq increasing by one (-EINVAL otherwise). May
 * block for backpressure. After a failure the same batch (same seq) may be
 * written again: the sink goes on after what it already took of it, so no
 * byte goes out twice (a file sink waits for a non-blocking stdout). EPIPE
 * is returned as it is: the reader of the output went away (ignore
 * SIGPIPE to get it).
 */
static inline int iocs_sink_write(struct iocs_sink *s,
                                  const struct iocs_sink_batch *b)
{
    return s->ops->write(s, b);
}

/*
 * Push out everything written so far and wait up to timeout_ms (< 0:
 * forever) for its acknowledgements. Returns 0 when every batch written is
 * acknowledged, -ETIMEDOUT when some are still waiting at the deadline, or
 * a negative errno.
 */
static inline int iocs_sink_flush(struct iocs_sink *s, int timeout_ms)
{
    return s->ops->flush(s, timeout_ms);
}

/*
 * The last batch seq whose events (and every earlier batch's) are
 * acknowledged, 0 when none is; *pos (if non-NULL) gets that batch's pos.
 * Never blocks.
 */
static inline uint64_t iocs_sink_acked(const struct iocs_sink *s,
                                       struct iocs_sink_pos *pos)
{
    return s->ops->acked(s, pos);
}

/*
 * Why the last write() or flush() failed, in words (a server's refusal, a
 * certificate that does not verify), or NULL when the errno says it all.
 * Valid until the next call on s.
 */
static inline const char *iocs_sink_error(const struct iocs_sink *s)
{
    return s->ops->error ? s->ops->error(s) : NULL;
}

/*
 * Release s and everything it holds, closing its connection or file (not
 * stdout). Does not wait for acks: flush first. NULL is accepted and
 * ignored.
 */
static inline void iocs_sink_close(struct iocs_sink *s)
{
    if (s)
        s->ops->close(s);
}

/*
 * Implementations, for sink.c's table of schemes only: each opens its kind
 * of destination (dest is what follows the scheme's "://", or the path, or
 * NULL for stdout) with iocs_sink_open()'s contract.
 */
int iocs__sink_file_open(struct iocs_sink **out, const char *dest,
                         const struct iocs_sink_opts *o, char *errbuf,
                         size_t errlen);

/*
 * sink_count.c: grep's -q, -l and -c (pipeline.h, enum iocs_report) over
 * the sources of list (which must outlive the sink), printed on f: -q
 * prints nothing and its write() returns -ECANCELED at the first event
 * (stop the scan, quietly); -l prints a source's path with its first
 * event; -c prints "PATH:EVENTS" (names) or "EVENTS" per source, in
 * order, from iocs__sink_count_done(). Returns 0 or -ENOMEM.
 */
struct iocs_sourcelist;
int iocs__sink_count_open(struct iocs_sink **out, enum iocs_report mode,
                          const struct iocs_sourcelist *list, bool names,
                          FILE *f);

/* The scan is over: -c prints its counts; everything is flushed. Returns
 * 0, -EPIPE or -EIO. */
int iocs__sink_count_done(struct iocs_sink *s);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_SINK_H */
