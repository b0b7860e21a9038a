/*
 * cmd_scan.c - `iocstream scan`: get the database (cache, --db or
 * compiled), walk the PATH arguments into sources, open the sink, run the
 * stages (pipeline.h), then flush and report. The end of a scan waits at
 * most --drain-timeout for the destination's acks, then says how many
 * events it did not acknowledge (exit 2).
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

/* The first line of path, without its line end, into key[0..cap).
 * Returns 0, or reports why not and returns -1. */
static int read_key_file(const char *path, char *key, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f) {
        fprintf(stderr, "iocstream: --forward-shared-key-file: %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    if (!fgets(key, (int)cap, f))
        key[0] = '\0';
    fclose(f);
    n = strcspn(key, "\r\n");
    key[n] = '\0';
    if (n == 0 || n == cap - 1) {
        fprintf(stderr, "iocstream: --forward-shared-key-file: %s: %s\n", path,
                n ? "the key is too long" : "no key on its first line");
        return -1;
    }
    return 0;
}

/* The output: the sink for the destination of o (sink.h), with the
 * network options, or -q/-l/-c's. Reports a failure; NULL then. */
static struct iocs_sink *open_output(const struct iocs_scan_opts *o,
                                     const struct iocs_sourcelist *list,
                                     const char *const *paths, size_t npaths)
{
    struct iocs_sink_opts so = {.format = o->format,
                                .tag = o->tag,
                                .tls_ca = o->tls_ca,
                                .tls_cert = o->tls_cert,
                                .tls_key = o->tls_key,
                                .shared_key = o->shared_key,
                                .compress = o->compress,
                                .nats_creds = o->nats_creds,
                                .ack_timeout_ms = o->ack_timeout_ms,
                                .drain_timeout_ms = o->drain_timeout_ms};
    struct iocs_sink *sink = NULL;
    char errbuf[512], key[1024];
    int err;

    if (o->shared_key_file) {
        if (read_key_file(o->shared_key_file, key, sizeof(key)))
            return NULL;
        so.shared_key = key; /* the sink keeps its own copy */
    }
    errbuf[0] = '\0';
    if (o->report != IOCS_REPORT_EVENTS)
        err = iocs__sink_count_open(&sink, o->report, list,
                                    count_names(list, paths, npaths), stdout);
    else
        err = iocs_sink_open(&sink, o->output, &so, errbuf, sizeof(errbuf));
    explicit_bzero(key, sizeof(key));
    if (err) {
        fprintf(stderr, "iocstream: %s\n",
                errbuf[0] ? errbuf : iocs_strerror(err));
        return NULL;
    }
    return sink;
}

/* A pipe on stdin has no identity: its events' ids come from the offset
 * and the IOC only (eventid.h). Say so where duplicates are dropped. */
static void warn_stdin_ids(const struct iocs_sourcelist *list,
                           const struct iocs_sink *sink)
{
    struct stat st;

    if (strcmp(sink->ops->name, "nats") != 0)
        return;
    if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode))
        return;
    for (size_t i = 0; i < list->len; i++) {
        if (strcmp(list->v[i].path, "-") == 0) {
            fputs("iocstream: warning: events read from a pipe get ids "
                  "from their offset and IOC only: JetStream drops an "
                  "event of another stream with the same id within its "
                  "duplicate window (scan files to keep ids apart)\n",
                  stderr);
            return;
        }
    }
}

/* The end of the scan: wait up to the drain timeout for every event to be
 * acknowledged. Returns 0, -EPIPE (the reader of stdout went away: no
 * message, the caller exits as if killed by SIGPIPE), or another negative
 * errno after saying what is missing. */
static int drain(const struct iocs_scan_opts *o, struct iocs_sink *sink)
{
    int ms = o->drain_timeout_ms > 0 ? o->drain_timeout_ms
                                     : IOCS_DRAIN_TIMEOUT_DEFAULT_MS;
    const char *dest = o->output ? o->output : "stdout";
    const char *why;
    int err = iocs_sink_flush(sink, ms);

    if (err == 0 || err == -EPIPE)
        return err;
    why = iocs_sink_error(sink);
    if (err == -ETIMEDOUT) {
        const struct iocs_sink_stats *st = &sink->stats;

        fprintf(stderr,
                "iocstream: %s: %llu of %llu events not acknowledged "
                "after %.1f s (--drain-timeout)%s%s\n",
                dest, (unsigned long long)(st->events_sent - st->events_acked),
                (unsigned long long)st->events_sent, ms / 1000.0,
                why && *why ? ": " : "", why && *why ? why : "");
    } else {
        fprintf(stderr, "iocstream: %s: %s\n", dest,
                why && *why ? why : iocs_strerror(err));
    }
    return err;
}

static void print_sink_stats(const struct iocs_sink *sink)
{
    const struct iocs_sink_stats *st = &sink->stats;

    fprintf(stderr,
            "iocstream: output (%s): %llu events sent, %llu acknowledged, "
            "%llu resent, %llu bytes; %.3f s waiting for the destination\n",
            sink->ops->name, (unsigned long long)st->events_sent,
            (unsigned long long)st->events_acked,
            (unsigned long long)st->events_resent,
            (unsigned long long)st->bytes_sent, st->wait_seconds);
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
    warn_stdin_ids(&list, sink);

    load = seconds_since(&t0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    status = iocs_pipeline_run(o, db, allow, &list, sink, &st, &uring);
    if (o->report != IOCS_REPORT_EVENTS) {
        err = iocs__sink_count_done(sink);
        if (err && err != -EPIPE)
            fprintf(stderr, "iocstream: stdout: %s\n", iocs_strerror(err));
    } else {
        err = drain(o, sink);
    }
    if (err == -EPIPE && status < IOCS_EXIT_SIGNAL)
        status = IOCS_EXIT_SIGNAL + SIGPIPE; /* as if killed by it */
    else if (err && status < IOCS_EXIT_SIGNAL)
        status = 2;
    if (o->stats) {
        print_stats(&st, load, seconds_since(&t1), o->threads, uring, db);
        print_sink_stats(sink);
    }
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
