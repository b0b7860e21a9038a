/*
 * cmd_scan.c - `iocstream scan`: get the database (cache, --db or
 * compiled), walk the PATH arguments into sources, open the sink, run the
 * stages (pipeline.h), then flush and report.
 */
#include "pipeline/cmd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/pipeline.h"
#include "pipeline/scanner.h"
#include "pipeline/sink.h"
#include "pipeline/status.h"
#include "pipeline/walk.h"

/*
 * The sources, walked before anything is opened for writing (the cache,
 * the output). The output file, when it exists, is never read: a file
 * argument that is it (by device and inode, so also through a link) is
 * refused, as opening the output would truncate it; a directory walk
 * skips it. Unwalkable paths are reported once, by the reader, in order.
 * Returns 0, or 2 after reporting what went wrong.
 */
static int walk_sources(const struct iocs_scan_opts *o,
                        const char *const *paths, size_t npaths,
                        struct iocs_sourcelist *list, size_t *nerr)
{
    struct iocs_walk_skip out = {0};
    struct stat st;
    size_t nskip = 0;

    if (o->output && strcmp(o->output, "-") != 0 && !strstr(o->output, "://") &&
        stat(o->output, &st) == 0 && S_ISREG(st.st_mode)) {
        out = (struct iocs_walk_skip){(uint64_t)st.st_dev, (uint64_t)st.st_ino};
        nskip = 1;
    }
    for (size_t i = 0; i < npaths; i++) {
        if (nskip && strcmp(paths[i], "-") != 0 && stat(paths[i], &st) == 0 &&
            (uint64_t)st.st_dev == out.dev && (uint64_t)st.st_ino == out.ino) {
            fprintf(stderr,
                    "iocstream: %s: the output is also an input (%s); "
                    "refusing to overwrite it\n",
                    o->output, paths[i]);
            return 2;
        }
        if (iocs_walk_add_except(list, paths[i], o->follow_symlinks, NULL, NULL,
                                 nerr, &out, nskip) < 0) {
            fprintf(stderr, "iocstream: out of memory\n");
            return 2;
        }
    }
    return 0;
}

/* The output: the sink for dest (sink.h). Reports a failure; NULL then. */

static void on_signal(int sig)
{
    iocs_pipeline_interrupt(sig);
}

/* SIGINT, SIGTERM: the scan stops and writes what it found. No
 * SA_RESTART: a wait for input returns, and the loop sees the flag. */
static void catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* -c names each input unless there is one, a file or stdin (as grep). */
static bool count_names(const struct iocs_sourcelist *list,
                        const char *const *paths, size_t npaths)
{
    struct stat st;

    if (list->len != 1 || npaths != 1)
        return true;
    return strcmp(paths[0], "-") != 0 && stat(paths[0], &st) == 0 &&
           S_ISDIR(st.st_mode);
}

/* The output: the sink for dest (sink.h), or -q/-l/-c's. Reports a
 * failure; NULL then. */
static struct iocs_sink *open_output(const struct iocs_scan_opts *o,
                                     const struct iocs_sourcelist *list,
                                     const char *const *paths, size_t npaths)
{
    struct iocs_sink_opts so = {.format = o->format};
    struct iocs_sink *sink = NULL;
    char errbuf[512] = "";
    int err;

    if (o->report != IOCS_REPORT_EVENTS)
        err = iocs__sink_count_open(&sink, o->report, list,
                                    count_names(list, paths, npaths), stdout);
    else
        err = iocs_sink_open(&sink, o->output, &so, errbuf, sizeof(errbuf));

    if (err) {
        fprintf(stderr, "iocstream: %s\n",
                errbuf[0] ? errbuf : iocs_strerror(err));
        return NULL;
    }
    return sink;
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

int iocs_cmd_scan(const struct iocs_scan_opts *o)
{
    static const char *const stdin_path[] = {"-"};
    struct iocs_sourcelist list = {0};
    struct iocs_scan_stats st = {0};
    struct iocs_dbcache_result cres;
    struct iocs_allow *allow = NULL;
    struct iocs_sink *sink = NULL;
    struct iocs_db *db = NULL;
    struct timespec t0, t1;
    double load = 0;
    const char *const *paths = o->paths;
    size_t npaths = o->npaths, nerr = 0;
    bool uring = false;
    int status = 2, err;

    signal(SIGPIPE, SIG_IGN); /* a closed output: EPIPE, then 128+SIGPIPE */
    catch_signals();
    clock_gettime(CLOCK_MONOTONIC, &t0);

    if (npaths == 0) {
        paths = stdin_path;
        npaths = 1;
    }
    if (walk_sources(o, paths, npaths, &list, &nerr))
        goto out;
    if (iocs__cmd_get_db(o, &db, &cres))
        goto out;
    if (iocs__cmd_load_allow(o, &allow))
        goto out;
    if (o->stats)
        iocs__cmd_print_cache(o, &cres, seconds_since(&t0));
    sink = open_output(o, &list, paths, npaths);
    if (!sink)
        goto out;

    load = seconds_since(&t0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    status = iocs_pipeline_run(o, db, allow, &list, sink, &st, &uring);
    err = o->report != IOCS_REPORT_EVENTS ? iocs__sink_count_done(sink)
                                          : iocs_sink_flush(sink, -1);
    if (err && err != -EPIPE) {
        fprintf(stderr, "iocstream: %s: %s\n", o->output ? o->output : "stdout",
                iocs_strerror(err));
    }
    if (err == -EPIPE && status < IOCS_EXIT_SIGNAL)
        status = IOCS_EXIT_SIGNAL + SIGPIPE; /* as if killed by it */
    else if (err && status < IOCS_EXIT_SIGNAL)
        status = 2;
    if (o->stats)
        print_stats(&st, load, seconds_since(&t1), o->threads, uring, db);
    if (status == 0 && nerr)
        status = 2; /* walk errors were reported; the reader saw them too */
    if (o->report == IOCS_REPORT_QUIET && st.events &&
        status != IOCS_EXIT_SIGNAL + SIGINT &&
        status != IOCS_EXIT_SIGNAL + SIGTERM)
        status = IOCS_EXIT_HIT; /* -q: a hit wins over an error */
    else if (status == 0)
        status = st.events ? IOCS_EXIT_HIT : IOCS_EXIT_NOHIT;

out:
    iocs_sink_close(sink);
    iocs_sourcelist_fini(&list);
    iocs_allow_free(allow);
    iocs_db_free(db);
    return status;
}
