/*
 * cidr.c - strict IPv4/IPv6 parsing, RFC 5952 formatting, and the prefix
 * set that CIDR indicators are looked up in.
 *
 * The parsers never allocate and never look past s[n - 1], so the scanner
 * can call them on tokens cut out of a log line in place. They are written
 * by hand rather than on inet_pton(), which accepts leading zeros in some C
 * libraries and needs a NUL-terminated copy.
 *
 * The set is one binary trie per family for the ranges shorter than an
 * address, plus one hash table of whole addresses (/32, /128: most CIDR
 * and IPv6 IOCs are single hosts, and a host in the trie would cost one
 * node per bit: 128 nodes for each IPv6 address). Every node lives in one
 * array and refers to its children by index, so building it is a handful
 * of reallocations and a lookup is a walk of at most 32 or 128 nodes and
 * one probe of the table, with no allocation. A node at depth d stands for
 * the prefix of length d; the ids of the ranges ending there (or of a
 * host) form a list in a second array, in the order they were added. A
 * lookup walks from the root down the address's bits, then looks the
 * whole address up, so it meets the matching ranges shortest prefix first.
 */
#include "matchers/cidr.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int iocs_ip4_parse(const char *s, size_t n, uint8_t out[4])
{
    uint8_t a[4];
    size_t i = 0;

    for (int octet = 0; octet < 4; octet++) {
        size_t start = i;
        unsigned v = 0;

        if (octet > 0) {
            if (i >= n || s[i] != '.')
                return -EINVAL;
            start = ++i;
        }
        while (i < n && i - start < 3 && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255)
            return -EINVAL;
        /* A leading zero makes the octet octal to some parsers: refuse. */
        if (s[start] == '0' && i - start > 1)
            return -EINVAL;
        a[octet] = (uint8_t)v;
    }
    if (i != n)
        return -EINVAL;
    memcpy(out, a, 4);
    return 0;
}

int iocs_ip6_parse(const char *s, size_t n, uint8_t out[16])
{
    uint16_t g[8];
    int ng = 0, gap = -1;
    size_t i = 0;

    if (n < 2)
        return -EINVAL;
    if (s[0] == ':') {
        if (s[1] != ':')
            return -EINVAL;
        gap = 0;
        i = 2;
    }
    while (i < n) {
        size_t start = i;
        unsigned v = 0;

        if (ng == 8)
            return -EINVAL;
        while (i < n && i - start < 4 && hexval(s[i]) >= 0)
            v = (v << 4) | (unsigned)hexval(s[i++]);
        if (i < n && s[i] == '.') {
            uint8_t q[4];

            /* An embedded dotted quad takes the last two groups. */
            if (ng > 6 || iocs_ip4_parse(s + start, n - start, q))
                return -EINVAL;
            g[ng++] = (uint16_t)(q[0] << 8 | q[1]);
            g[ng++] = (uint16_t)(q[2] << 8 | q[3]);
            i = n;
            break;
        }
        if (i == start)
            return -EINVAL;
        g[ng++] = (uint16_t)v;
        if (i == n)
            break;
        if (s[i] != ':')
            return -EINVAL;
        i++;
        if (i < n && s[i] == ':') {
            if (gap >= 0)
                return -EINVAL;
            gap = ng;
            i++;
        } else if (i == n) {
            return -EINVAL; /* A single trailing colon. */
        }
    }
    if (gap < 0 ? ng != 8 : ng > 7)
        return -EINVAL;

    memset(out, 0, 16);
    for (int k = 0; k < ng; k++) {
        /* Groups after the "::" move to the end of the address. */
        int at = (gap >= 0 && k >= gap) ? k + 8 - ng : k;

        out[2 * at] = (uint8_t)(g[k] >> 8);
        out[2 * at + 1] = (uint8_t)(g[k] & 0xff);
    }
    return 0;
}

int iocs_ip6_format(const uint8_t a[16], char *out)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};
    static const char hex[] = "0123456789abcdef";
    int best = -1, bestlen = 0, len = 0;
    uint16_t g[8];

    if (memcmp(a, mapped, sizeof(mapped)) == 0)
        return snprintf(out, IOCS_IP6_TEXT_MAX, "::ffff:%u.%u.%u.%u", a[12],
                        a[13], a[14], a[15]);

    for (int k = 0; k < 8; k++)
        g[k] = (uint16_t)(a[2 * k] << 8 | a[2 * k + 1]);
    /* Longest run of two or more zero groups; the first one on a tie. */
    for (int k = 0; k < 8;) {
        int end = k;

        while (end < 8 && g[end] == 0)
            end++;
        if (end - k > bestlen && end - k >= 2) {
            best = k;
            bestlen = end - k;
        }
        k = end > k ? end : k + 1;
    }

    for (int k = 0; k < 8; k++) {
        bool started = false;

        if (k == best) {
            out[len++] = ':';
            out[len++] = ':';
            k += bestlen - 1;
            continue;
        }
        if (k > 0 && k != best + bestlen)
            out[len++] = ':';
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned d = (g[k] >> shift) & 0xf;

            if (d || started || shift == 0) {
                out[len++] = hex[d];
                started = true;
            }
        }
    }
    out[len] = '\0';
    return len;
}

/* Clear every bit of addr past the first prefix bits, over nbytes bytes. */
static void clear_host_bits(uint8_t *addr, size_t nbytes, unsigned prefix)
{
    for (size_t b = 0; b < nbytes; b++) {
        unsigned first = (unsigned)b * 8;

        if (prefix <= first)
            addr[b] = 0;
        else if (prefix < first + 8)
            addr[b] &= (uint8_t)(0xff << (8 - (prefix - first)));
    }
}

int iocs_cidr_parse(const char *s, size_t n, int *family, uint8_t addr[16],
                    unsigned *prefix)
{
    const char *slash = memrchr(s, '/', n);
    uint8_t a[16] = {0};
    size_t alen, plen;
    unsigned p = 0, max;
    int fam;

    if (!slash)
        return -EINVAL;
    alen = (size_t)(slash - s);
    plen = n - alen - 1;
    if (iocs_ip4_parse(s, alen, a) == 0) {
        fam = 4;
        max = 32;
    } else if (iocs_ip6_parse(s, alen, a) == 0) {
        fam = 6;
        max = 128;
    } else {
        return -EINVAL;
    }
    /* One to three digits, no leading zero: "/8", "/0", never "/08". */
    if (plen == 0 || plen > 3 || (slash[1] == '0' && plen > 1))
        return -EINVAL;
    for (size_t i = 1; i <= plen; i++) {
        if (slash[i] < '0' || slash[i] > '9')
            return -EINVAL;
        p = p * 10 + (unsigned)(slash[i] - '0');
    }
    if (p > max)
        return -EINVAL;

    clear_host_bits(a, fam == 4 ? 4 : 16, p);
    *family = fam;
    memcpy(addr, a, 16);
    *prefix = p;
    return 0;
}

/* Index 0 means "no node" or "no id", so both arrays start at 1. */
struct node {
    uint32_t child[2];
    uint32_t ids;  /* first entry of this node's id list, or 0 */
    uint32_t last; /* last entry of that list, to append in order */
};

struct entry {
    uint32_t id;
    uint32_t next;
};

/* A whole address (a /32 or /128 range): its ids, as a node's. */
struct host {
    uint8_t addr[16]; /* IPv4 in the first 4 bytes, the rest zero */
    uint32_t ids;     /* first entry of the id list; 0: a free slot */
    uint32_t last;
    uint32_t family; /* 4 or 6 */
};

struct iocs_cidrset {
    struct node *nodes;
    uint32_t nnodes, capnodes;
    struct entry *entries;
    uint32_t nentries, capentries;
    uint32_t root[2];        /* the /0 node of IPv4 and IPv6 */
    uint32_t ranges[2];      /* entries added per family */
    struct host *hosts;      /* open addressing, at most half full */
    size_t nhosts, caphosts; /* caphosts: 0 or a power of two */
};

static int grow(void **v, uint32_t *cap, uint32_t need, size_t size)
{
    uint32_t ncap = *cap ? *cap : 64;
    void *nv;

    if (need <= *cap)
        return 0;
    while (ncap < need) {
        if (ncap > UINT32_MAX / 2)
            return -ENOMEM;
        ncap *= 2;
    }
    nv = realloc(*v, (size_t)ncap * size);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = ncap;
    return 0;
}

static int new_node(struct iocs_cidrset *s, uint32_t *out)
{
    int err = grow((void **)&s->nodes, &s->capnodes, s->nnodes + 1,
                   sizeof(*s->nodes));

    if (err)
        return err;
    memset(&s->nodes[s->nnodes], 0, sizeof(*s->nodes));
    *out = s->nnodes++;
    return 0;
}

int iocs_cidrset_new(struct iocs_cidrset **out)
{
    struct iocs_cidrset *s = calloc(1, sizeof(*s));
    uint32_t unused;
    int err;

    if (!s)
        return -ENOMEM;
    s->nentries = 1;
    err = new_node(s, &unused); /* Node 0 is the null index. */
    if (!err)
        err = new_node(s, &s->root[0]);
    if (!err)
        err = new_node(s, &s->root[1]);
    if (err)
        goto fail;
    *out = s;
    return 0;

fail:
    iocs_cidrset_free(s);
    return err;
}

void iocs_cidrset_free(struct iocs_cidrset *s)
{
    if (!s)
        return;
    free(s->nodes);
    free(s->entries);
    free(s->hosts);
    free(s);
}

static unsigned bit_at(const uint8_t *addr, unsigned i)
{
    return (addr[i / 8] >> (7 - i % 8)) & 1;
}

static size_t host_hash(int family, const uint8_t *addr)
{
    uint64_t a, b;

    memcpy(&a, addr, 8);
    memcpy(&b, addr + 8, 8);
    a ^= (b + (uint64_t)family) * UINT64_C(0x9e3779b97f4a7c15);
    a ^= a >> 32;
    a *= UINT64_C(0xd6e8feb86659fd93);
    return (size_t)(a ^ (a >> 32));
}

/* The slot of the whole address addr (16 bytes) of family: its own, or the
 * free one where it would go. The table must have a free slot. */
static struct host *host_slot(const struct host *t, size_t cap, int family,
                              const uint8_t *addr)
{
    size_t i = host_hash(family, addr) & (cap - 1);

    while (t[i].ids && (t[i].family != (uint32_t)family ||
                        memcmp(t[i].addr, addr, 16) != 0))
        i = (i + 1) & (cap - 1);
    return (struct host *)&t[i];
}

/* Room for one more host, keeping the table at most half full. */
static int host_reserve(struct iocs_cidrset *s)
{
    size_t cap = s->caphosts ? s->caphosts * 2 : 64;
    struct host *t;

    if (2 * (s->nhosts + 1) <= s->caphosts)
        return 0;
    t = calloc(cap, sizeof(*t));
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < s->caphosts; i++)
        if (s->hosts[i].ids)
            *host_slot(t, cap, (int)s->hosts[i].family, s->hosts[i].addr) =
                s->hosts[i];
    free(s->hosts);
    s->hosts = t;
    s->caphosts = cap;
    return 0;
}

/* Append entry e (already written) to the id list whose ends are *ids and
 * *last, unless the list already holds id. Returns whether it was added. */
static bool list_add(struct iocs_cidrset *s, uint32_t *ids, uint32_t *last,
                     uint32_t id)
{
    for (uint32_t e = *ids; e; e = s->entries[e].next)
        if (s->entries[e].id == id)
            return false; /* The same range with the same id: nothing new. */
    s->entries[s->nentries] = (struct entry){.id = id, .next = 0};
    if (*last)
        s->entries[*last].next = s->nentries;
    else
        *ids = s->nentries;
    *last = s->nentries;
    s->nentries++;
    return true;
}

/* A whole address: into the table, not the trie. */
static int add_host(struct iocs_cidrset *s, int family, const uint8_t *addr,
                    uint32_t id)
{
    uint8_t key[16] = {0};
    struct host *h;
    int err;

    memcpy(key, addr, family == 6 ? 16 : 4);
    err = host_reserve(s);
    if (err)
        return err;
    h = host_slot(s->hosts, s->caphosts, family, key);
    if (!h->ids) {
        memcpy(h->addr, key, 16);
        h->family = (uint32_t)family;
        s->nhosts++;
    }
    if (list_add(s, &h->ids, &h->last, id))
        s->ranges[family == 6]++;
    return 0;
}

int iocs_cidrset_add(struct iocs_cidrset *s, int family, const uint8_t *addr,
                     unsigned prefix, uint32_t id)
{
    int f = family == 6;
    uint32_t at;
    int err;

    if ((family != 4 && family != 6) || prefix > (f ? 128u : 32u))
        return -EINVAL;

    /* Make the entry room first so that a failure leaves no half-add. */
    err = grow((void **)&s->entries, &s->capentries, s->nentries + 1,
               sizeof(*s->entries));
    if (err)
        return err;
    if (prefix == (f ? 128u : 32u))
        return add_host(s, family, addr, id);

    at = s->root[f];
    for (unsigned i = 0; i < prefix; i++) {
        unsigned b = bit_at(addr, i);
        uint32_t next = s->nodes[at].child[b];

        if (!next) {
            err = new_node(s, &next);
            if (err)
                return err;
            s->nodes[at].child[b] = next; /* After new_node(): it may move. */
        }
        at = next;
    }

    if (list_add(s, &s->nodes[at].ids, &s->nodes[at].last, id))
        s->ranges[f]++;
    return 0;
}

int iocs_cidrset_has(const struct iocs_cidrset *s, int family)
{
    if (!s || (family != 4 && family != 6))
        return 0;
    return s->ranges[family == 6] > 0;
}

size_t iocs_cidrset_lookup(const struct iocs_cidrset *s, int family,
                           const uint8_t *addr, uint32_t *ids, size_t cap)
{
    unsigned bits = family == 6 ? 128 : 32;
    size_t found = 0;
    uint32_t at;

    if (!iocs_cidrset_has(s, family))
        return 0;
    at = s->root[family == 6];
    for (unsigned depth = 0;; depth++) {
        for (uint32_t e = s->nodes[at].ids; e; e = s->entries[e].next) {
            if (found < cap)
                ids[found] = s->entries[e].id;
            found++;
        }
        if (depth == bits)
            break;
        at = s->nodes[at].child[bit_at(addr, depth)];
        if (!at)
            break;
    }
    if (s->nhosts) {
        uint8_t key[16] = {0};
        const struct host *h;

        memcpy(key, addr, bits / 8);
        h = host_slot(s->hosts, s->caphosts, family, key);
        for (uint32_t e = h->ids; e; e = s->entries[e].next) {
            if (found < cap)
                ids[found] = s->entries[e].id;
            found++;
        }
    }
    return found;
}

/* ---- saved form: a header of 8 words (nnodes, nentries, root4, root6,
 * ranges4, ranges6, caphosts, nhosts), then the nodes (4 words each), the
 * entries (2 words) and the host table (16 address bytes, 3 words) ---- */

#define SAVE_HEAD 32
#define HOST_BYTES 28

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

size_t iocs__cidrset_size(const struct iocs_cidrset *s)
{
    return SAVE_HEAD + (size_t)s->nnodes * 16 + (size_t)s->nentries * 8 +
           s->caphosts * HOST_BYTES;
}

void iocs__cidrset_save(const struct iocs_cidrset *s, unsigned char *out)
{
    uint32_t head[8] = {s->nnodes,
                        s->nentries,
                        s->root[0],
                        s->root[1],
                        s->ranges[0],
                        s->ranges[1],
                        (uint32_t)s->caphosts,
                        (uint32_t)s->nhosts};
    unsigned char *p = out;

    for (int i = 0; i < 8; i++, p += 4)
        put32(p, head[i]);
    for (uint32_t i = 0; i < s->nnodes; i++, p += 16) {
        put32(p, s->nodes[i].child[0]);
        put32(p + 4, s->nodes[i].child[1]);
        put32(p + 8, s->nodes[i].ids);
        put32(p + 12, s->nodes[i].last);
    }
    /* Entry 0 is never used (nor written): zeros. */
    memset(p, 0, 8);
    p += 8;
    for (uint32_t i = 1; i < s->nentries; i++, p += 8) {
        put32(p, s->entries[i].id);
        put32(p + 4, s->entries[i].next);
    }
    for (size_t i = 0; i < s->caphosts; i++, p += HOST_BYTES) {
        memcpy(p, s->hosts[i].addr, 16);
        put32(p + 16, s->hosts[i].ids);
        put32(p + 20, s->hosts[i].last);
        put32(p + 24, s->hosts[i].family);
    }
}

/* An id list [ids, last] as a node or host holds it: both 0, or both
 * entries. */
static bool good_list(uint32_t ids, uint32_t last, uint32_t nentries)
{
    return ids < nentries && last < nentries && (ids == 0) == (last == 0);
}

int iocs__cidrset_load(struct iocs_cidrset **out, const unsigned char *p,
                       size_t n, uint32_t nids)
{
    struct iocs_cidrset *s;
    uint32_t h[8];
    size_t used = 0;

    if (n < SAVE_HEAD)
        return -EINVAL;
    for (int i = 0; i < 8; i++)
        h[i] = get32(p + 4 * i);
    /* Node 0 is the null index, entry 0 unused; the table, when any, a
     * power of two at most half full. */
    if (h[0] < 3 || h[1] < 1 || h[2] == 0 || h[2] >= h[0] || h[3] == 0 ||
        h[3] >= h[0] || (h[6] & (h[6] - 1)) != 0 || h[7] > h[6] / 2 ||
        (h[6] != 0 && h[7] == 0) ||
        n != SAVE_HEAD + (size_t)h[0] * 16 + (size_t)h[1] * 8 +
                 (size_t)h[6] * HOST_BYTES)
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->nodes = malloc((size_t)h[0] * sizeof(*s->nodes));
    s->entries = malloc((size_t)h[1] * sizeof(*s->entries));
    s->hosts = h[6] ? malloc((size_t)h[6] * sizeof(*s->hosts)) : NULL;
    if (!s->nodes || !s->entries || (h[6] && !s->hosts)) {
        iocs_cidrset_free(s);
        return -ENOMEM;
    }
    s->nnodes = s->capnodes = h[0];
    s->nentries = s->capentries = h[1];
    s->root[0] = h[2];
    s->root[1] = h[3];
    s->ranges[0] = h[4];
    s->ranges[1] = h[5];
    s->caphosts = h[6];
    s->nhosts = h[7];
    p += SAVE_HEAD;
    for (uint32_t i = 0; i < s->nnodes; i++, p += 16) {
        struct node *x = &s->nodes[i];

        x->child[0] = get32(p);
        x->child[1] = get32(p + 4);
        x->ids = get32(p + 8);
        x->last = get32(p + 12);
        /* A cycle of children is harmless: a walk stops at the address's
         * last bit. */
        if (x->child[0] >= s->nnodes || x->child[1] >= s->nnodes ||
            !good_list(x->ids, x->last, s->nentries))
            goto bad;
    }
    s->entries[0] = (struct entry){0}; /* unused */
    p += 8;
    for (uint32_t i = 1; i < s->nentries; i++, p += 8) {
        struct entry *e = &s->entries[i];

        e->id = get32(p);
        e->next = get32(p + 4);
        /* Forward only, so every list ends. */
        if (e->id >= nids || e->next >= s->nentries ||
            (e->next != 0 && e->next <= i))
            goto bad;
    }
    for (size_t i = 0; i < s->caphosts; i++, p += HOST_BYTES) {
        struct host *x = &s->hosts[i];

        memcpy(x->addr, p, 16);
        x->ids = get32(p + 16);
        x->last = get32(p + 20);
        x->family = get32(p + 24);
        if (!good_list(x->ids, x->last, s->nentries) ||
            (x->ids && x->family != 4 && x->family != 6))
            goto bad;
        used += x->ids != 0;
    }
    /* The table's count is what lookups rely on to find a free slot. */
    if (used != s->nhosts)
        goto bad;
    *out = s;
    return 0;

bad:
    iocs_cidrset_free(s);
    return -EINVAL;
}
