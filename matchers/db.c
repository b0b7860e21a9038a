/*
 * db.c - compile an IOC set into one Hyperscan block-mode database and the
 * pattern table the scanner reads matches through; on the token path, the
 * token index (tokens.h) beside a Hyperscan database of the rest.
 *
 * Config-time code: allocation is fine here. The result is immutable.
 */
#include "matchers/db.h"

#include <errno.h>
#include <hs/hs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matchers/tokens.h"
#include "matchers/util.h"

/* The IPv6 token trigger, only for ranges shorter than /16 (whose
 * addresses share no whole group): three ':' of one run, or "::" (so
 * "12:34:56" times never fire it). The scanner widens it to the maximal
 * token around it. Other ranges need no trigger: each becomes the literal
 * leading text of the addresses it holds (add_cidr4(), add_cidr6()). */
#define TOKEN6_RE ":[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:|::"
/* Overlap for long lines: the longest pattern (at least the longest IP
 * token run, 64, plus its trigger) plus the scanner's right-context margin
 * (66) and a few bytes of left context. See scanner.h. */
#define OVERLAP_MIN_PATTERN 80
#define OVERLAP_MARGIN 80
/* A regex rule counts for its widest match (hs_expression_info), capped
 * here: a match wider than this can be missed where a long line is cut into
 * pieces (db.h). */
#define REGEX_WIDTH_CAP 8192
/* Flags every regex rule gets: leftmost start of match, ^ and $ at lines. */
#define REGEX_FLAGS (HS_FLAG_SOM_LEFTMOST | HS_FLAG_MULTILINE)
/* The token path's marker (db.h): the last pattern, a literal no log is
 * expected to hold (the scanner drops its id anyway). It also keeps the
 * Hyperscan database non-empty when the index takes every IOC. */
#define MARKER_TEXT "\x7f\x01iocstream token index\x01\x7f"

/* The mode iocs_db_compile() uses (db.h). */
static enum iocs_db_tokens tokens_mode = IOCS_DB_TOKENS_AUTO;

struct iocs_db {
    hs_database_t *hs;
    const struct iocs_iocset *set;
    struct iocs_iocset *owned; /* set, when the database owns it */
    struct iocs_cidrset *cidrs;
    struct iocs_pat *pats;
    size_t npats;
    size_t overlap;
    size_t size;
    bool token6; /* an IPv6 range shorter than /16 needs the trigger */
    char id[17];
    unsigned tok_types;         /* the token path: the types it takes; or 0 */
    struct iocs_tokens *tokens; /* its index (tok_types != 0) */
};

/* Growable arrays of what hs_compile_multi() takes. */
struct build {
    char **exprs;
    unsigned *flags;
    unsigned *ids;
    struct iocs_pat *pats;
    size_t len, cap;
    size_t maxlen;
    /* IPv4 range literals added so far, as (octets << 32 | value) + 1, in
     * an open-addressing table; 0 marks a free slot. */
    uint64_t *seen;
    size_t nseen, seen_cap;
};

/* Add key to b->seen. Returns 1 if it was new, 0 if present, or -ENOMEM. */
static int seen_add(struct build *b, uint64_t key)
{
    size_t mask, i;

    key++;
    if (2 * (b->nseen + 1) > b->seen_cap) {
        size_t cap = b->seen_cap ? 2 * b->seen_cap : 1024;
        uint64_t *t = calloc(cap, sizeof(*t));

        if (!t)
            return -ENOMEM;
        for (size_t j = 0; j < b->seen_cap; j++) {
            if (!b->seen[j])
                continue;
            i = (size_t)(b->seen[j] * 0x9e3779b97f4a7c15ull) & (cap - 1);
            while (t[i])
                i = (i + 1) & (cap - 1);
            t[i] = b->seen[j];
        }
        free(b->seen);
        b->seen = t;
        b->seen_cap = cap;
    }
    mask = b->seen_cap - 1;
    i = (size_t)(key * 0x9e3779b97f4a7c15ull) & mask;
    while (b->seen[i]) {
        if (b->seen[i] == key)
            return 0;
        i = (i + 1) & mask;
    }
    b->seen[i] = key;
    b->nseen++;
    return 1;
}

static void build_fini(struct build *b)
{
    for (size_t i = 0; i < b->len; i++)
        free(b->exprs[i]);
    free(b->exprs);
    free(b->flags);
    free(b->ids);
    free(b->pats);
    free(b->seen);
    memset(b, 0, sizeof(*b));
}

static int build_grow(struct build *b)
{
    size_t cap = b->cap ? b->cap * 2 : 256;
    void *p;

    p = realloc(b->exprs, cap * sizeof(*b->exprs));
    if (!p)
        return -ENOMEM;
    b->exprs = p;
    p = realloc(b->flags, cap * sizeof(*b->flags));
    if (!p)
        return -ENOMEM;
    b->flags = p;
    p = realloc(b->ids, cap * sizeof(*b->ids));
    if (!p)
        return -ENOMEM;
    b->ids = p;
    p = realloc(b->pats, cap * sizeof(*b->pats));
    if (!p)
        return -ENOMEM;
    b->pats = p;
    b->cap = cap;
    return 0;
}

/* Append one expression (taking ownership of expr). */
static int build_add(struct build *b, char *expr, unsigned flags,
                     struct iocs_pat pat)
{
    int err;

    if (!expr)
        return -ENOMEM;
    if (b->len == b->cap) {
        err = build_grow(b);
        if (err) {
            free(expr);
            return err;
        }
    }
    b->exprs[b->len] = expr;
    b->flags[b->len] = flags;
    b->ids[b->len] = (unsigned)b->len;
    b->pats[b->len] = pat;
    b->len++;
    if (pat.len > b->maxlen)
        b->maxlen = pat.len;
    return 0;
}

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/*
 * Escape bytes p[0..n) so Hyperscan reads them literally: letters and
 * digits as they are, every other byte as \xHH. Appends to out at *pos.
 */
static void escape_into(char *out, size_t *pos, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if (is_alnum(c)) {
            out[(*pos)++] = (char)c;
        } else {
            out[(*pos)++] = '\\';
            out[(*pos)++] = 'x';
            out[(*pos)++] = hex[c >> 4];
            out[(*pos)++] = hex[c & 15];
        }
    }
    out[*pos] = '\0';
}

static char *escape(const char *p, size_t n)
{
    char *out = malloc(4 * n + 1);
    size_t pos = 0;

    if (out)
        escape_into(out, &pos, p, n);
    return out;
}

static int add_literal(struct build *b, uint32_t ioc, const char *v, size_t n,
                       int caseless, enum iocs_edge left, enum iocs_edge right)
{
    struct iocs_pat pat = {.ioc = ioc,
                           .len = (uint16_t)n,
                           .kind = IOCS_PAT_LITERAL,
                           .left = (uint8_t)left,
                           .right = (uint8_t)right};

    if (n == 0 || n > UINT16_MAX)
        return -EINVAL;
    return build_add(b, escape(v, n), caseless ? HS_FLAG_CASELESS : 0, pat);
}

/* An IPv6 IOC is also a one-address range of the prefix set, so a token
 * in any spelling that parses to it is found (see add_ipv6()). */
static int add_ip6_range(struct iocs_db *db, uint32_t ioc,
                         const struct iocs_ioc *x, uint8_t a[16])
{
    int err;

    if (iocs_ip6_parse(x->value, x->len, a) < 0)
        return -EINVAL;
    if (!db->cidrs) {
        err = iocs_cidrset_new(&db->cidrs);
        if (err)
            return err;
    }
    return iocs_cidrset_add(db->cidrs, 6, a, 128, ioc);
}

/* One IPv6 prefix literal, de-duplicated through b->seen by its text. */
static int add_prefix6(struct build *b, const char *text, size_t n)
{
    uint64_t h = iocs_fnv1a(IOCS_FNV1A_BASIS, text, n);
    int err;

    err = seen_add(b, h | 1ull << 63); /* apart from IPv4 keys */
    if (err <= 0)
        return err;
    return build_add(b, escape(text, n), HS_FLAG_CASELESS,
                     (struct iocs_pat){.len = (uint16_t)n,
                                       .kind = IOCS_PAT_CIDR6,
                                       .left = IOCS_EDGE_IPV6,
                                       .right = IOCS_EDGE_NONE});
}

/*
 * The token trigger of an IPv6 IOC: its first group, with each number of
 * leading zeros, then ':', as the prefix literals of a range are. A log
 * may pad one group and not the next ("2604:a880:0400:00d1::7716:0001");
 * the scanner reads the token that starts there, parses it and looks it
 * up in the prefix set. An address that starts with a zero group (it may
 * be written "::...") needs the generic trigger.
 */
static int add_ipv6_trigger(struct iocs_db *db, struct build *b,
                            const uint8_t a[16])
{
    unsigned v = (unsigned)a[0] << 8 | a[1];
    char text[8];
    int err;

    if (v == 0) {
        db->token6 = true;
        return 0;
    }
    for (int pad = 1; pad <= 4; pad++) {
        int n = snprintf(text, sizeof(text), "%0*x:", pad, v);

        if (n > pad + 1)
            continue; /* v needs more digits than pad */
        err = add_prefix6(b, text, (size_t)n);
        if (err < 0)
            return err;
    }
    return 0;
}

/*
 * IPv6: a one-address range found through its token trigger, so every
 * spelling matches (padded or not group by group, "::" anywhere, any
 * case), each token looked up once. An address written with an embedded
 * dotted quad ("::ffff:192.0.2.1") is no hex-and-':' token: it is matched
 * as literals instead, its canonical text and the expanded spellings with
 * and without leading zeros.
 */
static int add_ipv6(struct iocs_db *db, struct build *b, uint32_t ioc,
                    const struct iocs_ioc *x)
{
    uint8_t a[16];
    char full[40], bare[40];
    int err;

    if (!memchr(x->value, '.', x->len)) {
        err = add_ip6_range(db, ioc, x, a);
        if (err)
            return err;
        return add_ipv6_trigger(db, b, a);
    }
    err = add_literal(b, ioc, x->value, x->len, 1, IOCS_EDGE_IPV6,
                      IOCS_EDGE_IPV6);
    if (err)
        return err;
    if (iocs_ip6_parse(x->value, x->len, a) < 0)
        return -EINVAL;
    for (int g = 0, pf = 0, pb = 0; g < 8; g++) {
        unsigned v = (unsigned)a[2 * g] << 8 | a[2 * g + 1];

        pf += snprintf(full + pf, sizeof(full) - (size_t)pf, "%s%04x",
                       g ? ":" : "", v);
        pb += snprintf(bare + pb, sizeof(bare) - (size_t)pb, "%s%x",
                       g ? ":" : "", v);
    }
    err = add_literal(b, ioc, full, strlen(full), 1, IOCS_EDGE_IPV6,
                      IOCS_EDGE_IPV6);
    if (err)
        return err;
    if (strcmp(bare, x->value) != 0)
        err = add_literal(b, ioc, bare, strlen(bare), 1, IOCS_EDGE_IPV6,
                          IOCS_EDGE_IPV6);
    return err;
}

/* A file name; a Windows path also in its JSON-escaped spelling. */
static int add_filename(struct build *b, uint32_t ioc, const struct iocs_ioc *x)
{
    size_t nb = 0, n = 0;
    char *esc;
    int err;

    err = add_literal(b, ioc, x->value, x->len, 1, IOCS_EDGE_FILE,
                      IOCS_EDGE_DOMAIN);
    if (err)
        return err;
    for (size_t i = 0; i < x->len; i++)
        nb += x->value[i] == '\\';
    if (nb == 0)
        return 0;
    esc = malloc(x->len + nb + 1);
    if (!esc)
        return -ENOMEM;
    for (size_t i = 0; i < x->len; i++) {
        esc[n++] = x->value[i];
        if (x->value[i] == '\\')
            esc[n++] = '\\';
    }
    err = add_literal(b, ioc, esc, n, 1, IOCS_EDGE_FILE, IOCS_EDGE_DOMAIN);
    free(esc);
    return err;
}

/*
 * A URL is matched without its scheme, as host[:port]/path?query: the host
 * folded, the rest byte-exact; with no path it is matched as its host, with
 * a domain's boundaries on both sides.
 */
static int add_url(struct build *b, uint32_t ioc, const struct iocs_ioc *x)
{
    const char *v = x->value, *end = x->value + x->len, *host, *rest;
    struct iocs_pat pat = {.ioc = ioc,
                           .kind = IOCS_PAT_LITERAL,
                           .left = IOCS_EDGE_DOMAIN,
                           .right = IOCS_EDGE_NONE};
    size_t pos = 0;
    char *expr;

    host = strstr(v, "://");
    host = host ? host + 3 : v;
    rest = host;
    while (rest < end && *rest != '/' && *rest != '?' && *rest != '#')
        rest++;
    if (rest == host)
        return -EINVAL;
    if (rest == end || (rest + 1 == end && *rest == '/'))
        return add_literal(b, ioc, host, (size_t)(rest - host), 1,
                           IOCS_EDGE_DOMAIN, IOCS_EDGE_DOMAIN);
    if ((size_t)(end - host) > UINT16_MAX)
        return -EINVAL;
    expr = malloc(4 * (size_t)(end - host) + 16);
    if (!expr)
        return -ENOMEM;
    memcpy(expr, "(?i:", 4);
    pos = 4;
    escape_into(expr, &pos, host, (size_t)(rest - host));
    expr[pos++] = ')';
    escape_into(expr, &pos, rest, (size_t)(end - rest));
    pat.len = (uint16_t)(end - host);
    return build_add(b, expr, 0, pat);
}

/*
 * An IPv4 range a.b.c.d/p becomes the text of its first ceil(p/8) octets,
 * for every value those octets take in the range: "10.20." for
 * 10.20.0.0/16, "10.16." ... "10.31." for 10.16.0.0/12, the whole address
 * for a prefix over 24. Only addresses that may be in some range fire; the
 * scanner reads the token from the literal's start and asks the prefix set
 * which ranges hold it. Literals already added (another range with the same
 * leading octets) are not added twice: one lookup finds every range.
 */
static int add_cidr4(struct build *b, const uint8_t a[4], unsigned prefix)
{
    unsigned k = prefix ? (prefix + 7) / 8 : 1, spare = 8 * k - prefix;
    uint32_t base = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
                    (uint32_t)a[2] << 8 | a[3];
    int err;

    for (uint32_t v = 0; v < (1u << spare); v++) {
        uint32_t addr = base | v << (32 - 8 * k);
        char text[20];
        int n = 0;

        for (unsigned o = 0; o < k; o++)
            n += snprintf(text + n, sizeof(text) - (size_t)n, "%s%u",
                          o ? "." : "", (addr >> (24 - 8 * o)) & 255);
        if (k < 4)
            text[n++] = '.';
        text[n] = '\0';
        err = seen_add(b, (uint64_t)k << 32 | addr >> (32 - 8 * k));
        if (err < 0)
            return err;
        if (err == 0)
            continue; /* another range added this literal */
        err = build_add(b, escape(text, (size_t)n), 0,
                        (struct iocs_pat){.len = (uint16_t)n,
                                          .kind = IOCS_PAT_CIDR4,
                                          .left = IOCS_EDGE_IPV4,
                                          .right = k == 4 ? IOCS_EDGE_IPV4
                                                          : IOCS_EDGE_NONE});
        if (err)
            return err;
    }
    return 0;
}

/* Write groups g[0..k) as the start of an address: each "%x" or "%04x",
 * ':' after each; the zero groups [zi, zj) (zi < zj) become "::". */
static size_t spell6(char *out, const unsigned *g, unsigned k, bool pad,
                     unsigned zi, unsigned zj)
{
    size_t n = 0;

    for (unsigned i = 0; i < k; i++) {
        if (i == zi && zi < zj) {
            n += (size_t)sprintf(out + n, i == 0 ? "::" : ":");
            i = zj - 1;
            continue;
        }
        n += (size_t)sprintf(out + n, pad ? "%04x:" : "%x:", g[i]);
    }
    return n; /* a text ending in "::" continues past the prefix */
}

/*
 * An IPv6 range's addresses share their first k = prefix / 16 groups (one
 * more when at most 16 values of it are in range). Their text starts with
 * those groups, unpadded or zero-padded, any case (the literal is caseless),
 * or with a run of zero groups among them written "::". Each spelling is a
 * literal where the scanner reads a token and looks it up. A mixed padding
 * within one address is not covered.
 */
static int add_cidr6(struct build *b, const uint8_t a[16], unsigned prefix,
                     bool *generic)
{
    unsigned k = prefix / 16, spare = 0, g[8];
    char text[8 * 5 + 3];
    int err;

    if (prefix % 16 >= 12) {
        k++;
        spare = 16 * k - prefix;
    }
    if (k == 0) {
        *generic = true; /* the trigger finds these */
        return 0;
    }
    for (unsigned i = 0; i < 8; i++)
        g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    for (unsigned v = 0; v < (1u << spare); v++) {
        g[k - 1] = (g[k - 1] & ~((1u << spare) - 1)) | v;
        for (int pad = 0; pad < 2; pad++) {
            err = add_prefix6(b, text, spell6(text, g, k, pad, k, k));
            if (err < 0)
                return err;
            /* Each maximal run of zero groups written as "::". */
            for (unsigned i = 0; i < k; i++) {
                unsigned j = i;

                if (g[i] != 0 || (i > 0 && g[i - 1] == 0))
                    continue;
                while (j < k && g[j] == 0)
                    j++;
                err = add_prefix6(b, text, spell6(text, g, k, pad, i, j));
                if (err < 0)
                    return err;
            }
        }
    }
    return 0;
}

/* A regex rule: the expression as written, its flags plus REGEX_FLAGS; its
 * widest match sizes the long-line overlap. */
static int add_regex(struct build *b, uint32_t ioc, const struct iocs_ioc *x)
{
    struct iocs_pat pat = {.ioc = ioc,
                           .len = REGEX_WIDTH_CAP,
                           .kind = IOCS_PAT_REGEX,
                           .left = IOCS_EDGE_NONE,
                           .right = IOCS_EDGE_NONE};
    unsigned flags =
        (x->hs_flags & (HS_FLAG_CASELESS | HS_FLAG_DOTALL)) | REGEX_FLAGS;
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *cerr = NULL;

    if (hs_expression_info(x->value, flags, &info, &cerr) != HS_SUCCESS) {
        hs_free_compile_error(cerr);
        return -EINVAL;
    }
    if (info->max_width < REGEX_WIDTH_CAP)
        pat.len = (uint16_t)info->max_width;
    free(info); /* hs_expression_info() allocates with the misc allocator */
    return build_add(b, strdup(x->value), flags, pat);
}

static int add_cidr(struct iocs_db *db, struct build *b, uint32_t ioc,
                    const struct iocs_ioc *x)
{
    uint8_t a[16];
    unsigned prefix;
    int family, err;

    if (iocs_cidr_parse(x->value, x->len, &family, a, &prefix) < 0)
        return -EINVAL;
    if (!db->cidrs) {
        err = iocs_cidrset_new(&db->cidrs);
        if (err)
            return err;
    }
    err = iocs_cidrset_add(db->cidrs, family, a, prefix, ioc);
    if (err || !b)
        return err; /* no b: only the prefix set (a database loaded) */
    if (family == 6)
        return add_cidr6(b, a, prefix, &db->token6);
    return add_cidr4(b, a, prefix);
}

static int add_ioc(struct iocs_db *db, struct build *b, uint32_t i,
                   const struct iocs_ioc *x)
{
    switch (x->type) {
    case IOCS_IPV4:
        return add_literal(b, i, x->value, x->len, 0, IOCS_EDGE_IPV4,
                           IOCS_EDGE_IPV4);
    case IOCS_IPV6:
        return add_ipv6(db, b, i, x);
    case IOCS_CIDR4:
    case IOCS_CIDR6:
        return add_cidr(db, b, i, x);
    case IOCS_DOMAIN:
        return add_literal(b, i, x->value, x->len, 1, IOCS_EDGE_DOMAIN,
                           IOCS_EDGE_DOMAIN);
    case IOCS_URL:
        return add_url(b, i, x);
    case IOCS_EMAIL:
        return add_literal(b, i, x->value, x->len, 1, IOCS_EDGE_EMAIL,
                           IOCS_EDGE_DOMAIN);
    case IOCS_MD5:
    case IOCS_SHA1:
    case IOCS_SHA256:
    case IOCS_SHA512:
        return add_literal(b, i, x->value, x->len, 1, IOCS_EDGE_HEX,
                           IOCS_EDGE_HEX);
    case IOCS_FILENAME:
        return add_filename(b, i, x);
    case IOCS_STRING:
        /* A --strings "word:" entry keeps to whole words. */
        return add_literal(b, i, x->value, x->len, 0,
                           x->word ? IOCS_EDGE_DOMAIN : IOCS_EDGE_NONE,
                           x->word ? IOCS_EDGE_DOMAIN : IOCS_EDGE_NONE);
    case IOCS_REGEX:
        return add_regex(b, i, x);
    case IOCS_TYPE_COUNT:
        break;
    }
    return -EINVAL;
}

static void make_id(struct iocs_db *db)
{
    uint64_t h = IOCS_FNV1A_BASIS; /* names the set; not a security boundary */
    const char *ver = hs_version();

    h = iocs_fnv1a(h, ver, strlen(ver));
    for (size_t i = 0; i < iocs_iocset_count(db->set); i++) {
        const struct iocs_ioc *x = iocs_iocset_get(db->set, i);
        unsigned char t = (unsigned char)x->type;

        h = iocs_fnv1a(h, &t, 1);
        h = iocs_fnv1a(h, x->value, x->len + 1);
    }
    snprintf(db->id, sizeof(db->id), "%016llx", (unsigned long long)h);
}

static int compile_hs(struct iocs_db *db, struct build *b, char *errbuf,
                      size_t errlen)
{
    hs_compile_error_t *cerr = NULL;
    hs_error_t rc;

    rc =
        hs_compile_multi((const char *const *)b->exprs, b->flags, b->ids,
                         (unsigned)b->len, HS_MODE_BLOCK, NULL, &db->hs, &cerr);
    if (rc == HS_SUCCESS) {
        hs_database_size(db->hs, &db->size);
        return 0;
    }
    if (cerr && cerr->expression >= 0 && (size_t)cerr->expression < b->len &&
        b->pats[cerr->expression].kind == IOCS_PAT_LITERAL) {
        const struct iocs_ioc *x =
            iocs_iocset_get(db->set, b->pats[cerr->expression].ioc);

        iocs_seterr(errbuf, errlen, -EINVAL, "%s: %s IOC '%s': %s",
                    x->reference ? x->reference : x->feed,
                    iocs_type_name(x->type), x->value, cerr->message);
    } else {
        iocs_seterr(errbuf, errlen, -EINVAL, "Hyperscan: %s",
                    cerr ? cerr->message : "compile failed");
    }
    hs_free_compile_error(cerr);
    return rc == HS_NOMEM ? -ENOMEM : -EINVAL;
}

void iocs_db_set_tokens_mode(enum iocs_db_tokens mode)
{
    tokens_mode = mode;
}

enum iocs_db_tokens iocs_db_tokens_mode(void)
{
    return tokens_mode;
}

int iocs_db_tokens_parse(const char *s, enum iocs_db_tokens *mode)
{
    if (strcmp(s, "auto") == 0)
        *mode = IOCS_DB_TOKENS_AUTO;
    else if (strcmp(s, "on") == 0)
        *mode = IOCS_DB_TOKENS_ON;
    else if (strcmp(s, "off") == 0)
        *mode = IOCS_DB_TOKENS_OFF;
    else
        return -EINVAL;
    return 0;
}

/* The types the token index takes under mode: all it can, or none. */
static unsigned choose_types(const struct iocs_iocset *set,
                             enum iocs_db_tokens mode)
{
    size_t n = iocs_iocset_count(set), taken = 0;

    /* Pattern ids and token hits share the scanner's 32-bit hit ids. */
    if (mode == IOCS_DB_TOKENS_OFF || n >= (1u << 31))
        return 0;
    if (mode == IOCS_DB_TOKENS_ON)
        return IOCS_TOKENS_ALL;
    for (size_t i = 0; i < n && taken < IOCS_DB_TOKENS_AUTO_MIN; i++)
        taken += iocs_tokens_takes(IOCS_TOKENS_ALL, iocs_iocset_get(set, i));
    return taken >= IOCS_DB_TOKENS_AUTO_MIN ? IOCS_TOKENS_ALL : 0;
}

/* The long-line overlap: the longest pattern or token, and the margin. */
static size_t overlap_of(const struct iocs_db *db, size_t maxlen)
{
    if (db->tokens && iocs_tokens_maxlen(db->tokens) > maxlen)
        maxlen = iocs_tokens_maxlen(db->tokens);
    return (maxlen > OVERLAP_MIN_PATTERN ? maxlen : OVERLAP_MIN_PATTERN) +
           OVERLAP_MARGIN;
}

int iocs_db_compile(struct iocs_db **out, const struct iocs_iocset *set,
                    char *errbuf, size_t errlen)
{
    return iocs_db_compile_mode(out, set, tokens_mode, errbuf, errlen);
}

int iocs_db_compile_mode(struct iocs_db **out, const struct iocs_iocset *set,
                         enum iocs_db_tokens mode, char *errbuf, size_t errlen)
{
    struct build b = {0};
    struct iocs_db *db;
    size_t n = iocs_iocset_count(set);
    int err;

    db = calloc(1, sizeof(*db));
    if (!db)
        return -ENOMEM;
    db->set = set;
    db->tok_types = choose_types(set, mode);

    for (size_t i = 0; i < n; i++) {
        const struct iocs_ioc *x = iocs_iocset_get(set, i);

        if (db->tok_types && iocs_tokens_takes(db->tok_types, x))
            continue; /* the token index has it */
        err = add_ioc(db, &b, (uint32_t)i, x);
        if (err) {
            iocs_seterr(errbuf, errlen, err, "%s: %s IOC '%s': %s",
                        x->reference ? x->reference : x->feed,
                        iocs_type_name(x->type), x->value,
                        err == -ENOMEM ? "out of memory"
                                       : "cannot be compiled");
            goto fail;
        }
    }
    if (db->token6) {
        err = build_add(&b, strdup(TOKEN6_RE), 0,
                        (struct iocs_pat){.kind = IOCS_PAT_TOKEN6});
        if (err)
            goto fail;
    }
    if (n == 0 || (b.len == 0 && !db->tok_types)) {
        err = iocs_seterr(errbuf, errlen, -EINVAL, "no indicators to match");
        goto fail;
    }
    if (db->tok_types) {
        err = build_add(&b, strdup(MARKER_TEXT), 0,
                        (struct iocs_pat){.ioc = db->tok_types,
                                          .kind = IOCS_PAT_TOKEN6,
                                          .left = IOCS_EDGE_FILE,
                                          .right = IOCS_EDGE_FILE});
        if (!err)
            err = iocs_tokens_new(&db->tokens, set, db->tok_types);
        if (err) {
            iocs_seterr(errbuf, errlen, err, "out of memory");
            goto fail;
        }
    }
    err = compile_hs(db, &b, errbuf, errlen);
    if (err)
        goto fail;

    db->pats = b.pats;
    db->npats = b.len;
    b.pats = NULL;
    db->overlap = overlap_of(db, b.maxlen);
    make_id(db);
    build_fini(&b);
    *out = db;
    return 0;

fail:
    build_fini(&b);
    iocs_db_free(db);
    return err;
}

void iocs_db_free(struct iocs_db *db)
{
    if (!db)
        return;
    hs_free_database(db->hs);
    iocs_cidrset_free(db->cidrs);
    iocs_tokens_free(db->tokens);
    free(db->pats);
    iocs_iocset_free(db->owned);
    free(db);
}

void iocs__db_own_set(struct iocs_db *db)
{
    db->owned = (struct iocs_iocset *)db->set;
}

int iocs__db_serialize(const struct iocs_db *db, char **bytes, size_t *len)
{
    char *b = NULL;
    size_t n = 0;
    hs_error_t rc;

    rc = hs_serialize_database(db->hs, &b, &n);
    if (rc != HS_SUCCESS)
        return rc == HS_NOMEM ? -ENOMEM : -EIO;
    *bytes = b;
    *len = n;
    return 0;
}

/* The types of the token path's marker, when pats ends with one (db.h);
 * else 0. */
static unsigned marker_types(const struct iocs_pat *pats, size_t npats)
{
    const struct iocs_pat *m = npats ? &pats[npats - 1] : NULL;

    if (!m || m->kind != IOCS_PAT_TOKEN6 || m->left != IOCS_EDGE_FILE ||
        m->right != IOCS_EDGE_FILE || m->len != 0)
        return 0;
    return m->ioc & IOCS_TOKENS_ALL ? m->ioc & IOCS_TOKENS_ALL
                                    : IOCS_TOKENS_ALL;
}

int iocs__db_load(struct iocs_db **out, struct iocs_iocset *set,
                  const struct iocs_pat *pats, size_t npats, size_t overlap,
                  const char *hsbytes, size_t hslen, const char *id,
                  struct iocs_cidrset **cidrs, char *errbuf, size_t errlen)
{
    size_t n = cidrs ? 0 : iocs_iocset_count(set);
    struct iocs_db *db;
    hs_error_t rc;
    int err;

    db = calloc(1, sizeof(*db));
    if (!db)
        return -ENOMEM;
    db->set = set;
    db->pats = malloc((npats ? npats : 1) * sizeof(*db->pats));
    if (!db->pats) {
        err = -ENOMEM;
        goto fail;
    }
    memcpy(db->pats, pats, npats * sizeof(*pats));
    db->npats = npats;
    db->tok_types = marker_types(pats, npats);
    if (db->tok_types) {
        /* The token path: the index is rebuilt from the set, as cheap as
         * the prefix set below (0.2 s for a million IOCs). */
        err = iocs_tokens_new(&db->tokens, set, db->tok_types);
        if (err) {
            iocs_seterr(errbuf, errlen, err, "out of memory");
            goto fail;
        }
    }
    db->overlap = overlap_of(db, 0) > overlap ? overlap_of(db, 0) : overlap;
    /* The prefix set, unless the file brought it, is rebuilt from the CIDR
     * and IPv6 IOCs that are in Hyperscan (n is 0 when it did). */
    for (size_t i = 0; i < n; i++) {
        const struct iocs_ioc *x = iocs_iocset_get(set, i);
        uint8_t a[16];

        if (db->tok_types && iocs_tokens_takes(db->tok_types, x))
            continue;
        if (x->type == IOCS_IPV6 && !memchr(x->value, '.', x->len))
            err = add_ip6_range(db, (uint32_t)i, x, a);
        else if (x->type == IOCS_CIDR4 || x->type == IOCS_CIDR6)
            err = add_cidr(db, NULL, (uint32_t)i, x);
        else
            continue;
        if (err) {
            iocs_seterr(errbuf, errlen, err, "CIDR IOC '%s' does not parse",
                        x->value);
            goto fail;
        }
    }
    rc = hs_deserialize_database(hsbytes, hslen, &db->hs);
    if (rc != HS_SUCCESS) {
        err = rc == HS_NOMEM ? -ENOMEM : -EINVAL;
        iocs_seterr(errbuf, errlen, err,
                    "Hyperscan refused the database (error %d%s)", (int)rc,
                    rc == HS_DB_VERSION_ERROR    ? ": other Hyperscan version"
                    : rc == HS_DB_PLATFORM_ERROR ? ": built for another CPU"
                    : rc == HS_INVALID ? ": bad header or checksum (damaged)"
                                       : "");
        goto fail;
    }
    hs_database_size(db->hs, &db->size);
    if (id) /* as the file's writer computed it: no pass over the values */
        snprintf(db->id, sizeof(db->id), "%.16s", id);
    else
        make_id(db);
    if (cidrs) { /* taken only now: on failure it is still the caller's */
        db->cidrs = *cidrs;
        *cidrs = NULL;
    }
    db->owned = set;
    *out = db;
    return 0;

fail:
    iocs_db_free(db);
    return err;
}

int iocs_db_scratch_new(const struct iocs_db *db, struct hs_scratch **out)
{
    hs_scratch_t *s = NULL;

    if (hs_alloc_scratch(db->hs, &s) != HS_SUCCESS)
        return -ENOMEM;
    *out = s;
    return 0;
}

void iocs_db_scratch_free(struct hs_scratch *s)
{
    hs_free_scratch(s);
}

int iocs_db_scan(const struct iocs_db *db, struct hs_scratch *scratch,
                 const unsigned char *p, size_t len,
                 int (*on_match)(unsigned int id, unsigned long long from,
                                 unsigned long long to, unsigned int flags,
                                 void *ctx),
                 void *ctx)
{
    hs_error_t rc;

    if (len > UINT32_MAX)
        return -EINVAL;
    rc = hs_scan(db->hs, (const char *)p, (unsigned)len, 0, scratch, on_match,
                 ctx);
    if (rc == HS_SUCCESS)
        return 0;
    if (rc == HS_SCAN_TERMINATED)
        return 1;
    return -EIO;
}

const struct iocs_pat *iocs_db_pat(const struct iocs_db *db, unsigned int id)
{
    return &db->pats[id];
}

const struct iocs_iocset *iocs_db_set(const struct iocs_db *db)
{
    return db->set;
}

const struct iocs_cidrset *iocs_db_cidrs(const struct iocs_db *db)
{
    return db->cidrs;
}

const char *iocs_db_id(const struct iocs_db *db)
{
    return db->id;
}

size_t iocs_db_overlap(const struct iocs_db *db)
{
    return db->overlap;
}

size_t iocs_db_patterns(const struct iocs_db *db)
{
    return db->npats;
}

size_t iocs_db_size(const struct iocs_db *db)
{
    return db->size + (db->tokens ? iocs_tokens_bytes(db->tokens) : 0);
}

const struct iocs_tokens *iocs_db_tokens(const struct iocs_db *db)
{
    return db->tokens;
}

bool iocs_db_tokens_match(const struct iocs_db *db, enum iocs_db_tokens mode)
{
    if (mode == IOCS_DB_TOKENS_ON)
        return db->tok_types != 0;
    if (mode == IOCS_DB_TOKENS_OFF)
        return db->tok_types == 0;
    return true;
}

int iocs_db_recompile(struct iocs_db **db, enum iocs_db_tokens mode,
                      char *errbuf, size_t errlen)
{
    struct iocs_db *fresh;
    int err;

    err = iocs_db_compile_mode(&fresh, (*db)->set, mode, errbuf, errlen);
    if (err)
        return err;
    fresh->owned = (*db)->owned; /* the set moves with it */
    (*db)->owned = NULL;
    iocs_db_free(*db);
    *db = fresh;
    return 0;
}
