/*
 * pipeline.c - the scan and decode subcommands, stage by stage.
 *
 * scan: load the feeds (or the built-in pack) into a set, compile it, walk
 * the PATH arguments, then stream every source through reader -> framer ->
 * scanner -> emitter on this thread. Per-source failures are reported by
 * name and the scan goes on; they make the exit status 2.
 */
#include "pipeline/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "matchers/builtin.h"
#include "matchers/db.h"
#include "matchers/feed.h"
#include "pipeline/decode.h"
#include "pipeline/framer.h"
#include "pipeline/reader.h"
#include "pipeline/scanner.h"
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

/* Load the IOC set. Returns 0, or 2 after reporting what went wrong. */
static int load_iocs(const struct iocs_scan_opts *o, struct iocs_iocset *set)
{
    struct iocs_feed_report rep = {0};
    char errbuf[512];
    int err;

    if (o->nfeeds == 0) {
        err = iocs_builtin_load(set, errbuf, sizeof(errbuf));
        if (err) {
            fprintf(stderr, "iocstream: %s\n", errbuf);
            return 2;
        }
        return 0;
    }
    for (size_t i = 0; i < o->nfeeds; i++) {
        err = iocs_feed_load_file(set, o->feeds[i], on_reject, NULL, &rep);
        if (err) {
            fprintf(stderr, "iocstream: %s: %s\n", o->feeds[i],
                    iocs_strerror(err));
            return 2;
        }
    }
    if (rep.rejected) {
        fprintf(stderr, "iocstream: %zu IOC line%s rejected; nothing scanned\n",
                rep.rejected, rep.rejected == 1 ? "" : "s");
        return 2;
    }
    if (iocs_iocset_count(set) == 0) {
        fprintf(stderr, "iocstream: the feeds hold no indicators\n");
        return 2;
    }
    return 0;
}

static int open_output(const char *path)
{
    int fd;

    if (!path || strcmp(path, "-") == 0)
        return STDOUT_FILENO;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        fprintf(stderr, "iocstream: %s: %s\n", path, strerror(errno));
    return fd;
}

static int on_event(void *ctx, const struct iocs_event *ev)
{
    return iocs_emitter_event(ctx, ev);
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
            "in %.3f s (%.2f GB/s, %u thread%s, reader %s); IOCs ready in "
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

static void report_source_err(const struct iocs_pathlist *list,
                              const struct iocs_slab *s)
{
    fprintf(stderr, "iocstream: %s: %s\n", list->v[s->source],
            iocs_strerror(s->err));
}

/* One thread: read, frame, scan and emit in turn. */
static int loop_inline(struct iocs_reader *r, struct iocs_framer *f,
                       const struct iocs_db *db, size_t max_line,
                       struct iocs_pathlist *list, struct iocs_emitter *em,
                       struct iocs_scan_stats *st)
{
    struct iocs_scanner_opts so = {.max_line = max_line};
    struct iocs_scanner *sc = NULL;
    struct iocs_linestate *ls = NULL;
    uint64_t line0 = 1, nl = 0;
    int status = 0, err;

    err = iocs_scanner_new(&sc, db, &so);
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
        struct iocs_unit u;
        uint32_t source;

        err = iocs_reader_next(r, &s);
        if (err == 0)
            break;
        if (err < 0) {
            fprintf(stderr, "iocstream: reader: %s\n", iocs_strerror(err));
            status = 2;
            break;
        }
        if (s->err < 0) {
            report_source_err(list, s);
            status = 2;
        }
        source = s->source;
        err = iocs_framer_frame(f, s, &u);
        if (err > 0) {
            if (u.first)
                line0 = 1;
            err = iocs_scanner_unit(sc, &u, list->v[u.source], line0, ls,
                                    on_event, em, &nl);
            line0 += nl;
        }
        iocs_reader_release(r, s);
        if (err < 0) {
            if (err != -EPIPE)
                fprintf(stderr, "iocstream: %s: %s\n", list->v[source],
                        iocs_strerror(err));
            status = 2;
            break;
        }
    }
out:
    if (sc)
        iocs_scanner_stats(sc, st);
    iocs_scanner_free(sc);
    iocs_linestate_free(ls);
    return status;
}

/* Collect the oldest unit from the pool: write its events, release its
 * slab. Returns 1, 0 when none is in flight, or a negative errno. */
static int collect_one(struct iocs_workers *w, struct iocs_reader *r, int fd)
{
    struct iocs_slab *s = NULL;
    int rc = iocs_workers_collect(w, fd, &s);

    if (s)
        iocs_reader_release(r, s);
    return rc;
}

/* N threads: this one reads, frames, numbers lines and writes; the pool
 * scans. */
static int loop_pool(struct iocs_reader *r, struct iocs_framer *f,
                     const struct iocs_db *db, const struct iocs_scan_opts *o,
                     unsigned max_jobs, struct iocs_pathlist *list, int fd,
                     struct iocs_scan_stats *st)
{
    struct iocs_workers_opts wo = {.threads = o->threads,
                                   .max_jobs = max_jobs,
                                   .max_line = o->max_line,
                                   .format = o->format};
    struct iocs_workers *w = NULL;
    uint64_t line0 = 1;
    int status = 0, err;

    err = iocs_workers_new(&w, db, &wo);
    if (err) {
        fprintf(stderr, "iocstream: cannot start %u workers: %s\n", o->threads,
                iocs_strerror(err));
        return 2;
    }
    for (;;) {
        struct iocs_slab *s;
        struct iocs_unit u;

        if (iocs_workers_full(w)) {
            err = collect_one(w, r, fd);
            if (err < 0)
                break;
            continue;
        }
        err = iocs_reader_next(r, &s);
        if (err == 0)
            break;
        if (err == -EBUSY && iocs_workers_busy(w)) {
            err = collect_one(w, r, fd); /* every slab is in the pool */
            if (err < 0)
                break;
            continue;
        }
        if (err < 0) {
            fprintf(stderr, "iocstream: reader: %s\n", iocs_strerror(err));
            status = 2;
            break;
        }
        if (s->err < 0) {
            report_source_err(list, s);
            status = 2;
        }
        err = iocs_framer_frame(f, s, &u);
        if (err <= 0) {
            iocs_reader_release(r, s);
            if (err < 0)
                break;
            continue;
        }
        if (u.first)
            line0 = 1;
        err = iocs_workers_submit(w, s, &u, list->v[u.source], line0);
        if (err < 0) {
            iocs_reader_release(r, s);
            break;
        }
        line0 += iocs_count_newlines(u.ptr + u.rescan, u.len - u.rescan);
    }
    /* Write out what is still in flight, even after an error. */
    for (int rc; (rc = collect_one(w, r, fd)) != 0;)
        if (rc < 0 && err >= 0)
            err = rc;
    if (err < 0) {
        if (err != -EPIPE)
            fprintf(stderr, "iocstream: %s\n", iocs_strerror(err));
        status = 2;
    }
    iocs_workers_stats(w, st);
    iocs_workers_free(w);
    return status;
}

/* Stream every source through the stages. Returns 0, or 2 when a source
 * failed (reported) or the output broke. */
static int run(const struct iocs_scan_opts *o, const struct iocs_db *db,
               struct iocs_pathlist *list, struct iocs_emitter *em, int fd,
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
        o->threads > 1 ? max_jobs + ro.depth : IOCS_READER_NSLABS_DEFAULT;
    if (ro.depth > ro.nslabs)
        ro.depth = ro.nslabs;
    ro.no_uring = o->no_uring;

    err = iocs_reader_new(&r, &ro, (const char *const *)list->v, list->len);
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
    if (o->threads > 1)
        status = loop_pool(r, f, db, o, max_jobs, list, fd, st);
    else
        status = loop_inline(r, f, db, o->max_line, list, em, st);
out:
    iocs_framer_free(f);
    iocs_reader_free(r);
    return status;
}

int iocs_pipeline_scan(const struct iocs_scan_opts *o)
{
    static const char *const stdin_path[] = {"-"};
    struct iocs_pathlist list = {0};
    struct iocs_scan_stats st = {0};
    struct iocs_iocset *set = NULL;
    struct iocs_emitter *em = NULL;
    struct iocs_db *db = NULL;
    struct timespec t0, t1;
    double load = 0;
    char errbuf[512];
    const char *const *paths = o->paths;
    size_t npaths = o->npaths, nerr = 0;
    bool uring = false;
    int status = 2, fd = -1, err;

    signal(SIGPIPE, SIG_IGN); /* a closed output is an EPIPE we report */
    clock_gettime(CLOCK_MONOTONIC, &t0);

    if (iocs_iocset_new(&set) < 0) {
        fprintf(stderr, "iocstream: out of memory\n");
        goto out;
    }
    if (load_iocs(o, set))
        goto out;
    err = iocs_db_compile(&db, set, errbuf, sizeof(errbuf));
    if (err) {
        fprintf(stderr, "iocstream: %s\n", errbuf);
        goto out;
    }
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
    fd = open_output(o->output);
    if (fd < 0)
        goto out;
    err = iocs_emitter_new(&em, fd, o->format, iocs_db_id(db));
    if (err) {
        fprintf(stderr, "iocstream: %s\n", iocs_strerror(err));
        goto out;
    }

    load = seconds_since(&t0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    status = run(o, db, &list, em, fd, &st, &uring);
    err = iocs_emitter_flush(em);
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
    iocs_emitter_free(em);
    if (fd >= 0 && fd != STDOUT_FILENO && close(fd) < 0 && status != 2) {
        fprintf(stderr, "iocstream: %s: %s\n", o->output, strerror(errno));
        status = 2;
    }
    iocs_pathlist_fini(&list);
    iocs_db_free(db);
    iocs_iocset_free(set);
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
