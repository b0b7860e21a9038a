/*
 * dbcache.c - database files and the on-disk cache (format in dbcache.h).
 *
 * Writing builds the whole file in memory, then writes it under a temporary
 * name and renames it. Reading takes the whole file into memory, checks the
 * header and the trailer checksum before looking at anything else, then
 * reads each section with bounds checks. Config-time code.
 */
#include "matchers/dbcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "matchers/util.h"

#define MAGIC "IOCSTRDB"
#define IDX_MAGIC "IOCSIDX1"
#define HEADER_SIZE 160
#define IDX_SIZE 32
#define NO_STRING 0xffffffffu
#define PAT_BYTES 9
#define FILE_MAX (UINT64_C(1) << 36) /* 64 GiB: anything bigger is bogus */

/* ---- bytes ---- */

/* A growable byte buffer. */
struct buf {
    unsigned char *p;
    size_t len, cap;
    int err; /* sticky -ENOMEM */
};

static void *reserve(struct buf *b, size_t n)
{
    void *at;

    if (b->err)
        return NULL;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        unsigned char *p;

        while (cap - b->len < n)
            cap *= 2;
        p = realloc(b->p, cap);
        if (!p) {
            b->err = -ENOMEM;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    at = b->p + b->len;
    b->len += n;
    return at;
}

static void put(struct buf *b, const void *v, size_t n)
{
    void *at = reserve(b, n);

    if (at && n)
        memcpy(at, v, n);
}

static void le_store(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t le_load(const unsigned char *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_le(struct buf *b, uint64_t v, size_t n)
{
    unsigned char *at = reserve(b, n);

    if (at)
        le_store(at, v, n);
}

static void put_str(struct buf *b, const char *s)
{
    size_t n;

    if (!s) {
        put_le(b, NO_STRING, 4);
        return;
    }
    n = strlen(s);
    put_le(b, n, 4);
    put(b, s, n + 1);
}

/* A 64-bit multiply-xorshift hash, eight bytes a step: a checksum against
 * damage, not a defence against an attacker who can write the cache. */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

/* Eight bytes as a little-endian number, in one load where the host is
 * little-endian. */
static uint64_t word(const unsigned char *p)
{
    uint64_t w;

    memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static uint64_t lane(uint64_t h, uint64_t w)
{
    w *= UINT64_C(0x87c37b91114253d5);
    h = (h ^ (w ^ (w >> 31))) * UINT64_C(0x9e3779b97f4a7c15);
    return h ^ (h >> 29);
}

/* Four independent lanes of 8 bytes, so the multiplies overlap: the
 * checksum of a 30 MB file costs a few milliseconds. */
static uint64_t sum64(uint64_t seed, const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h[4] = {seed ^ (n * UINT64_C(0x9e3779b97f4a7c15)), seed + 1,
                     seed + 2, seed + 3};

    for (; n >= 32; s += 32, n -= 32) {
        h[0] = lane(h[0], word(s));
        h[1] = lane(h[1], word(s + 8));
        h[2] = lane(h[2], word(s + 16));
        h[3] = lane(h[3], word(s + 24));
    }
    for (; n >= 8; s += 8, n -= 8)
        h[0] = lane(h[0], word(s));
    if (n)
        h[0] = lane(h[0], le_load(s, n));
    return mix(h[0] ^ mix(h[1]) ^ mix(h[2] + 1) ^ mix(h[3] + 2));
}

/* ---- what the file is made for ---- */

struct target {
    char version[64];
    uint64_t features;
    uint32_t tune;
};

static void get_target(struct target *t)
{
    hs_platform_info_t pl;

    memset(t, 0, sizeof(*t));
    snprintf(t->version, sizeof(t->version), "%s", hs_version());
    if (hs_populate_platform(&pl) == HS_SUCCESS) {
        t->features = pl.cpu_features;
        t->tune = pl.tune;
    }
}

/* ---- the set section ---- */

static void put_record(struct buf *b, const struct iocs_ioc *x)
{
    put_le(b, (uint64_t)x->type, 1);
    put_le(b, (uint64_t)(uint32_t)x->severity, 4);
    put_le(b, (uint64_t)(uint32_t)x->confidence, 4);
    put_le(b, (uint64_t)x->expires, 8);
    put_le(b, x->hs_flags, 4);
    put_le(b, x->port, 2);
    put_le(b, x->word, 1);
    put_str(b, x->value);
    put_str(b, x->feed);
    put_str(b, x->provider);
    put_str(b, x->description);
    put_str(b, x->reference);
    put_str(b, x->source);
    put_str(b, x->tags);
    put_str(b, x->rule_id);
}

static void put_set(struct buf *b, const struct iocs_iocset *set)
{
    for (size_t i = 0; i < iocs_iocset_count(set); i++) {
        const struct iocs_ioc *x = iocs_iocset_get(set, i), *a;
        uint32_t n = 1;

        for (a = x->also; a; a = a->also)
            n++;
        put_le(b, n, 4);
        for (a = x; a; a = a->also)
            put_record(b, a);
    }
}

static uint64_t set_key(const struct target *t, const void *p, size_t n)
{
    uint64_t h = sum64(UINT64_C(0x696f637374726d31), t, sizeof(*t));

    h = sum64(h, p, n);
    return h ? h : 1; /* 0 means "any" to iocs_dbfile_read() */
}

int iocs_dbcache_set_hash(const struct iocs_iocset *set, uint64_t *out)
{
    struct target t;
    struct buf b = {0};

    get_target(&t);
    put_set(&b, set);
    if (b.err) {
        free(b.p);
        return b.err;
    }
    *out = set_key(&t, b.p, b.len);
    free(b.p);
    return 0;
}

/* A reader over the bytes of a file. */
struct cur {
    const unsigned char *p, *end;
    bool bad;
};

static uint64_t get_le(struct cur *c, size_t n)
{
    uint64_t v;

    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = true;
        return 0;
    }
    v = le_load(c->p, n);
    c->p += n;
    return v;
}

static const char *get_str(struct cur *c, size_t *len)
{
    uint64_t n = get_le(c, 4);
    const char *s;

    if (c->bad || n == NO_STRING)
        return NULL;
    if ((uint64_t)(c->end - c->p) < n + 1 || c->p[n] != '\0' ||
        memchr(c->p, '\0', n)) {
        c->bad = true;
        return NULL;
    }
    s = (const char *)c->p;
    c->p += n + 1;
    if (len)
        *len = (size_t)n;
    return s;
}

/* Rebuild the set from its section. Returns 0, -EINVAL or -ENOMEM. */
static int get_set(struct cur *c, uint64_t count, struct iocs_iocset **out)
{
    struct iocs_iocset *set = NULL;
    int err;

    err = iocs_iocset_new(&set);
    if (err)
        return err;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t nrec = get_le(c, 4);

        if (c->bad || nrec == 0) {
            err = -EINVAL;
            goto fail;
        }
        for (uint64_t r = 0; r < nrec; r++) {
            struct iocs_ioc x = {0};
            uint64_t type;
            bool dup = false;

            type = get_le(c, 1);
            x.severity = (int)(int32_t)get_le(c, 4);
            x.confidence = (int)(int32_t)get_le(c, 4);
            x.expires = (int64_t)get_le(c, 8);
            x.hs_flags = (unsigned)get_le(c, 4);
            x.port = (unsigned)get_le(c, 2);
            x.word = get_le(c, 1) != 0;
            x.value = get_str(c, &x.len);
            x.feed = get_str(c, NULL);
            x.provider = get_str(c, NULL);
            x.description = get_str(c, NULL);
            x.reference = get_str(c, NULL);
            x.source = get_str(c, NULL);
            x.tags = get_str(c, NULL);
            x.rule_id = get_str(c, NULL);
            if (c->bad || type >= IOCS_TYPE_COUNT || !x.value || x.len == 0) {
                err = -EINVAL;
                goto fail;
            }
            x.type = (enum iocs_type)type;
            err = iocs_iocset_add(set, &x, &dup);
            if (err)
                goto fail;
            /* The first record is new; the others join its chain. */
            if (dup != (r > 0) || iocs_iocset_count(set) != i + 1) {
                err = -EINVAL;
                goto fail;
            }
        }
    }
    *out = set;
    return 0;

fail:
    iocs_iocset_free(set);
    return err;
}

/* ---- database files ---- */

/*
 * The Hyperscan binding of a whole file p[0..n) (header, set, patterns,
 * Hyperscan section; no trailer): a hash of the pattern and Hyperscan
 * sections seeded with the set hash, so a Hyperscan database spliced in
 * from another file (whose pattern ids index another pattern table) is
 * refused before it is deserialized.
 */
static uint64_t bind_key(const unsigned char *p, size_t n)
{
    size_t from = HEADER_SIZE + (size_t)le_load(p + 128, 8);

    return sum64(le_load(p + 96, 8) ^ UINT64_C(0x62696e6468733031), p + from,
                 n - from);
}

int iocs_dbfile_write(const struct iocs_db *db, const char *path, char *errbuf,
                      size_t errlen)
{
    const struct iocs_iocset *set = iocs_db_set(db);
    size_t npats = iocs_db_patterns(db), set_at, set_len, pat_at, hs_len = 0;
    struct buf b = {0};
    struct target t;
    unsigned char *h;
    char *hs = NULL;
    int err;

    get_target(&t);
    err = iocs__db_serialize(db, &hs, &hs_len);
    if (err) {
        iocs_seterr(errbuf, errlen, err, "cannot serialize the database");
        return err;
    }
    h = reserve(&b, HEADER_SIZE);
    if (h)
        memset(h, 0, HEADER_SIZE);
    set_at = b.len;
    put_set(&b, set);
    set_len = b.len - set_at;
    pat_at = b.len;
    for (size_t i = 0; i < npats; i++) {
        const struct iocs_pat *pt = iocs_db_pat(db, (unsigned)i);

        put_le(&b, pt->ioc, 4);
        put_le(&b, pt->len, 2);
        put_le(&b, pt->kind, 1);
        put_le(&b, pt->left, 1);
        put_le(&b, pt->right, 1);
    }
    put(&b, hs, hs_len);
    free(hs);
    if (b.err) {
        err = iocs_seterr(errbuf, errlen, b.err, "out of memory");
        goto out;
    }
    h = b.p;
    memcpy(h, MAGIC, 8);
    le_store(h + 8, IOCS_DBFILE_VERSION, 4);
    le_store(h + 12, HEADER_SIZE, 4);
    memcpy(h + 16, t.version, sizeof(t.version));
    le_store(h + 80, t.features, 8);
    le_store(h + 88, t.tune, 4);
    le_store(h + 96, set_key(&t, b.p + set_at, set_len), 8);
    le_store(h + 104, iocs_iocset_count(set), 8);
    le_store(h + 112, npats, 8);
    le_store(h + 120, iocs_db_overlap(db), 8);
    le_store(h + 128, set_len, 8);
    le_store(h + 136, b.len - hs_len - pat_at, 8);
    le_store(h + 144, hs_len, 8);
    le_store(h + 152, bind_key(b.p, b.len), 8);
    put_le(&b, sum64(0, b.p, b.len), 8);
    if (b.err) {
        err = iocs_seterr(errbuf, errlen, b.err, "out of memory");
        goto out;
    }
    err =
        iocs_write_replace(path, b.p, b.len, 0644, "database", errbuf, errlen);
out:
    free(b.p);
    return err;
}

/* Check and load a whole file's bytes. */
static int parse_file(struct iocs_db **out, const unsigned char *p, size_t n,
                      uint64_t want, char *errbuf, size_t errlen)
{
    struct iocs_iocset *set = NULL;
    struct iocs_pat *pats = NULL;
    uint64_t count, npats, overlap, set_len, pat_len, hs_len, hash;
    struct cur c;
    struct target t;
    int err;

    if (n < HEADER_SIZE + 8 || memcmp(p, MAGIC, 8) != 0)
        return iocs_seterr(errbuf, errlen, -EINVAL,
                           "not an iocstream database file");
    if (le_load(p + 8, 4) != IOCS_DBFILE_VERSION)
        return iocs_seterr(errbuf, errlen, -ESTALE,
                           "database format version %u, this build reads %u",
                           (unsigned)le_load(p + 8, 4), IOCS_DBFILE_VERSION);
    if (le_load(p + 12, 4) != HEADER_SIZE)
        return iocs_seterr(errbuf, errlen, -EINVAL, "bad header size");
    get_target(&t);
    if (memcmp(p + 16, t.version, sizeof(t.version)) != 0)
        return iocs_seterr(errbuf, errlen, -ESTALE,
                           "built with Hyperscan '%.63s', this is '%s'",
                           (const char *)p + 16, t.version);
    if (le_load(p + 80, 8) != t.features || le_load(p + 88, 4) != t.tune)
        return iocs_seterr(errbuf, errlen, -ESTALE,
                           "built for other CPU features (%#llx, this CPU "
                           "has %#llx)",
                           (unsigned long long)le_load(p + 80, 8),
                           (unsigned long long)t.features);
    hash = le_load(p + 96, 8);
    count = le_load(p + 104, 8);
    npats = le_load(p + 112, 8);
    overlap = le_load(p + 120, 8);
    set_len = le_load(p + 128, 8);
    pat_len = le_load(p + 136, 8);
    hs_len = le_load(p + 144, 8);
    if (set_len > FILE_MAX || pat_len > FILE_MAX || hs_len > FILE_MAX ||
        HEADER_SIZE + set_len + pat_len + hs_len + 8 != n)
        return iocs_seterr(errbuf, errlen, -EINVAL,
                           "truncated or resized (%zu bytes)", n);
    if (le_load(p + n - 8, 8) != sum64(0, p, n - 8))
        return iocs_seterr(errbuf, errlen, -EINVAL, "checksum mismatch");
    if (le_load(p + 152, 8) != bind_key(p, n - 8))
        return iocs_seterr(errbuf, errlen, -EINVAL,
                           "the Hyperscan section does not belong to the "
                           "pattern table");
    if (want && hash != want)
        return iocs_seterr(errbuf, errlen, -ESTALE,
                           "holds another IOC set (%016llx)",
                           (unsigned long long)hash);
    if (count > UINT32_MAX || npats == 0 || npats > UINT32_MAX ||
        pat_len != npats * PAT_BYTES || overlap == 0 || overlap > (1u << 20))
        return iocs_seterr(errbuf, errlen, -EINVAL, "bad counts in header");

    c = (struct cur){.p = p + HEADER_SIZE, .end = p + HEADER_SIZE + set_len};
    err = get_set(&c, count, &set);
    if (!err && c.p != c.end)
        err = -EINVAL;
    if (err) {
        iocs_seterr(errbuf, errlen, err, "%s",
                    err == -ENOMEM ? "out of memory" : "bad IOC record");
        goto fail;
    }
    if (set_key(&t, p + HEADER_SIZE, (size_t)set_len) != hash) {
        err = iocs_seterr(errbuf, errlen, -EINVAL, "set hash mismatch");
        goto fail;
    }

    pats = malloc((size_t)npats * sizeof(*pats));
    if (!pats) {
        err = iocs_seterr(errbuf, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    c = (struct cur){.p = p + HEADER_SIZE + set_len,
                     .end = p + HEADER_SIZE + set_len + pat_len};
    for (size_t i = 0; i < npats; i++) {
        struct iocs_pat *pt = &pats[i];

        pt->ioc = (uint32_t)get_le(&c, 4);
        pt->len = (uint16_t)get_le(&c, 2);
        pt->kind = (uint8_t)get_le(&c, 1);
        pt->left = (uint8_t)get_le(&c, 1);
        pt->right = (uint8_t)get_le(&c, 1);
        if (pt->kind > IOCS_PAT_REGEX || pt->left > IOCS_EDGE_FILE ||
            pt->right > IOCS_EDGE_FILE || pt->len > overlap ||
            ((pt->kind == IOCS_PAT_LITERAL || pt->kind == IOCS_PAT_REGEX) &&
             (pt->ioc >= count || pt->len == 0))) {
            err = iocs_seterr(errbuf, errlen, -EINVAL, "bad pattern %zu", i);
            goto fail;
        }
    }
    err = iocs__db_load(out, set, pats, (size_t)npats, (size_t)overlap,
                        (const char *)c.end, (size_t)hs_len, errbuf, errlen);
    if (err)
        goto fail;
    free(pats);
    return 0;

fail:
    free(pats);
    iocs_iocset_free(set);
    return err;
}

int iocs_dbfile_read(struct iocs_db **out, const char *path, uint64_t want,
                     char *errbuf, size_t errlen)
{
    char *buf = NULL;
    size_t n = 0;
    int err;

    err = iocs_read_file_max(path, IOCS_DBFILE_MAX, &buf, &n);
    if (err == -EINVAL)
        return iocs_seterr(errbuf, errlen, err, "not a regular file");
    if (err == -EFBIG)
        return iocs_seterr(errbuf, errlen, err, "larger than %llu bytes",
                           (unsigned long long)IOCS_DBFILE_MAX);
    if (err)
        return iocs_seterr(errbuf, errlen, err, "%s", strerror(-err));
    err = parse_file(out, (const unsigned char *)buf, n, want, errbuf, errlen);
    free(buf);
    return err;
}

/* ---- the cache ---- */

int iocs__dbfile_parse(struct iocs_db **out, const void *p, size_t n,
                       uint64_t want, char *errbuf, size_t errlen)
{
    return parse_file(out, p, n, want, errbuf, errlen);
}

void iocs__dbfile_fixup(void *v, size_t n, bool bind)
{
    unsigned char *p = v;
    uint64_t set_len, pat_len, hs_len;
    struct target t;

    if (n < HEADER_SIZE + 8)
        return;
    set_len = le_load(p + 128, 8);
    pat_len = le_load(p + 136, 8);
    hs_len = le_load(p + 144, 8);
    if (set_len > FILE_MAX || pat_len > FILE_MAX || hs_len > FILE_MAX ||
        HEADER_SIZE + set_len + pat_len + hs_len + 8 != n)
        return;
    get_target(&t);
    le_store(p + 96, set_key(&t, p + HEADER_SIZE, (size_t)set_len), 8);
    if (bind)
        le_store(p + 152, bind_key(p, n - 8), 8);
    le_store(p + n - 8, sum64(0, p, n - 8), 8);
}

int iocs_dbcache_dir(char *buf, size_t cap)
{
    const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;

    if (x && x[0] == '/')
        n = snprintf(buf, cap, "%s/iocstream", x);
    else if (home && home[0])
        n = snprintf(buf, cap, "%s/.cache/iocstream", home);
    else
        return -ENOENT;
    if (n < 0 || (size_t)n >= cap)
        return -ENAMETOOLONG;
    return 0;
}

/* mkdir -p for the cache directory (0700 for what it creates). */
static int make_dir(const char *dir)
{
    char *p = strdup(dir);
    int err = 0;

    if (!p)
        return -ENOMEM;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            err = -errno;
        *s = '/';
        if (err)
            break;
    }
    if (!err && mkdir(p, 0700) < 0 && errno != EEXIST)
        err = -errno;
    free(p);
    return err;
}

/* Whether st (of what) may be trusted as ours: owned by the running user
 * and not writable by group or others. Writes why into res->warn. */
static bool trusted(const struct stat *st, const char *path,
                    struct iocs_dbcache_result *res)
{
    const char *why = NULL;

    if (st->st_uid != geteuid())
        why = "not owned by the running user";
    else if (st->st_mode & (S_IWGRP | S_IWOTH))
        why = "writable by group or others";
    if (!why)
        return true;
    if (res && !res->warn[0])
        snprintf(res->warn, sizeof(res->warn),
                 "%.200s: %s; not using the cache", path, why);
    return false;
}

/*
 * The cache directory may be used: it is ours (created 0700 when missing)
 * and not writable by others. Returns 0, or -EPERM with res->warn saying
 * why (the caller compiles without the cache), or what mkdir(2) returns.
 */
static int check_dir(const char *dir, struct iocs_dbcache_result *res)
{
    struct stat st;
    int err;

    if (lstat(dir, &st) < 0) {
        if (errno != ENOENT)
            return -errno;
        err = make_dir(dir);
        if (err)
            return err;
        if (lstat(dir, &st) < 0)
            return -errno;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (res && !res->warn[0])
            snprintf(res->warn, sizeof(res->warn),
                     "%.200s: not a directory; not using the cache", dir);
        return -EPERM;
    }
    return trusted(&st, dir, res) ? 0 : -EPERM;
}

/* The inputs key: the salt and each input's path and stat identity. */
int iocs_dbcache_inputs_key(const struct iocs_dbcache_opts *o, uint64_t *out)
{
    struct target t;
    uint64_t h;

    get_target(&t);
    h = sum64(o->salt, &t, sizeof(t));
    for (size_t i = 0; i < o->ninputs; i++) {
        struct stat st;
        uint64_t v[8];

        if (stat(o->inputs[i], &st) < 0)
            return -errno;
        v[0] = (uint64_t)st.st_dev;
        v[1] = (uint64_t)st.st_ino;
        v[2] = (uint64_t)st.st_size;
        v[3] = (uint64_t)st.st_mtim.tv_sec;
        v[4] = (uint64_t)st.st_mtim.tv_nsec;
        v[5] = (uint64_t)st.st_ctim.tv_sec;
        v[6] = (uint64_t)st.st_ctim.tv_nsec;
        v[7] = i;
        h = sum64(h, o->inputs[i], strlen(o->inputs[i]) + 1);
        h = sum64(h, v, sizeof(v));
    }
    *out = h ? h : 1; /* 0 means "none taken" in the options */
    return 0;
}

static int entry_path(char *buf, size_t cap, const char *dir,
                      const char *prefix, uint64_t h, const char *ext)
{
    int n = snprintf(buf, cap, "%s/%s%016llx%s", dir, prefix,
                     (unsigned long long)h, ext);

    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static void set_why(struct iocs_dbcache_result *res, const char *path,
                    const char *why)
{
    /* A cut message is still worth reading. */
    if (res && snprintf(res->why, sizeof(res->why), "%s: %s", path, why) < 0)
        res->why[0] = '\0';
}

/* Whether the cache file at path may be read: a regular file of ours
 * (lstat: a link is not followed), not writable by others. -ENOENT when
 * missing; -EPERM (res->warn says why) or -EINVAL otherwise. */
static int check_file(const char *path, struct iocs_dbcache_result *res)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode)) {
        set_why(res, path, "not a regular file");
        return -EINVAL;
    }
    return trusted(&st, path, res) ? 0 : -EPERM;
}

/* A hit: mark the entry as used now, for least-recently-used pruning. */
static void touch(const char *path)
{
    (void)utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW);
}

int iocs_dbcache_find(const struct iocs_dbcache_opts *o, struct iocs_db **out,
                      struct iocs_dbcache_result *res)
{
    char path[4096], errbuf[256];
    unsigned char idx[IDX_SIZE];
    uint64_t key, hash;
    ssize_t r;
    int fd, err;

    if (res)
        memset(res, 0, sizeof(*res));
    if (!o->dir || check_dir(o->dir, res) < 0)
        return -ENOENT;
    if (o->inputs_key)
        key = o->inputs_key;
    else if (iocs_dbcache_inputs_key(o, &key) < 0)
        return -ENOENT;
    if (entry_path(path, sizeof(path), o->dir, "in-", key, ".idx") < 0)
        return -ENOENT;
    if (check_file(path, res) < 0)
        return -ENOENT;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -ENOENT;
    r = read(fd, idx, sizeof(idx));
    close(fd);
    if (r != IDX_SIZE || memcmp(idx, IDX_MAGIC, 8) != 0 ||
        le_load(idx + 8, 8) != key ||
        le_load(idx + 24, 8) != sum64(0, idx, 24)) {
        set_why(res, path, "bad index");
        return -ENOENT;
    }
    touch(path);
    hash = le_load(idx + 16, 8);
    if (entry_path(path, sizeof(path), o->dir, "", hash, ".db") < 0)
        return -ENOENT;
    if (check_file(path, res) < 0)
        return -ENOENT;
    err = iocs_dbfile_read(out, path, hash, errbuf, sizeof(errbuf));
    if (err) {
        /* Out of memory too: compiling may need less than this file. */
        set_why(res, path, errbuf);
        return -ENOENT;
    }
    touch(path);
    if (res)
        res->how = IOCS_DBCACHE_INPUTS;
    return 0;
}

void iocs__dbcache_index_make(unsigned char *idx, uint64_t key, uint64_t hash)
{
    memcpy(idx, IDX_MAGIC, 8);
    le_store(idx + 8, key, 8);
    le_store(idx + 16, hash, 8);
    le_store(idx + 24, sum64(0, idx, 24), 8);
}

static int write_index(const struct iocs_dbcache_opts *o, uint64_t key,
                       uint64_t hash)
{
    unsigned char idx[IDX_SIZE];
    char path[4096];
    int err;

    err = entry_path(path, sizeof(path), o->dir, "in-", key, ".idx");
    if (err)
        return err;
    iocs__dbcache_index_make(idx, key, hash);
    return iocs_write_replace(path, idx, sizeof(idx), 0600, "cache file", NULL,
                              0);
}

/* One entry of the cache directory, for pruning. */
struct entry {
    char *name;
    uint64_t size;
    struct timespec used;
};

static int by_use(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    if (x->used.tv_sec != y->used.tv_sec)
        return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    if (x->used.tv_nsec != y->used.tv_nsec)
        return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Whether name is one of ours: "<16 hex>.db", "in-<16 hex>.idx", or
 * either followed by the ".XXXXXX" of a temporary file (*tmp set). */
static bool ours(const char *name, bool *tmp)
{
    size_t n = strlen(name), i = 0;
    const char *ext;

    if (!strncmp(name, "in-", 3))
        i = 3;
    for (size_t k = 0; k < 16; k++, i++)
        if (i >= n || !strchr("0123456789abcdef", name[i]))
            return false;
    ext = name + i;
    if (!strncmp(ext, ".db", 3) && i == 16)
        ext += 3;
    else if (!strncmp(ext, ".idx", 4) && i == 19)
        ext += 4;
    else
        return false;
    *tmp = *ext != '\0';
    return !*tmp || (ext[0] == '.' && strlen(ext) == 7);
}

/*
 * Keep the cache under its limit: remove our stale temporary files, then
 * entries least recently used first while the total is over max (the
 * newest entry always stays). Best effort: errors are ignored.
 */
static void prune(const char *dir, uint64_t max)
{
    struct entry *v = NULL, *nv;
    size_t len = 0, cap = 0;
    uint64_t total = 0;
    struct dirent *de;
    time_t now = time(NULL);
    DIR *d;
    int dfd;

    d = opendir(dir);
    if (!d)
        return;
    dfd = dirfd(d);
    while ((de = readdir(d))) {
        struct stat st;
        bool tmp;

        if (!ours(de->d_name, &tmp) ||
            fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode) || st.st_uid != geteuid())
            continue;
        if (tmp) {
            if (now - st.st_mtim.tv_sec > IOCS_DBCACHE_STALE_S)
                (void)unlinkat(dfd, de->d_name, 0);
            continue;
        }
        if (len == cap) {
            cap = cap ? cap * 2 : 64;
            nv = realloc(v, cap * sizeof(*v));
            if (!nv)
                goto out;
            v = nv;
        }
        v[len].name = strdup(de->d_name);
        if (!v[len].name)
            goto out;
        v[len].size = (uint64_t)st.st_size;
        v[len].used = st.st_mtim;
        total += v[len].size;
        len++;
    }
    if (total > max && len > 1) {
        qsort(v, len, sizeof(*v), by_use);
        for (size_t i = 0; i + 1 < len && total > max; i++) {
            if (unlinkat(dfd, v[i].name, 0) == 0)
                total -= v[i].size;
        }
    }
out:
    for (size_t i = 0; i < len; i++)
        free(v[i].name);
    free(v);
    closedir(d);
}

int iocs_dbcache_get(const struct iocs_dbcache_opts *o, struct iocs_iocset *set,
                     struct iocs_db **out, struct iocs_dbcache_result *res,
                     char *errbuf, size_t errlen)
{
    struct iocs_dbcache_result scratch;
    struct iocs_db *db = NULL;
    char path[4096], why[256];
    uint64_t hash, key = 0;
    bool have_path = false, index;
    int err;

    if (!res)
        res = &scratch;
    memset(res, 0, sizeof(*res));
    res->how = IOCS_DBCACHE_BUILT;
    err = iocs_dbcache_set_hash(set, &hash);
    if (err)
        return iocs_seterr(errbuf, errlen, err, "out of memory");
    index = o->ninputs || o->salt;
    /* The inputs as they are now: if they are not what was parsed, a
     * rewrite raced the parse and nothing is cached for them. */
    if (o->dir && index &&
        (iocs_dbcache_inputs_key(o, &key) < 0 ||
         (o->inputs_key && key != o->inputs_key)))
        res->inputs_changed = true;
    if (o->dir && !res->inputs_changed && check_dir(o->dir, res) == 0 &&
        entry_path(path, sizeof(path), o->dir, "", hash, ".db") == 0) {
        have_path = true;
        err = check_file(path, res);
        if (err == 0)
            err = iocs_dbfile_read(&db, path, hash, why, sizeof(why));
        else if (err == -EINVAL)
            snprintf(why, sizeof(why), "not a regular file");
        if (err == 0) {
            iocs_iocset_free(set); /* the file brought its own copy */
            touch(path);
            res->how = IOCS_DBCACHE_SET;
            goto index;
        }
        if (err == -EPERM)
            have_path = false; /* a foreign file: neither read nor replaced */
        else if (err != -ENOENT) {
            res->how = IOCS_DBCACHE_REBUILT;
            set_why(res, path, why);
        }
    }
    if (o->on_compile)
        o->on_compile(o->compile_ctx, iocs_iocset_count(set), false);
    err = iocs_db_compile(&db, set, errbuf, errlen);
    if (o->on_compile)
        o->on_compile(o->compile_ctx, iocs_iocset_count(set), true);
    if (err)
        return err;
    iocs__db_own_set(db);
    if (have_path)
        res->store_err = iocs_dbfile_write(db, path, NULL, 0);

index:
    if (have_path && !res->store_err && index)
        res->store_err = write_index(o, key, hash);
    if (have_path)
        prune(o->dir, o->max_bytes ? o->max_bytes : IOCS_DBCACHE_MAX);
    *out = db;
    return 0;
}
