/*
 * workers.c - the scanning thread pool. Jobs live in a ring indexed by
 * their submission number (seq); three counters walk it: head (next to
 * submit), next (next a worker takes), tail (next to collect), with
 * tail <= next <= head <= tail + njobs. done_upto is the first seq not yet
 * finished: every job before it is done.
 *
 * Line numbers (workers.h): lined is the first seq whose units are not
 * numbered yet; it always stands at the first job not counted (or head),
 * because a job is marked counted (a plain job by its worker, a whole-file
 * job at submit) under the same lock hold that calls number(). So
 * tail <= lined (a job is collected only when done, a plain job is done
 * only after it was numbered, and a whole-file job is numbered as soon as
 * the jobs before it are) and lined <= head. line is the line the chain
 * reached: of the byte after the last plain unit numbered.
 *
 * A whole-file job hands off its events (workers.h): its worker sets
 * `partial` and waits on `handed`; the collector, waiting for that job,
 * writes what is buffered, clears the encoder and clears `partial`. The
 * encoder is touched by one thread at a time: the worker while it runs,
 * the collector only while the worker waits (or after done).
 */
#include "pipeline/workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct job {
    struct iocs_slab *slab; /* may be NULL */
    bool file;              /* a whole-file job: fj below */
    struct iocs_wholefile_job fj;
    bool partial; /* events wait for the collector */
    struct iocs_wholefile_res res;
    char why[256];            /* why the file job's source failed */
    struct iocs_work_unit *v; /* max_units entries */
    unsigned n;
    bool counted;            /* v[].nl is set (a file job: always) */
    bool waiting;            /* its worker waits on `numbered` */
    pthread_cond_t numbered; /* the chain numbered this job */
    bool touches;            /* a unit touches the line state */
    struct iocs_encoder *enc;
    bool has_pos; /* pos is set: a unit of its own ends a line (number()),
                     or the file job ran to its end (collect) */
    struct iocs_sink_pos pos; /* where the job's batch reaches */
    int err;
    bool done;
};

struct worker {
    pthread_t thread;
    struct iocs_workers *pool;
    struct iocs_scanner *sc;
    struct iocs_wholefile *wf; /* NULL when no file jobs are taken */
    bool started;
};

struct iocs_workers {
    struct job *jobs;
    unsigned njobs;
    unsigned max_units;
    struct iocs_work_unit *units; /* every job's v[] */
    uint64_t head, next, tail, done_upto, lined;
    bool submit_counts; /* opts.submit_counts */
    pthread_mutex_t mu;
    pthread_cond_t work;   /* a job was queued, or stop */
    pthread_cond_t done;   /* the job the collector waits for finished */
    pthread_cond_t order;  /* done_upto moved, for jobs that wait on it */
    pthread_cond_t handed; /* a partial batch was taken */
    unsigned idle;         /* workers waiting on `work` */
    unsigned ordering;     /* workers waiting on `order` */
    bool collecting;       /* the collector waits on `done` */
    bool stop;
    struct worker *workers;
    unsigned nworkers;
    struct iocs_linestate *ls;    /* the one line that may span units */
    uint64_t line;                /* where the chain stands (see above) */
    uint64_t lines;               /* lines of the plain units numbered */
    uint64_t batch_seq;           /* of the last batch written */
    struct iocs_sink_pos written; /* the position of that batch */
    int sink_err;                 /* the sink failed: later batches are
                                     dropped, this error returned */
    iocs_workers_report_fn report;
    void *report_ctx;
    uint64_t failed; /* whole-file sources that failed */
    void (*before_job)(void *ctx, uint64_t seq);
    void *before_job_ctx;
};

static int on_event(void *ctx, const struct iocs_event *ev)
{
    return iocs_encoder_event(ctx, ev);
}

/* What a whole-file job's events go through. */
struct filectx {
    struct iocs_workers *w;
    struct job *j;
};

/* Give the job's events to the collector and wait until it took them.
 * Returns 0, or the sink's error (the scan of this file stops). */
static int hand_off(struct iocs_workers *w, struct job *j)
{
    int err;

    pthread_mutex_lock(&w->mu);
    j->partial = true;
    if (w->collecting)
        pthread_cond_signal(&w->done);
    while (j->partial && !w->stop)
        pthread_cond_wait(&w->handed, &w->mu);
    /* Stopped without a collector (freed early): give the file up. */
    err = j->partial ? -ECANCELED : w->sink_err;
    pthread_mutex_unlock(&w->mu);
    return err;
}

static int on_file_event(void *ctx, const struct iocs_event *ev)
{
    struct filectx *fc = ctx;
    struct iocs_encoder *enc = fc->j->enc;
    int err = iocs_encoder_event(enc, ev);

    if (err == -ENOMEM && iocs_encoder_events(enc) > 0) {
        /* Full: hand off what is there, then it fits alone (or never). */
        err = hand_off(fc->w, fc->j);
        if (!err)
            err = iocs_encoder_event(enc, ev);
    }
    if (!err && iocs_encoder_len(enc) >= IOCS_WORKERS_HANDOFF_AT)
        err = hand_off(fc->w, fc->j);
    return err;
}

static void on_warn(void *ctx, const char *path, const char *msg)
{
    struct iocs_workers *w = ctx;

    if (w->report)
        w->report(w->report_ctx, path, msg);
}

/* Whether a job reads or writes the shared line state: it continues a line
 * or leaves one open. It must then run after every earlier job. */
static bool touches_line(const struct iocs_unit *u)
{
    return u->rescan > 0 || !u->ends_line;
}

/* Count the newlines of j's units, as the chain needs them: the bytes a
 * unit does not share with the one before it. Called with the lock not
 * held; the count is published by setting j->counted under the lock. */
static void count_lines(struct job *j)
{
    for (unsigned i = 0; i < j->n; i++) {
        const struct iocs_unit *u = &j->v[i].u;

        j->v[i].nl =
            iocs_count_newlines(u->ptr + u->rescan, u->len - u->rescan);
    }
}

/*
 * Move the chain over every counted job from `lined` on: number their
 * units, set their batch positions and add up their lines, and wake the
 * workers that wait for those jobs (and only those). Called with the lock
 * held.
 */
static void number(struct iocs_workers *w)
{
    for (; w->lined < w->head; w->lined++) {
        struct job *j = &w->jobs[w->lined % w->njobs];

        if (!j->counted)
            break;
        if (j->file)
            continue; /* it numbers its own lines: the chain passes */
        for (unsigned i = 0; i < j->n; i++) {
            struct iocs_work_unit *v = &j->v[i];
            const struct iocs_unit *u = &v->u;

            if (u->first)
                w->line = v->line0; /* the source's start line */
            v->line0 = w->line;
            w->line += v->nl;
            w->lines += v->nl;
            if (u->last && u->len > 0 && u->ptr[u->len - 1] != '\n')
                w->lines++; /* a last line with no final newline */
            /* An open line's events come with a later job: the position
             * stays before it. */
            if (u->ends_line) {
                j->pos = (struct iocs_sink_pos){.source = u->source,
                                                .offset = u->offset + u->len,
                                                .line = w->line};
                j->has_pos = true;
            }
        }
        if (j->waiting)
            pthread_cond_signal(&j->numbered);
    }
}

static void *work(void *arg)
{
    struct worker *me = arg;
    struct iocs_workers *w = me->pool;

    (void)pthread_setname_np(pthread_self(), "iocs-scan"); /* for top, perf */
    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct job *j;
        uint64_t seq;
        int err;

        while (w->next == w->head && !w->stop) {
            w->idle++;
            pthread_cond_wait(&w->work, &w->mu);
            w->idle--;
        }
        if (w->next == w->head)
            break; /* stopping, and nothing left */
        seq = w->next++;
        j = &w->jobs[seq % w->njobs];
        pthread_mutex_unlock(&w->mu);

        if (w->before_job)
            w->before_job(w->before_job_ctx, seq);
        if (!j->file) {
            /* Count first, off the reading thread and before any wait, so
             * the jobs after this one can be numbered meanwhile; it also
             * brings the unit into this core's cache for hs_scan. (With
             * submit_counts, submit counted it and numbered what it could:
             * j->counted is not read here, it may change under the lock.) */
            if (!w->submit_counts)
                count_lines(j);
            pthread_mutex_lock(&w->mu);
            j->counted = true;
            number(w);
            /* Events carry absolute line numbers. */
            while (w->lined <= seq) {
                j->waiting = true;
                pthread_cond_wait(&j->numbered, &w->mu);
                j->waiting = false;
            }
            if (j->touches)
                while (w->done_upto < seq) {
                    w->ordering++;
                    pthread_cond_wait(&w->order, &w->mu);
                    w->ordering--;
                }
            pthread_mutex_unlock(&w->mu);
        }
        err = 0;
        if (j->file) {
            struct filectx fc = {w, j};

            err = iocs_wholefile_scan(me->wf, me->sc, &j->fj, on_file_event,
                                      &fc, on_warn, w, &j->res, j->why,
                                      sizeof(j->why));
        }
        for (unsigned i = 0; i < j->n && !err; i++)
            err =
                iocs_scanner_unit(me->sc, &j->v[i].u, j->v[i].path,
                                  j->v[i].line0, w->ls, on_event, j->enc, NULL);

        pthread_mutex_lock(&w->mu);
        j->err = err;
        j->done = true;
        while (w->done_upto < w->head && w->jobs[w->done_upto % w->njobs].done)
            w->done_upto++;
        /* Wake only who waits: a futex wake per job is measurable. */
        if (w->collecting)
            pthread_cond_signal(&w->done);
        if (w->ordering)
            pthread_cond_broadcast(&w->order);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int iocs_workers_new(struct iocs_workers **out, const struct iocs_db *db,
                     const struct iocs_workers_opts *opts)
{
    struct iocs_scanner_opts so = {
        .max_line = opts->max_line, .allow = opts->allow, .time = opts->time};
    struct iocs_encoder_opts eo = {.format = opts->format,
                                   .str_times = opts->str_times,
                                   .raw = opts->raw,
                                   .db_id = iocs_db_id(db)};
    struct iocs_workers *w;
    int err;

    if (opts->threads == 0 || opts->max_jobs < opts->threads ||
        opts->max_units == 0)
        return -EINVAL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    pthread_cond_init(&w->order, NULL);
    pthread_cond_init(&w->handed, NULL);
    w->line = 1;
    w->njobs = opts->max_jobs;
    w->report = opts->report;
    w->report_ctx = opts->report_ctx;
    w->submit_counts = opts->submit_counts;
    w->before_job = opts->before_job;
    w->before_job_ctx = opts->before_job_ctx;
    w->max_units = opts->max_units;
    w->jobs = calloc(w->njobs, sizeof(*w->jobs));
    for (unsigned i = 0; w->jobs && i < w->njobs; i++)
        pthread_cond_init(&w->jobs[i].numbered, NULL);
    w->units = calloc((size_t)w->njobs * w->max_units, sizeof(*w->units));
    w->workers = calloc(opts->threads, sizeof(*w->workers));
    if (!w->jobs || !w->units || !w->workers) {
        err = -ENOMEM;
        goto fail;
    }
    err = iocs_linestate_new(&w->ls, opts->max_line);
    if (err)
        goto fail;
    for (unsigned i = 0; i < w->njobs; i++) {
        w->jobs[i].v = w->units + (size_t)i * w->max_units;
        err = iocs_encoder_new(&w->jobs[i].enc, &eo);
        if (err)
            goto fail;
    }
    for (unsigned i = 0; i < opts->threads; i++) {
        struct worker *k = &w->workers[i];

        k->pool = w;
        w->nworkers++; /* from here on, iocs_workers_free() cleans it up */
        err = iocs_scanner_new(&k->sc, db, &so);
        if (!err && opts->buf_size) {
            struct iocs_wholefile_opts fo = {.buf_size = opts->buf_size,
                                             .overlap = opts->overlap,
                                             .max_line = opts->max_line};

            err = iocs_wholefile_new(&k->wf, &fo);
        }
        if (err)
            goto fail;
        err = -pthread_create(&k->thread, NULL, work, k);
        if (err)
            goto fail;
        k->started = true;
    }
    *out = w;
    return 0;

fail:
    iocs_workers_free(w);
    return err;
}

void iocs_workers_free(struct iocs_workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->work);
    pthread_cond_broadcast(&w->handed);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->nworkers; i++) {
        struct worker *k = &w->workers[i];

        if (k->started)
            pthread_join(k->thread, NULL);
        iocs_scanner_free(k->sc);
        iocs_wholefile_free(k->wf);
    }
    for (unsigned i = 0; w->jobs && i < w->njobs; i++) {
        iocs_encoder_free(w->jobs[i].enc);
        pthread_cond_destroy(&w->jobs[i].numbered);
    }
    iocs_linestate_free(w->ls);
    free(w->jobs);
    free(w->units);
    free(w->workers);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->order);
    pthread_cond_destroy(&w->handed);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

bool iocs_workers_full(const struct iocs_workers *w)
{
    return w->head - w->tail == w->njobs;
}

bool iocs_workers_busy(const struct iocs_workers *w)
{
    return w->head != w->tail;
}

int iocs_workers_submit(struct iocs_workers *w, struct iocs_slab *s,
                        const struct iocs_work_unit *v, unsigned n)
{
    struct job *j;

    if (n == 0 || n > w->max_units)
        return -EINVAL;
    if (iocs_workers_full(w))
        return -EBUSY;
    j = &w->jobs[w->head % w->njobs];
    j->slab = s;
    j->file = false;
    memcpy(j->v, v, n * sizeof(*v));
    j->n = n;
    j->counted = false; /* its worker counts it; number() sets pos */
    j->has_pos = false;
    j->touches = false;
    for (unsigned i = 0; i < n; i++)
        j->touches |= touches_line(&v[i].u);
    j->err = 0;
    j->done = false;
    if (w->submit_counts)
        count_lines(j);
    pthread_mutex_lock(&w->mu);
    j->counted = w->submit_counts;
    w->head++;
    if (w->submit_counts)
        number(w);
    if (w->idle)
        pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int iocs_workers_submit_file(struct iocs_workers *w, struct iocs_slab *s,
                             const struct iocs_wholefile_job *fj)
{
    struct job *j;

    if (!w->workers[0].wf)
        return -EINVAL;
    if (iocs_workers_full(w))
        return -EBUSY;
    j = &w->jobs[w->head % w->njobs];
    j->slab = s;
    j->file = true;
    j->fj = *fj;
    j->n = 0;
    j->counted = true;  /* nothing to count: number() passes it */
    j->has_pos = false; /* until its end is known (collect) */
    j->touches = false; /* it has its own line state */
    j->partial = false;
    j->err = 0;
    j->done = false;
    pthread_mutex_lock(&w->mu);
    w->head++;
    number(w); /* the chain may pass it now */
    if (w->idle)
        pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* Write what j's encoder holds as the next batch, at position pos, or
 * (NULL) at the previous batch's. */
static int write_batch(struct iocs_workers *w, struct job *j,
                       struct iocs_sink *sink, const struct iocs_sink_pos *pos)
{
    struct iocs_sink_batch b;
    int err;

    if (pos)
        w->written = *pos;
    iocs_encoder_batch(j->enc, &b);
    b.seq = w->batch_seq + 1;
    b.pos = w->written;
    err = w->sink_err ? w->sink_err : iocs_sink_write(sink, &b);
    if (!err)
        w->batch_seq++;
    else
        w->sink_err = err; /* a broken output stays broken */
    iocs_encoder_clear(j->enc);
    return err;
}

int iocs_workers_collect(struct iocs_workers *w, struct iocs_sink *sink,
                         struct iocs_slab **slab)
{
    struct job *j;
    int err;

    if (w->tail == w->head)
        return 0;
    j = &w->jobs[w->tail % w->njobs];
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!j->done && !j->partial) {
            w->collecting = true;
            pthread_cond_wait(&w->done, &w->mu);
            w->collecting = false;
        }
        if (j->done)
            break;
        /* A file job handed off its events: write them while it waits. */
        pthread_mutex_unlock(&w->mu);
        (void)write_batch(w, j, sink, NULL);
        pthread_mutex_lock(&w->mu);
        j->partial = false;
        pthread_cond_broadcast(&w->handed);
    }
    pthread_mutex_unlock(&w->mu);

    *slab = j->slab;
    if (j->file && j->res.err == 0) {
        j->pos = (struct iocs_sink_pos){.source = j->fj.source,
                                        .offset = j->res.end,
                                        .line = 1 + j->res.lines};
        j->has_pos = true;
    }
    /* A mapped file cut under the scan read zeros (reader.h): none of the
     * job's events leave, and its source failed. */
    if (!j->file && iocs_reader_slab_faulted(j->slab)) {
        iocs_encoder_clear(j->enc);
        w->failed++;
        if (w->report)
            w->report(w->report_ctx, j->v[0].path,
                      "file shrank while being read");
    }
    /* Events of units scanned before a failure still leave. */
    err = write_batch(w, j, sink, j->has_pos ? &j->pos : NULL);
    if (j->file && j->res.err < 0) {
        w->failed++;
        if (w->report)
            w->report(w->report_ctx, j->fj.src->path, j->why);
    }
    if (j->err)
        err = j->err;
    w->tail++;
    return err ? err : 1;
}

uint64_t iocs_workers_failed(const struct iocs_workers *w)
{
    return w->failed;
}

void iocs_workers_stats(const struct iocs_workers *w,
                        struct iocs_scan_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < w->nworkers; i++) {
        struct iocs_scan_stats st;

        iocs_scanner_stats(w->workers[i].sc, &st);
        out->bytes += st.bytes;
        out->lines += st.lines;
        out->matches += st.matches;
        out->events += st.events;
        out->splits += st.splits;
        out->lost += st.lost;
    }
    out->lines += w->lines; /* the plain units', numbered by the chain */
}
