/*
 * scanner.c - hs_scan per unit, then verify and group the hits by line.
 *
 * Coordinates: positions are indexes into the unit's bytes unless named
 * *_abs (byte offsets in the source). A block is the part of the unit one
 * hs_scan covers: about BLOCK_BYTES of whole lines, less when the hit array
 * filled up. Each block "claims" the hits whose end lies in (claim_lo,
 * claim_hi]; blocks are processed left to right and their claims tile the
 * unit, so every match end is processed exactly once and in order.
 */
#include "pipeline/scanner.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "matchers/allow.h"
#include "matchers/cidr.h"
#include "matchers/tokens.h"
#include "matchers/verify.h"

#define RC IOCS_SCAN_RIGHT_CTX
#define HITS_DEFAULT (1u << 16)
#define HITS_MAX (1u << 24) /* 192 MiB of raw hits for one small block */
#define LHITS_INIT 1024u
#define LHITS_MAX (1u << 20)  /* valid hits in one line, after compaction */
#define ARENA_MAX (64u << 20) /* atomics of one long line, copied */
#define CIDR_IDS 64
#define BLOCK_BYTES (256u << 10) /* bytes per hs_scan, about */
#define PREFETCH_RUN 256u        /* hits whose data is fetched ahead together */

/* A raw match, as recorded inside hs_scan() or iocs_tokens_scan(). */
struct rawhit {
    uint32_t pat;  /* pattern id; TOKHIT | IOC index for a token hit */
    uint32_t from; /* block-relative; regex patterns and token hits only */
    uint32_t end;  /* block-relative */
};

/* A hit of the token index: its IOC in the low 31 bits (db.c keeps the
 * token path to sets below 2^31 IOCs). */
#define TOKHIT 0x80000000u

/* A valid hit in the current line: an IOC at [start, end) of the line. */
struct linehit {
    uint32_t ioc;
    uint32_t count;      /* 1, or more after compaction */
    uint64_t start, end; /* relative to the line start */
    const unsigned char *atomic;
    size_t alen;
};

/* A line that may span units: its hits so far, copies of what they point
 * to, and its first max_line bytes. */
struct iocs_linestate {
    struct linehit *lh;
    size_t lh_len, lh_cap;
    unsigned char *arena; /* atomics of an open long line */
    size_t arena_len, arena_cap;
    unsigned char *prefix; /* first max_line bytes of an open long line */
    size_t prefix_len;
    bool open;               /* the line goes on in the next unit */
    uint64_t line_start_abs; /* start of the open line */
    uint64_t tok_abs[2];     /* last IPv4, IPv6 token start looked up, + 1 */
};

struct hits {
    struct rawhit *v;
    struct rawhit *tmp; /* as big as v: where two sorted runs are merged */
    size_t len, cap;
    size_t npats; /* ids Hyperscan may report are below this */
};

struct iocs_scanner {
    const struct iocs_db *db;
    const struct iocs_iocset *set;
    const struct iocs_cidrset *cidrs;
    const struct iocs_tokens *tokens; /* the token path's index, or NULL */
    const struct iocs_allow *allow;
    struct hs_scratch *scratch;
    size_t max_line;
    size_t overlap;

    struct hits hits;

    /* The line being gathered; swapped with the caller's iocs_linestate
     * when a unit ends inside a line or continues one. */
    struct iocs_linestate line;
    uint64_t line_no; /* number of the current line */

    /* Per unit. */
    const struct iocs_unit *u;
    const char *path;
    size_t path_len;
    iocs_event_fn fn;
    void *ctx;
    struct timespec now;
    struct iocs_scan_time time;
    struct iocs_linetime_ctx lctx; /* zone, and the unit's source's mtime */
    size_t ls, le;  /* current line in the unit: [ls, le), le at '\n' or n */
    bool ls_true;   /* ls is the line's real start (else the line is open) */
    size_t counted; /* newlines before this index are in line_no */

    struct iocs_scan_stats st;
};

/* ---- newline counting ---- */

static size_t count_nl_plain(const unsigned char *p, size_t n)
{
    size_t c = 0;

    for (size_t i = 0; i < n; i++)
        c += p[i] == '\n';
    return c;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx2"))) static size_t
count_nl_avx2(const unsigned char *p, size_t n)
{
    const __m256i nl = _mm256_set1_epi8('\n');
    size_t i = 0, c = 0;

    for (; i + 128 <= n; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(p + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(p + i + 32));
        __m256i d = _mm256_loadu_si256((const __m256i *)(p + i + 64));
        __m256i e = _mm256_loadu_si256((const __m256i *)(p + i + 96));

        c += (size_t)__builtin_popcount(
            (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, nl)));
        c += (size_t)__builtin_popcount(
            (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, nl)));
        c += (size_t)__builtin_popcount(
            (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(d, nl)));
        c += (size_t)__builtin_popcount(
            (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(e, nl)));
    }
    return c + count_nl_plain(p + i, n - i);
}
#endif

size_t iocs_count_newlines(const unsigned char *p, size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    /* Reads what libgcc found at startup: cheap, and no shared state. */
    if (__builtin_cpu_supports("avx2"))
        return count_nl_avx2(p, n);
#endif
    return count_nl_plain(p, n);
}

/* ---- setup ---- */

static int linestate_init(struct iocs_linestate *l, size_t max_line)
{
    memset(l, 0, sizeof(*l));
    l->lh_cap = LHITS_INIT;
    l->lh = malloc(l->lh_cap * sizeof(*l->lh));
    l->prefix = malloc(max_line);
    return l->lh && l->prefix ? 0 : -ENOMEM;
}

static void linestate_fini(struct iocs_linestate *l)
{
    free(l->lh);
    free(l->arena);
    free(l->prefix);
    memset(l, 0, sizeof(*l));
}

int iocs_linestate_new(struct iocs_linestate **out, size_t max_line)
{
    struct iocs_linestate *l;

    if (max_line == 0)
        return -EINVAL;
    l = malloc(sizeof(*l));
    if (!l)
        return -ENOMEM;
    if (linestate_init(l, max_line) < 0) {
        iocs_linestate_free(l);
        return -ENOMEM;
    }
    *out = l;
    return 0;
}

void iocs_linestate_free(struct iocs_linestate *l)
{
    if (!l)
        return;
    linestate_fini(l);
    free(l);
}

int iocs_scanner_new(struct iocs_scanner **out, const struct iocs_db *db,
                     const struct iocs_scanner_opts *opts)
{
    struct iocs_scanner *s;
    int err;

    if (!opts || opts->max_line == 0)
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->db = db;
    s->set = iocs_db_set(db);
    s->cidrs = iocs_db_cidrs(db);
    s->tokens = iocs_db_tokens(db);
    if (s->tokens && iocs_tokens_count(s->tokens) == 0)
        s->tokens = NULL; /* nothing to look up */
    s->allow = opts->allow;
    s->max_line = opts->max_line;
    s->overlap = iocs_db_overlap(db);
    s->time = opts->time;
    if (s->time.start == 0)
        s->time.start = time(NULL);
    s->lctx.zone = s->time.zone;
    err = iocs_db_scratch_new(db, &s->scratch);
    if (err)
        goto fail;
    s->hits.cap = opts->max_hits ? opts->max_hits : HITS_DEFAULT;
    /* The token path's marker, the last pattern, is no hit (db.h). */
    s->hits.npats = iocs_db_patterns(db) - (iocs_db_tokens(db) ? 1 : 0);
    s->hits.v = malloc(s->hits.cap * sizeof(*s->hits.v));
    s->hits.tmp = malloc(s->hits.cap * sizeof(*s->hits.tmp));
    if (!s->hits.v || !s->hits.tmp ||
        linestate_init(&s->line, s->max_line) < 0) {
        err = -ENOMEM;
        goto fail;
    }
    *out = s;
    return 0;

fail:
    iocs_scanner_free(s);
    return err;
}

void iocs_scanner_free(struct iocs_scanner *s)
{
    if (!s)
        return;
    iocs_db_scratch_free(s->scratch);
    free(s->hits.v);
    free(s->hits.tmp);
    linestate_fini(&s->line);
    free(s);
}

void iocs_scanner_stats(const struct iocs_scanner *s,
                        struct iocs_scan_stats *out)
{
    *out = s->st;
}

/* ---- the line being gathered ---- */

static int by_ioc_start(const void *a, const void *b)
{
    const struct linehit *x = a, *y = b;

    if (x->ioc != y->ioc)
        return x->ioc < y->ioc ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return 0;
}

static int by_start(const void *a, const void *b)
{
    const struct linehit *x = a, *y = b;

    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->ioc != y->ioc)
        return x->ioc < y->ioc ? -1 : 1;
    return 0;
}

/* Fold the line's hits into one entry per IOC: summed count (the same
 * start seen twice counts once), the leftmost occurrence kept. A regex
 * reports every end of a match from one start: the longest is kept. */
static void compact(struct iocs_scanner *s)
{
    uint64_t prev;
    size_t w = 0;

    if (s->line.lh_len < 2)
        return;
    qsort(s->line.lh, s->line.lh_len, sizeof(*s->line.lh), by_ioc_start);
    prev = s->line.lh[0].start;
    for (size_t r = 1; r < s->line.lh_len; r++) {
        struct linehit *a = &s->line.lh[w], *b = &s->line.lh[r];

        if (a->ioc != b->ioc) {
            s->line.lh[++w] = *b;
        } else if (b->start != prev) {
            a->count += b->count;
        } else if (b->start == a->start && b->end > a->end) {
            uint32_t count = a->count;

            *a = *b; /* b's atomic is as valid as a's, and longer */
            a->count = count;
        }
        prev = b->start;
    }
    s->line.lh_len = w + 1;
}

static int add_linehit(struct iocs_scanner *s, uint32_t ioc, uint64_t start,
                       uint64_t end, const unsigned char *atomic)
{
    if (s->line.lh_len == s->line.lh_cap) {
        compact(s);
        if (s->line.lh_len * 2 > s->line.lh_cap) {
            struct linehit *v;

            if (s->line.lh_cap >= LHITS_MAX) {
                s->st.lost++;
                return 0;
            }
            v = realloc(s->line.lh, 2 * s->line.lh_cap * sizeof(*v));
            if (!v)
                return -ENOMEM;
            s->line.lh = v;
            s->line.lh_cap *= 2;
        }
    }
    s->line.lh[s->line.lh_len++] =
        (struct linehit){.ioc = ioc,
                         .count = 1,
                         .start = start,
                         .end = end,
                         .atomic = atomic,
                         .alen = (size_t)(end - start)};
    return 0;
}

/* An open line is about to lose its unit: copy what still points into it
 * (atomics, and the line's first max_line bytes). */
static int spill(struct iocs_scanner *s, const unsigned char *p, size_t n)
{
    const struct iocs_unit *u = s->u;
    uint64_t from, to;

    compact(s);
    for (size_t i = 0; i < s->line.lh_len; i++) {
        struct linehit *h = &s->line.lh[i];

        if (h->atomic < p || h->atomic >= p + n)
            continue; /* already copied */
        if (s->line.arena_len + h->alen > s->line.arena_cap) {
            size_t cap = s->line.arena_cap ? s->line.arena_cap : 4096;
            unsigned char *a;

            while (cap < s->line.arena_len + h->alen)
                cap *= 2;
            if (cap > ARENA_MAX)
                return -ENOMEM;
            a = realloc(s->line.arena, cap);
            if (!a)
                return -ENOMEM;
            /* Re-point copied atomics into the moved arena. */
            for (size_t j = 0; j < s->line.lh_len; j++)
                if (s->line.lh[j].atomic >= s->line.arena &&
                    s->line.lh[j].atomic < s->line.arena + s->line.arena_len)
                    s->line.lh[j].atomic =
                        a + (s->line.lh[j].atomic - s->line.arena);
            s->line.arena = a;
            s->line.arena_cap = cap;
        }
        memcpy(s->line.arena + s->line.arena_len, h->atomic, h->alen);
        h->atomic = s->line.arena + s->line.arena_len;
        s->line.arena_len += h->alen;
    }
    from = s->line.line_start_abs + s->line.prefix_len;
    if (from < u->offset)
        from = u->offset;
    to = s->line.line_start_abs + s->max_line;
    if (to > u->offset + n)
        to = u->offset + n;
    if (from < to) {
        memcpy(s->line.prefix + s->line.prefix_len, p + (from - u->offset),
               to - from);
        s->line.prefix_len += (size_t)(to - from);
    }
    return 0;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec ||
           (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* The current line [ls, le) is complete: emit one event per IOC. */
static int close_line(struct iocs_scanner *s, const unsigned char *p, size_t le)
{
    const struct iocs_unit *u = s->u;
    struct iocs_linetime lt;
    struct iocs_event ev;
    uint64_t start_abs, len;
    int err;

    if (s->line.lh_len == 0)
        return 0;
    if (le > 0 && p[le - 1] == '\r' && le < u->len)
        le--;
    start_abs = s->ls_true ? u->offset + s->ls : s->line.line_start_abs;
    len = u->offset + le - start_abs;
    compact(s);
    if (s->line.lh_len > 1)
        qsort(s->line.lh, s->line.lh_len, sizeof(*s->line.lh), by_start);

    memset(&ev, 0, sizeof(ev));
    ev.path = s->path;
    ev.path_len = s->path_len;
    ev.offset = start_abs;
    ev.line = s->line_no;
    ev.line_len = len;
    if (s->ls_true) {
        ev.original = p + s->ls;
        ev.original_len = len < s->max_line ? (size_t)len : s->max_line;
    } else {
        size_t want = len < s->max_line ? (size_t)len : s->max_line;

        /* Top up the saved prefix from this unit. */
        if (s->line.prefix_len < want) {
            uint64_t from = start_abs + s->line.prefix_len;

            memcpy(s->line.prefix + s->line.prefix_len, p + (from - u->offset),
                   want - s->line.prefix_len);
            s->line.prefix_len = want;
        }
        ev.original = s->line.prefix;
        ev.original_len = want;
    }
    /* The line's own time and host: once per line, whatever its IOCs. */
    ev.created = s->now;
    ev.source_id = u->source_id;
    if (iocs_linetime_parse(&s->lctx, (const char *)ev.original,
                            ev.original_len, &lt)) {
        if ((s->time.has_since && ts_before(&lt.ts, &s->time.since)) ||
            (s->time.has_until && !ts_before(&lt.ts, &s->time.until))) {
            s->line.lh_len = 0; /* outside --since/--until */
            s->line.arena_len = 0;
            return 0;
        }
        ev.timestamp = lt.ts;
        ev.line_time = true;
    } else {
        ev.timestamp = s->now;
    }
    ev.host = lt.host;
    ev.host_len = lt.host_len;
    for (size_t i = 0; i < s->line.lh_len; i++) {
        const struct linehit *h = &s->line.lh[i];

        ev.ioc = iocs_iocset_get(s->set, h->ioc);
        ev.ioc_id = h->ioc;
        ev.atomic = h->atomic;
        ev.atomic_len = h->alen;
        ev.start = h->start;
        ev.end = h->end;
        ev.count = h->count;
        err = s->fn(s->ctx, &ev);
        if (err)
            return err;
        s->st.events++;
    }
    s->line.lh_len = 0;
    s->line.arena_len = 0;
    return 0;
}

/* Move the current line forward to the one holding position i (the last
 * byte of a match), closing the lines passed. */
static int seek_line(struct iocs_scanner *s, const unsigned char *p, size_t n,
                     size_t i)
{
    const unsigned char *nl;
    size_t ls;
    int err;

    if (i < s->le)
        return 0;
    err = close_line(s, p, s->le);
    if (err)
        return err;
    nl = memrchr(p + s->le, '\n', i - s->le);
    ls = (size_t)(nl - p) + 1; /* p[s->le] is '\n', so nl is found */
    s->line_no += iocs_count_newlines(p + s->counted, ls - s->counted);
    s->counted = ls;
    s->ls = ls;
    s->ls_true = true;
    nl = memchr(p + i, '\n', n - i);
    s->le = nl ? (size_t)(nl - p) : n;
    return 0;
}

/* ---- hits ---- */

static int on_match(unsigned int id, unsigned long long from,
                    unsigned long long to, unsigned int flags, void *ctx)
{
    struct hits *h = ctx;

    (void)flags;
    /* A pattern id past the table (a database file whose Hyperscan part
     * is not its own) is never used: one compare, no read past it. */
    if (id >= h->npats)
        return 0;
    if (h->len == h->cap)
        return 1; /* stop; the caller splits the block */
    h->v[h->len++] =
        (struct rawhit){.pat = id, .from = (uint32_t)from, .end = (uint32_t)to};
    return 0;
}

/* Runs inside iocs_tokens_scan() for each token hit: records only. */
static int on_token(void *ctx, uint32_t ioc, size_t start, size_t end)
{
    struct hits *h = ctx;

    if (h->len == h->cap)
        return 1; /* stop; the caller splits the block */
    h->v[h->len++] = (struct rawhit){
        .pat = TOKHIT | ioc, .from = (uint32_t)start, .end = (uint32_t)end};
    return 0;
}

static int by_end(const void *a, const void *b)
{
    const struct rawhit *x = a, *y = b;

    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->pat < y->pat ? -1 : x->pat > y->pat;
}

/* Sort the hits [from, to) by end, unless they are already. */
static void sort_hits(struct rawhit *v, size_t from, size_t to)
{
    for (size_t i = from + 1; i < to; i++) {
        if (v[i].end < v[i - 1].end) {
            qsort(v + from, to - from, sizeof(*v), by_end);
            return;
        }
    }
}

/* Hyperscan's hits [0, nhs) and the token hits after them (in end order)
 * into one run in end order (ties as by_end()). */
static void merge_hits(struct hits *h, size_t nhs)
{
    struct rawhit *a = h->v, *t = h->tmp;
    size_t i = 0, j = nhs, k = 0;

    if (nhs == 0 || nhs == h->len)
        return;
    sort_hits(a, 0, nhs);
    if (a[nhs - 1].end <= a[nhs].end)
        return; /* already one run */
    while (i < nhs && j < h->len)
        t[k++] = by_end(&a[j], &a[i]) < 0 ? a[j++] : a[i++];
    while (i < nhs)
        t[k++] = a[i++];
    while (j < h->len)
        t[k++] = a[j++];
    h->tmp = a;
    h->v = t;
}

/*
 * Record the hits of p[bs, be) into s->hits: Hyperscan's, then, on the
 * token path, the token index's over the same bytes, merged in end order.
 * The block is whole lines, or pieces of one whose edges the claims of
 * the caller keep clear of (tokens.h: a hit ending at least the longest
 * token + 2 bytes after the block's start and 2 before its end is whole;
 * db.c sizes the overlap for that). Returns 0, 1 when the hit array
 * filled, or -EIO.
 */
static int record(struct iocs_scanner *s, const unsigned char *p, size_t bs,
                  size_t be)
{
    size_t nhs;
    int rc;

    s->hits.len = 0;
    rc = iocs_db_scan(s->db, s->scratch, p + bs, be - bs, on_match, &s->hits);
    if (rc != 0 || !s->tokens)
        return rc;
    nhs = s->hits.len;
    rc = iocs_tokens_scan(s->tokens, p + bs, be - bs, on_token, &s->hits);
    if (rc != 0)
        return rc < 0 ? -EIO : 1;
    merge_hits(&s->hits, nhs);
    return 0;
}

/* The line's content bounds for verification: [lb, hb). */
static void line_bounds(const struct iocs_scanner *s, const unsigned char *p,
                        size_t *lb, size_t *hb)
{
    size_t he = s->le;

    if (he > 0 && he < s->u->len && p[he - 1] == '\r')
        he--;
    *lb = s->ls;
    *hb = he;
}

/* An IP token for the CIDR IOCs: an IPv4 one starting where a range
 * literal matched, or an IPv6 one around a trigger. */
static int token_hit(struct iocs_scanner *s, const unsigned char *p,
                     const struct iocs_pat *pat, size_t e)
{
    uint8_t addr[16];
    uint32_t ids[CIDR_IDS];
    size_t lb, hb, ts, te, k;
    int family = pat->kind == IOCS_PAT_CIDR4 ? 4 : 6;
    uint64_t line_abs;
    int err;

    line_bounds(s, p, &lb, &hb);
    if (pat->kind != IOCS_PAT_TOKEN6 && pat->len > e - lb)
        return 0; /* starts before the line: no literal does (a forged db) */
    if (pat->kind == IOCS_PAT_CIDR4) {
        ts = e - pat->len;
        err = iocs_token4_at(p, lb, hb, ts, &te, addr);
    } else if (pat->kind == IOCS_PAT_CIDR6) {
        ts = e - pat->len;
        err = iocs_token6_at(p, lb, hb, ts, &te, addr);
    } else {
        err = iocs_token6(p, lb, hb, e, &ts, &te, addr);
    }
    if (err)
        return 0;
    if (s->u->offset + ts + 1 == s->line.tok_abs[family == 6])
        return 0; /* this token was looked up already */
    s->line.tok_abs[family == 6] = s->u->offset + ts + 1;
    if (s->allow && iocs_allow_ip(s->allow, family, addr))
        return 0; /* an allowlisted address never alerts */
    k = iocs_cidrset_lookup(s->cidrs, family, addr, ids, CIDR_IDS);
    if (k > CIDR_IDS) {
        s->st.lost += k - CIDR_IDS;
        k = CIDR_IDS;
    }
    line_abs = s->ls_true ? s->u->offset + s->ls : s->line.line_start_abs;
    for (size_t j = 0; j < k; j++) {
        err = add_linehit(s, ids[j], s->u->offset + ts - line_abs,
                          s->u->offset + te - line_abs, p + ts);
        if (err)
            return err;
    }
    return 0;
}

static int literal_hit(struct iocs_scanner *s, const unsigned char *p,
                       const struct iocs_pat *pat, size_t e)
{
    size_t lb, hb, start;
    uint64_t line_abs;

    line_bounds(s, p, &lb, &hb);
    /* A literal lies inside its line; a longer one can only come from a
     * database file forged to pass its checks: never read before lb. */
    if (pat->len > e - lb)
        return 0;
    start = e - pat->len;
    if (!iocs_verify_edges(p, lb, hb, start, e, (enum iocs_edge)pat->left,
                           (enum iocs_edge)pat->right))
        return 0;
    line_abs = s->ls_true ? s->u->offset + s->ls : s->line.line_start_abs;
    return add_linehit(s, pat->ioc, s->u->offset + start - line_abs,
                       s->u->offset + e - line_abs, p + start);
}

/* A regex rule matched [start, e): it must stay inside the line's content
 * (no '\n' crossed, no trailing '\r' taken). */
static int regex_hit(struct iocs_scanner *s, const unsigned char *p,
                     const struct iocs_pat *pat, size_t start, size_t e)
{
    size_t lb, hb;
    uint64_t line_abs;

    line_bounds(s, p, &lb, &hb);
    if (start >= e || start < lb || e > hb ||
        memchr(p + start, '\n', e - start))
        return 0;
    line_abs = s->ls_true ? s->u->offset + s->ls : s->line.line_start_abs;
    return add_linehit(s, pat->ioc, s->u->offset + start - line_abs,
                       s->u->offset + e - line_abs, p + start);
}

/*
 * A hit of the token index: IOC ioc at [start, e), already cut as the
 * Hyperscan path cuts it (tokens.h). An address IOC that the Hyperscan
 * path finds through the prefix set (CIDR ranges, IPv6) is checked
 * against the allowlist as token_hit() checks it.
 */
static int tokhit(struct iocs_scanner *s, const unsigned char *p, uint32_t ioc,
                  size_t start, size_t e)
{
    const struct iocs_ioc *x = iocs_iocset_get(s->set, ioc);
    size_t lb, hb;
    uint64_t line_abs;

    line_bounds(s, p, &lb, &hb);
    if (start < lb || start >= e || e > hb)
        return 0; /* no token crosses a line end */
    if (s->allow && (x->type == IOCS_CIDR4 || x->type == IOCS_CIDR6 ||
                     x->type == IOCS_IPV6)) {
        uint8_t addr[16];
        int family = x->type == IOCS_CIDR4 ? 4 : 6;
        int err =
            family == 4
                ? iocs_ip4_parse((const char *)p + start, e - start, addr)
                : iocs_ip6_parse((const char *)p + start, e - start, addr);

        if (err == 0 && iocs_allow_ip(s->allow, family, addr))
            return 0; /* an allowlisted address never alerts */
    }
    line_abs = s->ls_true ? s->u->offset + s->ls : s->line.line_start_abs;
    return add_linehit(s, ioc, s->u->offset + start - line_abs,
                       s->u->offset + e - line_abs, p + start);
}

/* The cache lines of a string up to 64 bytes long, wherever it starts
 * (strlen's first vector load may cross into the second). */
static inline void prefetch_str(const char *p)
{
    if (!p)
        return;
    __builtin_prefetch(p);
    __builtin_prefetch(p + 63);
}

/*
 * Ask the cache for what processing hits [from, to) will read: their
 * pattern entries, then their IOCs, then the IOC strings an event copies.
 * hs_scan has pushed these out of the cache by now, and each hit's IOC
 * lies anywhere in the set: walked one by one, every hit waits for several
 * misses in a row. In passes, the misses of a pass overlap; each pass reads
 * what the one before fetched.
 */
/* The IOC of raw hit r, or UINT32_MAX for a CIDR trigger (whose IOCs are
 * known after the lookup). */
static uint32_t hit_ioc(const struct iocs_scanner *s, const struct rawhit *r)
{
    const struct iocs_pat *pat;

    if (r->pat & TOKHIT)
        return r->pat & ~TOKHIT;
    pat = iocs_db_pat(s->db, r->pat);
    if (pat->kind != IOCS_PAT_LITERAL && pat->kind != IOCS_PAT_REGEX)
        return UINT32_MAX;
    return pat->ioc;
}

static void prefetch_hits(const struct iocs_scanner *s, size_t from, size_t to)
{
    const struct rawhit *v = s->hits.v;

    for (size_t i = from; i < to; i++)
        if (!(v[i].pat & TOKHIT))
            __builtin_prefetch(iocs_db_pat(s->db, v[i].pat));
    for (size_t i = from; i < to; i++) {
        uint32_t id = hit_ioc(s, &v[i]);
        const char *ioc;

        if (id == UINT32_MAX)
            continue;
        ioc = (const char *)iocs_iocset_get(s->set, id);
        __builtin_prefetch(ioc);
        __builtin_prefetch(ioc + sizeof(struct iocs_ioc) - 1);
    }
    for (size_t i = from; i < to; i++) {
        uint32_t id = hit_ioc(s, &v[i]);
        const struct iocs_ioc *ioc;

        if (id == UINT32_MAX)
            continue;
        ioc = iocs_iocset_get(s->set, id);
        prefetch_str(ioc->value);
        prefetch_str(ioc->reference);
        prefetch_str(ioc->provider);
        prefetch_str(ioc->description);
        prefetch_str(ioc->tags);
    }
}

/* Process the block's recorded hits whose end is in (lo, hi]. */
static int walk(struct iocs_scanner *s, const unsigned char *p, size_t n,
                size_t base, size_t lo, size_t hi)
{
    struct hits *h = &s->hits;
    int err;

    sort_hits(h->v, 0, h->len);
    for (size_t i = 0; i < h->len; i++) {
        const struct iocs_pat *pat;
        size_t e = base + h->v[i].end;

        if (i % PREFETCH_RUN == 0)
            prefetch_hits(
                s, i, h->len - i < PREFETCH_RUN ? h->len : i + PREFETCH_RUN);

        if (e <= lo || e > hi)
            continue;
        if (e == 0)
            continue; /* an empty match; no pattern allows it */
        err = seek_line(s, p, n, e - 1);
        if (err)
            return err;
        if (h->v[i].pat & TOKHIT) {
            err = tokhit(s, p, h->v[i].pat & ~TOKHIT, base + h->v[i].from, e);
            if (err)
                return err;
            continue;
        }
        pat = iocs_db_pat(s->db, h->v[i].pat);
        if (pat->kind == IOCS_PAT_LITERAL)
            err = literal_hit(s, p, pat, e);
        else if (pat->kind == IOCS_PAT_REGEX)
            err = regex_hit(s, p, pat, base + h->v[i].from, e);
        else
            err = token_hit(s, p, pat, e);
        if (err)
            return err;
    }
    return 0;
}

/* Scan p[bs, be) and process the hits ending in (lo, hi]; split the block
 * when the hit array fills up. */
static int scan_block(struct iocs_scanner *s, const unsigned char *p, size_t n,
                      size_t bs, size_t be, size_t lo, size_t hi)
{
    const unsigned char *nl;
    size_t mid;
    int rc;

    if (hi <= lo || be <= bs)
        return 0;
    rc = record(s, p, bs, be);
    if (rc < 0)
        return rc;
    s->st.matches += s->hits.len;
    if (rc == 0)
        return walk(s, p, n, bs, lo, hi);

    /* The hit array filled: scan the halves. */
    s->st.splits++;
    s->st.matches -= s->hits.len;
    mid = bs + (be - bs) / 2;
    nl = memrchr(p + bs, '\n', mid - bs);
    if (!nl)
        nl = memchr(p + mid, '\n', be - mid);
    if (nl && (size_t)(nl - p) + 1 < be) {
        size_t cut = (size_t)(nl - p) + 1;

        rc = scan_block(s, p, n, bs, cut, lo, cut < hi ? cut : hi);
        if (rc)
            return rc;
        return scan_block(s, p, n, cut, be, cut > lo ? cut : lo, hi);
    }
    if (be - bs <= 2 * s->overlap + 64) {
        /* Too small to split inside the line: a bigger hit array, up to a
         * hard cap; past it, keep what was recorded and count the loss. */
        if (s->hits.cap < HITS_MAX) {
            struct rawhit *v = realloc(s->hits.v, 2 * s->hits.cap * sizeof(*v));

            if (!v)
                return -ENOMEM;
            s->hits.v = v;
            v = realloc(s->hits.tmp, 2 * s->hits.cap * sizeof(*v));
            if (!v)
                return -ENOMEM;
            s->hits.tmp = v;
            s->hits.cap *= 2;
            return scan_block(s, p, n, bs, be, lo, hi);
        }
        s->st.lost++;
        s->st.matches += s->hits.len;
        return walk(s, p, n, bs, lo, hi);
    }
    rc = scan_block(s, p, n, bs, mid, lo, mid - RC < hi ? mid - RC : hi);
    if (rc)
        return rc;
    return scan_block(s, p, n, mid - s->overlap, be,
                      mid - RC > lo ? mid - RC : lo, hi);
}

int iocs_scanner_unit(struct iocs_scanner *s, const struct iocs_unit *u,
                      const char *path, uint64_t line0,
                      struct iocs_linestate *ls, iocs_event_fn fn, void *ctx,
                      uint64_t *newlines)
{
    const unsigned char *p = u->ptr, *nl;
    size_t n = u->len, lo, hi;
    int err;

    s->line_no = line0;
    if (u->rescan > 0 && ls->open) {
        /* A continuation: take the open line over. */
        struct iocs_linestate t = s->line;

        s->line = *ls;
        *ls = t;
        ls->open = false;
    } else {
        s->line.open = false;
        s->line.lh_len = 0;
        s->line.arena_len = 0;
        s->line.prefix_len = 0;
        s->line.tok_abs[0] = s->line.tok_abs[1] = 0;
    }
    s->u = u;
    s->path = path;
    s->path_len = strlen(path);
    s->fn = fn;
    s->ctx = ctx;
    clock_gettime(CLOCK_REALTIME, &s->now);
    s->lctx.ref = u->mtime ? u->mtime : s->time.start;
    s->st.bytes += n - u->rescan;

    /* The first line of the unit: its real start, or the open line. */
    s->ls = 0;
    s->ls_true = !s->line.open || u->offset == s->line.line_start_abs;
    if (s->ls_true && !s->line.open)
        s->line.line_start_abs = u->offset;
    s->counted = 0;
    nl = memchr(p, '\n', n);
    s->le = nl ? (size_t)(nl - p) : n;

    /* The previous piece judged the hits ending up to RC bytes before its
     * end, which is rescan - RC here. */
    lo = u->rescan > RC ? u->rescan - RC : 0;
    hi = u->ends_line ? n : (n > RC ? n - RC : 0);
    /* hs_scan a block of lines at a time, and walk its hits while its
     * bytes are still in the cache: counting newlines and finding lines
     * over a whole unit after scanning it reads it from memory again. The
     * blocks end at line ends, like the halves of a split scan. */
    for (size_t bs = 0, be; bs < n; bs = be) {
        be = n;
        if (n - bs >= 2 * BLOCK_BYTES) {
            nl = memchr(p + bs + BLOCK_BYTES, '\n', n - bs - BLOCK_BYTES);
            if (nl)
                be = (size_t)(nl - p) + 1;
        }
        err = scan_block(s, p, n, bs, be, lo > bs ? lo : bs, hi < be ? hi : be);
        if (err)
            return err;
    }

    /* The unit's end: close the current line if it ends here. */
    if (s->le < n || u->ends_line) {
        err = close_line(s, p, s->le);
        if (err)
            return err;
    }
    /* The newlines after the last hit: only a caller that numbers the next
     * unit from this one needs them (a pool counts each unit's newlines
     * before it scans it: workers.h, "Line numbers"). */
    if (newlines)
        s->line_no += iocs_count_newlines(p + s->counted, n - s->counted);
    if (!u->ends_line) {
        /* The last line goes on into the next unit. */
        nl = memrchr(p, '\n', n);
        if (nl) {
            s->line.line_start_abs = u->offset + (size_t)(nl - p) + 1;
            s->line.prefix_len = 0;
            s->ls = (size_t)(nl - p) + 1;
            s->ls_true = true;
        } else if (s->ls_true) {
            s->line.line_start_abs = u->offset;
        }
        s->line.open = true;
        err = spill(s, p, n);
        if (err)
            return err;
        /* Hand the open line to whoever scans the next unit. */
        struct iocs_linestate t = *ls;

        *ls = s->line;
        s->line = t;
        s->line.open = false;
    }
    if (newlines) {
        *newlines = s->line_no - line0;
        s->st.lines += *newlines;
        if (u->last && n > 0 && p[n - 1] != '\n')
            s->st.lines++;
    }
    return 0;
}
