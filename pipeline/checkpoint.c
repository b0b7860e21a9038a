/*
 * checkpoint.c - the state file: parse (strict), format (canonical), save
 * (atomic), and the per-source table with lookup by inode or fingerprint.
 * See checkpoint.h for the format and the contract.
 */
#include "pipeline/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "iocstream-state 1\n"

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!errbuf || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* FNV-1a over the bytes, then a splitmix64 finaliser so that nearby inputs
 * spread over all 64 bits; the length goes in so that a prefix of zeros
 * differs from a shorter one. */
uint64_t iocs_checkpoint_fingerprint(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)n;

    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

int iocs_checkpoint_new(struct iocs_checkpoint **out)
{
    struct iocs_checkpoint *s = calloc(1, sizeof(*s));

    if (!s)
        return -ENOMEM;
    *out = s;
    return 0;
}

void iocs_checkpoint_free(struct iocs_checkpoint *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].path);
    free(s->v);
    free(s);
}

/* Make room for one more entry, within IOCS_CKPT_MAX_SOURCES. */
static int reserve(struct iocs_checkpoint *s)
{
    struct iocs_ckpt_entry *v;
    size_t cap;

    if (s->n < s->cap)
        return 0;
    cap = s->cap ? s->cap * 2 : 16;
    if (cap > IOCS_CKPT_MAX_SOURCES)
        cap = IOCS_CKPT_MAX_SOURCES;
    v = realloc(s->v, cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    s->v = v;
    s->cap = cap;
    return 0;
}

static void drop(struct iocs_checkpoint *s, size_t i)
{
    free(s->v[i].path);
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
    s->n--;
}

int iocs_checkpoint_id_matches(const struct iocs_ckpt_id *id,
                               const unsigned char *prefix, size_t len)
{
    if (len < id->fp_len)
        return 0;
    return iocs_checkpoint_fingerprint(prefix, id->fp_len) == id->fp;
}

static struct iocs_ckpt_entry *by_inode(const struct iocs_checkpoint *s,
                                        uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].id.dev == dev && s->v[i].id.ino == ino)
            return &s->v[i];
    return NULL;
}

int iocs_checkpoint_set(struct iocs_checkpoint *s,
                        const struct iocs_ckpt_id *id, uint64_t offset,
                        uint64_t line, const char *path, int64_t now)
{
    struct iocs_ckpt_entry *e;
    char *copy = NULL;
    int err;

    if (!path || strlen(path) >= PATH_MAX || id->fp_len > IOCS_CKPT_FP_BYTES)
        return -EINVAL;
    e = by_inode(s, id->dev, id->ino);
    /* A path is copied only when it changed: set() runs once per
     * acknowledged batch, and the path rarely changes. */
    if (!e || strcmp(e->path, path) != 0) {
        copy = strdup(path);
        if (!copy)
            return -ENOMEM;
    }
    if (!e) {
        if (s->n == IOCS_CKPT_MAX_SOURCES) {
            size_t old = 0;

            for (size_t i = 1; i < s->n; i++)
                if (s->v[i].seen < s->v[old].seen)
                    old = i;
            drop(s, old);
        }
        err = reserve(s);
        if (err) {
            free(copy);
            return err;
        }
        e = &s->v[s->n++];
        memset(e, 0, sizeof(*e));
    }
    if (copy) {
        free(e->path);
        e->path = copy;
    }
    e->id = *id;
    e->offset = offset;
    e->line = line;
    e->seen = now < 0 ? 0 : now; /* the format has no sign */
    return 0;
}

const struct iocs_ckpt_entry *
iocs_checkpoint_find(const struct iocs_checkpoint *s, uint64_t dev,
                     uint64_t ino, const unsigned char *prefix, size_t len)
{
    const struct iocs_ckpt_entry *best = NULL;
    const struct iocs_ckpt_entry *e = by_inode(s, dev, ino);
    uint64_t full;

    if (e && iocs_checkpoint_id_matches(&e->id, prefix, len))
        return e;
    /* Most entries cover the full IOCS_CKPT_FP_BYTES: hash that once. */
    full = iocs_checkpoint_fingerprint(prefix, len);
    for (size_t i = 0; i < s->n; i++) {
        const struct iocs_ckpt_entry *c = &s->v[i];

        if (c->id.fp_len < IOCS_CKPT_FP_MIN || c->id.fp_len > len)
            continue;
        if (c->id.fp_len == len
                ? c->id.fp != full
                : !iocs_checkpoint_id_matches(&c->id, prefix, len))
            continue;
        if (!best || c->seen > best->seen)
            best = c;
    }
    return best;
}

int iocs_checkpoint_remove(struct iocs_checkpoint *s, uint64_t dev,
                           uint64_t ino)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].id.dev == dev && s->v[i].id.ino == ino) {
            drop(s, i);
            return 1;
        }
    }
    return 0;
}

size_t iocs_checkpoint_forget(struct iocs_checkpoint *s, int64_t cutoff)
{
    size_t kept = 0, n = s->n;

    for (size_t i = 0; i < n; i++) {
        if (s->v[i].seen < cutoff)
            free(s->v[i].path);
        else
            s->v[kept++] = s->v[i];
    }
    s->n = kept;
    return n - kept;
}

void iocs_checkpoint_set_output(struct iocs_checkpoint *s, uint64_t len)
{
    s->has_output = 1;
    s->output_len = len;
}

int iocs_checkpoint_set_db(struct iocs_checkpoint *s, const char *db)
{
    size_t n = strlen(db);

    if (n > IOCS_CKPT_DB_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!((db[i] >= '0' && db[i] <= '9') || (db[i] >= 'a' && db[i] <= 'f')))
            return -EINVAL;
    memcpy(s->db, db, n + 1);
    return 0;
}

/* --- formatting ------------------------------------------------------ */

struct buf {
    char *p;
    size_t len, cap;
    int err;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;

        while (cap < b->len + n)
            cap *= 2;
        p = realloc(b->p, cap);
        if (!p) {
            b->err = -ENOMEM;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void putf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void putf(struct buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static bool must_escape(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f || c == '%';
}

static void put_path(struct buf *b, const char *path)
{
    static const char hex[] = "0123456789abcdef";

    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        if (must_escape(*c)) {
            char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};

            put(b, e, 3);
        } else {
            put(b, (const char *)c, 1);
        }
    }
}

int iocs_checkpoint_format(const struct iocs_checkpoint *s, char **out,
                           size_t *len)
{
    struct buf b = {0};

    put(&b, MAGIC, strlen(MAGIC));
    putf(&b, "db %s\n", s->db[0] ? s->db : "-");
    if (s->has_output)
        putf(&b, "output %llu\n", (unsigned long long)s->output_len);
    else
        put(&b, "output -\n", 9);
    putf(&b, "sources %zu\n", s->n);
    for (size_t i = 0; i < s->n; i++) {
        const struct iocs_ckpt_entry *e = &s->v[i];

        putf(&b, "s %llu %llu %016llx %u %llu %llu %lld ",
             (unsigned long long)e->id.dev, (unsigned long long)e->id.ino,
             (unsigned long long)e->id.fp, e->id.fp_len,
             (unsigned long long)e->offset, (unsigned long long)e->line,
             (long long)e->seen);
        put_path(&b, e->path);
        put(&b, "\n", 1);
    }
    if (!b.err)
        putf(&b, "end %016llx\n",
             (unsigned long long)iocs_checkpoint_fingerprint(b.p, b.len));
    if (b.err) {
        free(b.p);
        return b.err;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* --- parsing --------------------------------------------------------- */

/* A cursor over untrusted bytes; every read is bounded by end. */
struct cur {
    const char *base, *p, *end;
    unsigned lineno;
    char *errbuf;
    size_t errlen;
};

static int bad(struct cur *c, const char *what)
{
    seterr(c->errbuf, c->errlen, "line %u (byte %zu): %s", c->lineno,
           (size_t)(c->p - c->base), what);
    return -EBADMSG;
}

static int word(struct cur *c, const char *w)
{
    size_t n = strlen(w);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return bad(c, "unexpected keyword");
    c->p += n;
    return 0;
}

static int sep(struct cur *c, char ch)
{
    if (c->p == c->end || *c->p != ch)
        return bad(c,
                   ch == '\n' ? "expected end of line" : "expected one space");
    c->p++;
    if (ch == '\n')
        c->lineno++;
    return 0;
}

/* A canonical decimal: digits, no sign, no leading zero, <= max. */
static int num(struct cur *c, uint64_t max, uint64_t *v)
{
    uint64_t x = 0;
    const char *start = c->p;

    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        unsigned d = (unsigned)(*c->p - '0');

        if (x > (max - d) / 10)
            return bad(c, "number out of range");
        x = x * 10 + d;
        c->p++;
    }
    if (c->p == start)
        return bad(c, "expected a number");
    if (*start == '0' && c->p - start > 1)
        return bad(c, "leading zero");
    *v = x;
    return 0;
}

static int hexdig(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* Exactly 16 lowercase hex digits. */
static int hex64(struct cur *c, uint64_t *v)
{
    uint64_t x = 0;

    if (c->end - c->p < 16)
        return bad(c, "expected 16 hex digits");
    for (int i = 0; i < 16; i++) {
        int d = hexdig(c->p[i]);

        if (d < 0)
            return bad(c, "expected 16 hex digits");
        x = x << 4 | (uint64_t)d;
    }
    c->p += 16;
    *v = x;
    return 0;
}

/* A percent-encoded path up to the end of the line, into out (PATH_MAX). */
static int path(struct cur *c, char *out)
{
    size_t n = 0;

    while (c->p < c->end && *c->p != '\n') {
        unsigned char ch = (unsigned char)*c->p;

        if (ch == '%') {
            int hi, lo;

            if (c->end - c->p < 3 || (hi = hexdig(c->p[1])) < 0 ||
                (lo = hexdig(c->p[2])) < 0)
                return bad(c, "bad %-escape in path");
            ch = (unsigned char)(hi << 4 | lo);
            if (!must_escape(ch) || ch == 0)
                return bad(c, "needless or NUL %-escape in path");
            c->p += 3;
        } else {
            if (must_escape(ch))
                return bad(c, "unescaped byte in path");
            c->p++;
        }
        if (n + 1 >= PATH_MAX)
            return bad(c, "path too long");
        out[n++] = (char)ch;
    }
    if (n == 0)
        return bad(c, "empty path");
    out[n] = '\0';
    return 0;
}

static int parse_entry(struct cur *c, struct iocs_checkpoint *s, char *pbuf)
{
    struct iocs_ckpt_id id;
    uint64_t fp_len, offset, line, seen;
    int err;

    if ((err = word(c, "s")) || (err = sep(c, ' ')) ||
        (err = num(c, UINT64_MAX, &id.dev)) || (err = sep(c, ' ')) ||
        (err = num(c, UINT64_MAX, &id.ino)) || (err = sep(c, ' ')) ||
        (err = hex64(c, &id.fp)) || (err = sep(c, ' ')) ||
        (err = num(c, IOCS_CKPT_FP_BYTES, &fp_len)) || (err = sep(c, ' ')) ||
        (err = num(c, UINT64_MAX, &offset)) || (err = sep(c, ' ')) ||
        (err = num(c, UINT64_MAX, &line)) || (err = sep(c, ' ')))
        return err;
    /* seen may be negative only in theory (clocks before 1970): refuse. */
    if ((err = num(c, INT64_MAX, &seen)) || (err = sep(c, ' ')) ||
        (err = path(c, pbuf)))
        return err;
    if (line == 0)
        return bad(c, "line numbers start at 1");
    if (by_inode(s, id.dev, id.ino))
        return bad(c, "same device and inode twice");
    id.fp_len = (uint32_t)fp_len;
    err = iocs_checkpoint_set(s, &id, offset, line, pbuf, (int64_t)seen);
    if (err)
        return err;
    return sep(c, '\n');
}

int iocs_checkpoint_parse(const void *p, size_t n, struct iocs_checkpoint **out,
                          char *errbuf, size_t errlen)
{
    struct cur c = {.base = p,
                    .p = p,
                    .end = (const char *)p + n,
                    .lineno = 1,
                    .errbuf = errbuf,
                    .errlen = errlen};
    struct iocs_checkpoint *s = NULL;
    const char *last;
    char *pbuf = NULL;
    uint64_t count, v, sum;
    int err;

    if (n > IOCS_CKPT_MAX_FILE) {
        seterr(errbuf, errlen, "state file larger than %u bytes",
               IOCS_CKPT_MAX_FILE);
        return -EFBIG;
    }
    /* The checksum line is the last one: find it first, so that nothing
     * damaged is believed. */
    if (n < 2 || c.base[n - 1] != '\n') {
        seterr(errbuf, errlen, "byte %zu: cut short (no final newline)", n);
        return -EBADMSG;
    }
    last = c.base + n - 1;
    while (last > c.base && last[-1] != '\n')
        last--;
    {
        struct cur t = c;

        t.p = last;
        for (const char *q = c.base; q < last; q++)
            t.lineno += *q == '\n';
        if ((err = word(&t, "end ")) || (err = hex64(&t, &sum)))
            return err;
        if (sum != iocs_checkpoint_fingerprint(c.base, (size_t)(last - c.base)))
            return bad(&t, "checksum mismatch: the state file is damaged");
        if ((err = sep(&t, '\n')))
            return err;
    }
    c.end = last;

    err = iocs_checkpoint_new(&s);
    if (err)
        goto fail;
    pbuf = malloc(PATH_MAX);
    if (!pbuf) {
        err = -ENOMEM;
        goto fail;
    }
    if ((size_t)(c.end - c.p) < strlen(MAGIC) ||
        memcmp(c.p, MAGIC, strlen(MAGIC) - 1) != 0) {
        err = bad(&c, "not an iocstream state file, or another version");
        goto fail;
    }
    c.p += strlen(MAGIC) - 1;
    if ((err = sep(&c, '\n')) || (err = word(&c, "db ")))
        goto fail;
    if (c.p < c.end && *c.p == '-') {
        c.p++;
    } else {
        size_t k = 0;

        while (c.p < c.end && hexdig(*c.p) >= 0 && k < IOCS_CKPT_DB_MAX)
            s->db[k++] = *c.p++;
        s->db[k] = '\0';
        if (k == 0) {
            err = bad(&c, "bad database id");
            goto fail;
        }
    }
    if ((err = sep(&c, '\n')) || (err = word(&c, "output ")))
        goto fail;
    if (c.p < c.end && *c.p == '-') {
        c.p++;
    } else {
        if ((err = num(&c, UINT64_MAX, &v)))
            goto fail;
        iocs_checkpoint_set_output(s, v);
    }
    if ((err = sep(&c, '\n')) || (err = word(&c, "sources ")) ||
        (err = num(&c, IOCS_CKPT_MAX_SOURCES, &count)) || (err = sep(&c, '\n')))
        goto fail;
    for (uint64_t i = 0; i < count; i++) {
        err = parse_entry(&c, s, pbuf);
        if (err)
            goto fail;
    }
    if (c.p != c.end) {
        err = bad(&c, "more sources than announced");
        goto fail;
    }
    free(pbuf);
    *out = s;
    return 0;

fail:
    if (err == -ENOMEM)
        seterr(errbuf, errlen, "out of memory");
    free(pbuf);
    iocs_checkpoint_free(s);
    return err;
}

/* Refuse anything but a regular file at path (or nothing). */
static int check_kind(const char *path, char *errbuf, size_t errlen)
{
    struct stat st;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        seterr(errbuf, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    if (S_ISLNK(st.st_mode)) {
        seterr(errbuf, errlen,
               "%s: the state path is a symbolic link; refusing to follow "
               "or replace it",
               path);
        return -ELOOP;
    }
    if (!S_ISREG(st.st_mode)) {
        seterr(errbuf, errlen,
               "%s: the state path is not a regular file (FIFO, device, "
               "socket or directory); refusing it",
               path);
        return -EINVAL;
    }
    return 0;
}

int iocs_checkpoint_load(const char *path, struct iocs_checkpoint **out,
                         char *errbuf, size_t errlen)
{
    char *data = NULL;
    struct stat st;
    size_t got = 0;
    int fd = -1, err;

    err = check_kind(path, errbuf, errlen);
    if (err)
        return err;
    /* O_NOFOLLOW and O_NONBLOCK: if the path changed under us to a link or
     * a FIFO since lstat(), fail or return at once rather than block. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        err = -errno;
        seterr(errbuf, errlen, "%s: %s", path, strerror(errno));
        return err;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        err = -EINVAL;
        seterr(errbuf, errlen, "%s: not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > IOCS_CKPT_MAX_FILE) {
        err = -EFBIG;
        seterr(errbuf, errlen, "%s: larger than %u bytes", path,
               IOCS_CKPT_MAX_FILE);
        goto out;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        err = -ENOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = -errno;
            seterr(errbuf, errlen, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    err = iocs_checkpoint_parse(data, got, out, errbuf, errlen);
    if (err == -EBADMSG && errbuf && errlen) {
        /* Prefix the file name, keeping the parser's line and offset. */
        char tmp[512];

        snprintf(tmp, sizeof(tmp), "%s: %s", path, errbuf);
        seterr(errbuf, errlen, "%s", tmp);
    }

out:
    free(data);
    close(fd);
    return err;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int iocs_checkpoint_save(const char *path, const struct iocs_checkpoint *s,
                         char *errbuf, size_t errlen)
{
    static unsigned counter;
    char tmp[PATH_MAX], dir[PATH_MAX];
    const char *slash;
    char *text = NULL;
    size_t len;
    int fd = -1, dfd = -1, err;
    bool made = false;

    err = check_kind(path, errbuf, errlen);
    if (err)
        return err;
    slash = strrchr(path, '/');
    if (slash)
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path + 1), path);
    else
        snprintf(dir, sizeof(dir), ".");
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%u", path, (long)getpid(),
                 counter++) >= (int)sizeof(tmp)) {
        seterr(errbuf, errlen, "%s: path too long", path);
        return -ENAMETOOLONG;
    }
    err = iocs_checkpoint_format(s, &text, &len);
    if (err) {
        seterr(errbuf, errlen, "out of memory");
        return err;
    }
    /* O_EXCL: never write into a file someone else put there. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err = -errno;
        seterr(errbuf, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    made = true;
    err = write_all(fd, text, len);
    if (!err && fsync(fd) < 0)
        err = -errno;
    if (!err && close(fd) < 0)
        err = -errno;
    fd = -1;
    if (err) {
        seterr(errbuf, errlen, "%s: %s", tmp, strerror(-err));
        goto out;
    }
    /* rename() replaces a link that appeared since check_kind() rather
     * than writing through it, so the check above cannot be raced into
     * writing elsewhere. */
    if (rename(tmp, path) < 0) {
        err = -errno;
        seterr(errbuf, errlen, "rename %s: %s", path, strerror(errno));
        goto out;
    }
    made = false;
    /* The rename is durable only once the directory is. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0) {
        err = -errno;
        seterr(errbuf, errlen, "fsync %s: %s", dir, strerror(errno));
    }

out:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    if (made)
        unlink(tmp);
    free(text);
    return err;
}
