/*
 * workers.h - a pool of scanning threads fed units in input order, whose
 * events leave in that same order.
 *
 * The thread that reads (reader + framer) submits jobs: the units of one
 * slab (one unit, or one per small file of a pack), each with its source
 * name; N workers take jobs in submission order, each with its own scanner
 * (its own Hyperscan scratch), and encode the job's events into the job's
 * own encoder (encode.h). The reading thread collects
 * finished jobs strictly in submission order: it hands each job's events to
 * the sink as one batch (sink.h) and gets their slabs back to release to the
 * reader. At most max_jobs
 * units are in flight: a slow output slows the reader and memory stays flat.
 *
 * Line numbers: with opts.submit_counts false, the reading thread does
 * not count newlines: the worker that takes a job first counts the
 * newlines of its units (with many workers the one reading thread would
 * otherwise limit them; with few it has time to spare and the bytes it
 * just copied are in its cache, so it counts them at submit: measured in
 * bench/LIMITS.md). Then the job
 * joins a chain kept in submission order: once every job before it is
 * counted, its units' first line numbers follow from the line the chain
 * reached (or the source's start line, for a source's first unit), and so
 * do its batch position's line and the lines total. Whichever worker
 * counts the job the chain waits on moves the chain as far as counted jobs
 * allow; a worker whose job is not numbered yet waits for it before it
 * scans, as events carry absolute line numbers. A whole-file job numbers
 * its own lines and leaves the chain's line as it was.
 *
 * A unit that continues a long line waits, in its worker, for the unit
 * before it (which holds the open line's state) to finish.
 *
 * Whole-file jobs (iocs_workers_submit_file()): a compressed or .evtx
 * source is one job; the worker that takes it reads, inflates, frames and
 * scans the whole file itself (wholefile.h), so N such files keep N
 * workers busy, and its events still leave in input order. A job's events
 * wait in its encoder until collected, and a file's events may be many, so
 * the hand-off is bounded: once a file job has IOCS_WORKERS_HANDOFF_AT
 * bytes of events (or its encoder is full), its worker stops and waits
 * until the collector takes them as a partial batch, which it does only
 * when that job is the oldest in flight (events stay in order). The
 * collector writes partial batches while it waits for the job in
 * iocs_workers_collect(), so a file job's events reach the sink as it
 * goes, and the memory held is at most max_jobs encoders of
 * IOCS_WORKERS_HANDOFF_AT (plus one event) whatever the file's size. A
 * partial batch carries the position of the batch before it (its events
 * do not end the source); the job's last batch carries the source's end.
 *
 * Submit and collect are called from one thread only.
 */
#ifndef IOCS_WORKERS_H
#define IOCS_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "matchers/db.h"
#include "pipeline/encode.h"
#include "pipeline/framer.h"
#include "pipeline/reader.h"
#include "pipeline/scanner.h"
#include "pipeline/sink.h"
#include "pipeline/wholefile.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The bytes of events a whole-file job holds before it hands them off. */
#define IOCS_WORKERS_HANDOFF_AT (4u << 20)

/* Reports what happened to one source: a warning (an .evtx chunk), from
 * the worker's thread as it is found, or a failure of a whole-file job
 * (a damaged stream), from the collecting thread in input order. msg has
 * no path and no newline; both are valid during the call. */
typedef void (*iocs_workers_report_fn)(void *ctx, const char *path,
                                       const char *msg);

struct iocs_workers_opts {
    unsigned threads;               /* workers, >= 1 */
    unsigned max_jobs;              /* jobs in flight, >= threads */
    unsigned max_units;             /* units in one job, >= 1 */
    size_t max_line;                /* as for the scanner */
    const struct iocs_allow *allow; /* as for the scanner */
    enum iocs_format format;        /* the sink's (sink->format) */
    bool str_times;                 /* the sink's (sink->str_times) */
    struct iocs_scan_time time;     /* as for the scanner */
    bool raw;                       /* as for the encoder (encode.h) */
    size_t buf_size;    /* a whole-file job's buffer (wholefile.h); 0: none
                           can be submitted */
    size_t overlap;     /* as for the framer: iocs_db_overlap() */
    bool submit_counts; /* iocs_workers_submit() counts each job's
                           newlines on the calling thread; else its worker
                           does (see "Line numbers" above) */
    iocs_workers_report_fn report; /* may be NULL */
    void *report_ctx;
    /* Tests only: called by a worker as it takes each job, before it
     * counts and scans it (seq is the job's submission number, from 0),
     * to inject delays. NULL: none. */
    void (*before_job)(void *ctx, uint64_t seq);
    void *before_job_ctx;
};

struct iocs_workers;

/* Start the pool. Returns 0, -EINVAL, -ENOMEM or a pthread error. */
int iocs_workers_new(struct iocs_workers **out, const struct iocs_db *db,
                     const struct iocs_workers_opts *opts);

/* Stop the threads (after the units in flight) and release everything.
 * Slabs still held are not released: collect first. NULL is ignored. */
void iocs_workers_free(struct iocs_workers *w);

/* Whether another job can be submitted without collecting first. */
bool iocs_workers_full(const struct iocs_workers *w);

/* Whether any job is in flight. */
bool iocs_workers_busy(const struct iocs_workers *w);

/* A unit to scan and the name of its source. The submitter gives line0
 * only for a source's first unit (u.first): the number of the source's
 * first line (1, or where a checkpoint resumes); otherwise line0 and nl are
 * ignored. The pool's own copy gets nl, the newlines in the unit's bytes
 * past u.rescan (counted by the worker, or at submit), and line0, the line its
 * first byte is in (from the chain, see above). */
struct iocs_work_unit {
    struct iocs_unit u;
    const char *path;
    uint64_t line0;
    uint64_t nl;
};

/*
 * Queue a job: units v[0..n) (1 <= n <= max_units), in order, all inside
 * slab s, which stays held until collected. Never blocks; the pool must
 * not be full. Returns 0, -EBUSY (full) or -EINVAL (bad n).
 */
int iocs_workers_submit(struct iocs_workers *w, struct iocs_slab *s,
                        const struct iocs_work_unit *v, unsigned n);

/*
 * Queue a whole-file job (see above): job->src and its path must stay valid
 * until it is collected, job->mem too (inside slab s, a pack, when not
 * NULL). s (may be NULL) stays held until collected. Never blocks; the
 * pool must not be full. Returns 0, -EBUSY (full) or -EINVAL (no buffers:
 * opts.buf_size was 0).
 */
int iocs_workers_submit_file(struct iocs_workers *w, struct iocs_slab *s,
                             const struct iocs_wholefile_job *job);

/*
 * Wait for the oldest job in flight, hand its events to sink as one batch
 * (the next seq of this pool, from 1), and return its slab in *slab for the
 * caller to release (NULL for a job that holds none). The batch's pos:
 *   - a job with a unit that ends a line: the end of its last such unit,
 *     at line line0 + nl of that unit (the line after it, as the chain
 *     numbered it; a source's last line without a newline ends there too);
 *   - a whole-file job that ran to its end: the file's end (decompressed),
 *     at line 1 + its lines;
 *   - any other batch (a job whose units end no line, a file job's partial
 *     batches, a file job whose source failed): the previous batch's pos.
 * So positions never go back. While a whole-file job runs, its partial
 * batches are written as they come. Every job makes a batch, with no
 * events too, so positions advance. A whole-file job whose source failed
 * is reported (opts.report) and counted (iocs_workers_failed()), not an
 * error here. Returns 1 with *slab set, 0 when nothing is in flight, or a
 * negative errno: a scan of the job failed (the events of its units before
 * the failing one are written) or iocs_sink_write() failed (*slab is still
 * set so it can be released).
 */
int iocs_workers_collect(struct iocs_workers *w, struct iocs_sink *sink,
                         struct iocs_slab **slab);

/* Sources of whole-file jobs that failed so far. */
uint64_t iocs_workers_failed(const struct iocs_workers *w);

/* Totals of every worker's scanner (call when nothing is in flight);
 * lines counts every line of the jobs so far: the newlines of plain
 * units, plus one for a source's last line without a final newline, and
 * the lines of whole-file jobs. */
void iocs_workers_stats(const struct iocs_workers *w,
                        struct iocs_scan_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_WORKERS_H */
