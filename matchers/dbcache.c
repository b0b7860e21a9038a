/*
 * dbcache.c - database files and the on-disk cache (format in dbcache.h).
 *
 * Writing builds the whole file in memory, then writes it under a temporary
 * name and renames it. Reading maps the file (a --db file's header, set
 * and patterns read into memory of our own first), checks the header, the
 * trailer, the binding and the set hash before looking at anything else,
 * then reads each section with bounds checks, the set's strings left where
 * they are. Config-time code.
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "matchers/util.h"

#define MAGIC "IOCSTRDB"
#define IDX_MAGIC "IOCSIDX1"
#define HEADER_SIZE 192
/* The bytes at each end of the Hyperscan section in the binding at least
 * (its header is 32 bytes; the padding after its bytecode goes in too). */
#define HS_EDGE 64
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

/* One step of a lane of hash8(): a bijection of h for each w (xor, an odd
 * multiply, an xorshift), so a lane whose input differs in one word ends
 * in another state, whatever follows. */
static uint64_t step8(uint64_t h, uint64_t w)
{
    h = (h ^ w) * UINT64_C(0x9e3779b97f4a7c15);
    return h ^ (h >> 32);
}

/* The hash of the big sections (the set, the patterns, the header): eight
 * independent lanes of one multiply per 8 bytes, about as fast as memory
 * delivers the bytes (sum64() has two multiplies per word and four lanes).
 * A checksum against damage, not a defence against an attacker. */
static uint64_t hash8(uint64_t seed, const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h[8], r;

    for (int i = 0; i < 8; i++)
        h[i] = seed + (uint64_t)i * UINT64_C(0xc4ceb9fe1a85ec53);
    r = mix(seed ^ n);
    for (; n >= 64; s += 64, n -= 64)
        for (int i = 0; i < 8; i++)
            h[i] = step8(h[i], word(s + 8 * i));
    for (int i = 0; i < 8 && n >= 8; s += 8, n -= 8, i++)
        h[i] = step8(h[i], word(s));
    if (n)
        r = step8(r, le_load(s, n) | (uint64_t)1 << (8 * n));
    for (int i = 0; i < 8; i++)
        r = mix(r ^ mix(h[i] + (uint64_t)i));
    return r;
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

    h = hash8(h, p, n);
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

/* 4 bytes as a little-endian number, in one load where the host is
 * little-endian. */
static uint32_t word32(const unsigned char *p)
{
    uint32_t w;

    memcpy(&w, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap32(w);
#endif
    return w;
}

/* A string of the set section, used where it lies: its NUL is checked, so
 * reading it as a C string never leaves the section. */
static inline const char *get_str(struct cur *c, size_t *len)
{
    uint32_t n;
    const char *s;

    if (c->bad || c->end - c->p < 4) {
        c->bad = true;
        return NULL;
    }
    n = word32(c->p);
    c->p += 4;
    if (n == NO_STRING)
        return NULL;
    if ((uint64_t)(c->end - c->p) <= n || c->p[n] != '\0') {
        c->bad = true;
        return NULL;
    }
    s = (const char *)c->p;
    c->p += (size_t)n + 1;
    if (len)
        *len = n;
    return s;
}

/* The fixed part of a record: u8 type, i32 severity, i32 confidence, i64
 * expires, u32 hs_flags, u16 port, u8 word. */
#define REC_FIXED 24

/* One record into x, its strings pointing into the section. */
static void get_record(struct cur *c, struct iocs_ioc *x)
{
    const unsigned char *r = c->p;
    unsigned type;

    if (c->bad || c->end - c->p < REC_FIXED) {
        c->bad = true;
        return;
    }
    type = r[0];
    x->severity = (int)(int32_t)word32(r + 1);
    x->confidence = (int)(int32_t)word32(r + 5);
    x->expires = (int64_t)word(r + 9);
    x->hs_flags = (unsigned)word32(r + 17);
    x->port = (unsigned)r[21] | (unsigned)r[22] << 8;
    x->word = r[23] != 0;
    c->p += REC_FIXED;
    x->value = get_str(c, &x->len);
    x->feed = get_str(c, NULL);
    x->provider = get_str(c, NULL);
    x->description = get_str(c, NULL);
    x->reference = get_str(c, NULL);
    x->source = get_str(c, NULL);
    x->tags = get_str(c, NULL);
    x->rule_id = get_str(c, NULL);
    x->also = NULL;
    /* A value is its strlen(): no NUL inside (the other strings may only
     * read shorter than written, which is harmless). */
    if (c->bad || type >= IOCS_TYPE_COUNT || !x->value || x->len == 0 ||
        memchr(x->value, '\0', x->len))
        c->bad = true;
    x->type = c->bad ? IOCS_STRING : (enum iocs_type)type;
}

/*
 * Fill the nrec records of a borrowed set from its section: IOC i into
 * recs[i], its `also` records after the count IOCs, in file order. Every
 * record of a chain must repeat its IOC's type and value. Returns 0 or
 * -EINVAL.
 */
static int get_set(struct cur *c, uint64_t count, uint64_t nrec,
                   struct iocs_ioc *recs)
{
    uint64_t next = count; /* the next free `also` record */

    for (uint64_t i = 0; i < count; i++) {
        uint64_t n = get_le(c, 4);
        struct iocs_ioc *last = &recs[i];

        if (c->bad || n == 0 || n - 1 > nrec - next)
            return -EINVAL;
        get_record(c, last);
        for (uint64_t r = 1; r < n && !c->bad; r++) {
            struct iocs_ioc *x = &recs[next++];

            get_record(c, x);
            if (x->type != recs[i].type || x->len != recs[i].len ||
                memcmp(x->value, recs[i].value, x->len) != 0)
                return -EINVAL;
            x->value = recs[i].value;
            last->also = x;
            last = x;
        }
        if (c->bad)
            return -EINVAL;
    }
    return next == nrec && c->p == c->end ? 0 : -EINVAL;
}

/* ---- database files ---- */

/* The header's fields, read once from a copy of it. */
struct header {
    uint64_t hash, count, npats, overlap, set_len, pat_len, hs_len, bind;
    uint64_t nrec, cidr_len;
    char id[17];
};

static void get_header(const unsigned char *p, struct header *h)
{
    h->hash = le_load(p + 96, 8);
    h->count = le_load(p + 104, 8);
    h->npats = le_load(p + 112, 8);
    h->overlap = le_load(p + 120, 8);
    h->set_len = le_load(p + 128, 8);
    h->pat_len = le_load(p + 136, 8);
    h->hs_len = le_load(p + 144, 8);
    h->bind = le_load(p + 152, 8);
    h->nrec = le_load(p + 160, 8);
    memcpy(h->id, p + 168, 16);
    h->id[16] = '\0';
    h->cidr_len = le_load(p + 184, 8);
}

/* Whether the sizes of h add up to a file of n bytes. */
static bool sizes_fit(const struct header *h, size_t n)
{
    return h->set_len <= FILE_MAX && h->pat_len <= FILE_MAX &&
           h->hs_len <= FILE_MAX && h->cidr_len <= FILE_MAX &&
           HEADER_SIZE + h->set_len + h->pat_len + h->cidr_len + h->hs_len +
                   8 ==
               n;
}

/*
 * The Hyperscan binding of a file p[0..n) whose sizes fit: a hash of the
 * pattern section and of the ends of the Hyperscan section, seeded with
 * the set hash. Its first HS_EDGE bytes hold Hyperscan's own header
 * (magic, version, length, platform and the CRC32C of the bytecode, which
 * hs_deserialize_database() checks on its copy); its last HS_EDGE bytes,
 * and all of the padding Hyperscan 5 writes after the bytecode (which no
 * CRC covers), are the end. A Hyperscan database spliced in from another
 * file (whose pattern ids index another pattern table) is refused before
 * it is deserialized.
 */
static uint64_t bind_key(const unsigned char *p, const struct header *h)
{
    const unsigned char *pat = p + HEADER_SIZE + h->set_len;
    const unsigned char *hs = pat + h->pat_len + h->cidr_len;
    size_t n = (size_t)h->hs_len, edge = n < HS_EDGE ? n : HS_EDGE;
    size_t tail = n - edge;
    uint64_t k;

    /* The padding after the bytecode: Hyperscan's header says where the
     * bytecode (length at byte 8) ends. */
    if (n >= 32 && le_load(hs + 8, 4) <= n - 32 &&
        32 + le_load(hs + 8, 4) < tail)
        tail = 32 + (size_t)le_load(hs + 8, 4);
    k = hash8(h->hash ^ UINT64_C(0x62696e6468733035), pat, (size_t)h->pat_len);
    k = hash8(k, hs, edge);
    return hash8(k, hs + tail, n - tail);
}

/* The trailer: a hash of the header and the pattern and prefix set
 * sections (the set section has the set hash, the Hyperscan section its
 * CRC32C). */
static uint64_t file_sum(const unsigned char *head, const unsigned char *p,
                         const struct header *h)
{
    uint64_t k = hash8(UINT64_C(0x696f637364623035), head, HEADER_SIZE);

    return hash8(k, p + HEADER_SIZE + h->set_len,
                 (size_t)(h->pat_len + h->cidr_len));
}

int iocs_dbfile_write(const struct iocs_db *db, const char *path, char *errbuf,
                      size_t errlen)
{
    const struct iocs_iocset *set = iocs_db_set(db);
    size_t npats = iocs_db_patterns(db), set_at, set_len, pat_at, hs_len = 0;
    size_t nrec = 0, cidr_at, cidr_len;
    struct buf b = {0};
    struct header hd;
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
    for (size_t i = 0; i < iocs_iocset_count(set); i++)
        for (const struct iocs_ioc *a = iocs_iocset_get(set, i); a; a = a->also)
            nrec++;
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
    cidr_at = b.len;
    if (iocs_db_cidrs(db)) {
        unsigned char *at = reserve(&b, iocs__cidrset_size(iocs_db_cidrs(db)));

        if (at)
            iocs__cidrset_save(iocs_db_cidrs(db), at);
    }
    cidr_len = b.len - cidr_at;
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
    le_store(h + 136, cidr_at - pat_at, 8);
    le_store(h + 144, hs_len, 8);
    le_store(h + 160, nrec, 8);
    memcpy(h + 168, iocs_db_id(db), 16);
    le_store(h + 184, cidr_len, 8);
    get_header(h, &hd);
    le_store(h + 152, bind_key(b.p, &hd), 8);
    put_le(&b, file_sum(b.p, b.p, &hd), 8);
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

/* What a loaded set's strings point into: a file mapping or a copy. */
struct backing {
    void *p;
    size_t len;
    bool mapped;
};

static void release(void *v)
{
    struct backing *k = v;

    if (!k)
        return;
    if (k->mapped)
        munmap(k->p, k->len);
    else
        free(k->p);
    free(k);
}

/* Whether id is 16 lower-case hex digits, as iocs_db_id() writes. */
static bool good_id(const char *id)
{
    for (int i = 0; i < 16; i++)
        if (!strchr("0123456789abcdef", id[i]) || !id[i])
            return false;
    return true;
}

/*
 * Drop the pages of k's bytes [from, to) that are whole pages: bytes that
 * were needed only while loading (the pattern and Hyperscan sections,
 * copied by then). On a private file mapping this only forgets them (the
 * page cache keeps the file's); on a copy it frees them. Best effort.
 */
static void drop(const struct backing *k, size_t from, size_t to)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)k->p + from + pg - 1) & ~(pg - 1);
    uintptr_t z = ((uintptr_t)k->p + to) & ~(pg - 1);

    /* A copy from malloc() may share its first and last page with other
     * allocations: only whole pages inside it are dropped. */
    if (z > a)
        (void)madvise((void *)a, z - a, MADV_DONTNEED);
}

/*
 * Check and load a whole file's bytes k->p[0..k->len). On success the
 * database's set owns k (its strings point into it); on failure k is still
 * the caller's.
 */
static int parse_file(struct iocs_db **out, struct backing *k, uint64_t want,
                      char *errbuf, size_t errlen)
{
    const unsigned char *p = k->p;
    unsigned char head[HEADER_SIZE];
    struct iocs_iocset *set = NULL;
    struct iocs_cidrset *cidrs = NULL;
    struct iocs_pat *pats = NULL;
    size_t n = k->len;
    struct header h;
    struct cur c;
    struct target t;
    int err;

    if (n < HEADER_SIZE + 8 || memcmp(p, MAGIC, 8) != 0)
        return iocs_seterr(errbuf, errlen, -EINVAL,
                           "not an iocstream database file");
    /* One copy of the header: the file may change under a mapping. */
    memcpy(head, p, HEADER_SIZE);
    if (le_load(head + 8, 4) != IOCS_DBFILE_VERSION)
        return iocs_seterr(errbuf, errlen, -ESTALE,
                           "database format version %u, this build reads %u",
                           (unsigned)le_load(head + 8, 4), IOCS_DBFILE_VERSION);
    if (le_load(head + 12, 4) != HEADER_SIZE)
        return iocs_seterr(errbuf, errlen, -EINVAL, "bad header size");
    get_target(&t);
    if (memcmp(head + 16, t.version, sizeof(t.version)) != 0)
        return iocs_seterr(errbuf, errlen, -ESTALE,
                           "built with Hyperscan '%.63s', this is '%s'",
                           (const char *)head + 16, t.version);
    if (le_load(head + 80, 8) != t.features || le_load(head + 88, 4) != t.tune)
        return iocs_seterr(errbuf, errlen, -ESTALE,
                           "built for other CPU features (%#llx, this CPU "
                           "has %#llx)",
                           (unsigned long long)le_load(head + 80, 8),
                           (unsigned long long)t.features);
    get_header(head, &h);
    if (!sizes_fit(&h, n))
        return iocs_seterr(errbuf, errlen, -EINVAL,
                           "truncated or resized (%zu bytes)", n);
    if (le_load(p + n - 8, 8) != file_sum(head, p, &h))
        return iocs_seterr(errbuf, errlen, -EINVAL, "checksum mismatch");
    if (h.bind != bind_key(p, &h))
        return iocs_seterr(errbuf, errlen, -EINVAL,
                           "the Hyperscan section does not belong to the "
                           "pattern table");
    if (want && h.hash != want)
        return iocs_seterr(errbuf, errlen, -ESTALE,
                           "holds another IOC set (%016llx)",
                           (unsigned long long)h.hash);
    if (h.count > UINT32_MAX - 2 || h.nrec < h.count || h.npats == 0 ||
        h.npats > UINT32_MAX || h.pat_len != h.npats * PAT_BYTES ||
        h.overlap == 0 || h.overlap > (1u << 20) || !good_id(h.id) ||
        h.nrec > h.set_len / 32) /* a record takes at least 32 bytes */
        return iocs_seterr(errbuf, errlen, -EINVAL, "bad counts in header");
    if (set_key(&t, p + HEADER_SIZE, (size_t)h.set_len) != h.hash)
        return iocs_seterr(errbuf, errlen, -EINVAL,
                           "set hash mismatch (the set section's checksum)");

    err = iocs__iocset_new_borrowed(&set, (size_t)h.count, (size_t)h.nrec);
    if (err)
        return iocs_seterr(errbuf, errlen, err, "out of memory");
    c = (struct cur){.p = p + HEADER_SIZE, .end = p + HEADER_SIZE + h.set_len};
    err = get_set(&c, h.count, h.nrec, iocs__iocset_records(set));
    if (err) {
        iocs_seterr(errbuf, errlen, err, "bad IOC record");
        goto fail;
    }

    pats = malloc((size_t)h.npats * sizeof(*pats));
    if (!pats) {
        err = iocs_seterr(errbuf, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    c = (struct cur){.p = p + HEADER_SIZE + h.set_len,
                     .end = p + HEADER_SIZE + h.set_len + h.pat_len};
    for (size_t i = 0; i < h.npats; i++) {
        struct iocs_pat *pt = &pats[i];
        const unsigned char *r = c.p + i * PAT_BYTES;

        pt->ioc = (uint32_t)le_load(r, 4);
        pt->len = (uint16_t)le_load(r + 4, 2);
        pt->kind = r[6];
        pt->left = r[7];
        pt->right = r[8];
        if (pt->kind > IOCS_PAT_REGEX || pt->left > IOCS_EDGE_FILE ||
            pt->right > IOCS_EDGE_FILE || pt->len > h.overlap ||
            ((pt->kind == IOCS_PAT_LITERAL || pt->kind == IOCS_PAT_REGEX) &&
             (pt->ioc >= h.count || pt->len == 0))) {
            err = iocs_seterr(errbuf, errlen, -EINVAL, "bad pattern %zu", i);
            goto fail;
        }
    }
    if (h.cidr_len) {
        err = iocs__cidrset_load(&cidrs, c.end, (size_t)h.cidr_len,
                                 (uint32_t)h.count);
        if (err) {
            iocs_seterr(errbuf, errlen, err, "%s",
                        err == -ENOMEM ? "out of memory" : "bad prefix set");
            goto fail;
        }
    }
    /* No section: none stored, rebuilt from the set (finding none when
     * the set has no CIDR or IPv6 IOC). */
    err = iocs__db_load(out, set, pats, (size_t)h.npats, (size_t)h.overlap,
                        (const char *)c.end + h.cidr_len, (size_t)h.hs_len,
                        h.id, h.cidr_len ? &cidrs : NULL, errbuf, errlen);
    if (err)
        goto fail;
    free(pats);
    iocs__iocset_borrow(set, release, k); /* the set owns k now */
    if (k->mapped)
        drop(k, HEADER_SIZE + (size_t)h.set_len, n);
    return 0;

fail:
    free(pats);
    iocs_cidrset_free(cidrs);
    iocs_iocset_free(set);
    return err;
}

/* The bytes of a mapped file that a loaded set keeps using: the header,
 * set and pattern sections when the header's sizes fit, else all. */
static size_t prefix_len(const unsigned char *p, size_t n)
{
    struct header h;

    get_header(p, &h);
    return sizes_fit(&h, n)
               ? HEADER_SIZE + (size_t)(h.set_len + h.pat_len + h.cidr_len)
               : n;
}

/*
 * Put a copy of the file's bytes [from, to) (from a multiple of the page
 * size; to rounded up to a whole page, at most len, the file's size) in
 * place of the mapping's at p: an anonymous mapping at the same address,
 * filled by pread(2), so that cutting or rewriting the file no longer
 * reaches them (a file cut in place takes even the copied-on-write pages
 * of a private mapping with it). Returns 0, -EINVAL when the file is
 * shorter than it was, or a negative errno.
 */
static int own_range(int fd, unsigned char *p, size_t len, size_t from,
                     size_t to)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), done = from;

    to = (to + pg - 1) / pg * pg;
    if (to > len)
        to = len;
    if (to <= from)
        return 0;
    if (mmap(p + from, to - from, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1,
             0) == MAP_FAILED)
        return -errno;
    while (done < to) {
        ssize_t r = pread(fd, p + done, to - done, (off_t)done);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -EINVAL;
        done += (size_t)r;
    }
    return mprotect(p + from, to - from, PROT_READ) < 0 ? -errno : 0;
}

/*
 * Map the file at path. Cache files (private false) are used in place:
 * they are ours and only ever replaced by rename, so the inode mapped
 * never changes. Any other file (`scan --db`, private true) may be cut or
 * rewritten in place while we scan (cp over it): its header, set and
 * pattern sections are copied into anonymous memory at the same place
 * before anything is checked, so that what was checked stays as checked
 * and no later change to the file reaches (or SIGBUSes) a scan. The
 * Hyperscan section is copied (and its CRC32C checked on the copy) by
 * hs_deserialize_database() from the mapping; a file cut during that copy
 * still raises SIGBUS.
 */
static int map_file(const char *path, bool private, struct backing **out,
                    char *errbuf, size_t errlen)
{
    struct backing *k = NULL;
    struct stat st;
    int fd, err;

    /* O_NONBLOCK: a FIFO is refused by fstat(), not waited on. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return iocs_seterr(errbuf, errlen, -errno, "%s", strerror(errno));
    if (fstat(fd, &st) < 0) {
        err = iocs_seterr(errbuf, errlen, -errno, "%s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = iocs_seterr(errbuf, errlen, -EINVAL, "not a regular file");
        goto out;
    }
    if ((uint64_t)st.st_size > IOCS_DBFILE_MAX ||
        (uint64_t)st.st_size >= SIZE_MAX) {
        err = iocs_seterr(errbuf, errlen, -EFBIG, "larger than %llu bytes",
                          (unsigned long long)IOCS_DBFILE_MAX);
        goto out;
    }
    if (st.st_size < HEADER_SIZE + 8) {
        err = iocs_seterr(errbuf, errlen, -EINVAL,
                          "not an iocstream database file");
        goto out;
    }
    k = calloc(1, sizeof(*k));
    if (!k) {
        err = iocs_seterr(errbuf, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    k->len = (size_t)st.st_size;
    k->p = mmap(NULL, k->len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (k->p == MAP_FAILED) {
        err = iocs_seterr(errbuf, errlen, errno == ENOMEM ? -ENOMEM : -errno,
                          "cannot map: %s", strerror(errno));
        goto out;
    }
    k->mapped = true;
    if (private) {
        /* The header's page first, then the rest of what that copy of
         * the header says is kept. */
        size_t pg = (size_t)sysconf(_SC_PAGESIZE);

        err = own_range(fd, k->p, k->len, 0, HEADER_SIZE);
        if (!err)
            err = own_range(fd, k->p, k->len, pg, prefix_len(k->p, k->len));
        if (err) {
            iocs_seterr(errbuf, errlen, err, "%s",
                        err == -EINVAL ? "truncated while read"
                                       : strerror(-err));
            goto out;
        }
    }
    *out = k;
    k = NULL;
    err = 0;
out:
    if (k && k->mapped)
        munmap(k->p, k->len);
    free(k);
    close(fd);
    return err;
}

static int read_file(struct iocs_db **out, const char *path, uint64_t want,
                     bool private, char *errbuf, size_t errlen)
{
    struct backing *k = NULL;
    int err;

    err = map_file(path, private, &k, errbuf, errlen);
    if (err)
        return err;
    err = parse_file(out, k, want, errbuf, errlen);
    if (err)
        release(k);
    return err;
}

int iocs_dbfile_read(struct iocs_db **out, const char *path, uint64_t want,
                     char *errbuf, size_t errlen)
{
    return read_file(out, path, want, true, errbuf, errlen);
}

/* ---- the cache ---- */

int iocs__dbfile_parse(struct iocs_db **out, const void *p, size_t n,
                       uint64_t want, char *errbuf, size_t errlen)
{
    struct backing *k = calloc(1, sizeof(*k));
    int err;

    if (k)
        k->p = malloc(n ? n : 1);
    if (!k || !k->p) {
        free(k);
        return iocs_seterr(errbuf, errlen, -ENOMEM, "out of memory");
    }
    memcpy(k->p, p, n);
    k->len = n;
    err = parse_file(out, k, want, errbuf, errlen);
    if (err)
        release(k);
    return err;
}

void iocs__dbfile_fixup(void *v, size_t n, bool bind)
{
    unsigned char *p = v;
    struct header h;
    struct target t;

    if (n < HEADER_SIZE + 8)
        return;
    get_header(p, &h);
    if (!sizes_fit(&h, n))
        return;
    get_target(&t);
    h.hash = set_key(&t, p + HEADER_SIZE, (size_t)h.set_len);
    le_store(p + 96, h.hash, 8);
    if (bind)
        le_store(p + 152, bind_key(p, &h), 8);
    le_store(p + n - 8, file_sum(p, p, &h), 8);
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
    err = read_file(out, path, hash, false, errbuf, sizeof(errbuf));
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
            err = read_file(&db, path, hash, false, why, sizeof(why));
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
