/*
 * cluster.c - unit planning, range ownership and the cluster's records
 * (cluster.h). Plain C over pread(2) and byte buffers: no NATS here.
 */
#include "pipeline/cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/scanner.h"

#define BLOCK (1u << 20)

/* --- planning and ranges ---------------------------------------------- */

static int push_cut(struct iocs_cluster_cut **v, size_t *n, size_t *cap,
                    uint64_t off, uint64_t line)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        struct iocs_cluster_cut *nv = realloc(*v, nc * sizeof(*nv));

        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = (struct iocs_cluster_cut){.offset = off, .line = line};
    return 0;
}

int iocs_cluster_plan(int fd, uint64_t size, uint64_t unit_size,
                      struct iocs_cluster_cut **out, size_t *n, uint64_t *lines)
{
    struct iocs_cluster_cut *v = NULL;
    size_t nv = 0, cap = 0;
    unsigned char *buf = NULL;
    uint64_t b = 0, nl = 0, target;
    int err;

    if (unit_size == 0)
        return -EINVAL;
    buf = malloc(BLOCK);
    if (!buf)
        return -ENOMEM;
    err = push_cut(&v, &nv, &cap, 0, 1);
    target = unit_size;
    while (!err && b < size) {
        size_t want = size - b < BLOCK ? (size_t)(size - b) : BLOCK;
        ssize_t got = pread(fd, buf, want, (off_t)b);
        size_t len, pos = 0;

        if (got < 0) {
            err = -errno;
            break;
        }
        if (got == 0)
            break; /* the file shrank: plan what is there */
        len = (size_t)got;
        while (pos < len) {
            /* The cut goes after the first '\n' at or past target - 1,
             * so a range that ends exactly on a line end is cut there. */
            if (target - 1 < b + len) {
                size_t from =
                    target - 1 >= b + pos ? (size_t)(target - 1 - b) : pos;
                unsigned char *q = memchr(buf + from, '\n', len - from);

                if (q) {
                    size_t upto = (size_t)(q - buf) + 1;

                    nl += iocs_count_newlines(buf + pos, upto - pos);
                    pos = upto;
                    if (b + pos < size) {
                        err = push_cut(&v, &nv, &cap, b + pos, nl + 1);
                        if (err)
                            break;
                    }
                    target = b + pos + unit_size;
                    continue;
                }
            }
            nl += iocs_count_newlines(buf + pos, len - pos);
            pos = len;
        }
        b += len;
    }
    free(buf);
    if (err) {
        free(v);
        return err;
    }
    *out = v;
    *n = nv;
    if (lines)
        *lines = nl;
    return 0;
}

/* The offset just past the first '\n' at or after off (size if none). */
static int past_newline(int fd, uint64_t size, uint64_t off, uint64_t *out)
{
    unsigned char buf[65536];

    while (off < size) {
        size_t want =
            size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
        ssize_t got = pread(fd, buf, want, (off_t)off);
        unsigned char *q;

        if (got < 0)
            return -errno;
        if (got == 0)
            break;
        q = memchr(buf, '\n', (size_t)got);
        if (q) {
            *out = off + (uint64_t)(q - buf) + 1;
            return 0;
        }
        off += (uint64_t)got;
    }
    *out = size;
    return 0;
}

/* Whether off is a line start: 0, or right after a '\n' (or past the end,
 * which owns nothing). */
static int at_line_start(int fd, uint64_t size, uint64_t off)
{
    unsigned char c;
    ssize_t got;

    if (off == 0 || off >= size)
        return 1;
    got = pread(fd, &c, 1, (off_t)(off - 1));
    if (got < 0)
        return -errno;
    return got == 1 && c == '\n';
}

int iocs_cluster_range_own(int fd, uint64_t size, uint64_t *start,
                           uint64_t *end)
{
    uint64_t s = *start, e = *end ? *end : size;
    int moved = 0, rc;

    if (s > size)
        s = size;
    if (e > size)
        e = size;
    rc = at_line_start(fd, size, s);
    if (rc < 0)
        return rc;
    if (!rc) {
        rc = past_newline(fd, size, s, &s);
        if (rc < 0)
            return rc;
        moved = 1;
    }
    rc = at_line_start(fd, size, e);
    if (rc < 0)
        return rc;
    if (!rc) {
        rc = past_newline(fd, size, e, &e);
        if (rc < 0)
            return rc;
    }
    if (e < s)
        e = s; /* the partial first line ran past the end: nothing owned */
    *start = s;
    *end = e;
    return moved;
}

int iocs_cluster_count_lines(int fd, uint64_t upto, uint64_t *out)
{
    unsigned char *buf = malloc(BLOCK);
    uint64_t off = 0, nl = 0;

    if (!buf)
        return -ENOMEM;
    while (off < upto) {
        size_t want = upto - off < BLOCK ? (size_t)(upto - off) : BLOCK;
        ssize_t got = pread(fd, buf, want, (off_t)off);

        if (got <= 0) {
            free(buf);
            return got < 0 ? -errno : -EIO;
        }
        nl += iocs_count_newlines(buf, (size_t)got);
        off += (uint64_t)got;
    }
    free(buf);
    *out = nl;
    return 0;
}

bool iocs_cluster_job_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > IOCS_CLUSTER_JOB_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool iocs_cluster_dbid_ok(const char *id)
{
    size_t i;

    for (i = 0; id[i]; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return i == 16;
}

uint64_t iocs_cluster_sum(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* --- records ----------------------------------------------------------- */

/* A record being written: every append checks the room left. */
struct wbuf {
    char *p;
    size_t cap, len;
    bool full;
};

static void put(struct wbuf *w, const char *s, size_t n)
{
    if (w->full || n > w->cap - w->len) {
        w->full = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static bool must_escape(unsigned char c)
{
    return c < 0x21 || c >= 0x7f || c == '%' || c == '=' || c == ',';
}

/* v, escaped (cluster.h). */
static void put_esc(struct wbuf *w, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
        if (must_escape(*c)) {
            char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};

            put(w, e, 3);
        } else {
            put(w, (const char *)c, 1);
        }
    }
}

static void put_str(struct wbuf *w, const char *key, const char *v)
{
    put(w, key, strlen(key));
    put(w, "=", 1);
    put_esc(w, v);
    put(w, "\n", 1);
}

static void put_u64(struct wbuf *w, const char *key, uint64_t v)
{
    char num[32];

    snprintf(num, sizeof(num), "%" PRIu64, v);
    put_str(w, key, num);
}

static int finish(struct wbuf *w)
{
    if (w->full || w->len >= w->cap || w->len > IOCS_CLUSTER_REC_MAX)
        return -ENOSPC;
    w->p[w->len] = '\0'; /* for printing; not part of the record */
    return (int)w->len;
}

/* A field of a record being parsed: the key and the raw (escaped) value. */
struct field {
    const char *key, *val;
    size_t klen, vlen;
};

/* Split p[0..len) into the header line and fields; at most max fields.
 * Returns the number of fields, or -EINVAL. */
static int split(const char *p, size_t len, const char *head, struct field *f,
                 int max)
{
    size_t hl = strlen(head), pos;
    int n = 0;

    if (len > IOCS_CLUSTER_REC_MAX || len < hl + 1 || memcmp(p, head, hl) ||
        p[hl] != '\n')
        return -EINVAL;
    pos = hl + 1;
    while (pos < len) {
        const char *line = p + pos, *nl = memchr(line, '\n', len - pos);
        const char *eq;
        size_t ll;

        if (!nl)
            return -EINVAL; /* every line ends with '\n' */
        ll = (size_t)(nl - line);
        eq = memchr(line, '=', ll);
        if (!eq || eq == line)
            return -EINVAL;
        if (n == max)
            return -EINVAL;
        f[n].key = line;
        f[n].klen = (size_t)(eq - line);
        f[n].val = eq + 1;
        f[n].vlen = ll - f[n].klen - 1;
        for (int i = 0; i < n; i++)
            if (f[i].klen == f[n].klen &&
                memcmp(f[i].key, f[n].key, f[n].klen) == 0)
                return -EINVAL; /* a duplicate key */
        n++;
        pos += ll + 1;
    }
    return n;
}

static const struct field *find(const struct field *f, int n, const char *key)
{
    size_t kl = strlen(key);

    for (int i = 0; i < n; i++)
        if (f[i].klen == kl && memcmp(f[i].key, key, kl) == 0)
            return &f[i];
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Unescape f's value into out[0..cap) with a NUL. A NUL byte, a bad escape
 * or a value that does not fit is -EINVAL. */
static int get_str(const struct field *f, char *out, size_t cap)
{
    size_t o = 0;

    if (!f)
        return -EINVAL;
    for (size_t i = 0; i < f->vlen; i++) {
        unsigned char c = (unsigned char)f->val[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= f->vlen)
                return -EINVAL;
            hi = hexval(f->val[i + 1]);
            lo = hexval(f->val[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (must_escape(c)) {
            return -EINVAL;
        }
        if (c == 0 || o + 1 >= cap)
            return -EINVAL;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

static int get_u64(const struct field *f, uint64_t *out)
{
    uint64_t v = 0;

    if (!f || f->vlen == 0 || f->vlen > 20)
        return -EINVAL;
    for (size_t i = 0; i < f->vlen; i++) {
        unsigned d;

        if (f->val[i] < '0' || f->val[i] > '9')
            return -EINVAL;
        d = (unsigned)(f->val[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* An optional string field: "" when absent. */
static int get_opt_str(const struct field *f, char *out, size_t cap)
{
    if (!f) {
        out[0] = '\0';
        return 0;
    }
    return get_str(f, out, cap);
}

static int codec_of(const char *name, enum iocs_codec *out)
{
    for (int c = IOCS_CODEC_PLAIN; c <= IOCS_CODEC_EVTX; c++)
        if (strcmp(iocs_codec_name((enum iocs_codec)c), name) == 0) {
            *out = (enum iocs_codec)c;
            return 0;
        }
    return -EINVAL;
}

#define FIELDS_MAX 32
#define UNIT_HEAD "iocstream-unit 1"
#define STATUS_HEAD "iocstream-status 1"
#define JOB_HEAD "iocstream-job 1"
#define MANIFEST_HEAD "iocstream-db 1"

/* A record line "fN=codec,size,path" takes at most this plus 3 bytes per
 * path byte. */
#define FILE_LINE_MAX 64
#define UNIT_FIXED_MAX 512

int iocs_cluster_unit_add(struct iocs_cluster_unit *u, const char *path,
                          enum iocs_codec codec, uint64_t size)
{
    size_t n = strlen(path);
    uint32_t rec = u->rec_len ? u->rec_len : UNIT_FIXED_MAX;

    if (n == 0 || n >= IOCS_CLUSTER_PATH_MAX)
        return -EINVAL;
    if (u->nfiles == IOCS_CLUSTER_UNIT_FILES ||
        n + 1 > sizeof(u->paths) - u->paths_len ||
        rec + FILE_LINE_MAX + 3 * n > IOCS_CLUSTER_REC_MAX)
        return -ENOSPC;
    u->files[u->nfiles] = (struct iocs_cluster_file){
        .codec = codec, .size = size, .path = u->paths_len};
    memcpy(u->paths + u->paths_len, path, n + 1);
    u->paths_len += (uint32_t)n + 1;
    u->rec_len = rec + FILE_LINE_MAX + 3 * (uint32_t)n;
    u->nfiles++;
    return 0;
}

int iocs_cluster_unit_format(const struct iocs_cluster_unit *u, char *buf,
                             size_t cap)
{
    struct wbuf w = {.p = buf, .cap = cap};

    if (!iocs_cluster_job_ok(u->job) || !iocs_cluster_dbid_ok(u->db) ||
        u->nfiles == 0 || u->nfiles > IOCS_CLUSTER_UNIT_FILES ||
        (u->nfiles > 1 && (u->start || u->end || u->line != 1)))
        return -EINVAL;
    put(&w, UNIT_HEAD "\n", sizeof(UNIT_HEAD));
    put_str(&w, "job", u->job);
    put_u64(&w, "unit", u->unit);
    put_u64(&w, "start", u->start);
    put_u64(&w, "end", u->end);
    put_u64(&w, "line", u->line);
    put_str(&w, "db", u->db);
    put_u64(&w, "files", u->nfiles);
    for (uint32_t i = 0; i < u->nfiles; i++) {
        const struct iocs_cluster_file *f = &u->files[i];
        char key[16], head[48];

        if (f->path >= u->paths_len ||
            !memchr(u->paths + f->path, 0, u->paths_len - f->path))
            return -EINVAL;
        snprintf(key, sizeof(key), "f%" PRIu32, i);
        snprintf(head, sizeof(head), "%s,%" PRIu64 ",",
                 iocs_codec_name(f->codec), f->size);
        /* The value: codec and size as they are, the path escaped. */
        put(&w, key, strlen(key));
        put(&w, "=", 1);
        put(&w, head, strlen(head));
        put_esc(&w, u->paths + f->path);
        put(&w, "\n", 1);
    }
    return finish(&w);
}

/* "codec,size,path" of a file field into u. */
static int get_file(const struct field *f, struct iocs_cluster_unit *u)
{
    const char *c1, *c2;
    char codec[16], *path = NULL;
    enum iocs_codec cd;
    uint64_t size;
    struct field part;
    int err;

    if (!f)
        return -EINVAL;
    c1 = memchr(f->val, ',', f->vlen);
    c2 = c1 ? memchr(c1 + 1, ',', f->vlen - (size_t)(c1 + 1 - f->val)) : NULL;
    if (!c2)
        return -EINVAL;
    part = (struct field){.val = f->val, .vlen = (size_t)(c1 - f->val)};
    err = get_str(&part, codec, sizeof(codec));
    if (!err)
        err = codec_of(codec, &cd);
    part = (struct field){.val = c1 + 1, .vlen = (size_t)(c2 - c1 - 1)};
    if (!err)
        err = get_u64(&part, &size);
    part = (struct field){.val = c2 + 1,
                          .vlen = f->vlen - (size_t)(c2 + 1 - f->val)};
    if (!err) {
        path = malloc(IOCS_CLUSTER_PATH_MAX);
        err = path ? get_str(&part, path, IOCS_CLUSTER_PATH_MAX) : -ENOMEM;
    }
    if (!err)
        err = iocs_cluster_unit_add(u, path, cd, size) ? -EINVAL : 0;
    free(path);
    return err;
}

int iocs_cluster_unit_parse(struct iocs_cluster_unit *out, const void *p,
                            size_t len)
{
    struct iocs_cluster_unit *u;
    struct field *f;
    uint64_t nfiles = 0;
    int n, err, max = IOCS_CLUSTER_UNIT_FILES + 16;

    f = malloc((size_t)max * sizeof(*f));
    if (!f)
        return -ENOMEM;
    n = split(p, len, UNIT_HEAD, f, max);
    if (n < 0) {
        free(f);
        return n;
    }
    u = calloc(1, sizeof(*u));
    if (!u) {
        free(f);
        return -ENOMEM;
    }
    err = get_str(find(f, n, "job"), u->job, sizeof(u->job));
    if (!err)
        err = get_u64(find(f, n, "unit"), &u->unit);
    if (!err)
        err = get_u64(find(f, n, "start"), &u->start);
    if (!err)
        err = get_u64(find(f, n, "end"), &u->end);
    if (!err)
        err = get_u64(find(f, n, "line"), &u->line);
    if (!err)
        err = get_str(find(f, n, "db"), u->db, sizeof(u->db));
    if (!err)
        err = get_u64(find(f, n, "files"), &nfiles);
    if (!err && (nfiles == 0 || nfiles > IOCS_CLUSTER_UNIT_FILES))
        err = -EINVAL;
    for (uint64_t i = 0; !err && i < nfiles; i++) {
        char key[24]; /* "f" and a uint64 */

        snprintf(key, sizeof(key), "f%" PRIu64, i);
        err = get_file(find(f, n, key), u);
    }
    if (!err && (!iocs_cluster_job_ok(u->job) || !iocs_cluster_dbid_ok(u->db) ||
                 (u->end && u->end < u->start) ||
                 (nfiles > 1 && (u->start || u->end || u->line != 1))))
        err = -EINVAL;
    if (!err)
        memcpy(out, u, sizeof(*u));
    free(u);
    free(f);
    return err;
}

const char *iocs_cluster_state_name(enum iocs_cluster_state s)
{
    switch (s) {
    case IOCS_CLUSTER_RUNNING:
        return "running";
    case IOCS_CLUSTER_DONE:
        return "done";
    case IOCS_CLUSTER_FAILED:
        return "failed";
    default:
        return "pending";
    }
}

int iocs_cluster_status_format(const struct iocs_cluster_status *s, char *buf,
                               size_t cap)
{
    struct wbuf w = {.p = buf, .cap = cap};

    put(&w, STATUS_HEAD "\n", sizeof(STATUS_HEAD));
    put_str(&w, "state", iocs_cluster_state_name(s->state));
    put_u64(&w, "events", s->events);
    put_u64(&w, "bytes", s->bytes);
    if (s->worker[0])
        put_str(&w, "worker", s->worker);
    if (s->error[0])
        put_str(&w, "error", s->error);
    return finish(&w);
}

int iocs_cluster_status_parse(struct iocs_cluster_status *out, const void *p,
                              size_t len)
{
    struct field f[FIELDS_MAX];
    struct iocs_cluster_status s = {0};
    char state[16];
    int n = split(p, len, STATUS_HEAD, f, FIELDS_MAX);
    int err;

    if (n < 0)
        return n;
    err = get_str(find(f, n, "state"), state, sizeof(state));
    if (!err) {
        if (strcmp(state, "pending") == 0)
            s.state = IOCS_CLUSTER_PENDING;
        else if (strcmp(state, "running") == 0)
            s.state = IOCS_CLUSTER_RUNNING;
        else if (strcmp(state, "done") == 0)
            s.state = IOCS_CLUSTER_DONE;
        else if (strcmp(state, "failed") == 0)
            s.state = IOCS_CLUSTER_FAILED;
        else
            err = -EINVAL;
    }
    if (!err)
        err = get_u64(find(f, n, "events"), &s.events);
    if (!err)
        err = get_u64(find(f, n, "bytes"), &s.bytes);
    if (!err)
        err = get_opt_str(find(f, n, "worker"), s.worker, sizeof(s.worker));
    if (!err)
        err = get_opt_str(find(f, n, "error"), s.error, sizeof(s.error));
    if (!err)
        *out = s;
    return err;
}

int iocs_cluster_job_format(const struct iocs_cluster_job *j, char *buf,
                            size_t cap)
{
    struct wbuf w = {.p = buf, .cap = cap};

    if (!iocs_cluster_dbid_ok(j->db) || j->created < 0)
        return -EINVAL;
    put(&w, JOB_HEAD "\n", sizeof(JOB_HEAD));
    put_u64(&w, "units", j->units);
    put_u64(&w, "bytes", j->bytes);
    put_str(&w, "db", j->db);
    put_u64(&w, "allows", j->allows);
    if (j->since[0])
        put_str(&w, "since", j->since);
    if (j->until[0])
        put_str(&w, "until", j->until);
    put_u64(&w, "created", (uint64_t)j->created);
    return finish(&w);
}

int iocs_cluster_job_parse(struct iocs_cluster_job *out, const void *p,
                           size_t len)
{
    struct field f[FIELDS_MAX];
    struct iocs_cluster_job j = {0};
    uint64_t created = 0;
    int n = split(p, len, JOB_HEAD, f, FIELDS_MAX);
    int err;

    if (n < 0)
        return n;
    err = get_u64(find(f, n, "units"), &j.units);
    if (!err)
        err = get_u64(find(f, n, "bytes"), &j.bytes);
    if (!err)
        err = get_str(find(f, n, "db"), j.db, sizeof(j.db));
    if (!err)
        err = get_u64(find(f, n, "allows"), &j.allows);
    if (!err)
        err = get_opt_str(find(f, n, "since"), j.since, sizeof(j.since));
    if (!err)
        err = get_opt_str(find(f, n, "until"), j.until, sizeof(j.until));
    if (!err)
        err = get_u64(find(f, n, "created"), &created);
    if (!err &&
        (!iocs_cluster_dbid_ok(j.db) || created > INT64_MAX || j.allows > 1024))
        err = -EINVAL;
    if (!err) {
        j.created = (int64_t)created;
        *out = j;
    }
    return err;
}

int iocs_cluster_manifest_format(const struct iocs_cluster_manifest *m,
                                 char *buf, size_t cap)
{
    struct wbuf w = {.p = buf, .cap = cap};
    char sum[17];

    snprintf(sum, sizeof(sum), "%016" PRIx64, m->sum);
    put(&w, MANIFEST_HEAD "\n", sizeof(MANIFEST_HEAD));
    put_u64(&w, "size", m->size);
    put_u64(&w, "chunks", m->chunks);
    put_str(&w, "sum", sum);
    return finish(&w);
}

int iocs_cluster_manifest_parse(struct iocs_cluster_manifest *out,
                                const void *p, size_t len)
{
    struct field f[FIELDS_MAX];
    struct iocs_cluster_manifest m = {0};
    char sum[17];
    int n = split(p, len, MANIFEST_HEAD, f, FIELDS_MAX);
    int err;

    if (n < 0)
        return n;
    err = get_u64(find(f, n, "size"), &m.size);
    if (!err)
        err = get_u64(find(f, n, "chunks"), &m.chunks);
    if (!err)
        err = get_str(find(f, n, "sum"), sum, sizeof(sum));
    if (!err && !iocs_cluster_dbid_ok(sum))
        err = -EINVAL; /* 16 lowercase hex digits, like an id */
    if (!err) {
        m.sum = strtoull(sum, NULL, 16);
        if (m.size > (1ull << 40) || m.chunks == 0 ||
            m.chunks !=
                (m.size ? (m.size + IOCS_CLUSTER_CHUNK - 1) / IOCS_CLUSTER_CHUNK
                        : 1))
            err = -EINVAL;
    }
    if (!err)
        *out = m;
    return err;
}
