/*
 * tokens.c - the typed token index: build (config time) and scan (hot
 * path, allocation-free).
 *
 * The table: one array of 8-byte slots {tag, IOC index + 1}, linear
 * probing, a power of two in size and at most 70% full. A key is the class
 * of the token (one per family: ipv4, ipv6, hash, domain, email) and its
 * folded bytes (an IPv6 address: its 16 bytes), hashed right to left so
 * that the suffixes of a domain are hashed in one walk. The slot holds 32
 * bits of the hash: a candidate that is no IOC almost never gets past the
 * tag, and a tag match is confirmed against the IOC's value in the set.
 */
#include "matchers/tokens.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "matchers/cidr.h"
#include "matchers/verify.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

/* Byte classes. */
enum {
    C_DIG = 1,    /* 0-9 */
    C_HEXA = 2,   /* a-f A-F */
    C_ALPHA = 4,  /* a-z A-Z */
    C_WORD = 8,   /* '-' '_' */
    C_DOT = 16,   /* '.' */
    C_COLON = 32, /* ':' */
    C_AT = 64,    /* '@' */
    C_EX = 128,   /* '%' '+' */
};

#define C_ALNUM (C_DIG | C_ALPHA)
#define C_HEX (C_DIG | C_HEXA)
/* A domain label's bytes; an e-mail local part's bytes. */
#define C_D (C_DIG | C_ALPHA | C_WORD)
#define C_E (C_DIG | C_ALPHA | C_WORD | C_DOT | C_EX)

static unsigned char cls[256];
static unsigned char fold[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* The longest address token a CIDR range is looked up for (verify.h). */
#define CIDR_TOKEN_MAX IOCS_TOKEN_MAX

/* Token classes, the first part of every key. */
enum { K_IPV4 = 1, K_IPV6, K_HASH, K_DOMAIN, K_EMAIL };

struct slot {
    uint32_t tag; /* 0: free */
    uint32_t ioc;
};

struct iocs_tokens {
    const struct iocs_iocset *set;
    struct slot *slots;
    size_t mask; /* slots - 1 */
    /* Bits set by the keys in the table (filt) and by the last two labels
     * of each domain (dom2): one probe that stays in cache rules out most
     * candidates before the table, which may not. */
    uint64_t *filt, *dom2;
    size_t fmask, dmask; /* bits - 1 */
    size_t count;
    size_t maxlen;
    size_t minlen;
    struct iocs_cidrset *cidrs; /* CIDR IOCs, or NULL */
    /* The first 16 bits of an address that some range of the family
     * holds: most tokens skip the trie walk. */
    uint64_t c16[2][1024];
    unsigned types; /* the types taken, (1u << enum iocs_type) */
    bool v4, v6, hash, domain, email, c4, c6;
};

static void init_tables(void)
{
    for (int c = 0; c < 256; c++) {
        unsigned char k = 0;

        if (c >= '0' && c <= '9')
            k = C_DIG;
        else if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
            k = C_HEXA | C_ALPHA;
        else if ((c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z'))
            k = C_ALPHA;
        else if (c == '-' || c == '_')
            k = C_WORD;
        else if (c == '.')
            k = C_DOT;
        else if (c == ':')
            k = C_COLON;
        else if (c == '@')
            k = C_AT;
        else if (c == '%' || c == '+')
            k = C_EX;
        cls[c] = k;
        fold[c] = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
}

/* ---- keys ---- */

#define H_SEED 0xcbf29ce484222325ull
#define H_MUL 0x9e3779b97f4a7c15ull
#define ONES 0x0101010101010101ull

/* The final hash of a key: class, length and the right-to-left hash. */
static inline uint64_t finish(uint64_t h, unsigned k, size_t len)
{
    h ^= (uint64_t)k << 56 ^ (uint64_t)len << 40;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* ASCII upper case to lower case in 8 bytes at once. Exact for bytes
 * below 0x80 (every token byte); other bytes (an IPv6 address's) come out
 * scrambled, but the same way on both sides of a lookup. */
static inline uint64_t fold8(uint64_t w)
{
    uint64_t ge_a = w + ONES * (0x80 - 'A');
    uint64_t gt_z = w + ONES * (0x80 - 'Z' - 1);

    return w | ((ge_a & ~gt_z & ~w & ONES * 0x80) >> 2);
}

/* Hash of the folded bytes p[0, n), 8 at a time from the right; reads
 * nothing outside them. */
static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = H_SEED, w = 0;
    size_t e = n;

    for (; e >= 8; e -= 8) {
        memcpy(&w, p + e - 8, 8);
        h = (h ^ fold8(w)) * H_MUL;
        h ^= h >> 29;
    }
    if (e > 0) {
        w = 0;
        if (n >= 8) {
            memcpy(&w, p, 8);
            w &= ~0ull >> (8 * (8 - e)); /* little-endian: p[0, e) */
        } else {
            memcpy(&w, p, e);
        }
        h = (h ^ fold8(w)) * H_MUL;
        h ^= h >> 29;
    }
    return h;
}

static unsigned key_class(enum iocs_type t)
{
    switch (t) {
    case IOCS_IPV4:
        return K_IPV4;
    case IOCS_IPV6:
        return K_IPV6;
    case IOCS_MD5:
    case IOCS_SHA1:
    case IOCS_SHA256:
    case IOCS_SHA512:
        return K_HASH;
    case IOCS_DOMAIN:
        return K_DOMAIN;
    case IOCS_EMAIL:
        return K_EMAIL;
    default:
        return 0;
    }
}

/* ---- which IOCs ---- */

static bool all_of(const char *v, size_t n, unsigned mask)
{
    for (size_t i = 0; i < n; i++)
        if (!(cls[(unsigned char)v[i]] & mask))
            return false;
    return true;
}

/* A dotted name as the token pass cuts it: label bytes, every '.' followed
 * by a letter or digit, not starting with '.'. */
static bool dotted_name(const char *v, size_t n, bool need_dot)
{
    bool dot = false;

    if (n == 0 || !(cls[(unsigned char)v[0]] & C_D))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char k = cls[(unsigned char)v[i]];

        if (k & C_D)
            continue;
        if (k != C_DOT || i + 1 == n ||
            !(cls[(unsigned char)v[i + 1]] & C_ALNUM))
            return false;
        dot = true;
    }
    return dot || !need_dot;
}

static size_t hash_len(enum iocs_type t)
{
    return t == IOCS_MD5      ? 32
           : t == IOCS_SHA1   ? 40
           : t == IOCS_SHA256 ? 64
                              : 128;
}

bool iocs_tokens_takes(unsigned types, const struct iocs_ioc *ioc)
{
    const char *v = ioc->value, *at;
    size_t n = ioc->len;
    uint8_t a[16];

    pthread_once(&tables_once, init_tables);
    if ((unsigned)ioc->type >= 32 ||
        !(types & IOCS_TOKENS_ALL & (1u << ioc->type)) || n == 0 ||
        n > IOCS_TOKENS_MAXLEN)
        return false;
    switch (ioc->type) {
    case IOCS_IPV4:
        return iocs_ip4_parse(v, n, a) == 0;
    case IOCS_IPV6:
        /* An embedded dotted quad is no run of hex digits and ':'. */
        return memchr(v, '.', n) == NULL && all_of(v, n, C_HEX | C_COLON) &&
               iocs_ip6_parse(v, n, a) == 0;
    case IOCS_MD5:
    case IOCS_SHA1:
    case IOCS_SHA256:
    case IOCS_SHA512:
        return n == hash_len(ioc->type) && all_of(v, n, C_HEX);
    case IOCS_DOMAIN:
        return dotted_name(v, n, true);
    case IOCS_CIDR4:
    case IOCS_CIDR6: {
        int family;
        unsigned prefix;

        return iocs_cidr_parse(v, n, &family, a, &prefix) == 0 &&
               family == (ioc->type == IOCS_CIDR4 ? 4 : 6);
    }
    case IOCS_EMAIL:
        at = memchr(v, '@', n);
        return at && at > v && all_of(v, (size_t)(at - v), C_E) &&
               dotted_name(at + 1, n - (size_t)(at - v) - 1, false);
    default:
        return false;
    }
}

/* ---- build ---- */

static uint64_t ioc_hash(const struct iocs_ioc *x)
{
    unsigned k = key_class(x->type);
    uint8_t a[16];

    if (k == K_IPV6) {
        (void)iocs_ip6_parse(x->value, x->len, a); /* checked by takes() */
        return finish(hash_bytes(a, 16), k, 16);
    }
    return finish(hash_bytes((const unsigned char *)x->value, x->len), k,
                  x->len);
}

/* The hash of a domain's last two labels, finished. */
static uint64_t last2_hash(const unsigned char *p, size_t n)
{
    size_t i = n, dots = 0;

    while (i > 0) {
        if (p[i - 1] == '.' && ++dots == 2)
            break;
        i--;
    }
    return finish(hash_bytes(p + i, n - i), K_DOMAIN, n - i);
}

static inline bool bit_get(const uint64_t *b, size_t mask, uint64_t h)
{
    size_t i = (size_t)(h >> 24) & mask;

    return b[i / 64] >> (i % 64) & 1;
}

static inline void bit_set(uint64_t *b, size_t mask, uint64_t h)
{
    size_t i = (size_t)(h >> 24) & mask;

    b[i / 64] |= 1ull << (i % 64);
}

static inline uint32_t tag_of(uint64_t h)
{
    uint32_t tag = (uint32_t)(h >> 32);

    return tag ? tag : 1;
}

int iocs_tokens_new(struct iocs_tokens **out, const struct iocs_iocset *set,
                    unsigned types)
{
    size_t n = iocs_iocset_count(set), cap = 16, bits = 64;
    struct iocs_tokens *t;

    pthread_once(&tables_once, init_tables);
    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->set = set;
    t->types = types & IOCS_TOKENS_ALL;
    /* Sized for every IOC of the set at 70%: one pass, no rehash. A set
     * that is mostly other types wastes a little table. */
    while (cap * 7 < n * 10)
        cap *= 2;
    /* 16 filter bits per IOC: about 6% of non-IOC keys get past. */
    while (bits < 16 * n)
        bits *= 2;
    t->slots = calloc(cap, sizeof(*t->slots));
    t->filt = calloc(bits / 64, sizeof(*t->filt));
    t->dom2 = calloc(bits / 64, sizeof(*t->dom2));
    if (!t->slots || !t->filt || !t->dom2) {
        iocs_tokens_free(t);
        return -ENOMEM;
    }
    t->mask = cap - 1;
    t->fmask = t->dmask = bits - 1;
    t->minlen = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        const struct iocs_ioc *x = iocs_iocset_get(set, i);
        uint64_t h;
        size_t j;

        if (!iocs_tokens_takes(t->types, x))
            continue;
        if (x->type == IOCS_CIDR4 || x->type == IOCS_CIDR6) {
            /* Through the prefix set: every IP token is looked up. */
            uint8_t a[16];
            unsigned prefix;
            int family, err;

            (void)iocs_cidr_parse(x->value, x->len, &family, a, &prefix);
            err = t->cidrs ? 0 : iocs_cidrset_new(&t->cidrs);
            if (!err)
                err =
                    iocs_cidrset_add(t->cidrs, family, a, prefix, (uint32_t)i);
            if (err) {
                iocs_tokens_free(t);
                return err;
            }
            t->count++;
            if (family == 4)
                t->c4 = true;
            else
                t->c6 = true;
            for (unsigned v = (unsigned)a[0] << 8 | a[1],
                          k = prefix >= 16 ? 1u : 1u << (16 - prefix);
                 k > 0; k--, v++)
                t->c16[family == 6][v / 64] |= 1ull << (v % 64);
            continue;
        }
        h = ioc_hash(x);
        j = (size_t)h & t->mask;
        while (t->slots[j].tag)
            j = (j + 1) & t->mask;
        t->slots[j] = (struct slot){.tag = tag_of(h), .ioc = (uint32_t)i};
        bit_set(t->filt, t->fmask, h);
        t->count++;
        if (x->len > t->maxlen)
            t->maxlen = x->len;
        if (x->len < t->minlen)
            t->minlen = x->len;
        if (x->type == IOCS_DOMAIN)
            bit_set(t->dom2, t->dmask,
                    last2_hash((const unsigned char *)x->value, x->len));
        switch (key_class(x->type)) {
        case K_IPV4:
            t->v4 = true;
            break;
        case K_IPV6:
            t->v6 = true;
            break;
        case K_HASH:
            t->hash = true;
            break;
        case K_DOMAIN:
            t->domain = true;
            break;
        default:
            t->email = true;
            break;
        }
    }
    /* A CIDR hit is an address token: "0.0.0.0" or "::" at the shortest,
     * IOCS_TOKEN_MAX bytes at the longest. */
    if (t->c4 && t->minlen > 7)
        t->minlen = 7;
    if (t->c6 && t->minlen > 2)
        t->minlen = 2;
    if ((t->c4 || t->c6) && t->maxlen < CIDR_TOKEN_MAX)
        t->maxlen = CIDR_TOKEN_MAX;
    *out = t;
    return 0;
}

void iocs_tokens_free(struct iocs_tokens *t)
{
    if (!t)
        return;
    iocs_cidrset_free(t->cidrs);
    free(t->slots);
    free(t->filt);
    free(t->dom2);
    free(t);
}

size_t iocs_tokens_count(const struct iocs_tokens *t)
{
    return t->count;
}

size_t iocs_tokens_bytes(const struct iocs_tokens *t)
{
    return (t->mask + 1) * sizeof(*t->slots) + (t->fmask + 1) / 8 +
           (t->dmask + 1) / 8 + sizeof(*t);
}

size_t iocs_tokens_maxlen(const struct iocs_tokens *t)
{
    return t->maxlen;
}

/* ---- scan ---- */

struct hit {
    uint32_t ioc;
    size_t start, end;
};

#define RUN_HITS 64
#define CIDR_IDS 64 /* ranges reported per token, as the scanner */

/* One scan's state: the hits of the current run, sorted before they go. */
struct scan {
    const struct iocs_tokens *t;
    const unsigned char *p;
    size_t n;
    iocs_token_fn fn;
    void *ctx;
    struct hit v[RUN_HITS];
    size_t len;
};

static int flush(struct scan *s)
{
    /* Insertion sort by (end, ioc): a run holds a handful of hits. */
    for (size_t i = 1; i < s->len; i++) {
        struct hit x = s->v[i];
        size_t j = i;

        while (j > 0 &&
               (s->v[j - 1].end > x.end ||
                (s->v[j - 1].end == x.end && s->v[j - 1].ioc > x.ioc))) {
            s->v[j] = s->v[j - 1];
            j--;
        }
        s->v[j] = x;
    }
    for (size_t i = 0; i < s->len; i++) {
        int rc = s->fn(s->ctx, s->v[i].ioc, s->v[i].start, s->v[i].end);

        if (rc) {
            s->len = 0;
            return rc;
        }
    }
    s->len = 0;
    return 0;
}

static int add_hit(struct scan *s, uint32_t ioc, size_t start, size_t end)
{
    int rc;

    if (s->len == RUN_HITS) {
        /* More hits in one run than the buffer holds: those so far go out
         * first; only this run's order can suffer. */
        rc = flush(s);
        if (rc)
            return rc;
    }
    s->v[s->len++] = (struct hit){.ioc = ioc, .start = start, .end = end};
    return 0;
}

/* Whether IOC x is the token p[s, e) of class k (a, for IPv6: its
 * address). */
static bool same(const struct iocs_ioc *x, unsigned k, const unsigned char *p,
                 size_t s, size_t e, const uint8_t *a)
{
    uint8_t b[16];

    if (key_class(x->type) != k)
        return false;
    if (k == K_IPV6)
        return iocs_ip6_parse(x->value, x->len, b) == 0 &&
               memcmp(a, b, 16) == 0;
    if (x->len != e - s)
        return false;
    for (size_t i = 0; i < x->len; i++)
        if (fold[p[s + i]] != fold[(unsigned char)x->value[i]])
            return false;
    return true;
}

/* Look the token p[s, e) of class k with right-to-left hash h up. */
static int lookup(struct scan *s, unsigned k, uint64_t h, size_t st, size_t e,
                  const uint8_t *a)
{
    const struct iocs_tokens *t = s->t;
    uint64_t f = finish(h, k, k == K_IPV6 ? 16 : e - st);
    uint32_t tag = tag_of(f);
    size_t j = (size_t)f & t->mask;
    int rc;

    if (!bit_get(t->filt, t->fmask, f))
        return 0;

    for (; t->slots[j].tag; j = (j + 1) & t->mask) {
        if (t->slots[j].tag != tag)
            continue;
        if (!same(iocs_iocset_get(t->set, t->slots[j].ioc), k, s->p, st, e, a))
            continue;
        rc = add_hit(s, t->slots[j].ioc, st, e);
        if (rc)
            return rc;
    }
    return 0;
}

static inline unsigned char at(const struct scan *s, size_t i)
{
    return i < s->n ? cls[s->p[i]] : 0;
}

/* The ranges holding address a (family 4 or 6) of the token p[st, e). */
static int cidr_hits(struct scan *s, int family, const uint8_t *a, size_t st,
                     size_t e)
{
    uint32_t ids[CIDR_IDS];
    unsigned v = (unsigned)a[0] << 8 | a[1];
    size_t k;
    int rc;

    if (!(s->t->c16[family == 6][v / 64] >> (v % 64) & 1))
        return 0;
    k = iocs_cidrset_lookup(s->t->cidrs, family, a, ids, CIDR_IDS);
    if (k > CIDR_IDS)
        k = CIDR_IDS; /* as the scanner: the widest ranges first */
    for (size_t j = 0; j < k; j++) {
        rc = add_hit(s, ids[j], st, e);
        if (rc)
            return rc;
    }
    return 0;
}

/* A CIDR IPv4 token from i (a run start): the run of digits and '.' (at
 * most IOCS_TOKEN_MAX bytes) without trailing dots is one address
 * (verify.h, iocs_token4_at()). */
static int cidr4_at(struct scan *s, size_t i, size_t re)
{
    const unsigned char *p = s->p;
    size_t e = i;
    uint8_t a[4];

    while (e < re && (cls[p[e]] & (C_DIG | C_DOT)))
        e++;
    if (e - i > CIDR_TOKEN_MAX)
        return 0;
    while (e > i && p[e - 1] == '.')
        e--;
    if (iocs_ip4_parse((const char *)p + i, e - i, a) < 0)
        return 0;
    return cidr_hits(s, 4, a, i, e);
}

/* IPv4: each run of digits and '.' whose first byte is a digit. */
static int run_v4(struct scan *s, size_t rs, size_t re)
{
    const unsigned char *p = s->p;
    int rc;

    for (size_t i = rs; i < re; i++) {
        size_t e;

        if (!(cls[p[i]] & C_DIG) ||
            (i > rs && (cls[p[i - 1]] & (C_DIG | C_DOT))))
            continue;
        if (s->t->c4) {
            rc = cidr4_at(s, i, re);
            if (rc)
                return rc;
        }
        e = i + 1;
        while (e < re &&
               ((cls[p[e]] & C_DIG) || (p[e] == '.' && (at(s, e + 1) & C_DIG))))
            e++;
        if (s->t->v4 && e - i >= 7 && e - i <= 15) {
            rc = lookup(s, K_IPV4, hash_bytes(p + i, e - i), i, e, NULL);
            if (rc)
                return rc;
        }
        i = e - 1;
    }
    return 0;
}

/* Hashes: each maximal hex run of 32, 40, 64 or 128 digits. */
static int run_hex(struct scan *s, size_t rs, size_t re)
{
    const unsigned char *p = s->p;
    int rc;

    for (size_t i = rs; i < re;) {
        size_t e = i;

        while (e < re && (cls[p[e]] & C_HEX))
            e++;
        if (e - i == 32 || e - i == 40 || e - i == 64 || e - i == 128) {
            rc = lookup(s, K_HASH, hash_bytes(p + i, e - i), i, e, NULL);
            if (rc)
                return rc;
        }
        i = e + 1;
    }
    return 0;
}

/* IPv6: each maximal run of hex digits and ':' with two ':' or more. */
static int run_v6(struct scan *s, size_t rs, size_t re)
{
    const unsigned char *p = s->p;
    uint8_t a[16];
    int rc;

    for (size_t i = rs; i < re;) {
        size_t e = i, colons = 0;

        while (e < re && (cls[p[e]] & (C_HEX | C_COLON))) {
            colons += p[e] == ':';
            e++;
        }
        /* Without "::", an address has exactly 7 ':'. */
        if (colons >= 2 && e - i <= 39 &&
            (colons == 7 || memmem(p + i, e - i, "::", 2)) &&
            iocs_ip6_parse((const char *)p + i, e - i, a) == 0) {
            rc = s->t->v6 ? lookup(s, K_IPV6, hash_bytes(a, 16), i, e, a) : 0;
            if (!rc && s->t->c6)
                rc = cidr_hits(s, 6, a, i, e);
            if (rc)
                return rc;
        }
        i = e + 1;
    }
    return 0;
}

/* The end of a dotted name from i: label bytes, and '.' followed by a
 * letter or digit. */
static size_t name_end(const struct scan *s, size_t i, size_t re)
{
    const unsigned char *p = s->p;

    while (i < re &&
           ((cls[p[i]] & C_D) || (p[i] == '.' && (at(s, i + 1) & C_ALNUM))))
        i++;
    return i;
}

/* Domains: in each run of label bytes and '.', each dotted name, and each
 * of its suffixes that starts a label. */
static int run_domain(struct scan *s, size_t rs, size_t re)
{
    const unsigned char *p = s->p;
    int rc;

    for (size_t a = rs; a < re;) {
        size_t e, d1 = SIZE_MAX, l2;

        if (!(cls[p[a]] & (C_D | C_DOT))) {
            a++;
            continue;
        }
        e = name_end(s, a, re);
        if (e == a) {
            a++; /* a '.' that continues nothing */
            continue;
        }
        /* The candidates start at labels left of the last dot d1 (a domain
         * IOC has a dot). The first, l2, is the name's last two labels,
         * which every longer candidate ends with: one filter probe rules
         * them all out. A '.' inside a name is followed by a label byte,
         * so label starts are a (unless a '.') and the bytes after a '.'. */
        l2 = a;
        for (size_t i = e; i-- > a;) {
            if (p[i] != '.')
                continue;
            if (d1 == SIZE_MAX) {
                d1 = i;
                continue;
            }
            l2 = i + 1;
            break;
        }
        if (d1 != SIZE_MAX && l2 < d1 &&
            bit_get(s->t->dom2, s->t->dmask,
                    finish(hash_bytes(p + l2, e - l2), K_DOMAIN, e - l2))) {
            for (size_t i = l2;;) {
                size_t j = i - 1;

                rc = lookup(s, K_DOMAIN, hash_bytes(p + i, e - i), i, e, NULL);
                if (rc)
                    return rc;
                if (i == a)
                    break;
                while (j > a && p[j - 1] != '.')
                    j--;
                if (j == a && p[a] == '.')
                    break;
                i = j;
            }
        }
        a = e + 1; /* p[e] ends the name: it starts none */
    }
    return 0;
}

/* E-mail addresses: around each '@'. */
static int run_email(struct scan *s, size_t rs, size_t re)
{
    const unsigned char *p = s->p;
    int rc;

    for (size_t m = rs; m < re; m++) {
        size_t st = m, e;

        if (p[m] != '@')
            continue;
        while (st > rs && (cls[p[st - 1]] & C_E))
            st--;
        e = name_end(s, m + 1, re);
        if (st == m || e == m + 1)
            continue;
        rc = lookup(s, K_EMAIL, hash_bytes(p + st, e - st), st, e, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

/* Every candidate of the run of token bytes p[rs, re). */
/* What a run holds, to skip the passes that cannot find anything. */
struct runinfo {
    unsigned dots, colons;
    bool at;
};

static int run(struct scan *s, size_t rs, size_t re, const struct runinfo *ri)
{
    const struct iocs_tokens *t = s->t;
    int rc = 0;

    /* An IPv4 token has 3 dots; an IPv6 one "::" or 7 colons; a domain
     * or e-mail IOC a dot; an e-mail an '@'. */
    if (ri->dots >= 3 && (t->v4 || t->c4))
        rc = run_v4(s, rs, re);
    if (!rc && t->hash && re - rs >= 32)
        rc = run_hex(s, rs, re);
    if (!rc && ri->colons >= 2 && (t->v6 || t->c6) &&
        (ri->colons >= 7 || memmem(s->p + rs, re - rs, "::", 2)))
        rc = run_v6(s, rs, re);
    if (!rc && ri->dots && t->domain)
        rc = run_domain(s, rs, re);
    if (!rc && ri->at && t->email)
        rc = run_email(s, rs, re);
    if (rc) {
        s->len = 0;
        return rc;
    }
    return flush(s);
}

/* ---- the classification pass ---- */

/* One 64-byte block, one bit per byte: token bytes, '.', ':', '@', and
 * the first byte of each 16-byte chunk that is all hex digits (a run of
 * 32 hex digits holds one such aligned chunk). */
struct bmask {
    uint64_t tok, dot, colon, at, hex;
};

static void mask_plain(const unsigned char *p, struct bmask *m)
{
    memset(m, 0, sizeof(*m));
    for (unsigned i = 0; i < 64; i++) {
        uint64_t b = 1ull << i;

        m->tok |= cls[p[i]] ? b : 0;
        m->dot |= p[i] == '.' ? b : 0;
        m->colon |= p[i] == ':' ? b : 0;
        m->at |= p[i] == '@' ? b : 0;
    }
    for (unsigned c = 0; c < 64; c += 16) {
        unsigned i = 0;

        while (i < 16 && (cls[p[c + i]] & C_HEX))
            i++;
        if (i == 16)
            m->hex |= 1ull << c;
    }
}

#ifdef HAVE_X86
/* SSE2 is part of x86-64: no dispatch needed. Unsigned range checks as
 * min(x, hi) == x after subtracting the low end. */
static inline void mask_sse2(const unsigned char *p, struct bmask *m)
{
    const __m128i c0 = _mm_set1_epi8('0'), c9 = _mm_set1_epi8(9);
    const __m128i low = _mm_set1_epi8(0x20), ca = _mm_set1_epi8('a');
    const __m128i c5 = _mm_set1_epi8(5), c25 = _mm_set1_epi8(25);
    const __m128i dash = _mm_set1_epi8('-'), us = _mm_set1_epi8('_');
    const __m128i dot = _mm_set1_epi8('.'), colon = _mm_set1_epi8(':');
    const __m128i at = _mm_set1_epi8('@'), pct = _mm_set1_epi8('%');
    const __m128i plus = _mm_set1_epi8('+');

    memset(m, 0, sizeof(*m));
    for (unsigned c = 0; c < 64; c += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + c));
        __m128i d = _mm_sub_epi8(x, c0);
        __m128i l = _mm_sub_epi8(_mm_or_si128(x, low), ca);
        __m128i isd = _mm_cmpeq_epi8(_mm_min_epu8(d, c9), d);
        __m128i isl = _mm_cmpeq_epi8(_mm_min_epu8(l, c25), l);
        __m128i ishx = _mm_cmpeq_epi8(_mm_min_epu8(l, c5), l);
        __m128i edot = _mm_cmpeq_epi8(x, dot);
        __m128i ecol = _mm_cmpeq_epi8(x, colon);
        __m128i eat = _mm_cmpeq_epi8(x, at);
        __m128i other = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(x, dash), _mm_cmpeq_epi8(x, us)),
            _mm_or_si128(_mm_cmpeq_epi8(x, pct), _mm_cmpeq_epi8(x, plus)));
        __m128i tok = _mm_or_si128(_mm_or_si128(_mm_or_si128(isd, isl), other),
                                   _mm_or_si128(_mm_or_si128(edot, ecol), eat));

        m->tok |= (uint64_t)(unsigned)_mm_movemask_epi8(tok) << c;
        m->dot |= (uint64_t)(unsigned)_mm_movemask_epi8(edot) << c;
        m->colon |= (uint64_t)(unsigned)_mm_movemask_epi8(ecol) << c;
        m->at |= (uint64_t)(unsigned)_mm_movemask_epi8(eat) << c;
        if (_mm_movemask_epi8(_mm_or_si128(isd, ishx)) == 0xffff)
            m->hex |= 1ull << c;
    }
}

__attribute__((target("avx2"))) static inline void
mask_avx2(const unsigned char *p, struct bmask *m)
{
    const __m256i c0 = _mm256_set1_epi8('0'), c9 = _mm256_set1_epi8(9);
    const __m256i low = _mm256_set1_epi8(0x20), ca = _mm256_set1_epi8('a');
    const __m256i c5 = _mm256_set1_epi8(5), c25 = _mm256_set1_epi8(25);
    const __m256i dash = _mm256_set1_epi8('-'), us = _mm256_set1_epi8('_');
    const __m256i dot = _mm256_set1_epi8('.'), colon = _mm256_set1_epi8(':');
    const __m256i at = _mm256_set1_epi8('@'), pct = _mm256_set1_epi8('%');
    const __m256i plus = _mm256_set1_epi8('+');

    memset(m, 0, sizeof(*m));
    for (unsigned c = 0; c < 64; c += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(p + c));
        __m256i d = _mm256_sub_epi8(x, c0);
        __m256i l = _mm256_sub_epi8(_mm256_or_si256(x, low), ca);
        __m256i isd = _mm256_cmpeq_epi8(_mm256_min_epu8(d, c9), d);
        __m256i isl = _mm256_cmpeq_epi8(_mm256_min_epu8(l, c25), l);
        __m256i ishx = _mm256_cmpeq_epi8(_mm256_min_epu8(l, c5), l);
        __m256i edot = _mm256_cmpeq_epi8(x, dot);
        __m256i ecol = _mm256_cmpeq_epi8(x, colon);
        __m256i eat = _mm256_cmpeq_epi8(x, at);
        __m256i other =
            _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x, dash),
                                            _mm256_cmpeq_epi8(x, us)),
                            _mm256_or_si256(_mm256_cmpeq_epi8(x, pct),
                                            _mm256_cmpeq_epi8(x, plus)));
        __m256i tok =
            _mm256_or_si256(_mm256_or_si256(_mm256_or_si256(isd, isl), other),
                            _mm256_or_si256(_mm256_or_si256(edot, ecol), eat));
        uint32_t hm =
            (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(isd, ishx));

        m->tok |= (uint64_t)(uint32_t)_mm256_movemask_epi8(tok) << c;
        m->dot |= (uint64_t)(uint32_t)_mm256_movemask_epi8(edot) << c;
        m->colon |= (uint64_t)(uint32_t)_mm256_movemask_epi8(ecol) << c;
        m->at |= (uint64_t)(uint32_t)_mm256_movemask_epi8(eat) << c;
        if ((hm & 0xffff) == 0xffff)
            m->hex |= 1ull << c;
        if ((hm >> 16) == 0xffff)
            m->hex |= 1ull << (c + 16);
    }
}
#endif

typedef void (*mask_fn)(const unsigned char *, struct bmask *);

/* Bits [lo, hi) of a 64-bit mask (0 <= lo <= hi <= 64). */
static inline uint64_t span(unsigned lo, unsigned hi)
{
    uint64_t up = hi >= 64 ? ~0ull : (1ull << hi) - 1;

    return up & (lo >= 64 ? 0 : ~0ull << lo);
}

/* The ':' bytes of p[0, n), n <= 64, one bit each. */
static inline uint64_t colons64(const unsigned char *p, size_t n)
{
    uint64_t c = 0;

#ifdef HAVE_X86
    if (n == 64) {
        const __m128i colon = _mm_set1_epi8(':');

        for (unsigned k = 0; k < 64; k += 16)
            c |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
                     _mm_loadu_si128((const __m128i *)(p + k)), colon))
                 << k;
        return c;
    }
#endif
    for (size_t k = 0; k < n; k++)
        c |= (uint64_t)(p[k] == ':') << k;
    return c;
}

/*
 * The ':' of block b (mask c) that may start an IPv6 token's run: the
 * first of a "::", or one with 6 more ':' within the next 30 bytes (an
 * address without "::" has 7, at most 30 bytes apart: 6 groups of 4 hex
 * digits between the first and the last). Runs that are neither (times of
 * day, "host:port") hold no address, and are not visited for their ':'.
 * Reads up to 64 bytes past the block when a window crosses its end.
 */
static inline uint64_t colon_triggers(const unsigned char *p, size_t n,
                                      size_t b, uint64_t c)
{
    uint64_t next = 0, out;
    bool have_next = false;

    if (!c)
        return 0;
    out = c & (c >> 1);
    if ((c >> 63) && b + 64 < n && p[b + 64] == ':')
        out |= 1ull << 63;
    for (uint64_t x = c & ~out; x; x &= x - 1) {
        unsigned j = (unsigned)__builtin_ctzll(x);
        unsigned k = (unsigned)__builtin_popcountll(c >> j & span(0, 31));

        if (k < 7 && j > 33 && b + 64 < n) {
            /* The window goes on into the next block. */
            if (!have_next) {
                next = colons64(p + b + 64, n - b - 64 < 64 ? n - b - 64 : 64);
                have_next = true;
            }
            k += (unsigned)__builtin_popcountll(next & span(0, j - 33));
        }
        if (k >= 7)
            out |= 1ull << j;
    }
    return out;
}

/* A run that crosses a block edge: widen it byte by byte, and count. */
static void widen(const struct scan *s, size_t i, size_t *rs, size_t *re,
                  struct runinfo *ri)
{
    const unsigned char *p = s->p;
    size_t a = i, e = i;

    while (a > 0 && cls[p[a - 1]])
        a--;
    while (e < s->n && cls[p[e]])
        e++;
    memset(ri, 0, sizeof(*ri));
    for (size_t j = a; j < e; j++) {
        ri->dots += p[j] == '.';
        ri->colons += p[j] == ':';
        ri->at |= p[j] == '@';
    }
    *rs = a;
    *re = e;
}

/* The pass over p[0, n), with the block classifier inlined: each
 * instruction set gets its own copy (scan_avx2(), scan_base()). */
static inline __attribute__((always_inline)) int
scan_loop(const struct iocs_tokens *t, const unsigned char *p, size_t n,
          iocs_token_fn fn, void *ctx, mask_fn mask)
{
    struct scan s = {.t = t, .p = p, .n = n, .fn = fn, .ctx = ctx};
    unsigned char tail[64];
    size_t done = 0;
    int rc;

    for (size_t b = 0; b < n; b += 64) {
        struct bmask m;
        uint64_t trig;

        if (n - b >= 64) {
            mask(p + b, &m);
        } else {
            /* NUL is no token byte: the padding is in no run. */
            memset(tail, 0, sizeof(tail));
            memcpy(tail, p + b, n - b);
            mask_plain(tail, &m);
        }
        trig = (t->v4 || t->c4 || t->domain ? m.dot : 0) |
               (t->v6 || t->c6 ? colon_triggers(p, n, b, m.colon) : 0) |
               (t->email ? m.at : 0) | (t->hash ? m.hex : 0);
        if (done > b)
            trig &= span(done - b >= 64 ? 64 : (unsigned)(done - b), 64);
        while (trig) {
            unsigned j = (unsigned)__builtin_ctzll(trig);
            uint64_t below = ~m.tok & span(0, j);
            uint64_t above = ~m.tok & span(j + 1, 64);
            struct runinfo ri;
            size_t rs, re;

            if (below && above) {
                /* The whole run is in this block: bounds and counts from
                 * the masks. */
                unsigned lo = 64 - (unsigned)__builtin_clzll(below);
                unsigned hi = (unsigned)__builtin_ctzll(above);
                uint64_t r = span(lo, hi);

                rs = b + lo;
                re = b + hi;
                ri.dots = (unsigned)__builtin_popcountll(m.dot & r);
                ri.colons = (unsigned)__builtin_popcountll(m.colon & r);
                ri.at = (m.at & r) != 0;
            } else {
                widen(&s, b + j, &rs, &re, &ri);
            }
            done = re;
            trig &= span(re - b >= 64 ? 64 : (unsigned)(re - b), 64);
            if (re - rs < t->minlen)
                continue; /* no IOC is that short */
            rc = run(&s, rs, re, &ri);
            if (rc)
                return rc;
        }
    }
    return 0;
}

#ifdef HAVE_X86
__attribute__((target("avx2"))) static int
scan_avx2(const struct iocs_tokens *t, const unsigned char *p, size_t n,
          iocs_token_fn fn, void *ctx)
{
    return scan_loop(t, p, n, fn, ctx, mask_avx2);
}
#endif

static int scan_base(const struct iocs_tokens *t, const unsigned char *p,
                     size_t n, iocs_token_fn fn, void *ctx)
{
#ifdef HAVE_X86
    return scan_loop(t, p, n, fn, ctx, mask_sse2);
#else
    return scan_loop(t, p, n, fn, ctx, mask_plain);
#endif
}

static int scan_plain(const struct iocs_tokens *t, const unsigned char *p,
                      size_t n, iocs_token_fn fn, void *ctx)
{
    return scan_loop(t, p, n, fn, ctx, mask_plain);
}

int iocs__tokens_scan_isa(const struct iocs_tokens *t, const unsigned char *p,
                          size_t n, iocs_token_fn fn, void *ctx, int isa)
{
    if (t->count == 0 || n == 0)
        return 0;
    if (isa == 0)
        return scan_plain(t, p, n, fn, ctx);
#ifdef HAVE_X86
    if (isa == 2) {
        if (!__builtin_cpu_supports("avx2"))
            return -ENOTSUP;
        return scan_avx2(t, p, n, fn, ctx);
    }
#else
    if (isa == 2)
        return -ENOTSUP;
#endif
    return scan_base(t, p, n, fn, ctx);
}

int iocs_tokens_scan(const struct iocs_tokens *t, const unsigned char *p,
                     size_t n, iocs_token_fn fn, void *ctx)
{
    if (t->count == 0 || n == 0)
        return 0;
#ifdef HAVE_X86
    /* Reads what libgcc found at startup: cheap, and no shared state. */
    if (__builtin_cpu_supports("avx2"))
        return scan_avx2(t, p, n, fn, ctx);
#endif
    return scan_base(t, p, n, fn, ctx);
}
