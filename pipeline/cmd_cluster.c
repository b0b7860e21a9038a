/*
 * cmd_cluster.c - `iocstream cluster submit|worker|status`: one scan spread
 * over many processes and hosts through NATS JetStream (DESIGN.md,
 * "Scale-out"). The planning and the records are cluster.h's; this file is
 * the NATS side and the printing.
 *
 * What lives in the server (each created when missing, by whoever comes
 * first):
 *   KV IOCSTREAM_DB      ID.manifest, ID.0, ID.1, ...: database files
 *                        (dbcache.h's format) by database id, in chunks of
 *                        IOCS_CLUSTER_CHUNK bytes; the manifest is written
 *                        last, so a manifest means every chunk is there
 *   KV IOCSTREAM_JOBS    JOB: the job's metadata; JOB.allow.N: its
 *                        allowlist files, verbatim
 *   KV IOCSTREAM_STATUS  JOB.UNIT: running, done or failed (with events,
 *                        bytes, worker, error); no key: pending
 *   stream IOCSTREAM_WORK   iocstream.work.JOB, retention WorkQueue: one
 *                        message per unit (Nats-Msg-Id JOB.UNIT); consumed
 *                        by the durable pull consumer "iocstream-worker"
 *   stream IOCSTREAM_EVENTS iocstream.events.JOB: one message per event,
 *                        Nats-Msg-Id = event.id, duplicate window
 *                        IOCS_CLUSTER_DUP_WINDOW
 *
 * A worker takes one unit at a time and scans it with -j threads; it acks a
 * unit after the sink's flush (every event of it publish-acked), and sends
 * "in progress" every AckWait/3 from a timer thread while it scans. A
 * worker that dies leaves its unit unacked: JetStream delivers it again
 * after AckWait and the events it sent again carry the same ids, so the
 * events stream keeps one copy of each. A unit delivered more than
 * IOCS_CLUSTER_MAX_DELIVER times is recorded as failed, not retried.
 */
#include "pipeline/cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/cluster.h"
#include "pipeline/linetime.h"
#include "pipeline/scanner.h"
#include "pipeline/sink.h"
#include "pipeline/source.h"
#include "pipeline/status.h"
#include "pipeline/walk.h"

#define BUCKET_DB "IOCSTREAM_DB"
#define BUCKET_JOBS "IOCSTREAM_JOBS"
#define BUCKET_STATUS "IOCSTREAM_STATUS"
#define STREAM_WORK "IOCSTREAM_WORK"
#define STREAM_EVENTS "IOCSTREAM_EVENTS"
#define SUBJ_WORK "iocstream.work"
#define SUBJ_EVENTS "iocstream.events"
#define DURABLE "iocstream-worker"
#define IOCS_CLUSTER_DUP_WINDOW_S                                              \
    1800 /* the events stream's Nats-Msg-Id                                    \
            window: longer than any unit's                                     \
            AckWait plus its scan */
#define IOCS_CLUSTER_MAX_DELIVER 5

/* Say why into why[0..len): cut short when it does not fit. */
__attribute__((format(printf, 3, 4))) static void set_why(char *why, size_t len,
                                                          const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* --- NATS plumbing ----------------------------------------------------- */

struct conn {
    natsConnection *nc;
    jsCtx *js;
    kvStore *db, *jobs, *status;
    const char *url;
};

static void say_nats(const char *what, natsStatus s, jsErrCode je)
{
    const char *last = nats_GetLastError(NULL);

    if (je == JSNotEnabledErr || s == NATS_NO_RESPONDERS) {
        fprintf(stderr,
                "iocstream: cluster: %s: JetStream is not enabled on the "
                "server (start nats-server with -js)\n",
                what);
        return;
    }
    fprintf(stderr, "iocstream: cluster: %s: %s%s%s\n", what,
            natsStatus_GetText(s), last && *last ? ": " : "", last ? last : "");
}

static void conn_close(struct conn *c)
{
    kvStore_Destroy(c->db);
    kvStore_Destroy(c->jobs);
    kvStore_Destroy(c->status);
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
    memset(c, 0, sizeof(*c));
}

static int ensure_stream(struct conn *c, const char *name, const char *subj,
                         jsRetentionPolicy ret, int64_t dup_ns)
{
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    jsErrCode je = 0;
    const char *subjects[1] = {subj};
    natsStatus s = js_GetStreamInfo(&si, c->js, name, NULL, &je);

    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return 0;
    }
    if (s != NATS_NOT_FOUND) {
        say_nats(name, s, je);
        return -EIO;
    }
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Retention = ret;
    cfg.Storage = js_FileStorage;
    cfg.Duplicates = dup_ns;
    s = js_AddStream(&si, c->js, &cfg, NULL, &je);
    if (s == NATS_OK || je == JSStreamNameExistErr) {
        jsStreamInfo_Destroy(si);
        return 0; /* another process made it meanwhile */
    }
    say_nats(name, s, je);
    return -EIO;
}

static int ensure_kv(struct conn *c, kvStore **out, const char *bucket)
{
    kvConfig cfg;
    natsStatus s = js_KeyValue(out, c->js, bucket);

    if (s == NATS_OK)
        return 0;
    if (s != NATS_NOT_FOUND) {
        say_nats(bucket, s, 0);
        return -EIO;
    }
    kvConfig_Init(&cfg);
    cfg.Bucket = bucket;
    cfg.History = 1;
    cfg.StorageType = js_FileStorage;
    s = js_CreateKeyValue(out, c->js, &cfg);
    if (s != NATS_OK)
        s = js_KeyValue(out, c->js, bucket); /* made by another meanwhile */
    if (s != NATS_OK) {
        say_nats(bucket, s, 0);
        return -EIO;
    }
    return 0;
}

/* Connect to url; with create, make the streams and buckets that are
 * missing, else bind those that exist (status: a missing one is -ENOENT).
 * Reports failures. */
static int conn_open(struct conn *c, const char *url, bool create)
{
    natsOptions *no = NULL;
    natsStatus s;
    int err = 0;

    memset(c, 0, sizeof(*c));
    c->url = url;
    s = natsOptions_Create(&no);
    if (s == NATS_OK)
        s = natsOptions_SetURL(no, url);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(no, 5000);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(no, -1); /* ride out restarts */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(no, 250);
    if (s == NATS_OK)
        s = natsConnection_Connect(&c->nc, no);
    natsOptions_Destroy(no);
    if (s != NATS_OK) {
        fprintf(stderr, "iocstream: cluster: cannot connect to %s: %s\n", url,
                s == NATS_NO_SERVER ? "no NATS server answers there"
                                    : natsStatus_GetText(s));
        return s == NATS_NO_SERVER ? -ECONNREFUSED : -EIO;
    }
    s = natsConnection_JetStream(&c->js, c->nc, NULL);
    if (s != NATS_OK) {
        say_nats("JetStream", s, 0);
        return -EIO;
    }
    if (create) {
        err = ensure_stream(c, STREAM_WORK, SUBJ_WORK ".>", js_WorkQueuePolicy,
                            0);
        if (!err)
            err = ensure_stream(
                c, STREAM_EVENTS, SUBJ_EVENTS ".>", js_LimitsPolicy,
                (int64_t)IOCS_CLUSTER_DUP_WINDOW_S * 1000000000);
        if (!err)
            err = ensure_kv(c, &c->db, BUCKET_DB);
        if (!err)
            err = ensure_kv(c, &c->jobs, BUCKET_JOBS);
        if (!err)
            err = ensure_kv(c, &c->status, BUCKET_STATUS);
        return err;
    }
    s = js_KeyValue(&c->jobs, c->js, BUCKET_JOBS);
    if (s == NATS_OK)
        s = js_KeyValue(&c->status, c->js, BUCKET_STATUS);
    if (s == NATS_NOT_FOUND)
        return -ENOENT;
    if (s != NATS_OK) {
        say_nats("status", s, 0);
        return -EIO;
    }
    return 0;
}

/* Get key's value from kv into a malloc'ed buffer. Returns 0, -ENOENT, or
 * -EIO (reported). */
static int kv_get(kvStore *kv, const char *key, unsigned char **out,
                  size_t *len)
{
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, kv, key);
    int n;

    if (s == NATS_NOT_FOUND)
        return -ENOENT;
    if (s != NATS_OK) {
        say_nats(key, s, 0);
        return -EIO;
    }
    n = kvEntry_ValueLen(e);
    *out = malloc((size_t)n + 1);
    if (!*out) {
        kvEntry_Destroy(e);
        return -ENOMEM;
    }
    if (n > 0)
        memcpy(*out, kvEntry_Value(e), (size_t)n);
    (*out)[n] = 0;
    *len = (size_t)n;
    kvEntry_Destroy(e);
    return 0;
}

static int kv_put(kvStore *kv, const char *key, const void *p, size_t n)
{
    natsStatus s = kvStore_Put(NULL, kv, key, p, (int)n);

    if (s != NATS_OK) {
        say_nats(key, s, 0);
        return -EIO;
    }
    return 0;
}

static int read_file(const char *path, size_t max, unsigned char **out,
                     size_t *len)
{
    struct stat st;
    unsigned char *buf;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > max) {
        int err = (uint64_t)st.st_size > max ? -EFBIG : -errno;

        close(fd);
        return err;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

        if (r <= 0) {
            int err = r < 0 ? -errno : -EIO;

            free(buf);
            close(fd);
            return err;
        }
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    *len = got;
    return 0;
}

static int write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const unsigned char *b = p;

    if (fd < 0)
        return -errno;
    while (n) {
        ssize_t w = write(fd, b, n);

        if (w < 0) {
            int err = -errno;

            close(fd);
            return err;
        }
        b += w;
        n -= (size_t)w;
    }
    return close(fd) < 0 ? -errno : 0;
}

/* A scratch directory for temporary files. */
static const char *tmpdir(void)
{
    const char *t = getenv("TMPDIR");

    return t && *t ? t : "/tmp";
}

/* --- submit ------------------------------------------------------------ */

/* Store db under its id unless the manifest says it is there. */
static int store_db(struct conn *c, const struct iocs_db *db)
{
    const char *id = iocs_db_id(db);
    struct iocs_cluster_manifest m = {0};
    char key[64], tmp[PATH_MAX], rec[256], errbuf[256];
    unsigned char *buf = NULL, *old = NULL;
    size_t len = 0, oldlen;
    int err, fd, n;

    snprintf(key, sizeof(key), "%s.manifest", id);
    err = kv_get(c->db, key, &old, &oldlen);
    free(old);
    if (err != -ENOENT)
        return err; /* 0: stored by an earlier job */
    snprintf(tmp, sizeof(tmp), "%s/iocstream-db-XXXXXX", tmpdir());
    fd = mkstemp(tmp);
    if (fd < 0) {
        err = -errno;
        fprintf(stderr, "iocstream: cluster: %s: %s\n", tmp,
                iocs_strerror(err));
        return err;
    }
    close(fd);
    err = iocs_dbfile_write(db, tmp, errbuf, sizeof(errbuf));
    if (!err)
        err = read_file(tmp, (size_t)1 << 34, &buf, &len);
    unlink(tmp);
    if (err) {
        fprintf(stderr,
                "iocstream: cluster: cannot serialize the database: %s\n",
                iocs_strerror(err));
        free(buf);
        return err;
    }
    m.size = len;
    m.chunks = len ? (len + IOCS_CLUSTER_CHUNK - 1) / IOCS_CLUSTER_CHUNK : 1;
    m.sum = iocs_cluster_sum(IOCS_CLUSTER_SUM_INIT, buf, len);
    for (uint64_t i = 0; i < m.chunks && !err; i++) {
        size_t off = (size_t)i * IOCS_CLUSTER_CHUNK;
        size_t cn =
            len - off < IOCS_CLUSTER_CHUNK ? len - off : IOCS_CLUSTER_CHUNK;

        snprintf(key, sizeof(key), "%s.%" PRIu64, id, i);
        err = kv_put(c->db, key, buf + off, cn);
    }
    free(buf);
    n = iocs_cluster_manifest_format(&m, rec, sizeof(rec));
    if (!err && n < 0)
        err = n;
    snprintf(key, sizeof(key), "%s.manifest", id);
    if (!err)
        err = kv_put(c->db, key, rec, (size_t)n);
    return err;
}

/* A planned file of a unit (its path stays in the source list). */
struct plan_file {
    uint32_t src;
    enum iocs_codec codec;
    uint64_t size;
};

/* A planned unit: files[first, first + count), and a range when count 1. */
struct plan_unit {
    size_t first;
    uint32_t count;
    uint64_t start, end, line;
};

struct plan {
    struct plan_unit *v;
    size_t len, cap;
    struct plan_file *files;
    size_t nfiles, fcap;
    uint64_t bytes;
    uint64_t unit_size;
    /* The group of small files being filled: its bytes, and a scratch
     * unit that says whether one more path fits in a record. */
    bool open;
    uint64_t open_bytes;
    struct iocs_cluster_unit *scratch;
};

static int grow(void **v, size_t *cap, size_t len, size_t size)
{
    if (len == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        void *nv = realloc(*v, nc * size);

        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = nc;
    }
    return 0;
}

static int plan_push(struct plan *p, struct plan_unit u)
{
    if (grow((void **)&p->v, &p->cap, p->len, sizeof(*p->v)))
        return -ENOMEM;
    p->v[p->len++] = u;
    return 0;
}

static int plan_file(struct plan *p, struct plan_file f)
{
    if (grow((void **)&p->files, &p->fcap, p->nfiles, sizeof(*p->files)))
        return -ENOMEM;
    p->files[p->nfiles++] = f;
    return 0;
}

/* A whole file goes into the open group when it fits (bytes, files and
 * the record's room), else opens a new one. */
static int plan_whole(struct plan *p, const char *path, struct plan_file f)
{
    int err;

    if (p->open && p->open_bytes + f.size <= p->unit_size &&
        iocs_cluster_unit_add(p->scratch, path, f.codec, f.size) == 0) {
        p->v[p->len - 1].count++;
        p->open_bytes += f.size;
        return plan_file(p, f);
    }
    memset(p->scratch, 0, sizeof(*p->scratch));
    err = iocs_cluster_unit_add(p->scratch, path, f.codec, f.size);
    if (!err)
        err = plan_push(
            p, (struct plan_unit){.first = p->nfiles, .count = 1, .line = 1});
    if (!err)
        err = plan_file(p, f);
    p->open = !err && f.size < p->unit_size;
    p->open_bytes = f.size;
    return err;
}

/* Plan the units of source i. Reports a file that cannot be read. */
static int plan_source(struct plan *p, const struct iocs_sourcelist *l,
                       uint32_t i)
{
    const char *path = l->v[i].path;
    unsigned char magic[IOCS_CODEC_MAGIC_MAX];
    struct iocs_cluster_cut *cuts = NULL;
    struct plan_file f = {.src = i};
    struct stat st;
    size_t ncuts = 0;
    ssize_t got;
    int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

    if (fd < 0 || fstat(fd, &st) < 0) {
        err = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = -EINVAL; /* a pipe cannot be handed to another host */
        goto out;
    }
    got = pread(fd, magic, sizeof(magic), 0);
    if (got < 0) {
        err = -errno;
        goto out;
    }
    f.codec = iocs_codec_detect(magic, (size_t)got);
    f.size = (uint64_t)st.st_size;
    p->bytes += f.size;
    if (f.codec != IOCS_CODEC_PLAIN || f.size <= p->unit_size) {
        err = plan_whole(p, path, f);
        goto out;
    }
    /* A large plain file: ranges cut at line starts, one unit each. */
    err = iocs_cluster_plan(fd, f.size, p->unit_size, &cuts, &ncuts, NULL);
    p->open = false;
    for (size_t k = 0; k < ncuts && !err; k++) {
        err = plan_push(
            p, (struct plan_unit){.first = p->nfiles,
                                  .count = 1,
                                  .start = cuts[k].offset,
                                  .end = k + 1 < ncuts ? cuts[k + 1].offset : 0,
                                  .line = cuts[k].line});
        if (!err)
            err = plan_file(p, f);
    }
    free(cuts);
out:
    if (fd >= 0)
        close(fd);
    if (err)
        fprintf(stderr, "iocstream: cluster: %s: %s\n", path,
                err == -EINVAL   ? "not a regular file, or a path too long"
                : err == -ENOSPC ? "path too long"
                                 : iocs_strerror(err));
    return err;
}

static void on_walk_err(void *ctx, const char *path, int err)
{
    (void)ctx;
    fprintf(stderr, "iocstream: cluster: %s: %s\n", path, iocs_strerror(err));
}

/*
 * A job's --since or --until: parsed here (a zone-less time is in --tz,
 * UTC by default) and stored as RFC 3339 in UTC with nanoseconds, so every
 * worker reads the same instant whatever its own zone. "" when arg is
 * NULL. Returns 0, or -1 after saying what is wrong.
 */
static int window_arg(const char *name, const char *arg,
                      const struct iocs_linetime_zone *zone, char *out,
                      size_t cap)
{
    struct timespec ts;
    struct tm tm;

    out[0] = '\0';
    if (!arg)
        return 0;
    if (iocs_linetime_parse_arg(zone, arg, &ts) < 0 ||
        !gmtime_r(&ts.tv_sec, &tm)) {
        fprintf(stderr,
                "iocstream: cluster: %s: '%s' is not a date or an RFC 3339 "
                "time\n",
                name, arg);
        return -1;
    }
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (long)ts.tv_nsec);
    return 0;
}

/* The PATH arguments, walked; relative ones made absolute first, since a
 * worker elsewhere has another working directory. */
static int walk_paths(const char *const *paths, size_t n,
                      struct iocs_sourcelist *list, bool follow)
{
    char cwd[PATH_MAX], abs[2 * PATH_MAX + 2];
    size_t nerr = 0;

    if (!getcwd(cwd, sizeof(cwd)))
        return -errno;
    for (size_t i = 0; i < n; i++) {
        const char *p = paths[i];

        if (strcmp(p, "-") == 0) {
            fputs("iocstream: cluster: standard input cannot be submitted\n",
                  stderr);
            return -EINVAL;
        }
        if (p[0] != '/') {
            snprintf(abs, sizeof(abs), "%s/%s", cwd, p);
            p = abs;
        }
        if (iocs_walk_add(list, p, follow, on_walk_err, NULL, &nerr) < 0)
            return -ENOMEM;
    }
    return nerr ? -ENOENT : 0;
}

static int publish_units(struct conn *c, const struct iocs_cluster_opts *co,
                         const struct iocs_sourcelist *list,
                         const struct plan *p, const char *dbid)
{
    struct iocs_cluster_unit *u = calloc(1, sizeof(*u));
    char subj[128], *rec = malloc(IOCS_CLUSTER_REC_MAX + 1);
    jsPubOptions po;
    natsStatus s = NATS_OK;
    int err = 0;

    if (!u || !rec) {
        free(u);
        free(rec);
        return -ENOMEM;
    }
    snprintf(subj, sizeof(subj), SUBJ_WORK ".%s", co->job);
    snprintf(u->job, sizeof(u->job), "%s", co->job);
    snprintf(u->db, sizeof(u->db), "%s", dbid);
    for (size_t i = 0; i < p->len && !err; i++) {
        const struct plan_unit *pu = &p->v[i];
        char id[128];
        natsMsg *m = NULL;
        int n;

        u->unit = i;
        u->nfiles = 0;
        u->paths_len = 0;
        u->rec_len = 0;
        for (uint32_t k = 0; k < pu->count && !err; k++) {
            const struct plan_file *f = &p->files[pu->first + k];

            err = iocs_cluster_unit_add(u, list->v[f->src].path, f->codec,
                                        f->size);
        }
        u->start = pu->start;
        u->end = pu->end;
        u->line = pu->line;
        n = err ? err
                : iocs_cluster_unit_format(u, rec, IOCS_CLUSTER_REC_MAX + 1);
        if (n < 0) {
            fprintf(stderr, "iocstream: cluster: unit %zu: %s\n", i,
                    iocs_strerror(n));
            err = n;
            break;
        }
        snprintf(id, sizeof(id), "%s.%zu", co->job, i);
        s = natsMsg_Create(&m, subj, NULL, rec, n);
        if (s == NATS_OK)
            s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
        if (s == NATS_OK)
            s = js_PublishMsgAsync(c->js, &m, NULL);
        natsMsg_Destroy(m);
        if (s != NATS_OK) {
            say_nats("publish a unit", s, 0);
            err = -EIO;
        }
    }
    jsPubOptions_Init(&po);
    po.MaxWait = 30000;
    if (!err) {
        s = js_PublishAsyncComplete(c->js, &po);
        if (s != NATS_OK) {
            say_nats("units not acknowledged", s, 0);
            err = -EIO;
        }
    }
    free(u);
    free(rec);
    return err;
}

int iocs_cmd_cluster_submit(const struct iocs_scan_opts *o,
                            const struct iocs_cluster_opts *co)
{
    struct iocs_sourcelist list = {0};
    struct iocs_dbcache_result cres;
    struct iocs_cluster_job job = {0};
    struct iocs_db *db = NULL;
    struct plan plan = {0};
    struct conn c = {0};
    char rec[1024], key[256];
    unsigned char *old = NULL;
    size_t oldlen;
    int status = 2, err, n;

    if (!iocs_cluster_job_ok(co->job)) {
        fprintf(stderr,
                "iocstream: cluster: --job '%s': 1 to %d letters, digits, "
                "'_' or '-'\n",
                co->job, IOCS_CLUSTER_JOB_MAX);
        return 2;
    }
    if (o->npaths == 0) {
        fputs("iocstream: cluster submit: no PATH\n", stderr);
        return 2;
    }
    if (walk_paths(o->paths, o->npaths, &list, o->follow_symlinks))
        goto out;
    plan.unit_size = co->unit_size;
    plan.scratch = calloc(1, sizeof(*plan.scratch));
    if (!plan.scratch)
        goto out;
    for (size_t i = 0; i < list.len; i++)
        if (plan_source(&plan, &list, (uint32_t)i))
            goto out;
    if (iocs__cmd_get_db(o, &db, &cres))
        goto out;
    if (conn_open(&c, co->nats, true))
        goto out;
    if (kv_get(c.jobs, co->job, &old, &oldlen) == 0) {
        fprintf(stderr,
                "iocstream: cluster: job '%s' exists already; choose "
                "another name\n",
                co->job);
        free(old);
        goto out;
    }
    if (!co->no_db_store && store_db(&c, db))
        goto out;
    for (size_t i = 0; i < o->nallows; i++) {
        unsigned char *buf = NULL;
        size_t len = 0;

        err = read_file(o->allows[i], IOCS_CLUSTER_CHUNK, &buf, &len);
        if (err) {
            fprintf(stderr, "iocstream: cluster: --allow %s: %s\n",
                    o->allows[i],
                    err == -EFBIG ? "over 512 KiB" : iocs_strerror(err));
            goto out;
        }
        snprintf(key, sizeof(key), "%s.allow.%zu", co->job, i);
        err = kv_put(c.jobs, key, buf, len);
        free(buf);
        if (err)
            goto out;
    }
    job.units = plan.len;
    job.bytes = plan.bytes;
    snprintf(job.db, sizeof(job.db), "%s", iocs_db_id(db));
    job.allows = o->nallows;
    if (window_arg("--since", co->since, &o->time.zone, job.since,
                   sizeof(job.since)) ||
        window_arg("--until", co->until, &o->time.zone, job.until,
                   sizeof(job.until)))
        goto out;
    job.created = (int64_t)time(NULL);
    n = iocs_cluster_job_format(&job, rec, sizeof(rec));
    if (n < 0 || kvStore_Create(NULL, c.jobs, co->job, rec, n) != NATS_OK) {
        fprintf(stderr, "iocstream: cluster: cannot record job '%s'%s\n",
                co->job, n < 0 ? "" : " (submitted meanwhile?)");
        goto out;
    }
    if (publish_units(&c, co, &list, &plan, job.db))
        goto out;
    printf("job %s: %zu units, %zu files, %" PRIu64 " bytes, db %s\n", co->job,
           plan.len, list.len, plan.bytes, job.db);
    status = 0;
out:
    conn_close(&c);
    free(plan.v);
    free(plan.files);
    free(plan.scratch);
    iocs_sourcelist_fini(&list);
    iocs_db_free(db);
    return status;
}

/* --- the worker's sink: renumbered batches, stable ids ----------------- */

/*
 * Each unit runs iocs_pipeline_run() anew, whose batches start at seq 1;
 * the NATS sink under it lives for the whole job, so batches are
 * renumbered. Events with no event.id of their own (a build without it)
 * get "JOB.UNIT.K", K their 0-based position in the unit: the unit's
 * events come in input order, so a redelivered unit gives every event the
 * same id again and the stream's duplicate window drops the copy.
 */
struct idsink {
    struct iocs_sink base;
    struct iocs_sink *in;
    uint64_t seq_base; /* inner seq of the unit's batch 0 */
    uint64_t last;     /* last seq of this unit written */
    uint64_t ordinal;  /* events of this unit written */
    char prefix[IOCS_CLUSTER_JOB_MAX + 32];
    struct iocs_sink_rec *rec;
    char *ids;
    size_t cap;
};

#define ID_MAX 112

static int id_write(struct iocs_sink *base, const struct iocs_sink_batch *b)
{
    struct idsink *s = (struct idsink *)base;
    struct iocs_sink_batch nb = *b;
    int err;

    nb.seq = s->seq_base + b->seq;
    if (b->n && !b->rec[0].id) {
        if (b->n > s->cap) {
            struct iocs_sink_rec *r = realloc(s->rec, b->n * sizeof(*r));
            char *ids;

            if (!r)
                return -ENOMEM;
            s->rec = r;
            ids = realloc(s->ids, b->n * ID_MAX);
            if (!ids)
                return -ENOMEM;
            s->ids = ids;
            s->cap = b->n;
        }
        for (size_t i = 0; i < b->n; i++) {
            char *id = s->ids + i * ID_MAX;

            s->rec[i] = b->rec[i];
            snprintf(id, ID_MAX, "%s%" PRIu64, s->prefix,
                     s->ordinal + (uint64_t)i);
            s->rec[i].id = id;
        }
        nb.rec = s->rec;
    }
    err = iocs_sink_write(s->in, &nb);
    if (err)
        return err; /* the same batch comes again: same ordinals */
    s->last = b->seq;
    s->ordinal += b->n;
    s->base.stats = s->in->stats;
    return 0;
}

static int id_flush(struct iocs_sink *base, int timeout_ms)
{
    struct idsink *s = (struct idsink *)base;
    int err = iocs_sink_flush(s->in, timeout_ms);

    s->base.stats = s->in->stats;
    return err;
}

static uint64_t id_acked(const struct iocs_sink *base,
                         struct iocs_sink_pos *pos)
{
    const struct idsink *s = (const struct idsink *)base;
    uint64_t a = iocs_sink_acked(s->in, pos);

    return a > s->seq_base ? a - s->seq_base : 0;
}

static void id_close(struct iocs_sink *base)
{
    struct idsink *s = (struct idsink *)base;

    iocs_sink_close(s->in);
    free(s->rec);
    free(s->ids);
    free(s);
}

static const char *id_error(const struct iocs_sink *base)
{
    const struct idsink *s = (const struct idsink *)base;

    return iocs_sink_error(s->in);
}

static const struct iocs_sink_ops id_ops = {
    .name = "cluster",
    .write = id_write,
    .flush = id_flush,
    .acked = id_acked,
    .close = id_close,
    .error = id_error,
};

/* A new unit: batches from 1 again, ids from JOB.UNIT.0. */
static void id_unit(struct idsink *s, const char *job, uint64_t unit)
{
    s->seq_base += s->last;
    s->last = 0;
    s->ordinal = 0;
    snprintf(s->prefix, sizeof(s->prefix), "%s.%" PRIu64 ".", job, unit);
}

/* --- worker ------------------------------------------------------------ */

static volatile sig_atomic_t stop_sig;

static void on_stop(int sig)
{
    stop_sig = sig;
}

/* The timer that tells JetStream a long unit is still being worked on. */
struct progress {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    natsMsg *msg;
    int64_t every_ms;
    bool done;
};

static void *progress_main(void *arg)
{
    struct progress *p = arg;

    pthread_mutex_lock(&p->mu);
    while (!p->done) {
        struct timespec t;

        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += p->every_ms / 1000;
        t.tv_nsec += (p->every_ms % 1000) * 1000000;
        if (t.tv_nsec >= 1000000000) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000;
        }
        if (pthread_cond_timedwait(&p->cv, &p->mu, &t) == ETIMEDOUT && !p->done)
            (void)natsMsg_InProgress(p->msg, NULL);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int progress_start(struct progress *p, natsMsg *msg, int64_t every_ms)
{
    memset(p, 0, sizeof(*p));
    p->msg = msg;
    p->every_ms = every_ms > 0 ? every_ms : 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    return -pthread_create(&p->thread, NULL, progress_main, p);
}

static void progress_stop(struct progress *p)
{
    pthread_mutex_lock(&p->mu);
    p->done = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

/* What a worker keeps between units: the job it last worked on. */
struct worker {
    struct conn c;
    const struct iocs_scan_opts *o;
    struct iocs_scan_opts oj; /* o with the current job's time window */
    const struct iocs_cluster_opts *co;
    char job[IOCS_CLUSTER_JOB_MAX + 1];
    char dbid[17];
    struct iocs_db *db;
    struct iocs_allow *allow;
    struct idsink *sink;
    char name[128]; /* host:pid */
    char cache[PATH_MAX];
};

static int put_status(struct worker *w, const struct iocs_cluster_unit *u,
                      enum iocs_cluster_state st, uint64_t events,
                      uint64_t bytes, const char *error)
{
    struct iocs_cluster_status s = {
        .state = st, .events = events, .bytes = bytes};
    char rec[1024], key[128];
    int n;

    snprintf(s.worker, sizeof(s.worker), "%s", w->name);
    if (error)
        snprintf(s.error, sizeof(s.error), "%s", error);
    n = iocs_cluster_status_format(&s, rec, sizeof(rec));
    if (n < 0)
        return n;
    if (st == IOCS_CLUSTER_RUNNING) {
        /* "running" is only news: published without waiting for its ack
         * (a KV put is a publish to $KV.BUCKET.KEY). */
        snprintf(key, sizeof(key), "$KV." BUCKET_STATUS ".%s.%" PRIu64, u->job,
                 u->unit);
        return js_PublishAsync(w->c.js, key, rec, n, NULL) == NATS_OK ? 0
                                                                      : -EIO;
    }
    snprintf(key, sizeof(key), "%s.%" PRIu64, u->job, u->unit);
    return kv_put(w->c.status, key, rec, (size_t)n);
}

/* Fetch database id into *out: the disk cache, else the cluster (then
 * cached). why says what went wrong. */
static int fetch_db(struct worker *w, const char *id, struct iocs_db **out,
                    char *why, size_t whylen)
{
    struct iocs_cluster_manifest m;
    char key[64], path[PATH_MAX + 64], tmp[PATH_MAX + 80], errbuf[256];
    unsigned char *rec = NULL, *buf = NULL;
    size_t len = 0, off = 0;
    int err;

    snprintf(path, sizeof(path), "%s/cluster-%s.db", w->cache, id);
    if (w->cache[0] &&
        iocs_dbfile_read(out, path, 0, errbuf, sizeof(errbuf)) == 0) {
        if (strcmp(iocs_db_id(*out), id) == 0)
            return 0;
        iocs_db_free(*out);
    }
    snprintf(key, sizeof(key), "%s.manifest", id);
    err = kv_get(w->c.db, key, &rec, &len);
    if (err == -ENOENT) {
        set_why(why, whylen,
                "database %s is not in the cluster (bucket " BUCKET_DB
                "): submit the job again",
                id);
        return err;
    }
    if (!err)
        err = iocs_cluster_manifest_parse(&m, rec, len);
    free(rec);
    if (!err) {
        buf = malloc(m.size ? m.size : 1);
        if (!buf)
            err = -ENOMEM;
    }
    for (uint64_t i = 0; !err && i < m.chunks; i++) {
        snprintf(key, sizeof(key), "%s.%" PRIu64, id, i);
        err = kv_get(w->c.db, key, &rec, &len);
        if (!err && len > m.size - off)
            err = -EINVAL;
        if (!err) {
            memcpy(buf + off, rec, len);
            off += len;
        }
        free(rec);
    }
    if (!err && (off != m.size ||
                 iocs_cluster_sum(IOCS_CLUSTER_SUM_INIT, buf, off) != m.sum))
        err = -EINVAL;
    if (err) {
        set_why(why, whylen, "database %s: %s", id,
                err == -EINVAL ? "stored chunks are damaged"
                               : iocs_strerror(err));
        free(buf);
        return err;
    }
    snprintf(tmp, sizeof(tmp), "%s/iocstream-%s-%d.db",
             w->cache[0] ? w->cache : tmpdir(), id, (int)getpid());
    err = write_file(tmp, buf, off);
    free(buf);
    if (!err)
        err = iocs_dbfile_read(out, tmp, 0, errbuf, sizeof(errbuf));
    if (err) {
        set_why(why, whylen, "database %s: %s", id,
                errbuf[0] ? errbuf : iocs_strerror(err));
        unlink(tmp);
        return err;
    }
    if (strcmp(iocs_db_id(*out), id) != 0) {
        set_why(why, whylen, "database %s: the stored file is %s", id,
                iocs_db_id(*out));
        iocs_db_free(*out);
        unlink(tmp);
        return -EINVAL;
    }
    if (!w->cache[0] || rename(tmp, path) < 0)
        unlink(tmp);
    return 0;
}

/* The allowlists of job: each stored file through the loader, as a local
 * scan loads its --allow files. */
static int fetch_allow(struct worker *w, const char *job, uint64_t n,
                       struct iocs_allow **out, char *why, size_t whylen)
{
    struct iocs_scan_opts o = *w->o;
    const char **paths = calloc(n ? n : 1, sizeof(*paths));
    char(*names)[PATH_MAX] = calloc(n ? n : 1, sizeof(*names));
    int err = paths && names ? 0 : -ENOMEM;

    for (uint64_t i = 0; i < n && !err; i++) {
        unsigned char *buf = NULL;
        char key[128];
        size_t len = 0;

        snprintf(key, sizeof(key), "%s.allow.%" PRIu64, job, i);
        err = kv_get(w->c.jobs, key, &buf, &len);
        snprintf(names[i], PATH_MAX, "%s/iocstream-allow-%d-%" PRIu64, tmpdir(),
                 (int)getpid(), i);
        if (!err)
            err = write_file(names[i], buf, len);
        free(buf);
        paths[i] = names[i];
    }
    if (!err) {
        o.allows = paths;
        o.nallows = (size_t)n;
        if (iocs__cmd_load_allow(&o, out))
            err = -EINVAL;
    }
    for (uint64_t i = 0; i < n && names; i++)
        unlink(names[i]);
    if (err)
        set_why(why, whylen, "job %s: allowlists: %s", job, iocs_strerror(err));
    free(paths);
    free(names);
    return err;
}

/* Make w ready for u's job: database, allowlists, sink. */
static int switch_job(struct worker *w, const struct iocs_cluster_unit *u,
                      char *why, size_t whylen)
{
    struct iocs_cluster_job job;
    struct iocs_sink_opts so = {.format = IOCS_FORMAT_MSGPACK};
    struct iocs_sink *in = NULL;
    char dest[1024], errbuf[512];
    unsigned char *rec = NULL;
    size_t len, ul;
    int err;

    if (strcmp(w->job, u->job) == 0 && w->db)
        return 0;
    w->job[0] = '\0';
    iocs_allow_free(w->allow);
    w->allow = NULL;
    if (w->sink) /* none before the first job */
        iocs_sink_close(&w->sink->base);
    w->sink = NULL;
    err = kv_get(w->c.jobs, u->job, &rec, &len);
    if (!err)
        err = iocs_cluster_job_parse(&job, rec, len);
    free(rec);
    if (err) {
        set_why(why, whylen, "job %s: %s", u->job,
                err == -ENOENT ? "no metadata in bucket " BUCKET_JOBS
                               : iocs_strerror(err));
        return err;
    }
    if (!w->db || strcmp(w->dbid, u->db) != 0) {
        struct iocs_db *db = NULL;

        err = fetch_db(w, u->db, &db, why, whylen);
        if (err)
            return err;
        iocs_db_free(w->db);
        w->db = db;
        snprintf(w->dbid, sizeof(w->dbid), "%s", u->db);
    }
    err = fetch_allow(w, u->job, job.allows, &w->allow, why, whylen);
    if (err)
        return err;
    /* The job's window, stored as UTC instants by submit. */
    w->oj = *w->o;
    w->oj.time.has_since = job.since[0] != '\0';
    w->oj.time.has_until = job.until[0] != '\0';
    if ((w->oj.time.has_since &&
         iocs_linetime_parse_arg(&(struct iocs_linetime_zone){0}, job.since,
                                 &w->oj.time.since) < 0) ||
        (w->oj.time.has_until &&
         iocs_linetime_parse_arg(&(struct iocs_linetime_zone){0}, job.until,
                                 &w->oj.time.until) < 0)) {
        set_why(why, whylen, "job %s: a bad time window '%s'..'%s'", u->job,
                job.since, job.until);
        return -EINVAL;
    }
    ul = strlen(w->c.url);
    while (ul && w->c.url[ul - 1] == '/')
        ul--;
    snprintf(dest, sizeof(dest), "%.*s/" SUBJ_EVENTS ".%s", (int)ul, w->c.url,
             u->job);
    err = iocs_sink_open(&in, dest, &so, errbuf, sizeof(errbuf));
    if (err) {
        set_why(why, whylen, "events sink %s: %s", dest,
                errbuf[0] ? errbuf : iocs_strerror(err));
        return err;
    }
    w->sink = calloc(1, sizeof(*w->sink));
    if (!w->sink) {
        iocs_sink_close(in);
        return -ENOMEM;
    }
    w->sink->base.ops = &id_ops;
    w->sink->base.format = in->format;
    w->sink->base.str_times = in->str_times;
    w->sink->in = in;
    snprintf(w->job, sizeof(w->job), "%s", u->job);
    return 0;
}

/* Scan unit u into the sink (not flushed: its events may still wait for
 * their acks). Returns 0 (done), 1 (failed, why says why: the unit is
 * acked as failed) or -ENOMEM. */
static int scan_unit(struct worker *w, const struct iocs_cluster_unit *u,
                     uint64_t *events, uint64_t *bytes, char *why,
                     size_t whylen)
{
    struct iocs_sourcelist list = {0};
    struct iocs_scan_stats st = {0};
    bool uring = false, missing = false;
    int status;

    for (uint32_t i = 0; i < u->nfiles; i++) {
        const char *path = iocs_cluster_unit_path(u, i);
        struct iocs_source src = iocs_source_of(path);
        uint64_t start = u->start, end = u->end, line = u->line;
        struct stat sb;
        int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

        if (fd < 0 || fstat(fd, &sb) < 0) {
            /* Reported and recorded; the reader fails it the same way
             * and the unit's other files are scanned, as a local scan
             * does. */
            if (!missing)
                set_why(why, whylen, "%s: %s", path, iocs_strerror(-errno));
            missing = true;
            if (fd >= 0)
                close(fd);
        } else {
            src.dev = (uint64_t)sb.st_dev;
            src.ino = (uint64_t)sb.st_ino;
        }
        if (fd >= 0 && (u->start || u->end)) {
            /* A range: the lines that start in it (cluster.h). */
            rc = iocs_cluster_range_own(fd, (uint64_t)sb.st_size, &start, &end);
            if (rc == 1 || (rc == 0 && line == 0)) {
                /* The line number is not known: count the lines before. */
                rc = iocs_cluster_count_lines(fd, start, &line);
                if (rc == 0)
                    line++;
            }
        }
        if (fd >= 0)
            close(fd);
        if (rc < 0) {
            set_why(why, whylen, "%s: %s", path, iocs_strerror(rc));
            iocs_sourcelist_fini(&list);
            return 1;
        }
        src.codec = u->files[i].codec;
        src.start_offset = start;
        src.start_line = line ? line : 1;
        src.end_offset = end;
        if (iocs_sourcelist_add(&list, &src) < 0) {
            iocs_sourcelist_fini(&list);
            return -ENOMEM;
        }
    }
    id_unit(w->sink, u->job, u->unit);
    status = iocs_pipeline_run(&w->oj, w->db, w->allow, &list, &w->sink->base,
                               &st, &uring);
    iocs_sourcelist_fini(&list);
    *events = w->sink->ordinal;
    *bytes = st.bytes;
    if (missing)
        return 1; /* why says which file */
    if (status) {
        set_why(
            why, whylen, "%s%s: the scan failed (the worker's log says why)",
            iocs_cluster_unit_path(u, 0), u->nfiles > 1 ? " or another" : "");
        return 1;
    }
    return 0;
}

/*
 * A unit scanned whose events may still wait for their publish acks. The
 * worker scans the next unit meanwhile (the sink's acks come in behind
 * it) and finishes this one after: so no unit waits on an idle pipeline
 * for its last acks. Its progress timer runs until it is acked.
 */
struct pending {
    natsMsg *msg;
    struct iocs_cluster_unit *u;
    uint64_t seq_end; /* the sink's last batch of this unit */
    uint64_t events, bytes;
    int rc; /* 0 done, 1 failed (why) */
    char why[IOCS_CLUSTER_ERR_MAX];
    struct progress pr;
};

/* Wait until every batch up to seq is acknowledged. Returns 0 or a
 * negative errno of the sink (it cannot heal: reported). */
static int wait_acked(struct worker *w, uint64_t seq)
{
    int err = 0;

    while (w->sink && iocs_sink_acked(w->sink->in, NULL) < seq) {
        err = iocs_sink_flush(w->sink->in, 5);
        if (err == 0 || err != -ETIMEDOUT)
            break;
        err = 0;
    }
    if (err) {
        const char *e = iocs_sink_error(w->sink->in);

        fprintf(stderr, "iocstream: cluster: events: %s\n",
                e ? e : iocs_strerror(err));
    }
    return err;
}

/* Record *pp's outcome and ack its unit, once its events are acked; free
 * it and set *pp to NULL. On a sink failure the unit is released (Nak)
 * and the error returned. NULL: nothing to do. */
static int finish(struct worker *w, struct pending **pp)
{
    struct pending *p = *pp;
    int err;

    if (!p)
        return 0;
    *pp = NULL;
    err = wait_acked(w, p->seq_end);
    if (!err && w->co->test_delay_ms > 0) {
        /* Tests: a unit whose events are out but not yet acked. */
        struct timespec t = {w->co->test_delay_ms / 1000,
                             (w->co->test_delay_ms % 1000) * 1000000L};

        nanosleep(&t, NULL);
    }
    progress_stop(&p->pr);
    if (err) {
        (void)natsMsg_Nak(p->msg, NULL); /* another worker takes it */
    } else {
        if (p->rc)
            fprintf(stderr, "iocstream: cluster: job %s unit %" PRIu64 ": %s\n",
                    p->u->job, p->u->unit, p->why);
        /* The status before the ack: a unit acked is never "running". */
        (void)put_status(w, p->u,
                         p->rc ? IOCS_CLUSTER_FAILED : IOCS_CLUSTER_DONE,
                         p->events, p->bytes, p->rc ? p->why : NULL);
        /* Not AckSync: an ack that is lost brings the unit back, and its
         * events come again with the same ids (dropped as duplicates). */
        if (natsMsg_Ack(p->msg, NULL) != NATS_OK)
            fprintf(stderr,
                    "iocstream: cluster: job %s unit %" PRIu64
                    ": ack lost (it comes again; its events keep their "
                    "ids)\n",
                    p->u->job, p->u->unit);
    }
    natsMsg_Destroy(p->msg);
    free(p->u);
    free(p); /* the progress thread, joined, pointed into it */
    return err;
}

/* Take the delivered unit msg (the worker owns it now): scan it into the
 * sink, finish the unit before it (*prev), and leave this one in *prev.
 * Returns 0, or a negative errno when the worker must stop (its units go
 * back to the stream). */
static int work_one(struct worker *w, natsMsg *msg, struct pending **prev)
{
    struct pending *p = calloc(1, sizeof(*p));
    jsMsgMetaData *meta = NULL;
    uint64_t delivered = 1;
    bool timer = false;
    int err;

    if (!p || !(p->u = calloc(1, sizeof(*p->u)))) {
        free(p);
        (void)natsMsg_Nak(msg, NULL);
        natsMsg_Destroy(msg);
        return -ENOMEM;
    }
    p->msg = msg;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        delivered = meta->NumDelivered;
        jsMsgMetaData_Destroy(meta);
    }
    if (iocs_cluster_unit_parse(p->u, natsMsg_GetData(msg),
                                (size_t)natsMsg_GetDataLength(msg))) {
        fprintf(stderr,
                "iocstream: cluster: a malformed work unit on %s: "
                "dropped\n",
                natsMsg_GetSubject(msg));
        (void)natsMsg_Term(msg, NULL);
        natsMsg_Destroy(msg);
        free(p->u);
        free(p);
        return 0;
    }
    /* Another job's sink, or its database: the unit before goes first. */
    if (*prev && strcmp((*prev)->u->job, p->u->job) != 0) {
        err = finish(w, prev);
        if (err)
            goto fail;
    }
    err = progress_start(&p->pr, msg, w->co->ack_wait_ms / 3);
    if (err)
        goto fail;
    timer = true;
    if (delivered > IOCS_CLUSTER_MAX_DELIVER) {
        set_why(p->why, sizeof(p->why),
                "%s: delivered %" PRIu64 " times without finishing",
                iocs_cluster_unit_path(p->u, 0), delivered);
        p->rc = 1;
    } else {
        (void)put_status(w, p->u, IOCS_CLUSTER_RUNNING, 0, 0, NULL);
        p->rc = switch_job(w, p->u, p->why, sizeof(p->why));
        if (p->rc == -ENOMEM) {
            err = -ENOMEM;
            goto fail;
        }
        p->rc = p->rc ? 1
                      : scan_unit(w, p->u, &p->events, &p->bytes, p->why,
                                  sizeof(p->why));
        if (p->rc < 0) {
            err = p->rc;
            goto fail;
        }
    }
    p->seq_end = w->sink ? w->sink->seq_base + w->sink->last : 0;
    err = finish(w, prev); /* its acks came in while this one ran */
    if (err)
        goto fail;
    *prev = p;
    return 0;

fail:
    if (timer)
        progress_stop(&p->pr);
    (void)natsMsg_Nak(msg, NULL);
    natsMsg_Destroy(msg);
    free(p->u);
    free(p);
    if (*prev) {
        progress_stop(&(*prev)->pr);
        (void)natsMsg_Nak((*prev)->msg, NULL);
        natsMsg_Destroy((*prev)->msg);
        free((*prev)->u);
        free(*prev);
        *prev = NULL;
    }
    return err;
}

int iocs_cmd_cluster_worker(const struct iocs_scan_opts *o,
                            const struct iocs_cluster_opts *co)
{
    struct worker w = {.o = o, .co = co};
    struct pending *prev = NULL;
    struct sigaction sa = {0};
    natsSubscription *sub = NULL;
    jsSubOptions so;
    jsErrCode je = 0;
    natsStatus s;
    char host[64] = "";
    int status = 2, err = 0;

    signal(SIGPIPE, SIG_IGN);
    sa.sa_handler = on_stop; /* no SA_RESTART: a fetch returns early */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    gethostname(host, sizeof(host) - 1);
    snprintf(w.name, sizeof(w.name), "%s:%d", host, (int)getpid());
    if (iocs_dbcache_dir(w.cache, sizeof(w.cache)) == 0)
        (void)mkdir(w.cache, 0700);
    if (conn_open(&w.c, co->nats, true))
        goto out;
    jsSubOptions_Init(&so);
    so.Config.Durable = DURABLE;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = (int64_t)co->ack_wait_ms * 1000000;
    so.Config.MaxDeliver = -1; /* work_one() gives up after a few */
    so.Config.MaxAckPending = -1;
    s = js_PullSubscribe(&sub, w.c.js, SUBJ_WORK ".>", DURABLE, NULL, &so, &je);
    if (s != NATS_OK) {
        say_nats("the work consumer", s, je);
        goto out;
    }
    fprintf(stderr, "iocstream: cluster: worker %s waiting for units on %s\n",
            w.name, co->nats);
    while (!stop_sig && !err) {
        natsMsgList list = {0};

        /* With a unit waiting for its acks, look briefly: when no unit
         * comes, finish it rather than keep it waiting. */
        s = natsSubscription_Fetch(&list, sub, 1, prev ? 20 : 1000, &je);
        if (s == NATS_TIMEOUT || (s != NATS_OK && stop_sig)) {
            err = finish(&w, &prev);
            continue;
        }
        if (s != NATS_OK) {
            if (s == NATS_CONNECTION_CLOSED) {
                say_nats("fetch", s, je);
                break;
            }
            struct timespec t = {0, 200000000};

            nanosleep(&t, NULL); /* reconnecting: try again */
            continue;
        }
        for (int i = 0; i < list.Count; i++) {
            natsMsg *m = list.Msgs[i];

            list.Msgs[i] = NULL; /* ours now */
            if (stop_sig || err) {
                (void)natsMsg_Nak(m, NULL); /* not started */
                natsMsg_Destroy(m);
                continue;
            }
            err = work_one(&w, m, &prev);
        }
        natsMsgList_Destroy(&list);
    }
    if (!err)
        err = finish(&w, &prev); /* SIGTERM: the unit in hand is done */
    status = err ? 2 : 0;
    if (stop_sig)
        fprintf(stderr, "iocstream: cluster: worker %s stopped by signal %d\n",
                w.name, (int)stop_sig);
out:
    natsSubscription_Destroy(sub);
    if (w.sink)
        iocs_sink_close(&w.sink->base);
    iocs_allow_free(w.allow);
    iocs_db_free(w.db);
    conn_close(&w.c);
    return status;
}

/* --- status ------------------------------------------------------------ */

struct tally {
    uint64_t n[4];
    uint64_t events, bytes;
};

/* Tally job's unit records; print failures when verbose. */
static int tally_job(struct conn *c, const char *job, struct tally *t,
                     bool print_failed)
{
    kvWatchOptions wo;
    kvWatcher *wt = NULL;
    char filter[128];
    natsStatus s;

    memset(t, 0, sizeof(*t));
    kvWatchOptions_Init(&wo);
    wo.IgnoreDeletes = true;
    snprintf(filter, sizeof(filter), "%s.*", job);
    s = kvStore_Watch(&wt, c->status, filter, &wo);
    while (s == NATS_OK) {
        struct iocs_cluster_status st;
        kvEntry *e = NULL;

        s = kvWatcher_Next(&e, wt, 5000);
        if (s != NATS_OK || !e)
            break; /* NULL: every current value seen */
        if (iocs_cluster_status_parse(&st, kvEntry_Value(e),
                                      (size_t)kvEntry_ValueLen(e)) == 0) {
            t->n[st.state]++;
            t->events += st.events;
            t->bytes += st.bytes;
            if (print_failed && st.state == IOCS_CLUSTER_FAILED)
                printf("  %s failed: %s\n", kvEntry_Key(e), st.error);
        }
        kvEntry_Destroy(e);
    }
    kvWatcher_Destroy(wt);
    if (s != NATS_OK) {
        say_nats("status", s, 0);
        return -EIO;
    }
    return 0;
}

/* Print one job; *done, *failed say where it stands. */
static int show_job(struct conn *c, const char *job, bool print, bool *done,
                    uint64_t *failed)
{
    struct iocs_cluster_job j;
    struct tally t;
    unsigned char *rec = NULL;
    uint64_t seen, pending;
    size_t len;
    int err = kv_get(c->jobs, job, &rec, &len);

    if (!err)
        err = iocs_cluster_job_parse(&j, rec, len);
    free(rec);
    if (err) {
        fprintf(stderr, "iocstream: cluster: job '%s': %s\n", job,
                err == -ENOENT ? "no such job" : iocs_strerror(err));
        return err;
    }
    err = tally_job(c, job, &t, false);
    if (err)
        return err;
    seen = t.n[IOCS_CLUSTER_RUNNING] + t.n[IOCS_CLUSTER_DONE] +
           t.n[IOCS_CLUSTER_FAILED];
    pending = j.units > seen ? j.units - seen : 0;
    *done = t.n[IOCS_CLUSTER_DONE] + t.n[IOCS_CLUSTER_FAILED] >= j.units;
    *failed = t.n[IOCS_CLUSTER_FAILED];
    if (print) {
        printf("job %s units=%" PRIu64 " pending=%" PRIu64 " running=%" PRIu64
               " done=%" PRIu64 " failed=%" PRIu64 " events=%" PRIu64
               " bytes=%" PRIu64 " state=%s\n",
               job, j.units, pending, t.n[IOCS_CLUSTER_RUNNING],
               t.n[IOCS_CLUSTER_DONE], t.n[IOCS_CLUSTER_FAILED], t.events,
               t.bytes, *done ? "done" : "running");
        if (*failed)
            (void)tally_job(c, job, &t, true);
    }
    return 0;
}

/* Block until every unit of job is done or failed: one watcher on the
 * job's status keys, its updates applied as they come (no polling). */
static int wait_job(struct conn *c, const char *job)
{
    struct iocs_cluster_job j;
    kvWatchOptions wo;
    kvWatcher *wt = NULL;
    unsigned char *rec = NULL, *state = NULL;
    uint64_t n[4] = {0};
    char filter[128];
    size_t len, plen = strlen(job) + 1;
    natsStatus s;
    int err = kv_get(c->jobs, job, &rec, &len);

    if (!err)
        err = iocs_cluster_job_parse(&j, rec, len);
    free(rec);
    if (err) {
        fprintf(stderr, "iocstream: cluster: job '%s': %s\n", job,
                err == -ENOENT ? "no such job" : iocs_strerror(err));
        return err;
    }
    state = calloc(j.units ? j.units : 1, 1); /* IOCS_CLUSTER_PENDING */
    if (!state)
        return -ENOMEM;
    n[IOCS_CLUSTER_PENDING] = j.units;
    kvWatchOptions_Init(&wo);
    wo.IgnoreDeletes = true;
    snprintf(filter, sizeof(filter), "%s.*", job);
    s = kvStore_Watch(&wt, c->status, filter, &wo);
    while (s == NATS_OK &&
           n[IOCS_CLUSTER_DONE] + n[IOCS_CLUSTER_FAILED] < j.units) {
        struct iocs_cluster_status st;
        kvEntry *e = NULL;
        const char *key;
        char *end;
        unsigned long long u;

        s = kvWatcher_Next(&e, wt, 1000);
        if (s == NATS_TIMEOUT) {
            s = NATS_OK;
            continue;
        }
        if (s != NATS_OK || !e)
            continue; /* NULL: the current values are all seen */
        key = kvEntry_Key(e);
        errno = 0;
        u = strtoull(key + plen, &end, 10);
        if (strlen(key) > plen && !errno && !*end && u < j.units &&
            iocs_cluster_status_parse(&st, kvEntry_Value(e),
                                      (size_t)kvEntry_ValueLen(e)) == 0) {
            n[state[u]]--;
            state[u] = (unsigned char)st.state;
            n[st.state]++;
        }
        kvEntry_Destroy(e);
    }
    kvWatcher_Destroy(wt);
    free(state);
    if (s != NATS_OK) {
        say_nats("status", s, 0);
        return -EIO;
    }
    return 0;
}

int iocs_cmd_cluster_status(const struct iocs_cluster_opts *co)
{
    kvKeysList keys = {0};
    struct conn c;
    int status = 2, err;

    if (co->job && !iocs_cluster_job_ok(co->job)) {
        fprintf(stderr, "iocstream: cluster: '%s' is not a job name\n",
                co->job);
        return 2;
    }
    err = conn_open(&c, co->nats, false);
    if (err == -ENOENT) {
        fprintf(stderr, "iocstream: cluster: no job was ever submitted to %s\n",
                co->nats);
        goto out;
    }
    if (err)
        goto out;
    if (co->wait) {
        /* Wait for each job in turn, then print them as below. */
        if (co->job) {
            if (wait_job(&c, co->job))
                goto out;
        } else if (kvStore_Keys(&keys, c.jobs, NULL) == NATS_OK) {
            for (int i = 0; i < keys.Count; i++)
                if (!strchr(keys.Keys[i], '.') && wait_job(&c, keys.Keys[i]))
                    goto out;
            kvKeysList_Destroy(&keys);
            memset(&keys, 0, sizeof(keys));
        }
    }
    for (;;) {
        bool all_done = true, any = false;
        uint64_t failed_total = 0;

        if (co->job) {
            bool done;
            uint64_t failed;

            if (show_job(&c, co->job, !co->wait, &done, &failed))
                goto out;
            all_done = done;
            failed_total = failed;
            any = true;
        } else {
            natsStatus s = kvStore_Keys(&keys, c.jobs, NULL);

            if (s != NATS_OK && s != NATS_NOT_FOUND) {
                say_nats("jobs", s, 0);
                goto out;
            }
            for (int i = 0; s == NATS_OK && i < keys.Count; i++) {
                bool done;
                uint64_t failed;

                if (strchr(keys.Keys[i], '.'))
                    continue; /* JOB.allow.N */
                if (show_job(&c, keys.Keys[i], !co->wait, &done, &failed))
                    goto out;
                all_done &= done;
                failed_total += failed;
                any = true;
            }
            kvKeysList_Destroy(&keys);
            memset(&keys, 0, sizeof(keys));
        }
        if (!co->wait || (all_done && any)) {
            if (co->wait) {
                /* Print the final state once. */
                bool done;
                uint64_t failed;

                if (co->job) {
                    (void)show_job(&c, co->job, true, &done, &failed);
                } else if (kvStore_Keys(&keys, c.jobs, NULL) == NATS_OK) {
                    for (int i = 0; i < keys.Count; i++)
                        if (!strchr(keys.Keys[i], '.'))
                            (void)show_job(&c, keys.Keys[i], true, &done,
                                           &failed);
                    kvKeysList_Destroy(&keys);
                    memset(&keys, 0, sizeof(keys));
                }
            }
            status = co->wait && failed_total ? 2 : 0;
            break;
        }
        {
            struct timespec t = {0, 50000000}; /* 50 ms: one watch each */

            nanosleep(&t, NULL);
        }
    }
out:
    kvKeysList_Destroy(&keys);
    conn_close(&c);
    return status;
}

/* --- events ------------------------------------------------------------ */

int iocs_cmd_cluster_events(const struct iocs_cluster_opts *co, const char *out)
{
    natsSubscription *sub = NULL;
    jsSubOptions so;
    jsErrCode je = 0;
    struct conn c;
    char subj[128];
    uint64_t n = 0;
    FILE *f = stdout;
    int status = 2;

    if (!co->job || !iocs_cluster_job_ok(co->job)) {
        fputs("iocstream: cluster events needs a job NAME\n", stderr);
        return 2;
    }
    if (conn_open(&c, co->nats, false))
        goto out;
    if (out && strcmp(out, "-") != 0) {
        f = fopen(out, "wb");
        if (!f) {
            fprintf(stderr, "iocstream: %s: %s\n", out, iocs_strerror(-errno));
            goto out;
        }
    }
    snprintf(subj, sizeof(subj), SUBJ_EVENTS ".%s", co->job);
    jsSubOptions_Init(&so);
    so.Ordered = true; /* an ephemeral, flow-controlled replay */
    so.Config.DeliverPolicy = js_DeliverAll;
    natsStatus s = js_SubscribeSync(&sub, c.js, subj, NULL, &so, &je);
    if (s != NATS_OK) {
        say_nats(subj, s, je);
        goto out;
    }
    for (;;) {
        jsMsgMetaData *meta = NULL;
        natsMsg *m = NULL;
        uint64_t pending = 1;

        s = natsSubscription_NextMsg(&m, sub, 2000);
        if (s == NATS_TIMEOUT)
            break; /* nothing more (or no event at all) */
        if (s != NATS_OK) {
            say_nats(subj, s, 0);
            goto out;
        }
        if (fwrite(natsMsg_GetData(m), 1, (size_t)natsMsg_GetDataLength(m),
                   f) != (size_t)natsMsg_GetDataLength(m)) {
            fprintf(stderr, "iocstream: %s: %s\n", out ? out : "stdout",
                    iocs_strerror(-errno));
            natsMsg_Destroy(m);
            goto out;
        }
        n++;
        if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
            pending = meta->NumPending;
            jsMsgMetaData_Destroy(meta);
        }
        natsMsg_Destroy(m);
        if (pending == 0)
            break;
    }
    if (fflush(f) != 0) {
        fprintf(stderr, "iocstream: %s: %s\n", out ? out : "stdout",
                iocs_strerror(-errno));
        goto out;
    }
    fprintf(stderr, "iocstream: cluster: %" PRIu64 " events of job %s\n", n,
            co->job);
    status = 0;
out:
    natsSubscription_Destroy(sub);
    if (f && f != stdout)
        fclose(f);
    conn_close(&c);
    return status;
}
