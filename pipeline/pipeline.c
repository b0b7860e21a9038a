/*
 * pipeline.c - the scan and decode subcommands, stage by stage.
 *
 * scan: load the feeds (or the built-in pack) into a set, compile it, walk
 * the PATH arguments, then stream every source through reader -> framer ->
 * scanner -> encoder -> sink: with -j 0 all on the calling thread, else the
 * calling thread reads, frames and writes while a pool of workers scans and
 * encodes (workers.h). Per-source failures are reported by name and the
 * scan goes on; they make the exit status 2.
 */
#include "pipeline/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "matchers/builtin.h"
#include "matchers/load.h"
#include "matchers/rules.h"
#include "pipeline/decode.h"
#include "pipeline/encode.h"
#include "pipeline/framer.h"
#include "pipeline/reader.h"
#include "pipeline/scanner.h"
#include "pipeline/sink.h"
#include "pipeline/status.h"
#include "pipeline/walk.h"
#include "pipeline/workers.h"

static void on_reject(void *ctx, const char *file, size_t line, const char *why)
{
    (void)ctx;
    fprintf(stderr, "%s:%zu: %s\n", file, line, why);
}

static void on_walk_err(void *ctx, const char *path, int err)
{
    (void)ctx;
    fprintf(stderr, "iocstream: %s: %s\n", path, iocs_strerror(err));
}

/* A feed's hygiene: loaded per type, skipped per reason, widest CIDRs. */
static void print_hygiene(FILE *f, const char *path,
                          const struct iocs_feed_report *r)
{
    fprintf(f, "# %s: loaded", path);
    for (int t = 0; t < IOCS_TYPE_COUNT; t++)
        if (r->by_type[t])
            fprintf(f, " %s %zu", iocs_type_name((enum iocs_type)t),
                    r->by_type[t]);
    fprintf(f,
            "; skipped: not an indicator %zu, CIDR too wide %zu, regex "
            "refused %zu, to_ids false %zu, other %zu; rejected %zu",
            r->untyped, r->wide, r->bad_regex, r->not_ids,
            r->skipped - r->untyped - r->wide - r->not_ids, r->rejected);
    if (r->widest4)
        fprintf(f, "; widest %s", r->widest4_text);
    if (r->widest6)
        fprintf(f, "; widest %s", r->widest6_text);
    fputc('\n', f);
}

/* The loader's options from the command line's. */
static struct iocs_load_opts load_opts(const struct iocs_scan_opts *o)
{
    return (struct iocs_load_opts){.feeds = o->feeds,
                                   .nfeeds = o->nfeeds,
                                   .rules = o->rules,
                                   .nrules = o->nrules,
                                   .allows = o->allows,
                                   .nallows = o->nallows,
                                   .db = o->db,
                                   .builtin = o->builtin,
                                   .strict = o->strict,
                                   .use_cache = !o->no_cache,
                                   .all_attributes = o->all_attributes,
                                   .allow_wide = o->allow_wide,
                                   .strings = o->strings,
                                   .nstrings = o->nstrings,
                                   .reject = on_reject};
}

/* Say why a load failed: "iocstream: [file: ]why". */
static void print_load_err(int err, const struct iocs_load_err *e)
{
    const char *why = e->msg[0] ? e->msg : iocs_strerror(err);

    if (e->reported)
        return; /* the rejected lines were the message */
    if (e->path)
        fprintf(stderr, "iocstream: %s: %s\n", e->path, why);
    else
        fprintf(stderr, "iocstream: %s\n", why);
}

/* The feeds are read: say what was skipped before the allowlists speak. */
static void on_feeds_read(void *ctx, const struct iocs_load_report *lr)
{
    (void)ctx;
    if (lr->rejected)
        fprintf(stderr, "iocstream: %zu IOC line%s rejected and skipped\n",
                lr->rejected, lr->rejected == 1 ? "" : "s");
    if (lr->skipped || lr->expired)
        fprintf(stderr,
                "iocstream: %zu feed entr%s not expressible or not for "
                "detection (to_ids) and %zu expired, skipped; "
                "`iocstream iocs --explain` lists them\n",
                lr->skipped, lr->skipped == 1 ? "y" : "ies", lr->expired);
}

/*
 * Get the database: from --db; else from the cache (unless --no-cache),
 * parsing the inputs only when they changed; else compiled. The database
 * owns its set. Returns 0, or 2 after reporting what went wrong.
 */
static int get_db(const struct iocs_scan_opts *o, struct iocs_db **out,
                  struct iocs_dbcache_result *res)
{
    struct iocs_load_opts lo = load_opts(o);
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    int err;

    lo.read = on_feeds_read;
    err = iocs_load_db(&lo, out, res, &lr, &e);
    if (!err)
        return 0;
    if (o->db)
        fprintf(stderr, "iocstream: --db %s: %s%s\n", o->db, e.msg,
                err == -ESTALE || err == -EINVAL
                    ? "; rebuild it with `iocstream compile`"
                    : "");
    else
        print_load_err(err, &e);
    return 2;
}

/* The allowlists again, for the scan: a CIDR IOC's addresses are checked
 * against them (the database, maybe from the cache or --db, only lost the
 * IOCs they cover). Rejected lines are reported where the set is loaded
 * (a set with rejected lines is never taken from the cache index). Returns
 * 0, or 2 after reporting what went wrong. */
static int load_scan_allow(const struct iocs_scan_opts *o,
                           struct iocs_allow **out)
{
    struct iocs_load_opts lo = load_opts(o);
    struct iocs_load_err e;
    size_t rejected = 0;
    int err;

    lo.reject = NULL;
    err = iocs_load_allow(&lo, o->strict, out, &rejected, &e);
    if (err)
        print_load_err(err, &e);
    return err ? 2 : 0;
}

/* The output: the sink for dest (sink.h). Reports a failure; NULL then. */
static struct iocs_sink *open_output(const char *dest, enum iocs_format fmt)
{
    struct iocs_sink_opts so = {.format = fmt};
    struct iocs_sink *sink = NULL;
    char errbuf[512];
    int err = iocs_sink_open(&sink, dest, &so, errbuf, sizeof(errbuf));

    if (err) {
        fprintf(stderr, "iocstream: %s\n",
                errbuf[0] ? errbuf : iocs_strerror(err));
        return NULL;
    }
    return sink;
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

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void print_stats(const struct iocs_scan_stats *st, double load,
                        double secs, unsigned threads, bool uring,
                        const struct iocs_db *db)
{
    double gb = (double)st->bytes / 1e9;

    fprintf(stderr,
            "iocstream: %llu bytes, %llu lines, %llu matches, %llu events "
            "in %.3f s (%.2f GB/s, %u scanning thread%s, reader %s); IOCs "
            "ready in "
            "%.3f s (%zu patterns, db %s)\n",
            (unsigned long long)st->bytes, (unsigned long long)st->lines,
            (unsigned long long)st->matches, (unsigned long long)st->events,
            secs, secs > 0 ? gb / secs : 0.0, threads, threads == 1 ? "" : "s",
            uring ? "io_uring" : "read(2)", load, iocs_db_patterns(db),
            iocs_db_id(db));
    if (st->lost)
        fprintf(stderr,
                "iocstream: %llu hits could not be recorded (a line "
                "with more matches than the hit array's hard cap)\n",
                (unsigned long long)st->lost);
}

static void report_source_err(const struct iocs_sourcelist *list,
                              const struct iocs_slab *s)
{
    fprintf(stderr, "iocstream: %s: %s\n", list->v[s->source].path,
            iocs_strerror(s->err));
}

/*
 * The units of slab s: one per part of a pack, else what the framer cuts
 * (none or one). Reports sources that failed (*status = 2). Returns the
 * number of units in v[] (at most IOCS_READER_PARTS_MAX), or a negative
 * errno from the framer. Line numbers are left to the caller.
 */
static int slab_units(struct iocs_framer *f, struct iocs_slab *s,
                      const struct iocs_sourcelist *list,
                      struct iocs_work_unit *v, int *status)
{
    int rc;

    if (s->nparts) {
        for (unsigned i = 0; i < s->nparts; i++) {
            const struct iocs_slab *p = &s->parts[i];

            if (p->err < 0) {
                report_source_err(list, p);
                *status = 2;
            }
            iocs_framer_whole(p, &v[i].u);
            v[i].path = list->v[p->source].path;
            v[i].line0 = list->v[p->source].start_line;
        }
        return (int)s->nparts;
    }
    if (s->err < 0) {
        report_source_err(list, s);
        *status = 2;
    }
    rc = iocs_framer_frame(f, s, &v[0].u);
    if (rc > 0)
        v[0].path = list->v[s->source].path;
    return rc;
}

/* One thread: read, frame, scan, encode and write in turn. */
static int loop_inline(struct iocs_reader *r, struct iocs_framer *f,
                       const struct iocs_db *db, size_t max_line,
                       const struct iocs_allow *allow,
                       struct iocs_sourcelist *list, struct out *out,
                       struct iocs_scan_stats *st)
{
    struct iocs_scanner_opts so = {.max_line = max_line, .allow = allow};
    struct iocs_work_unit *v = NULL;
    struct iocs_scanner *sc = NULL;
    struct iocs_linestate *ls = NULL;
    uint64_t line0 = 1, nl = 0;
    int status = 0, err;

    v = calloc(IOCS_READER_PARTS_MAX, sizeof(*v));
    err = v ? iocs_scanner_new(&sc, db, &so) : -ENOMEM;
    if (!err)
        err = iocs_linestate_new(&ls, max_line);
    if (err) {
        fprintf(stderr, "iocstream: cannot start the scan: %s\n",
                iocs_strerror(err));
        status = 2;
        goto out;
    }
    for (;;) {
        struct iocs_slab *s;
        int n;

        err = iocs_reader_next(r, &s);
        if (err == 0)
            break;
        if (err == -EAGAIN) {
            /* Live input with no bytes yet: what is encoded goes out
             * before the wait. */
            err = out_write(out);
            if (!err)
                err = iocs_sink_flush(out->sink, -1);
            if (!err)
                err = iocs_reader_wait(r, -1);
            if (err >= 0)
                continue;
            if (err != -EPIPE)
                fprintf(stderr, "iocstream: %s\n", iocs_strerror(err));
            status = 2;
            break;
        }
        if (err < 0) {
            fprintf(stderr, "iocstream: reader: %s\n", iocs_strerror(err));
            status = 2;
            break;
        }
        n = slab_units(f, s, list, v, &status);
        err = n < 0 ? n : 0;
        if (err < 0)
            fprintf(stderr, "iocstream: %s: %s\n", list->v[s->source].path,
                    iocs_strerror(err));
        for (int i = 0; i < n && !err; i++) {
            const struct iocs_unit *u = &v[i].u;

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
            if (err < 0 && err != -EPIPE)
                fprintf(stderr, "iocstream: %s: %s\n", v[i].path,
                        iocs_strerror(err));
        }
        iocs_reader_release(r, s);
        if (err < 0) {
            status = 2;
            break;
        }
    }
out:
    if (sc)
        iocs_scanner_stats(sc, st);
    iocs_scanner_free(sc);
    iocs_linestate_free(ls);
    free(v);
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

/* N threads: this one reads, frames, numbers lines and writes; the pool
 * scans. */
static int loop_pool(struct iocs_reader *r, struct iocs_framer *f,
                     const struct iocs_db *db, const struct iocs_scan_opts *o,
                     const struct iocs_allow *allow, unsigned max_jobs,
                     struct iocs_sourcelist *list, struct iocs_sink *sink,
                     struct iocs_scan_stats *st)
{
    struct iocs_workers_opts wo = {.threads = o->threads,
                                   .max_jobs = max_jobs,
                                   .max_units = IOCS_READER_PARTS_MAX,
                                   .max_line = o->max_line,
                                   .allow = allow,
                                   .format = sink->format,
                                   .str_times = sink->str_times};
    struct iocs_work_unit *v = NULL;
    struct iocs_workers *w = NULL;
    uint64_t line0 = 1, lines = 0;
    int status = 0, err;

    v = calloc(IOCS_READER_PARTS_MAX, sizeof(*v));
    err = v ? iocs_workers_new(&w, db, &wo) : -ENOMEM;
    if (err) {
        fprintf(stderr, "iocstream: cannot start %u workers: %s\n", o->threads,
                iocs_strerror(err));
        free(v);
        return 2;
    }
    for (;;) {
        struct iocs_slab *s;
        int n;

        if (iocs_workers_full(w)) {
            err = collect_one(w, r, sink);
            if (err < 0)
                break;
            continue;
        }
        err = iocs_reader_next(r, &s);
        if (err == 0)
            break;
        if (err == -EAGAIN && iocs_workers_busy(w)) {
            err = collect_one(w, r, sink); /* let what was read go out */
            if (err < 0)
                break;
            continue;
        }
        if (err == -EAGAIN) {
            /* Live input with no bytes yet, every job written. */
            err = iocs_sink_flush(sink, -1);
            if (!err)
                err = iocs_reader_wait(r, -1);
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
        n = slab_units(f, s, list, v, &status);
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
        /* Number the lines here, for each unit's line0 and the totals;
         * the workers count only up to their hits. */
        for (int i = 0; i < n; i++) {
            const struct iocs_unit *u = &v[i].u;
            uint64_t nl =
                iocs_count_newlines(u->ptr + u->rescan, u->len - u->rescan);

            if (u->first)
                line0 = list->v[u->source].start_line;
            v[i].line0 = line0;
            v[i].nl = nl;
            line0 += nl;
            lines += nl;
            if (u->last && u->len > 0 && u->ptr[u->len - 1] != '\n')
                lines++; /* a last line with no final newline */
        }
        err = iocs_workers_submit(w, s, v, (unsigned)n);
        if (err < 0) {
            iocs_reader_release(r, s);
            break;
        }
    }
    /* Write out what is still in flight, even after an error. */
    for (int rc; (rc = collect_one(w, r, sink)) != 0;)
        if (rc < 0 && err >= 0)
            err = rc;
    if (err < 0) {
        if (err != -EPIPE)
            fprintf(stderr, "iocstream: %s\n", iocs_strerror(err));
        status = 2;
    }
    iocs_workers_stats(w, st);
    st->lines = lines;
    iocs_workers_free(w);
    free(v);
    return status;
}

static void print_cache(const struct iocs_scan_opts *o,
                        const struct iocs_dbcache_result *r, double secs)
{
    static const char *const how[] = {
        [IOCS_DBCACHE_BUILT] = "compiled",
        [IOCS_DBCACHE_REBUILT] = "compiled (cached file rebuilt)",
        [IOCS_DBCACHE_SET] = "loaded from the cache (feeds parsed)",
        [IOCS_DBCACHE_INPUTS] = "loaded from the cache (feeds unchanged)",
    };

    fprintf(stderr, "iocstream: database %s in %.3f s\n",
            o->db ? "loaded from --db" : how[r->how], secs);
    if (r->why[0])
        fprintf(stderr, "iocstream: cache: %s\n", r->why);
    if (r->store_err)
        fprintf(stderr, "iocstream: cache not written: %s\n",
                iocs_strerror(r->store_err));
}

/* Stream every source through the stages. Returns 0, or 2 when a source
 * failed (reported) or the output broke. */
static int run(const struct iocs_scan_opts *o, const struct iocs_db *db,
               const struct iocs_allow *allow, struct iocs_sourcelist *list,
               struct iocs_sink *sink, struct out *out,
               struct iocs_scan_stats *st, bool *uring)
{
    struct iocs_reader_opts ro = {0};
    struct iocs_reader *r = NULL;
    struct iocs_framer *f = NULL;
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
    ro.direct = o->direct;
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
    *uring = iocs_reader_uring(r);
    if (!*uring && !o->no_uring)
        fprintf(stderr,
                "iocstream: io_uring is unavailable (%s); reading "
                "with read(2)\n",
                iocs_strerror(iocs_reader_uring_err(r)));
    if (o->threads > 0)
        status = loop_pool(r, f, db, o, allow, max_jobs, list, sink, st);
    else
        status = loop_inline(r, f, db, o->max_line, allow, list, out, st);
out:
    iocs_framer_free(f);
    iocs_reader_free(r);
    return status;
}

int iocs_pipeline_scan(const struct iocs_scan_opts *o)
{
    static const char *const stdin_path[] = {"-"};
    struct iocs_sourcelist list = {0};
    struct iocs_scan_stats st = {0};
    struct iocs_dbcache_result cres;
    struct iocs_allow *allow = NULL;
    struct iocs_sink *sink = NULL;
    struct out out = {0};
    struct iocs_db *db = NULL;
    struct timespec t0, t1;
    double load = 0;
    const char *const *paths = o->paths;
    size_t npaths = o->npaths, nerr = 0;
    bool uring = false;
    int status = 2, err;

    signal(SIGPIPE, SIG_IGN); /* a closed output is an EPIPE we report */
    clock_gettime(CLOCK_MONOTONIC, &t0);

    if (get_db(o, &db, &cres))
        goto out;
    if (load_scan_allow(o, &allow))
        goto out;
    if (o->stats)
        print_cache(o, &cres, seconds_since(&t0));
    if (npaths == 0) {
        paths = stdin_path;
        npaths = 1;
    }
    for (size_t i = 0; i < npaths; i++) {
        if (iocs_walk_add(&list, paths[i], o->follow_symlinks, on_walk_err,
                          NULL, &nerr) < 0) {
            fprintf(stderr, "iocstream: out of memory\n");
            goto out;
        }
    }
    sink = open_output(o->output, o->format);
    if (!sink)
        goto out;
    out.sink = sink;
    if (o->threads == 0) {
        struct iocs_encoder_opts eo = {.format = sink->format,
                                       .str_times = sink->str_times,
                                       .db_id = iocs_db_id(db)};

        err = iocs_encoder_new(&out.enc, &eo);
        if (err) {
            fprintf(stderr, "iocstream: %s\n", iocs_strerror(err));
            goto out;
        }
    }

    load = seconds_since(&t0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    status = run(o, db, allow, &list, sink, &out, &st, &uring);
    /* The inline path's last events; the pool wrote every job's. */
    err = out.enc ? out_write(&out) : 0;
    if (!err)
        err = iocs_sink_flush(sink, -1);
    if (err && err != -EPIPE) {
        fprintf(stderr, "iocstream: %s: %s\n", o->output ? o->output : "stdout",
                iocs_strerror(err));
    }
    if (err)
        status = 2;
    if (o->stats)
        print_stats(&st, load, seconds_since(&t1), o->threads, uring, db);
    if (status == 0 && nerr)
        status = 2; /* walk errors were reported; the reader saw them too */
    if (status == 0)
        status = st.events ? IOCS_EXIT_HIT : IOCS_EXIT_NOHIT;

out:
    iocs_encoder_free(out.enc);
    iocs_sink_close(sink);
    iocs_sourcelist_fini(&list);
    iocs_allow_free(allow);
    iocs_db_free(db);
    return status;
}

static void print_counts(const struct iocs_db *db,
                         const struct iocs_load_report *lr,
                         const struct iocs_scan_opts *o, const char *out)
{
    const struct iocs_iocset *set = iocs_db_set(db);
    size_t by_type[IOCS_TYPE_COUNT] = {0}, n = iocs_iocset_count(set);
    size_t builtin = 0, records = 0;

    for (size_t i = 0; i < n; i++) {
        const struct iocs_ioc *x = iocs_iocset_get(set, i);

        by_type[x->type]++;
        for (const struct iocs_ioc *r = x; r; r = r->also) {
            records++;
            builtin += r->feed && strcmp(r->feed, "builtin") == 0;
        }
    }
    printf("%s: %zu IOCs (%zu records), %zu patterns, %zu bytes, db %s\n", out,
           n, records, iocs_db_patterns(db), iocs_db_size(db), iocs_db_id(db));
    printf("by type:\n");
    for (int t = 0; t < IOCS_TYPE_COUNT; t++)
        if (by_type[t])
            printf("  %-9s %zu\n", iocs_type_name((enum iocs_type)t),
                   by_type[t]);
    printf("by feed:\n");
    if (lr->builtin)
        printf("  %s: %zu loaded\n", "builtin", builtin);
    for (size_t i = 0; i < o->nfeeds + o->nrules + o->nstrings; i++) {
        const struct iocs_load_input *c = &lr->inputs[i];

        printf("  %s: %zu loaded, %zu duplicates, %zu rejected (%s)\n", c->path,
               c->rep.loaded, c->rep.duplicates, c->rep.rejected,
               i < o->nfeeds               ? "feed"
               : i < o->nfeeds + o->nrules ? "rules"
                                           : "strings");
        print_hygiene(stdout, c->path, &c->rep);
    }
    if (o->nallows)
        printf("  allowlists: %zu IOCs dropped\n", lr->allowed);
}

int iocs_pipeline_compile(const struct iocs_scan_opts *o, const char *out)
{
    struct iocs_load_opts lo = load_opts(o);
    struct iocs_dbcache_result res;
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    struct iocs_db *db = NULL;
    char errbuf[512];
    int status = 2, err;

    lr.inputs =
        calloc(o->nfeeds + o->nrules + o->nstrings + 1, sizeof(*lr.inputs));
    if (!lr.inputs) {
        fprintf(stderr, "iocstream: out of memory\n");
        goto out;
    }
    /* Compiled afresh from the inputs: neither --db nor the cache. */
    lo.db = NULL;
    lo.use_cache = false;
    lo.read = on_feeds_read;
    err = iocs_load_db(&lo, &db, &res, &lr, &e);
    if (err) {
        print_load_err(err, &e);
        goto out;
    }
    err = iocs_dbfile_write(db, out, errbuf, sizeof(errbuf));
    if (err) {
        fprintf(stderr, "iocstream: %s\n", errbuf);
        goto out;
    }
    print_counts(db, &lr, o, out);
    status = 0;
out:
    iocs_db_free(db);
    free(lr.inputs);
    return status;
}

/* One line of `iocs --explain`. */
struct explain_line {
    size_t line;
    char *text;
};

struct explain {
    struct explain_line *v;
    size_t len, cap;
    int err;
};

static void explain_add(struct explain *e, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void explain_add(struct explain *e, size_t line, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;

    if (e->err)
        return;
    if (e->len == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 64;
        struct explain_line *v = realloc(e->v, cap * sizeof(*v));

        if (!v) {
            e->err = -ENOMEM;
            return;
        }
        e->v = v;
        e->cap = cap;
    }
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0) {
        e->err = -ENOMEM;
        text = NULL;
    }
    va_end(ap);
    if (text)
        e->v[e->len++] = (struct explain_line){.line = line, .text = text};
}

static void on_explain_reject(void *ctx, const char *file, size_t line,
                              const char *why)
{
    explain_add(ctx, line, "%s:%zu\t-\t-\t-\tskipped: %s", file, line, why);
}

/* A feed's rejected lines come through the explain hook below, with their
 * raw value; only whole-file failures (line 0) come here. */
static void on_explain_fatal(void *ctx, const char *file, size_t line,
                             const char *why)
{
    if (line == 0)
        explain_add(ctx, line, "%s\t-\t-\t-\tskipped: %s", file, why);
}

/* Every entry a feed parser read; here only those it did not take. */
static void on_explain_entry(void *ctx, const char *file, size_t line,
                             const char *raw, const char *type,
                             const char *value, const char *why)
{
    (void)value;
    if (why)
        explain_add(ctx, line, "%s:%zu\t%s\t%s\t-\tskipped: %s", file, line,
                    type ? type : "-", raw, why);
}

static int by_line(const void *a, const void *b)
{
    const struct explain_line *x = a, *y = b;

    return x->line < y->line ? -1 : x->line > y->line;
}

/* The line number at the end of a "file:line" reference, or 0. */
static size_t ref_line(const char *ref)
{
    const char *colon = ref ? strrchr(ref, ':') : NULL;

    return colon ? (size_t)strtoull(colon + 1, NULL, 10) : 0;
}

/* Whether path is one of the --strings files (by identity, not name). */
static bool is_strings(const struct iocs_scan_opts *o, const char *path)
{
    for (size_t i = 0; i < o->nstrings; i++)
        if (o->strings[i] == path)
            return true;
    return false;
}

/* Explain one feed or rule file: load it alone, list what went in and
 * what was skipped, in line order. */
static int explain_file(const char *path, bool rules, bool all_attributes,
                        const struct iocs_scan_opts *o,
                        const struct iocs_allow *allow, size_t *skipped)
{
    struct iocs_feed_report rep = {0};
    struct explain e = {0};
    struct iocs_iocset *set = NULL;
    int err;

    err = iocs_iocset_new(&set);
    if (err)
        return err;
    if (rules) {
        err = iocs_rules_load_file(set, path, on_explain_reject, &e, &rep);
    } else {
        struct iocs_feed_opts fo = {.all_attributes = all_attributes,
                                    .allow_wide = o->allow_wide,
                                    .strings = is_strings(o, path),
                                    .now = time(NULL),
                                    .explain = on_explain_entry,
                                    .explain_ctx = &e};

        err = iocs_feed_load_file_opts(set, path, &fo, on_explain_fatal, &e,
                                       &rep);
    }
    if (err && e.len == 0)
        goto out;
    err = 0; /* a file refused whole is listed as skipped */
    *skipped += rep.rejected + rep.skipped + rep.expired;
    for (size_t i = 0; i < iocs_iocset_count(set); i++) {
        const struct iocs_ioc *x = iocs_iocset_get(set, i);
        bool allowed = allow && x->type != IOCS_REGEX &&
                       iocs_allow_ioc(allow, x->type, x->value, x->len);

        for (const struct iocs_ioc *r = x; r; r = r->also)
            explain_add(&e, ref_line(r->reference), "%s\t%s\t%s\t%s%s%s",
                        r->reference ? r->reference : path,
                        iocs_type_name(x->type), x->value,
                        r->feed ? r->feed : "-",
                        r != x ? "\tduplicate of " : "",
                        r != x    ? (x->reference ? x->reference : "-")
                        : allowed ? "\tallowlisted (dropped)"
                                  : "");
    }
    err = e.err;
    if (err)
        goto out;
    qsort(e.v, e.len, sizeof(*e.v), by_line);
    for (size_t i = 0; i < e.len; i++)
        printf("%s\n", e.v[i].text);
    if (!rules)
        print_hygiene(stdout, path, &rep);
out:
    for (size_t i = 0; i < e.len; i++)
        free(e.v[i].text);
    free(e.v);
    iocs_iocset_free(set);
    return err;
}

static void print_builtin(void)
{
    size_t n;
    const struct iocs_builtin *b = iocs_builtin_pack(&n);

    printf("type\tvalue\tseverity\tid\tdescription\treference\n");
    for (size_t i = 0; i < n; i++) {
        if (b[i].type == IOCS_REGEX)
            printf("regex\t/%s/%s%s\t%d\t%s\t%s\t%s\n", b[i].value,
                   b[i].hs_flags & HS_FLAG_CASELESS ? "i" : "",
                   b[i].hs_flags & HS_FLAG_DOTALL ? "s" : "", b[i].severity,
                   b[i].rule_id, b[i].description, b[i].reference);
        else
            printf("%s\t%s\t%d\t-\t%s\t%s\n", iocs_type_name(b[i].type),
                   b[i].value, b[i].severity, b[i].description, b[i].reference);
    }
}

int iocs_pipeline_iocs(const struct iocs_scan_opts *o, bool explain,
                       bool builtin)
{
    struct iocs_load_opts lo = load_opts(o);
    struct iocs_allow *allow = NULL;
    struct iocs_load_err e;
    size_t skipped = 0, rejected = 0;
    int status = 2, err;

    if (builtin)
        print_builtin();
    if (!explain)
        return fflush(stdout) == 0 ? 0 : 2;
    err = iocs_load_allow(&lo, false, &allow, &rejected, &e);
    if (err) {
        print_load_err(err, &e);
        goto out;
    }
    printf("reference\ttype\tvalue\tfeed\tnote\n");
    for (size_t i = 0; i < o->nfeeds + o->nrules + o->nstrings; i++) {
        bool feed = i < o->nfeeds || i >= o->nfeeds + o->nrules;
        const char *path = i < o->nfeeds ? o->feeds[i]
                           : feed        ? o->strings[i - o->nfeeds - o->nrules]
                                         : o->rules[i - o->nfeeds];

        err = explain_file(path, !feed, o->all_attributes, o, allow, &skipped);
        if (err) {
            fprintf(stderr, "iocstream: %s: %s\n", path, iocs_strerror(err));
            goto out;
        }
    }
    status = skipped ? 1 : 0;
out:
    iocs_allow_free(allow);
    if (fflush(stdout) != 0)
        status = 2;
    return status;
}

int iocs_pipeline_decode(const char *path)
{
    char errbuf[256] = "";
    int fd = STDIN_FILENO;
    long n;

    if (path && strcmp(path, "-") != 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "iocstream: %s: %s\n", path, strerror(errno));
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    n = iocs_decode_stream(fd, stdout, errbuf, sizeof(errbuf));
    if (fd != STDIN_FILENO)
        close(fd);
    if (fflush(stdout) != 0 && n >= 0)
        n = -errno;
    if (n < 0) {
        if (n != -EPIPE)
            fprintf(stderr, "iocstream: decode %s: %s\n", path ? path : "stdin",
                    errbuf[0] ? errbuf : iocs_strerror((int)n));
        return 2;
    }
    return 0;
}
