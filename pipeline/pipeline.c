/*
 * pipeline.c - the scan's stages, wired: every source streams through
 * reader -> framer -> scanner -> encoder -> sink: with -j 0 all on the
 * calling thread, else the calling thread reads, frames and writes while a
 * pool of workers scans and encodes (workers.h). Per-source failures are
 * reported by name and the scan goes on; they make the exit status 2. The
 * subcommands around it are the cmd_*.c files.
 */
#include "pipeline/pipeline.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/encode.h"
#include "pipeline/eventid.h"
#include "pipeline/framer.h"
#include "pipeline/progress.h"
#include "pipeline/reader.h"
#include "pipeline/scanner.h"
#include "pipeline/sink.h"
#include "pipeline/status.h"
#include "pipeline/walk.h"
#include "pipeline/wholefile.h"
#include "pipeline/workers.h"

/* The signal that asked the scan to stop (iocs_pipeline_interrupt()). */
static volatile sig_atomic_t stop_sig;

void iocs_pipeline_interrupt(int sig)
{
    stop_sig = sig;
}

/* How far the reading got, for the line printed on a signal. */
struct reached {
    size_t done;     /* sources read to their end */
    uint32_t source; /* the last slab handed on... */
    uint64_t offset; /* ...and where it ends */
    bool any;
};

static void note_slab(struct reached *re, const struct iocs_slab *s)
{
    if (s->nparts) {
        const struct iocs_slab *p = &s->parts[s->nparts - 1];

        re->done += s->nparts;
        re->source = p->source;
        re->offset = p->offset + p->len;
    } else {
        re->done += s->last;
        re->source = s->source;
        re->offset = s->offset + s->len;
    }
    re->any = true;
}

/* The status for an error that ended the loop: a closed output pipe is
 * SIGPIPE's (and says nothing), -q's first hit (-ECANCELED) none. */
static int fail_status(int err)
{
    if (err == -EPIPE)
        return IOCS_EXIT_SIGNAL + SIGPIPE;
    if (err == -ECANCELED)
        return 0;
    return 2;
}

/* Whether err is said on stderr (not a closed pipe nor -q's stop). */
static bool says(int err)
{
    return err != -EPIPE && err != -ECANCELED;
}

/*
 * The inline path's output (-j 0): events are encoded here, as the scanner
 * reports them, and go to the sink in batches of whole events once
 * IOCS_ENCODE_FLUSH_AT bytes are buffered, and at the end.
 */
struct out {
    struct iocs_encoder *enc;
    struct iocs_sink *sink;
    uint64_t seq;             /* last batch written */
    struct iocs_sink_pos pos; /* every event before it is encoded */
};

/* Hand what is buffered to the sink. After a failure the events stay
 * buffered and the same batch is written again by the next call: the sink
 * goes on where it stopped (sink.h), so no byte is written twice. */
static int out_write(struct out *o)
{
    struct iocs_sink_batch b;
    int err;

    iocs_encoder_batch(o->enc, &b);
    b.seq = o->seq + 1;
    b.pos = o->pos;
    err = iocs_sink_write(o->sink, &b);
    if (err)
        return err;
    o->seq++;
    iocs_encoder_clear(o->enc);
    return 0;
}

static int on_event(void *ctx, const struct iocs_event *ev)
{
    struct out *o = ctx;
    int err = iocs_encoder_event(o->enc, ev);

    if (err == -ENOMEM && iocs_encoder_events(o->enc) > 0) {
        /* It may fit alone: write out the events before it and retry. */
        err = out_write(o);
        if (err)
            return err;
        err = iocs_encoder_event(o->enc, ev);
    }
    if (err)
        return err;
    if (iocs_encoder_len(o->enc) >= IOCS_ENCODE_FLUSH_AT)
        return out_write(o);
    return 0;
}

static void report_source_err(const struct iocs_sourcelist *list,
                              const struct iocs_slab *s)
{
    if (s->err == -ENODATA) { /* reader.h: cut short while being read */
        fprintf(stderr,
                "iocstream: %s: truncated at offset %llu while being read\n",
                list->v[s->source].path,
                (unsigned long long)(s->offset + s->len));
        return;
    }
    fprintf(stderr, "iocstream: %s: %s\n", list->v[s->source].path,
            iocs_strerror(s->err));
}

/* Prints what a whole-file job says about its source (a warning from any
 * thread, or why it failed): stderr is locked per call. */
static void report(void *ctx, const char *path, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "iocstream: %s: %s\n", path, msg);
}

/* The event.id key of the source being read (eventid.h), made at its
 * first slab and kept for the slabs after it. */
struct srckey {
    uint32_t source;
    uint64_t key;
    bool set;
};

/*
 * Fill in the identity of src, whose first slab (or pack part) is s, as
 * far as the walk left it out: standard input's device and inode when it
 * is a regular file, and the fingerprint of the first bytes. Those are
 * usually in s already (a regular file's first slab is full, or the whole
 * file), so they cost nothing; a source read from a checkpoint's offset,
 * or through slabs smaller than the fingerprint, is read once more
 * (iocs_source_fingerprint(): the same bytes, the same hash). A pipe
 * gets no fingerprint: its reads may come cut anywhere.
 */
static void identify(struct iocs_source *src, const struct iocs_slab *s)
{
    bool is_stdin = strcmp(src->path, "-") == 0;
    struct stat st;

    if (is_stdin) {
        if (fstat(STDIN_FILENO, &st) || !S_ISREG(st.st_mode))
            return; /* known by its name only (eventid.h) */
        src->dev = (uint64_t)st.st_dev;
        src->ino = (uint64_t)st.st_ino;
    }
    if (src->fp_len)
        return; /* follow or a checkpoint made it */
    /* An encoded file read on its own comes as an empty slab (its job
     * reads it); packed, its part holds its bytes. Either way the
     * fingerprint is of its first stored bytes, so its ids do not depend
     * on whether it was small enough to pack. */
    if (s->offset == 0 && s->err == 0 &&
        !(s->codec != IOCS_CODEC_PLAIN && s->len == 0) &&
        (s->len >= IOCS_SOURCE_FP_MAX || s->last)) {
        size_t n = s->len < IOCS_SOURCE_FP_MAX ? s->len : IOCS_SOURCE_FP_MAX;

        src->fingerprint = iocs_source_hash(s->data, n);
        src->fp_len = (uint32_t)n;
        return;
    }
    if (!is_stdin && stat(src->path, &st) == 0 && S_ISREG(st.st_mode))
        (void)iocs_source_fingerprint(src); /* else: no fingerprint */
}

/* The key of the source of s, a slab or a pack's part. */
static uint64_t source_key(struct srckey *k, const struct iocs_sourcelist *list,
                           const struct iocs_slab *s)
{
    struct iocs_source src;

    if (k->set && k->source == s->source && !s->first)
        return k->key;
    src = list->v[s->source]; /* a copy: the list keeps what the walk saw */
    identify(&src, s);
    *k = (struct srckey){
        .source = s->source, .key = iocs_eventid_source(&src), .set = true};
    return k->key;
}

/* The whole-file job of an encoded source (reader.h, "Encoded sources"):
 * p is the slab of an exclusive source or a part of a pack. */
static void file_job(const struct iocs_slab *p,
                     const struct iocs_sourcelist *list, uint64_t key,
                     struct iocs_wholefile_job *fj)
{
    *fj = (struct iocs_wholefile_job){.src = &list->v[p->source],
                                      .source = p->source,
                                      .codec = p->codec,
                                      .source_id = key};
    /* A packed stream's bytes are read already; libevtx reads by path. */
    if (p->nparts == 0 && p->len > 0 && p->codec != IOCS_CODEC_EVTX) {
        fj->mem = p->data;
        fj->mem_len = p->len;
    }
}

/*
 * What slab s holds, in order: units (one per part of a pack, or what the
 * framer cuts: none or one), each with its source's key for event.id, and
 * whole-file jobs (fj[i].codec is not plain for those; v[i] is then
 * unused). Reports sources that failed (*status = 2). Returns the number
 * of items (at most IOCS_READER_PARTS_MAX), or a negative errno from the
 * framer. Each unit's line0 is its source's start line, which counts for
 * a source's first unit only: the rest are numbered by the caller (-j 0)
 * or the pool.
 */
static int slab_units(struct iocs_framer *f, struct iocs_slab *s,
                      const struct iocs_sourcelist *list, struct srckey *k,
                      struct iocs_work_unit *v, struct iocs_wholefile_job *fj,
                      int *status)
{
    int rc;

    if (s->nparts) {
        for (unsigned i = 0; i < s->nparts; i++) {
            const struct iocs_slab *p = &s->parts[i];

            fj[i].codec = IOCS_CODEC_PLAIN;
            if (p->err < 0) {
                report_source_err(list, p);
                *status = 2;
            } else if (p->codec != IOCS_CODEC_PLAIN) {
                file_job(p, list, source_key(k, list, p), &fj[i]);
                continue;
            }
            iocs_framer_whole(p, &v[i].u);
            v[i].u.source_id = source_key(k, list, p);
            v[i].path = list->v[p->source].path;
            v[i].line0 = list->v[p->source].start_line;
        }
        return (int)s->nparts;
    }
    fj[0].codec = IOCS_CODEC_PLAIN;
    if (s->err < 0) {
        report_source_err(list, s);
        *status = 2;
    } else if (s->codec != IOCS_CODEC_PLAIN) {
        file_job(s, list, source_key(k, list, s), &fj[0]);
        return 1;
    }
    rc = iocs_framer_frame(f, s, &v[0].u);
    if (rc > 0) {
        v[0].path = list->v[s->source].path;
        v[0].line0 = list->v[s->source].start_line;
        v[0].u.source_id = source_key(k, list, s);
    }
    return rc;
}

/* How long a quiet live input is waited for before the sink is given
 * another turn (acks read, unacknowledged batches resent). */
#define IDLE_WAIT_MS 1000

/*
 * A live input went quiet: push out what the sink holds, without waiting
 * for acknowledgements (a receiver that is slow to ack must not hold the
 * scan, nor keep a signal from being seen). Returns 0 or a negative errno.
 */
static int idle_flush(struct iocs_sink *sink)
{
    int err = iocs_sink_flush(sink, 0);

    return err == -ETIMEDOUT ? 0 : err;
}

/* The progress line, once per slab read: the input bytes read so far (a
 * pack's files at once) and the events written. */
static void progress(const struct iocs_scan_opts *o, uint64_t *bytes,
                     const struct iocs_slab *s, const struct iocs_sink *sink)
{
    if (!o->progress_line)
        return;
    if (s->nparts) {
        for (unsigned i = 0; i < s->nparts; i++)
            *bytes += s->parts[i].len;
    } else {
        *bytes += s->len;
    }
    iocs_progress_update(o->progress_line, *bytes, sink->stats.events_sent);
}

/* One thread: read, frame, scan, encode and write in turn. */
static int loop_inline(struct iocs_reader *r, struct iocs_framer *f,
                       const struct iocs_db *db, const struct iocs_scan_opts *o,
                       const struct iocs_allow *allow,
                       struct iocs_sourcelist *list, struct out *out,
                       struct iocs_scan_stats *st, struct reached *re)
{
    struct iocs_scanner_opts so = {
        .max_line = o->max_line, .allow = allow, .time = o->time};
    struct iocs_wholefile_opts fo = {.buf_size = o->slab_size,
                                     .overlap = iocs_db_overlap(db),
                                     .max_line = o->max_line};
    struct iocs_wholefile_job *fj = NULL;
    struct iocs_work_unit *v = NULL;
    struct iocs_scanner *sc = NULL;
    struct iocs_linestate *ls = NULL;
    struct iocs_wholefile *wf = NULL;
    struct srckey key = {0};
    uint64_t line0 = 1, nl = 0, bytes = 0;
    int status = 0, err;

    v = calloc(IOCS_READER_PARTS_MAX, sizeof(*v));
    fj = calloc(IOCS_READER_PARTS_MAX, sizeof(*fj));
    err = v && fj ? iocs_scanner_new(&sc, db, &so) : -ENOMEM;
    if (!err)
        err = iocs_linestate_new(&ls, o->max_line);
    if (!err)
        err = iocs_wholefile_new(&wf, &fo);
    if (err) {
        fprintf(stderr, "iocstream: cannot start the scan: %s\n",
                iocs_strerror(err));
        status = 2;
        goto out;
    }
    for (;;) {
        struct iocs_slab *s;
        int n;

        if (stop_sig)
            break; /* a signal: what is found is written by the caller */
        err = iocs_reader_next(r, &s);
        if (err == 0)
            break;
        if (err == -EINTR)
            continue;
        if (err == -EAGAIN) {
            /* Live input with no bytes yet: what is encoded goes out
             * before the wait. */
            err = out_write(out);
            if (!err)
                err = idle_flush(out->sink);
            if (!err)
                err = iocs_reader_wait(r, IDLE_WAIT_MS);
            if (err >= 0)
                continue;
            if (says(err))
                fprintf(stderr, "iocstream: %s\n", iocs_strerror(err));
            status = fail_status(err);
            break;
        }
        if (err < 0) {
            fprintf(stderr, "iocstream: reader: %s\n", iocs_strerror(err));
            status = 2;
            break;
        }
        progress(o, &bytes, s, out->sink);
        note_slab(re, s);
        n = slab_units(f, s, list, &key, v, fj, &status);
        err = n < 0 ? n : 0;
        if (err < 0)
            fprintf(stderr, "iocstream: %s: %s\n", list->v[s->source].path,
                    iocs_strerror(err));
        for (int i = 0; i < n && !err; i++) {
            const struct iocs_unit *u = &v[i].u;

            if (fj[i].codec != IOCS_CODEC_PLAIN) {
                struct iocs_wholefile_res res;
                char why[256];

                err = iocs_wholefile_scan(wf, sc, &fj[i], on_event, out, report,
                                          NULL, &res, why, sizeof(why));
                if (!err && res.err < 0) {
                    report(NULL, fj[i].src->path, why);
                    status = 2;
                } else if (!err) {
                    out->pos = (struct iocs_sink_pos){.source = fj[i].source,
                                                      .offset = res.end,
                                                      .line = 1 + res.lines};
                }
                if (err < 0 && says(err))
                    fprintf(stderr, "iocstream: %s: %s\n", fj[i].src->path,
                            iocs_strerror(err));
                continue;
            }
            if (u->first)
                line0 = list->v[u->source].start_line;
            err = iocs_scanner_unit(sc, u, v[i].path, line0, ls, on_event, out,
                                    &nl);
            line0 += nl;
            /* An open line's events come with a later unit. */
            if (!err && u->ends_line)
                out->pos = (struct iocs_sink_pos){.source = u->source,
                                                  .offset = u->offset + u->len,
                                                  .line = line0};
            if (err < 0 && says(err))
                fprintf(stderr, "iocstream: %s: %s\n", v[i].path,
                        iocs_strerror(err));
        }
        iocs_reader_release(r, s);
        if (err < 0) {
            status = fail_status(err);
            break;
        }
    }
out:
    if (sc)
        iocs_scanner_stats(sc, st);
    iocs_scanner_free(sc);
    iocs_linestate_free(ls);
    iocs_wholefile_free(wf);
    free(v);
    free(fj);
    return status;
}

/* Collect the oldest job from the pool: write its events, release its
 * slab. Returns 1, 0 when none is in flight, or a negative errno. */
static int collect_one(struct iocs_workers *w, struct iocs_reader *r,
                       struct iocs_sink *sink)
{
    struct iocs_slab *s = NULL;
    int rc = iocs_workers_collect(w, sink, &s);

    if (s)
        iocs_reader_release(r, s);
    return rc;
}

/* Submit what is queued in v[0..n), or the whole-file job fj when n is 0,
 * carrying slab s (or NULL), collecting first while the pool is full.
 * Returns 0 or a negative errno. */
static int submit(struct iocs_workers *w, struct iocs_reader *r,
                  struct iocs_sink *sink, struct iocs_slab *s,
                  const struct iocs_work_unit *v, unsigned n,
                  const struct iocs_wholefile_job *fj)
{
    while (iocs_workers_full(w)) {
        int rc = collect_one(w, r, sink);

        if (rc < 0)
            return rc;
    }
    return n ? iocs_workers_submit(w, s, v, n)
             : iocs_workers_submit_file(w, s, fj);
}

/* N threads: this one reads, frames and writes; the pool counts and
 * numbers the lines, and scans. */
static int loop_pool(struct iocs_reader *r, struct iocs_framer *f,
                     const struct iocs_db *db, const struct iocs_scan_opts *o,
                     const struct iocs_allow *allow, unsigned max_jobs,
                     struct iocs_sourcelist *list, struct iocs_sink *sink,
                     struct iocs_scan_stats *st, struct reached *re)
{
    struct iocs_workers_opts wo = {
        .threads = o->threads,
        /* Few workers leave the reading thread time to spare, and it has
         * just copied the bytes: it counts. Mapped, it never touches them. */
        .submit_counts = o->threads < IOCS_WORKERS_COUNT_FROM_THREADS &&
                         o->mmap != IOCS_MMAP_ON,
        .max_jobs = max_jobs,
        .max_units = IOCS_READER_PARTS_MAX,
        .max_line = o->max_line,
        .allow = allow,
        .format = sink->format,
        .str_times = sink->str_times,
        .time = o->time,
        .raw = o->raw,
        .buf_size = o->slab_size,
        .overlap = iocs_db_overlap(db),
        .report = report};
    struct iocs_wholefile_job *fj = NULL;
    struct iocs_work_unit *v = NULL;
    struct iocs_workers *w = NULL;
    struct srckey key = {0};
    uint64_t bytes = 0;
    int status = 0, err;

    v = calloc(IOCS_READER_PARTS_MAX, sizeof(*v));
    fj = calloc(IOCS_READER_PARTS_MAX, sizeof(*fj));
    err = v && fj ? iocs_workers_new(&w, db, &wo) : -ENOMEM;
    if (err) {
        fprintf(stderr, "iocstream: cannot start %u workers: %s\n", o->threads,
                iocs_strerror(err));
        free(v);
        free(fj);
        return 2;
    }
    for (;;) {
        struct iocs_slab *s;
        int n;

        if (stop_sig)
            break; /* a signal: the jobs in flight are written below */
        if (iocs_workers_full(w)) {
            err = collect_one(w, r, sink);
            if (err < 0)
                break;
            continue;
        }
        err = iocs_reader_next(r, &s);
        if (err == 0)
            break;
        if (err == -EINTR)
            continue;
        if (err == -EAGAIN && iocs_workers_busy(w)) {
            err = collect_one(w, r, sink); /* let what was read go out */
            if (err < 0)
                break;
            continue;
        }
        if (err == -EAGAIN) {
            /* Live input with no bytes yet, every job written. */
            err = idle_flush(sink);
            if (!err)
                err = iocs_reader_wait(r, IDLE_WAIT_MS);
            if (err < 0)
                break;
            continue;
        }
        if (err == -EBUSY && iocs_workers_busy(w)) {
            err = collect_one(w, r, sink); /* every slab is in the pool */
            if (err < 0)
                break;
            continue;
        }
        if (err < 0) {
            fprintf(stderr, "iocstream: reader: %s\n", iocs_strerror(err));
            status = 2;
            break;
        }
        progress(o, &bytes, s, sink);
        note_slab(re, s);
        n = slab_units(f, s, list, &key, v, fj, &status);
        if (n <= 0) {
            iocs_reader_release(r, s);
            err = n;
            if (err < 0) {
                fprintf(stderr, "iocstream: %s: %s\n", list->v[s->source].path,
                        iocs_strerror(err));
                err = 0;
                status = 2;
                break;
            }
            continue;
        }
        /* Units go out in runs between whole-file jobs; the last job of
         * the slab carries it. The workers count and number the lines. */
        err = 0;
        for (int i = 0, from = 0; i <= n && !err; i++) {
            if (i < n && fj[i].codec == IOCS_CODEC_PLAIN)
                continue;
            if (i > from)
                err = submit(w, r, sink, i == n ? s : NULL, v + from,
                             (unsigned)(i - from), NULL);
            if (!err && i < n)
                err =
                    submit(w, r, sink, i == n - 1 ? s : NULL, NULL, 0, &fj[i]);
            from = i + 1;
        }
        if (err < 0)
            break; /* s is held by a job, or released with the reader */
    }
    /* Write out what is still in flight, even after an error. */
    for (int rc; (rc = collect_one(w, r, sink)) != 0;)
        if (rc < 0 && err >= 0)
            err = rc;
    if (err < 0) {
        if (says(err))
            fprintf(stderr, "iocstream: %s\n", iocs_strerror(err));
        status = fail_status(err);
    }
    /* A whole-file source that failed (reported by the pool) makes the
     * status 2, as a plain one does, unless the loop ended otherwise. */
    if (iocs_workers_failed(w) && status == 0 && err >= 0)
        status = 2;
    iocs_workers_stats(w, st); /* lines: the pool counted them all */
    iocs_workers_free(w);
    free(v);
    free(fj);
    return status;
}

int iocs_pipeline_run(const struct iocs_scan_opts *o, const struct iocs_db *db,
                      const struct iocs_allow *allow,
                      struct iocs_sourcelist *list, struct iocs_sink *sink,
                      struct iocs_scan_stats *st, bool *uring)
{
    struct iocs_reader_opts ro = {0};
    struct iocs_reader *r = NULL;
    struct iocs_framer *f = NULL;
    struct out out = {.sink = sink};
    struct reached re = {0};
    size_t overlap = iocs_db_overlap(db);
    unsigned max_jobs = 2 * o->threads + 2;
    int status, err;

    ro.slab_size = o->slab_size;
    ro.headroom = o->slab_size > overlap ? o->slab_size : overlap;
    ro.depth = o->depth ? o->depth : IOCS_READER_DEPTH_DEFAULT;
    /* Room for every unit in the pool plus the reads in flight. */
    ro.nslabs =
        o->threads > 0 ? max_jobs + ro.depth : IOCS_READER_NSLABS_DEFAULT;
    if (ro.depth > ro.nslabs)
        ro.depth = ro.nslabs;
    ro.no_uring = o->no_uring;
    ro.poll_pipes = true; /* events must not wait for a quiet input */
    ro.direct = o->direct;
    /* Mapped slabs need the pool, which drops a faulted job's events
     * before they are written; -j 0 writes as it scans, so it reads. */
    ro.mmap =
        o->threads > 0 &&
        (o->mmap == IOCS_MMAP_ON ||
         (o->mmap == IOCS_MMAP_AUTO && o->threads >= IOCS_MAP_FROM_THREADS));
    ro.pack_max = o->pack_max == (size_t)-1 ? o->slab_size / 4 : o->pack_max;
    if (ro.pack_max > o->slab_size)
        ro.pack_max = o->slab_size;

    err = iocs_reader_new(&r, &ro, list->v, list->len);
    if (!err)
        err = iocs_framer_new(&f, o->slab_size, overlap);
    if (err) {
        fprintf(stderr, "iocstream: cannot start the scan: %s\n",
                iocs_strerror(err));
        status = 2;
        goto out;
    }
    if (o->threads == 0) {
        struct iocs_encoder_opts eo = {.format = sink->format,
                                       .str_times = sink->str_times,
                                       .raw = o->raw,
                                       .db_id = iocs_db_id(db)};

        err = iocs_encoder_new(&out.enc, &eo);
        if (err) {
            fprintf(stderr, "iocstream: %s\n", iocs_strerror(err));
            status = 2;
            goto out;
        }
    }
    *uring = iocs_reader_uring(r);
    if (!*uring && !o->no_uring)
        fprintf(stderr,
                "iocstream: io_uring is unavailable (%s); reading "
                "with read(2)\n",
                iocs_strerror(iocs_reader_uring_err(r)));
    if (o->threads > 0)
        status = loop_pool(r, f, db, o, allow, max_jobs, list, sink, st, &re);
    else
        status = loop_inline(r, f, db, o, allow, list, &out, st, &re);
    /* The inline path's last events; the pool wrote every job's. */
    err = out.enc ? out_write(&out) : 0;
    if (err) {
        if (says(err))
            fprintf(stderr, "iocstream: output: %s\n", iocs_strerror(err));
        if (status < IOCS_EXIT_SIGNAL)
            status = fail_status(err);
    }
    if (stop_sig) {
        /* Every event found is written, each whole: say how far the
         * reading got. */
        fprintf(stderr,
                "iocstream: stopped by signal %d (%s): %zu of %zu inputs "
                "done",
                (int)stop_sig, strsignal(stop_sig), re.done, list->len);
        if (re.any)
            fprintf(stderr, "; reached %s at byte %llu",
                    list->v[re.source].path, (unsigned long long)re.offset);
        fputc('\n', stderr);
        status = IOCS_EXIT_SIGNAL + stop_sig;
    }
out:
    iocs_encoder_free(out.enc);
    iocs_framer_free(f);
    iocs_reader_free(r);
    return status;
}
