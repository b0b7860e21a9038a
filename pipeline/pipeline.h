/*
 * pipeline.h - wires the stages (feeds -> database; reader -> framer ->
 * scanner -> encode -> sink) for the subcommands. The only thing main() calls,
 * and the only module that prints diagnostics: library modules return codes.
 */
#ifndef IOCS_PIPELINE_H
#define IOCS_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline/event.h"
#include "pipeline/scanner.h" /* struct iocs_scan_time */
#include "pipeline/sink.h"    /* enum iocs_report */

#ifdef __cplusplus
extern "C" {
#endif

struct iocs_progress;

/* --mmap: auto maps plain files, and has the workers count newlines,
 * from as many workers as make the reading thread the limit
 * (IOCS_MAP_FROM_THREADS, IOCS_WORKERS_COUNT_FROM_THREADS; bench/LIMITS.md,
 * "Many cores"); on maps with any -j >= 1; off copies. -j 0 always copies. */
enum iocs_mmap_mode { IOCS_MMAP_AUTO, IOCS_MMAP_ON, IOCS_MMAP_OFF };
#define IOCS_MAP_FROM_THREADS 8
#define IOCS_WORKERS_COUNT_FROM_THREADS 4

struct iocs_scan_opts {
    const char *const *feeds; /* -i files; none (and no rules): built-in */
    size_t nfeeds;
    const char *const *rules; /* --rules files */
    size_t nrules;
    const char *const *allows; /* --allow files */
    size_t nallows;
    const char *db;      /* --db FILE: a compiled database, nothing parsed */
    bool builtin;        /* --builtin: the pack even with -i or --rules */
    bool strict;         /* --strict: a rejected IOC line is an error */
    bool no_cache;       /* --no-cache: neither read nor write the cache */
    bool all_attributes; /* --all-attributes: MISP to_ids=false too */
    bool allow_wide;     /* --allow-wide: CIDRs wider than /8 or /32 */
    const char *const *strings; /* --strings files: text IOCs */
    size_t nstrings;
    const char *const *paths; /* PATH arguments; none: stdin */
    size_t npaths;
    const char *output; /* -o FILE, or NULL for stdout */
    enum iocs_format format;
    bool raw;         /* --raw: msgpack event.original as bin (encode.h) */
    size_t max_line;  /* --max-line */
    size_t slab_size; /* --slab-size */
    size_t pack_max;  /* --pack-max: files up to this size share slabs;
                         (size_t)-1: a quarter of the slab size */
    unsigned depth;   /* reads in flight */
    unsigned threads; /* scanning threads (-j) besides the reading one;
                         0: scan on the reading thread */
    bool no_uring;
    bool direct;              /* --direct: O_DIRECT reads */
    enum iocs_mmap_mode mmap; /* --mmap: map plain files (reader.h,
                                 "Mapped files") or copy them */
    bool follow_symlinks;
    bool stats;
    bool follow;             /* --follow: tail -F the PATHs (cmd_follow.c) */
    const char *state;       /* --state FILE: committed positions (--follow) */
    enum iocs_report report; /* -q, -l, -c: what is printed (sink.h) */
    /* Network destinations (sink.h's iocs_sink_opts; README "Destinations"). */
    const char *tag;                         /* --tag; NULL: "iocstream.hit" */
    const char *tls_ca, *tls_cert, *tls_key; /* --tls-ca/-cert/-key */
    const char *shared_key;                  /* --forward-shared-key KEY */
    const char *shared_key_file; /* --forward-shared-key-file F (first
                                    line), kept out of ps */
    bool compress;               /* --forward-compress */
    const char *nats_creds;      /* --nats-creds FILE */
    int ack_timeout_ms;          /* --ack-timeout; 0: the sink's default */
    int drain_timeout_ms;        /* --drain-timeout; 0: the default */
    struct iocs_scan_time time;  /* --tz, --since, --until (start: 0) */
    bool summary;                /* --summary: the per-IOC summary at the end */
    int progress; /* --progress 1, --no-progress 0; -1: when stderr is a
                     terminal */
    struct iocs_progress *progress_line; /* cmd_scan's, for the stages;
                                            NULL: none */
};

/* How long the end of a scan waits for acks by default (--drain-timeout). */
#define IOCS_DRAIN_TIMEOUT_DEFAULT_MS 30000

struct iocs_allow;
struct iocs_db;
struct iocs_scan_stats;
struct iocs_sink;
struct iocs_sourcelist;

/*
 * Stream every source of list through the stages into sink: reader ->
 * framer -> scanner (on this thread with o->threads == 0, else in a pool
 * of o->threads workers) -> encoder (in sink->format) -> sink, events in
 * input order. Everything is the caller's and stays so; the sink is not
 * flushed (the caller decides how long to wait for acks). A source that
 * fails is reported on stderr by name and the others are scanned. st gets
 * the totals, *uring whether io_uring read the input. Returns 0, or 2 when
 * a source failed or the output broke (reported); 128 + SIGPIPE (nothing
 * said) when the output is a pipe whose reader went away; 128 + the
 * signal after iocs_pipeline_interrupt(): reading stopped, every event
 * found before it was written (each whole), and how far the reading got
 * was printed. A sink's -ECANCELED (-q's first hit) stops it quietly: 0.
 * A live input that has no bytes yet makes it write out its events first.
 */
int iocs_pipeline_run(const struct iocs_scan_opts *o, const struct iocs_db *db,
                      const struct iocs_allow *allow,
                      struct iocs_sourcelist *list, struct iocs_sink *sink,
                      struct iocs_scan_stats *st, bool *uring);

/*
 * Ask the running scan to stop: it reads no more, writes every event found
 * so far and returns 128 + sig. Async-signal-safe: for a SIGINT or SIGTERM
 * handler installed without SA_RESTART (so blocking waits return).
 */
void iocs_pipeline_interrupt(int sig);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_PIPELINE_H */
