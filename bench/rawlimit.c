/*
 * rawlimit.c - the raw Hyperscan ceiling that `iocstream scan` is measured
 * against: the same bytes, in memory, through one hs_scan per 1 MiB chunk
 * with the same compiled database, and nothing else.
 *
 *   rawlimit [-i IOCS]... [--strings FILE]... [--db FILE] [--reps N]
 *            [--threads N] [--chunk N] PATH...
 *
 * The IOC feeds (and --strings files of text IOCs, as `scan --strings`)
 * go through the scanner's own code path (iocs_feed_load_file
 * and iocs_db_compile_mode, every IOC in Hyperscan whatever the set's size:
 * the limit is Hyperscan's; no -i: the built-in pack), or --db loads a
 * database file made by `iocstream compile --tokens off` (a large set
 * compiles for minutes), the PATHs are walked as
 * `iocstream scan` walks them (pipeline/walk.h), and every file is read
 * whole into memory before any timing. Each file is cut into chunks of
 * --chunk bytes (default 1 MiB; the last chunk of a file is shorter, and a
 * chunk never spans two files; chunks are not cut at line ends, which only
 * a pipeline needs). One repetition scans every chunk once with a callback
 * that only counts; the median of --reps repetitions (default 5) is
 * reported. With --threads N, N threads each own a scratch and take chunks
 * from a shared counter: the multi-core ceiling.
 *
 * Prints one line per repetition and a summary to stdout, the last line
 * as key=value pairs for scripts:
 *   rawlimit bytes=B chunks=C threads=T reps=R seconds=S gbps=G matches=M
 * GB/s is 1e9 bytes per second. Exit 0, or 2 on an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "matchers/builtin.h"
#include "matchers/db.h"
#include "matchers/dbcache.h"
#include "matchers/feed.h"
#include "matchers/ioc.h"
#include "pipeline/walk.h"

struct chunk {
    const unsigned char *p;
    size_t len;
};

struct corpus {
    unsigned char *buf; /* every file, back to back */
    size_t len;
    struct chunk *v;
    size_t n;
};

struct job {
    const struct iocs_db *db;
    const struct corpus *c;
    struct hs_scratch *scratch;
    atomic_size_t *next; /* shared chunk counter */
    pthread_barrier_t *go;
    uint64_t matches;
    int err;
};

static void usage(void)
{
    fprintf(stderr, "usage: rawlimit [-i IOCS]... [--strings FILE]... "
                    "[--db FILE] [--reps N] "
                    "[--threads N] [--chunk BYTES] PATH...\n");
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The only work done per match: count it. */
static int on_match(unsigned int id, unsigned long long from,
                    unsigned long long to, unsigned int flags, void *ctx)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    (*(uint64_t *)ctx)++;
    return 0;
}

static void on_reject(void *ctx, const char *file, size_t line, const char *why)
{
    size_t *n = ctx;

    if ((*n)++ < 5)
        fprintf(stderr, "rawlimit: %s:%zu: %s\n", file, line, why);
}

static void on_walk_err(void *ctx, const char *path, int err)
{
    (void)ctx;
    fprintf(stderr, "rawlimit: %s: %s\n", path, strerror(-err));
}

/* Read every file of list into c->buf and cut it into chunks. */
static int load_corpus(struct corpus *c, const struct iocs_sourcelist *list,
                       size_t chunk)
{
    size_t total = 0, nchunks = 0, pos = 0;
    struct stat st;

    for (size_t i = 0; i < list->len; i++) {
        if (stat(list->v[i].path, &st) < 0) {
            fprintf(stderr, "rawlimit: %s: %s\n", list->v[i].path,
                    strerror(errno));
            return -errno;
        }
        total += (size_t)st.st_size;
        nchunks += ((size_t)st.st_size + chunk - 1) / chunk;
    }
    c->buf = malloc(total ? total : 1);
    c->v = calloc(nchunks ? nchunks : 1, sizeof(*c->v));
    if (!c->buf || !c->v)
        return -ENOMEM;
    for (size_t i = 0; i < list->len; i++) {
        size_t start = pos;
        int fd = open(list->v[i].path, O_RDONLY);

        if (fd < 0) {
            fprintf(stderr, "rawlimit: %s: %s\n", list->v[i].path,
                    strerror(errno));
            return -errno;
        }
        for (;;) {
            ssize_t got;

            if (pos == total)
                break; /* the file grew since stat: keep what we sized */
            got = read(fd, c->buf + pos, total - pos);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                int err = -errno;

                fprintf(stderr, "rawlimit: %s: %s\n", list->v[i].path,
                        strerror(errno));
                close(fd);
                return err;
            }
            if (got == 0)
                break;
            pos += (size_t)got;
        }
        close(fd);
        for (size_t off = start; off < pos; off += chunk) {
            size_t n = pos - off < chunk ? pos - off : chunk;

            c->v[c->n++] = (struct chunk){c->buf + off, n};
        }
    }
    c->len = pos;
    return 0;
}

static void *scan_thread(void *arg)
{
    struct job *j = arg;

    pthread_barrier_wait(j->go);
    for (;;) {
        size_t i = atomic_fetch_add_explicit(j->next, 1, memory_order_relaxed);
        int rc;

        if (i >= j->c->n)
            break;
        rc = iocs_db_scan(j->db, j->scratch, j->c->v[i].p, j->c->v[i].len,
                          on_match, &j->matches);
        if (rc < 0) {
            j->err = rc;
            break;
        }
    }
    return NULL;
}

/* One repetition over every chunk with nthreads threads; the time from the
 * moment all threads are released until the last one is done. */
static int run_rep(const struct iocs_db *db, const struct corpus *c,
                   struct hs_scratch **scratch, unsigned nthreads, double *secs,
                   uint64_t *matches)
{
    pthread_t tid[256];
    struct job jobs[256];
    pthread_barrier_t go;
    atomic_size_t next = 0;
    double t0, t1;
    int err = 0;

    if (nthreads == 1) {
        uint64_t m = 0;

        t0 = now();
        for (size_t i = 0; i < c->n; i++) {
            int rc = iocs_db_scan(db, scratch[0], c->v[i].p, c->v[i].len,
                                  on_match, &m);
            if (rc < 0)
                return rc;
        }
        t1 = now();
        *secs = t1 - t0;
        *matches = m;
        return 0;
    }
    pthread_barrier_init(&go, NULL, nthreads + 1);
    for (unsigned t = 0; t < nthreads; t++) {
        jobs[t] = (struct job){
            .db = db, .c = c, .scratch = scratch[t], .next = &next, .go = &go};
        if (pthread_create(&tid[t], NULL, scan_thread, &jobs[t]) != 0) {
            /* Threads already made wait on the barrier forever: give up. */
            fprintf(stderr, "rawlimit: cannot start thread %u\n", t);
            exit(2);
        }
    }
    t0 = now();
    pthread_barrier_wait(&go);
    *matches = 0;
    for (unsigned t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
        *matches += jobs[t].matches;
        if (jobs[t].err)
            err = jobs[t].err;
    }
    t1 = now();
    pthread_barrier_destroy(&go);
    *secs = t1 - t0;
    return err;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);

    if (*end == 'K' || *end == 'k')
        v <<= 10;
    else if (*end == 'M' || *end == 'm')
        v <<= 20;
    else if (*end == 'G' || *end == 'g')
        v <<= 30;
    return (size_t)v;
}

int main(int argc, char **argv)
{
    struct iocs_sourcelist list = {0};
    struct iocs_feed_report rep = {0};
    struct iocs_iocset *set = NULL;
    struct iocs_db *db = NULL;
    struct hs_scratch *scratch[256] = {0};
    struct corpus c = {0};
    double secs[64], t0, best;
    uint64_t matches = 0;
    unsigned reps = 5, nthreads = 1;
    size_t chunk = 1u << 20, nfeeds = 0, rejected = 0;
    const char *dbfile = NULL;
    char errbuf[512];
    int err, status = 2;

    if (iocs_iocset_new(&set) < 0)
        return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        bool text = !strcmp(a, "--strings");

        if ((text || !strcmp(a, "-i") || !strcmp(a, "--iocs")) &&
            i + 1 < argc) {
            struct iocs_feed_opts fo = {.strings = text};

            err = iocs_feed_load_file_opts(set, argv[++i], &fo, on_reject,
                                           &rejected, &rep);
            if (err < 0) {
                fprintf(stderr, "rawlimit: %s: %s\n", argv[i], strerror(-err));
                goto out;
            }
            nfeeds++;
        } else if (!strcmp(a, "--db") && i + 1 < argc) {
            dbfile = argv[++i];
        } else if (!strcmp(a, "--reps") && i + 1 < argc) {
            reps = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if ((!strcmp(a, "--threads") || !strcmp(a, "-j")) &&
                   i + 1 < argc) {
            nthreads = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--chunk") && i + 1 < argc) {
            chunk = parse_size(argv[++i]);
        } else if (a[0] == '-' && a[1]) {
            usage();
            goto out;
        } else {
            err = iocs_walk_add(&list, a, false, on_walk_err, NULL, NULL);
            if (err < 0)
                goto out;
        }
    }
    if (list.len == 0 || reps < 1 || reps > 64 || nthreads < 1 ||
        nthreads > 256 || chunk < 1 || chunk > UINT32_MAX) {
        usage();
        goto out;
    }
    if (nfeeds == 0 && !dbfile &&
        iocs_builtin_load(set, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "rawlimit: built-in pack: %s\n", errbuf);
        goto out;
    }
    /* As `iocstream scan` without --strict: a line that is no indicator
     * (or is malformed) is reported and skipped, the rest is scanned. */
    if (rejected)
        fprintf(stderr, "rawlimit: %zu IOC lines rejected or skipped\n",
                rejected);

    t0 = now();
    if (dbfile) {
        err = iocs_dbfile_read(&db, dbfile, 0, errbuf, sizeof(errbuf));
        if (err == 0 && iocs_db_tokens(db)) {
            snprintf(errbuf, sizeof(errbuf), "made with --tokens on");
            err = -EINVAL;
        }
    } else {
        err = iocs_db_compile_mode(&db, set, IOCS_DB_TOKENS_OFF, errbuf,
                                   sizeof(errbuf));
    }
    if (err < 0) {
        fprintf(stderr, "rawlimit: %s: %s\n", dbfile ? dbfile : "compile",
                errbuf);
        goto out;
    }
    printf("iocs=%zu patterns=%zu db_bytes=%zu compile_s=%.3f\n",
           iocs_iocset_count(iocs_db_set(db)), iocs_db_patterns(db),
           iocs_db_size(db), now() - t0);
    for (unsigned t = 0; t < nthreads; t++) {
        if (iocs_db_scratch_new(db, &scratch[t]) < 0) {
            fprintf(stderr, "rawlimit: out of memory for scratch\n");
            goto out;
        }
    }

    t0 = now();
    err = load_corpus(&c, &list, chunk);
    if (err < 0)
        goto out;
    printf("files=%zu bytes=%zu chunks=%zu load_s=%.3f\n", list.len, c.len, c.n,
           now() - t0);

    /* One untimed pass: faults the buffer in, warms the caches. */
    err = run_rep(db, &c, scratch, nthreads, &best, &matches);
    for (unsigned r = 0; r < reps && err == 0; r++) {
        err = run_rep(db, &c, scratch, nthreads, &secs[r], &matches);
        if (err == 0)
            printf("rep %u: %.3f s %.3f GB/s matches=%llu\n", r + 1, secs[r],
                   (double)c.len / secs[r] / 1e9, (unsigned long long)matches);
    }
    if (err < 0) {
        fprintf(stderr, "rawlimit: hs_scan failed: %s\n", strerror(-err));
        goto out;
    }
    qsort(secs, reps, sizeof(secs[0]), cmp_double);
    best =
        reps % 2 ? secs[reps / 2] : (secs[reps / 2 - 1] + secs[reps / 2]) / 2;
    printf("rawlimit bytes=%zu chunks=%zu threads=%u reps=%u seconds=%.4f "
           "gbps=%.4f matches=%llu\n",
           c.len, c.n, nthreads, reps, best, (double)c.len / best / 1e9,
           (unsigned long long)matches);
    status = 0;

out:
    for (unsigned t = 0; t < 256; t++)
        iocs_db_scratch_free(scratch[t]);
    iocs_db_free(db);
    iocs_iocset_free(set);
    iocs_sourcelist_fini(&list);
    free(c.buf);
    free(c.v);
    return status;
}
