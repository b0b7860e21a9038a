/*
 * fuzz_tokens.c - libFuzzer target for the token pass (matchers/tokens.h)
 * over untrusted bytes, against a small fixed IOC set of every token type.
 * Findings: a crash or undefined behaviour, a hit outside the buffer or out
 * of end order, and any difference from the Hyperscan path (iocs_db_scan()
 * plus iocs_verify_edges(), and the CIDR token reads of the scanner),
 * except the IPv6 spellings only the token pass finds (tokens.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "matchers/cidr.h"
#include "matchers/db.h"
#include "matchers/ioc.h"
#include "matchers/tokens.h"
#include "matchers/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct iocs_iocset *set;
static struct iocs_db *db;
static struct iocs_tokens *tok;
static struct hs_scratch *scratch;

static const struct {
    enum iocs_type type;
    const char *value;
} iocs[] = {
    {IOCS_IPV4, "192.81.209.168"},
    {IOCS_IPV4, "1.2.3.4"},
    {IOCS_IPV6, "2604:a880:400:d1::7716:1"},
    {IOCS_IPV6, "::1"},
    {IOCS_CIDR4, "10.20.0.0/16"},
    {IOCS_CIDR4, "1.2.3.0/28"},
    {IOCS_DOMAIN, "evil.example"},
    {IOCS_DOMAIN, "a.b"},
    {IOCS_EMAIL, "a@evil.example"},
    {IOCS_EMAIL, "x.y+z@a.b"},
    {IOCS_MD5, "d41d8cd98f00b204e9800998ecf8427e"},
    {IOCS_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {IOCS_URL, "http://bad.example/x.php"},
    {IOCS_STRING, "ingredi"},
};

#define MAXH 65536

struct hit {
    uint32_t ioc;
    size_t start, end;
};

static struct hit hs[MAXH], tk[MAXH];
static size_t nhs, ntk;
static const unsigned char *cur;
static size_t curlen;

static void init(void)
{
    char errbuf[256];

    if (iocs_iocset_new(&set) < 0)
        abort();
    for (size_t i = 0; i < sizeof(iocs) / sizeof(iocs[0]); i++) {
        char norm[IOCS_IOC_MAX + 1];
        enum iocs_type t = iocs[i].type;
        const char *why;
        size_t len;
        struct iocs_ioc x = {0};

        if (iocs_ioc_normalise(&t, iocs[i].value, strlen(iocs[i].value), norm,
                               sizeof(norm), &len, &why) < 0)
            abort();
        x.type = t;
        x.value = norm;
        x.len = len;
        x.feed = "fuzz";
        if (iocs_iocset_add(set, &x, NULL) < 0)
            abort();
    }
    if (iocs_db_compile_mode(&db, set, IOCS_DB_TOKENS_OFF, errbuf,
                             sizeof(errbuf)) < 0 ||
        iocs_db_scratch_new(db, &scratch) < 0 ||
        iocs_tokens_new(&tok, set, IOCS_TOKENS_ALL) < 0) {
        fprintf(stderr, "fuzz_tokens: %s\n", errbuf);
        abort();
    }
}

static bool taken(uint32_t ioc)
{
    return iocs_tokens_takes(IOCS_TOKENS_ALL, iocs_iocset_get(set, ioc));
}

static void push(struct hit *v, size_t *n, uint32_t ioc, size_t s, size_t e)
{
    if (*n < MAXH)
        v[(*n)++] = (struct hit){.ioc = ioc, .start = s, .end = e};
}

static int on_token(void *ctx, uint32_t ioc, size_t start, size_t end)
{
    (void)ctx;
    if (start >= end || end > curlen || !taken(ioc))
        abort();
    if (ntk > 0 && end < tk[ntk - 1].end)
        abort(); /* out of end order */
    push(tk, &ntk, ioc, start, end);
    return 0;
}

static int on_hs(unsigned int id, unsigned long long from,
                 unsigned long long to, unsigned int flags, void *ctx)
{
    const struct iocs_pat *pat = iocs_db_pat(db, id);
    const unsigned char *nl;
    size_t e = (size_t)to, s, lb, hb;

    (void)from;
    (void)flags;
    (void)ctx;
    if (pat->kind == IOCS_PAT_REGEX ||
        (pat->kind == IOCS_PAT_LITERAL && !taken(pat->ioc)))
        return 0;
    s = pat->kind == IOCS_PAT_TOKEN6 ? e - 1 : e - pat->len;
    nl = s ? memrchr(cur, '\n', s) : NULL;
    lb = nl ? (size_t)(nl - cur) + 1 : 0;
    nl = memchr(cur + s, '\n', curlen - s);
    hb = nl ? (size_t)(nl - cur) : curlen;
    if (hb > 0 && hb < curlen && cur[hb - 1] == '\r')
        hb--;
    if (pat->kind != IOCS_PAT_LITERAL) {
        uint8_t a[16];
        uint32_t ids[64];
        size_t ts = s, te, k;
        int err;

        if (pat->kind == IOCS_PAT_CIDR4)
            err = iocs_token4_at(cur, lb, hb, s, &te, a);
        else if (pat->kind == IOCS_PAT_CIDR6)
            err = iocs_token6_at(cur, lb, hb, s, &te, a);
        else
            err = iocs_token6(cur, lb, hb, e, &ts, &te, a);
        if (err)
            return 0;
        k = iocs_cidrset_lookup(
            iocs_db_cidrs(db), pat->kind == IOCS_PAT_CIDR4 ? 4 : 6, a, ids, 64);
        for (size_t j = 0; j < k && j < 64; j++)
            push(hs, &nhs, ids[j], ts, te);
        return 0;
    }
    if (iocs_verify_edges(cur, lb, hb, s, e, (enum iocs_edge)pat->left,
                          (enum iocs_edge)pat->right))
        push(hs, &nhs, pat->ioc, s, e);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;

    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    if (x->ioc != y->ioc)
        return x->ioc < y->ioc ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

static size_t uniq(struct hit *v, size_t n)
{
    size_t w = 0;

    qsort(v, n, sizeof(*v), cmp);
    for (size_t r = 0; r < n; r++)
        if (w == 0 || cmp(&v[w - 1], &v[r]) != 0)
            v[w++] = v[r];
    return w;
}

/* An IPv6 address spelled other than Hyperscan's three literals. */
static bool other_spelling(const struct hit *h)
{
    const struct iocs_ioc *x = iocs_iocset_get(set, h->ioc);
    char full[40], bare[40];
    uint8_t a[16];
    size_t n = h->end - h->start;
    int pf = 0, pb = 0;

    if (x->type == IOCS_CIDR6)
        return true;
    if (x->type != IOCS_IPV6 || iocs_ip6_parse(x->value, x->len, a) < 0)
        return false;
    for (int g = 0; g < 8; g++) {
        unsigned v = (unsigned)a[2 * g] << 8 | a[2 * g + 1];

        pf += snprintf(full + pf, sizeof(full) - (size_t)pf, "%s%04x",
                       g ? ":" : "", v);
        pb += snprintf(bare + pb, sizeof(bare) - (size_t)pb, "%s%x",
                       g ? ":" : "", v);
    }
    return !((n == x->len &&
              strncasecmp((const char *)cur + h->start, x->value, n) == 0) ||
             (n == strlen(full) &&
              strncasecmp((const char *)cur + h->start, full, n) == 0) ||
             (n == strlen(bare) &&
              strncasecmp((const char *)cur + h->start, bare, n) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t i = 0, j = 0;

    if (!set)
        init();
    cur = data;
    curlen = size;
    nhs = ntk = 0;
    if (iocs_tokens_scan(tok, data, size, on_token, NULL) != 0)
        abort();
    if (size > 0 && iocs_db_scan(db, scratch, data, size, on_hs, NULL) < 0)
        abort();
    if (nhs == MAXH || ntk == MAXH)
        return 0; /* too many to compare */
    nhs = uniq(hs, nhs);
    if (uniq(tk, ntk) != ntk)
        abort(); /* a hit twice */
    while (i < nhs || j < ntk) {
        int c = i == nhs ? 1 : j == ntk ? -1 : cmp(&hs[i], &tk[j]);

        if (c == 0) {
            i++;
            j++;
        } else if (c > 0 && other_spelling(&tk[j])) {
            j++;
        } else {
            abort(); /* the two paths disagree */
        }
    }
    return 0;
}
