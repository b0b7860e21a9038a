/*
 * test_scanner.c - reader -> framer -> scanner against a slow oracle.
 *
 * Random logs full of indicators, near misses, CRLF, empty lines and lines
 * longer than a slab are scanned at many slab sizes and with a tiny hit
 * array (forcing split scans). Every event (line, IOC, count, leftmost
 * match, offset, original) must equal what a brute-force per-line search
 * finds with the same boundary rules, whatever the slab size.
 *
 * Every test runs twice: with every IOC in Hyperscan, and on the token
 * path (db.h: the token index beside a Hyperscan database of the rest),
 * which must give the same events in the same order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "helpers.h"
#include "matchers/allow.h"
#include "matchers/cidr.h"
#include "matchers/db.h"
#include "matchers/dbcache.h"
#include "matchers/feed.h"
#include "matchers/ioc.h"
#include "matchers/rules.h"
#include "matchers/tokens.h"
#include "matchers/verify.h"
#include "pipeline/framer.h"
#include "pipeline/reader.h"
#include "pipeline/scanner.h"

/* The IOCs under test: type, value, and the spellings the oracle searches
 * (host_len > 0: the first host_len bytes folded, the rest exact). */
struct tioc {
    enum iocs_type type;
    const char *value;
    const char *spell[3];
    size_t host_len;
    bool fold;
    enum iocs_edge left, right;
};

static const struct tioc tiocs[] = {
    {IOCS_IPV4,
     "192.81.209.168",
     {"192.81.209.168"},
     0,
     false,
     IOCS_EDGE_IPV4,
     IOCS_EDGE_IPV4},
    {IOCS_IPV6,
     "2604:a880:400:d1::7716:1",
     {"2604:a880:400:d1::7716:1", "2604:a880:0400:00d1:0000:0000:7716:0001",
      "2604:a880:400:d1:0:0:7716:1"},
     0,
     true,
     IOCS_EDGE_IPV6,
     IOCS_EDGE_IPV6},
    {IOCS_DOMAIN,
     "evil.example",
     {"evil.example"},
     0,
     true,
     IOCS_EDGE_DOMAIN,
     IOCS_EDGE_DOMAIN},
    {IOCS_URL,
     "http://bad.example/x.php?id=1",
     {"bad.example/x.php?id=1"},
     11,
     false,
     IOCS_EDGE_DOMAIN,
     IOCS_EDGE_NONE},
    {IOCS_SHA256,
     "8b448f47e36909f3a921b4ff803cf3a61985d8a10f0fe594b405b92ed0fc21f1",
     {"8b448f47e36909f3a921b4ff803cf3a61985d8a10f0fe594b405b92ed0fc21f1"},
     0,
     true,
     IOCS_EDGE_HEX,
     IOCS_EDGE_HEX},
    {IOCS_FILENAME,
     "C:\\Windows\\Temp\\x.dll",
     {"C:\\Windows\\Temp\\x.dll", "C:\\\\Windows\\\\Temp\\\\x.dll"},
     0,
     true,
     IOCS_EDGE_FILE,
     IOCS_EDGE_DOMAIN},
    {IOCS_STRING,
     "ingredi support desk customer thin",
     {"ingredi support desk customer thin"},
     0,
     false,
     IOCS_EDGE_NONE,
     IOCS_EDGE_NONE},
    {IOCS_EMAIL,
     "a@evil.example",
     {"a@evil.example"},
     0,
     true,
     IOCS_EDGE_EMAIL,
     IOCS_EDGE_DOMAIN},
    {IOCS_CIDR4,
     "10.20.0.0/16",
     {NULL},
     0,
     false,
     IOCS_EDGE_NONE,
     IOCS_EDGE_NONE},
    {IOCS_CIDR6,
     "2001:db8:abcd::/48",
     {NULL},
     0,
     false,
     IOCS_EDGE_NONE,
     IOCS_EDGE_NONE},
};
#define NTIOCS (sizeof(tiocs) / sizeof(tiocs[0]))

/* Fragments the generator strings together. */
static const char *const frags[] = {
    "192.81.209.168",
    "192.81.209.1689",
    "1192.81.209.168",
    "192.81.209.168.7",
    "2604:a880:400:d1::7716:1",
    "2604:A880:400:D1::7716:1",
    "2604:a880:0400:00d1:0000:0000:7716:0001",
    "2604:a880:400:d1:0:0:7716:1",
    "2604:a880:400:d1::7716:12",
    "2604:a880:0400:00d1::7716:0001", /* mixed padding: still the IOC */
    "2604:a880:0400:d1:0::7716:1",
    "evil.example",
    "EVIL.Example",
    "a.evil.example",
    "evil.example.au",
    "xevil.example",
    "http://bad.example/x.php?id=1",
    "BAD.EXAMPLE/x.php?id=12",
    "bad.example/X.php?id=1",
    "8b448f47e36909f3a921b4ff803cf3a61985d8a10f0fe594b405b92ed0fc21f1",
    "8B448F47E36909F3A921B4FF803CF3A61985D8A10F0FE594B405B92ED0FC21F1",
    "08b448f47e36909f3a921b4ff803cf3a61985d8a10f0fe594b405b92ed0fc21f1",
    "C:\\Windows\\Temp\\x.dll",
    "c:\\\\windows\\\\temp\\\\X.DLL",
    "C:\\Windows\\Temp\\x.dll2",
    "ingredi support desk customer thin",
    "a@evil.example",
    "ba@evil.example",
    "10.20.3.4",
    "10.21.3.4",
    "10.20.255.255",
    "x10.20.1.1",
    "10.20.1.1.1",
    "2001:db8:abcd::1",
    "2001:DB8:ABCD:0:0:0:0:ff",
    "2001:db8:abce::1",
    "12:34:56",
    "::",
    " ",
    " ",
    " ",
    ",",
    ".",
    ":",
    "/",
    "\\",
    "\"",
    "=",
    "\r",
    "\t",
    "-",
    "_",
    "word",
    "GET",
    "src=",
    "dst=",
    "\xc3\xa9",
    "\xff",
    "\0",
};
#define NFRAGS (sizeof(frags) / sizeof(frags[0]))

struct ev {
    uint64_t line, offset, start, end, line_len;
    uint32_t ioc, count;
    char atomic[256];
    size_t alen;
    char original[64];
    size_t olen;
};

struct evs {
    struct ev *v;
    size_t len, cap;
};

static void push(struct evs *e, const struct ev *x)
{
    if (e->len == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 256;
        e->v = realloc(e->v, e->cap * sizeof(*e->v));
        assert_non_null(e->v);
    }
    e->v[e->len++] = *x;
}

static int collect(void *ctx, const struct iocs_event *ev)
{
    struct ev x = {.line = ev->line,
                   .offset = ev->offset,
                   .start = ev->start,
                   .end = ev->end,
                   .line_len = ev->line_len,
                   .ioc = ev->ioc_id,
                   .count = ev->count};

    assert_true(ev->atomic_len < sizeof(x.atomic));
    memcpy(x.atomic, ev->atomic, ev->atomic_len);
    x.alen = ev->atomic_len;
    x.olen = ev->original_len;
    assert_true(x.olen <= sizeof(x.original));
    memcpy(x.original, ev->original, x.olen);
    push(ctx, &x);
    return 0;
}

/* ---- the oracle ---- */

static bool spelled_at(const struct tioc *t, const char *sp, const char *p,
                       size_t n, size_t i)
{
    size_t k = strlen(sp);

    if (i + k > n)
        return false;
    if (t->host_len)
        return strncasecmp(p + i, sp, t->host_len) == 0 &&
               memcmp(p + i + t->host_len, sp + t->host_len, k - t->host_len) ==
                   0;
    if (t->fold)
        return strncasecmp(p + i, sp, k) == 0;
    return memcmp(p + i, sp, k) == 0;
}

static bool in_cidr(const struct tioc *t, const char *tok, size_t n)
{
    uint8_t a[16], net[16];
    unsigned prefix;
    int fam;

    if (t->type == IOCS_IPV6) {
        /* An address IOC: the token is any spelling of that address. */
        assert_int_equal(iocs_ip6_parse(t->value, strlen(t->value), net), 0);
        return iocs_ip6_parse(tok, n, a) == 0 && memcmp(a, net, 16) == 0;
    }
    assert_int_equal(
        iocs_cidr_parse(t->value, strlen(t->value), &fam, net, &prefix), 0);
    if (fam == 4 ? iocs_ip4_parse(tok, n, a) : iocs_ip6_parse(tok, n, a))
        return false;
    for (unsigned b = 0; b < prefix; b++)
        if (((a[b / 8] ^ net[b / 8]) >> (7 - b % 8)) & 1)
            return false;
    return true;
}

/* Every maximal token run of the family in line[0..n) in t's range (an IPv6
 * IOC: equal to its address, in any spelling): one event, counted. */
static void oracle_cidr(const struct tioc *t, uint32_t id, const char *p,
                        size_t n, uint64_t lineno, uint64_t off,
                        struct evs *out, const char *orig, size_t olen,
                        uint64_t line_len)
{
    int fam = t->type == IOCS_CIDR4 ? 4 : 6;
    struct ev x = {0};
    size_t i = 0;

    while (i < n) {
        size_t s = i, e;
        bool in;

        if (fam == 4)
            while (i < n && ((p[i] >= '0' && p[i] <= '9') || p[i] == '.'))
                i++;
        else
            while (i < n &&
                   (strchr("0123456789abcdefABCDEF:", p[i]) && p[i] != '\0'))
                i++;
        if (i == s) {
            i++;
            continue;
        }
        e = i;
        if (fam == 4)
            while (e > s && p[e - 1] == '.')
                e--;
        in = e - s <= IOCS_TOKEN_MAX && in_cidr(t, p + s, e - s);
        if (!in)
            continue;
        if (x.count++ == 0) {
            x.start = s;
            x.end = e;
        }
    }
    if (!x.count)
        return;
    x.line = lineno;
    x.offset = off;
    x.ioc = id;
    x.line_len = line_len;
    x.alen = x.end - x.start;
    memcpy(x.atomic, p + x.start, x.alen);
    x.olen = olen;
    memcpy(x.original, orig, olen);
    push(out, &x);
}

static int by_line_start(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->ioc < y->ioc ? -1 : x->ioc > y->ioc;
}

static void oracle(const char *p, size_t n, size_t max_line, struct evs *out)
{
    uint64_t lineno = 1;
    size_t ls = 0;

    while (ls < n) {
        const char *nl = memchr(p + ls, '\n', n - ls);
        size_t le = nl ? (size_t)(nl - p) : n, len;
        const char *line = p + ls;
        size_t olen;

        len = le - ls;
        if (nl && len > 0 && line[len - 1] == '\r')
            len--;
        olen = len < max_line ? len : max_line;
        for (uint32_t id = 0; id < NTIOCS; id++) {
            const struct tioc *t = &tiocs[id];
            struct ev x = {0};

            if (!t->spell[0] || t->type == IOCS_IPV6) {
                oracle_cidr(t, id, line, len, lineno, ls, out, line, olen, len);
                continue;
            }
            for (size_t i = 0; i < len; i++) {
                for (size_t k = 0; k < 3 && t->spell[k]; k++) {
                    size_t e = i + strlen(t->spell[k]);

                    if (!spelled_at(t, t->spell[k], line, len, i) ||
                        !iocs_verify_edges((const unsigned char *)line, 0, len,
                                           i, e, t->left, t->right))
                        continue;
                    if (x.count++ == 0) {
                        x.start = i;
                        x.end = e;
                    }
                    break; /* one occurrence per start */
                }
            }
            if (!x.count)
                continue;
            x.line = lineno;
            x.offset = ls;
            x.ioc = id;
            x.line_len = len;
            x.alen = x.end - x.start;
            memcpy(x.atomic, line + x.start, x.alen);
            x.olen = olen;
            memcpy(x.original, line, olen);
            push(out, &x);
        }
        lineno++;
        ls = le + 1;
    }
    qsort(out->v, out->len, sizeof(*out->v), by_line_start);
}

/* ---- fixtures ---- */

struct fix {
    struct iocs_iocset *set;
    struct iocs_db *db;
};

static int setup_mode(void **state, enum iocs_db_tokens mode)
{
    struct fix *f = calloc(1, sizeof(*f));
    char errbuf[256];

    if (!f || t_tmpdir_init() < 0 || iocs_iocset_new(&f->set) < 0)
        return -1;
    for (size_t i = 0; i < NTIOCS; i++) {
        char norm[IOCS_IOC_MAX + 1];
        enum iocs_type t = tiocs[i].type;
        const char *why;
        size_t len;
        bool dup;

        if (iocs_ioc_normalise(&t, tiocs[i].value, strlen(tiocs[i].value), norm,
                               sizeof(norm), &len, &why) < 0)
            return -1;
        struct iocs_ioc ioc = {
            .type = t, .value = norm, .len = len, .feed = "test"};
        if (iocs_iocset_add(f->set, &ioc, &dup) < 0 || dup)
            return -1;
    }
    if (iocs_db_compile_mode(&f->db, f->set, mode, errbuf, sizeof(errbuf)) <
        0) {
        fprintf(stderr, "compile: %s\n", errbuf);
        return -1;
    }
    /* The token path takes every IOC here but the URL, the file name and
     * the string. */
    if ((mode == IOCS_DB_TOKENS_ON) !=
        (iocs_db_tokens(f->db) &&
         iocs_tokens_count(iocs_db_tokens(f->db)) == NTIOCS - 3))
        return -1;
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_mode(state, IOCS_DB_TOKENS_OFF);
}

static int setup_tokens(void **state)
{
    return setup_mode(state, IOCS_DB_TOKENS_ON);
}

static int teardown(void **state)
{
    struct fix *f = *state;

    iocs_db_free(f->db);
    iocs_iocset_free(f->set);
    free(f);
    t_tmpdir_fini();
    return 0;
}

/* Random log text: fragments, newlines, and some very long lines. */
static char *gen(unsigned seed, size_t n, size_t *outlen)
{
    char *buf = malloc(n + 64);
    size_t len = 0;

    assert_non_null(buf);
    srand(seed);
    while (len < n) {
        int r = rand() % 100;

        if (r < 8) {
            buf[len++] = '\n';
        } else if (r < 9 && len + 2 < n) {
            buf[len++] = '\r';
            buf[len++] = '\n';
        } else {
            const char *f = frags[(size_t)rand() % NFRAGS];
            size_t k = f[0] ? strlen(f) : 1;

            if (len + k > n)
                break;
            memcpy(buf + len, f, k);
            len += k;
        }
        /* Now and then a line with no newline for a long stretch. */
        if (rand() % 4000 == 0) {
            size_t stop = len + 3000 + (size_t)rand() % 5000;

            while (len < stop && len < n) {
                const char *f = frags[(size_t)rand() % NFRAGS];
                size_t k = f[0] ? strlen(f) : 1;

                if (len + k > n || strchr(f, '\n'))
                    break;
                memcpy(buf + len, f, k);
                len += k;
            }
        }
    }
    *outlen = len;
    return buf;
}

/* The allowlist scan_file() gives its scanners, or NULL. */
static const struct iocs_allow *scan_allow;

/*
 * Read, frame and scan path. Units go to two scanners in turn, as they
 * would to worker threads: a line left open by one unit is carried to the
 * other scanner through the linestate.
 */
static void scan_file(const struct iocs_db *db, const char *path, size_t slab,
                      size_t max_hits, size_t max_line, bool no_uring,
                      struct evs *out, struct iocs_scan_stats *st)
{
    struct iocs_source src = iocs_source_of(path);
    struct iocs_reader_opts ro = {
        .slab_size = slab, .nslabs = 4, .depth = 2, .no_uring = no_uring};
    struct iocs_scanner_opts so = {
        .max_line = max_line, .max_hits = max_hits, .allow = scan_allow};
    size_t overlap = iocs_db_overlap(db);
    struct iocs_reader *r;
    struct iocs_framer *f;
    struct iocs_scanner *sc[2];
    struct iocs_linestate *ls;
    struct iocs_scan_stats st2;
    struct iocs_slab *s;
    uint64_t line0 = 1, nl;
    unsigned turn = 0;

    ro.headroom = slab > overlap ? slab : overlap;
    assert_int_equal(iocs_reader_new(&r, &ro, &src, 1), 0);
    assert_int_equal(iocs_framer_new(&f, slab, overlap), 0);
    assert_int_equal(iocs_scanner_new(&sc[0], db, &so), 0);
    assert_int_equal(iocs_scanner_new(&sc[1], db, &so), 0);
    assert_int_equal(iocs_linestate_new(&ls, max_line), 0);
    while (iocs_reader_next(r, &s) == 1) {
        struct iocs_unit u;
        int rc;

        assert_int_equal(s->err, 0);
        rc = iocs_framer_frame(f, s, &u);
        assert_true(rc >= 0);
        if (rc > 0) {
            assert_int_equal(iocs_scanner_unit(sc[turn++ % 2], &u, path, line0,
                                               ls, collect, out, &nl),
                             0);
            line0 += nl;
        }
        iocs_reader_release(r, s);
    }
    iocs_scanner_stats(sc[0], st);
    iocs_scanner_stats(sc[1], &st2);
    st->bytes += st2.bytes;
    st->lines += st2.lines;
    st->matches += st2.matches;
    st->events += st2.events;
    st->splits += st2.splits;
    st->lost += st2.lost;
    iocs_linestate_free(ls);
    iocs_scanner_free(sc[0]);
    iocs_scanner_free(sc[1]);
    iocs_framer_free(f);
    iocs_reader_free(r);
}

static void compare(const struct evs *got, const struct evs *want)
{
    size_t n = got->len < want->len ? got->len : want->len;

    for (size_t i = 0; i < n; i++) {
        const struct ev *g = &got->v[i], *w = &want->v[i];

        if (g->line != w->line || g->ioc != w->ioc || g->count != w->count ||
            g->start != w->start || g->end != w->end ||
            g->offset != w->offset || g->line_len != w->line_len ||
            g->alen != w->alen || memcmp(g->atomic, w->atomic, g->alen) ||
            g->olen != w->olen || memcmp(g->original, w->original, g->olen))
            fail_msg(
                "event %zu: got line %llu ioc %u count %u [%llu,%llu) "
                "off %llu len %llu; want line %llu ioc %u count %u "
                "[%llu,%llu) off %llu len %llu",
                i, (unsigned long long)g->line, g->ioc, g->count,
                (unsigned long long)g->start, (unsigned long long)g->end,
                (unsigned long long)g->offset, (unsigned long long)g->line_len,
                (unsigned long long)w->line, w->ioc, w->count,
                (unsigned long long)w->start, (unsigned long long)w->end,
                (unsigned long long)w->offset, (unsigned long long)w->line_len);
    }
    assert_int_equal(got->len, want->len);
}

/* A new file in the temporary directory holding buf; the caller frees
 * the path. */
static char *write_tmp(const char *buf, size_t n)
{
    static unsigned seq;
    char name[32], path[PATH_MAX];

    snprintf(name, sizeof(name), "log%u", seq++);
    t_path(path, sizeof(path), name);
    t_write_file(path, buf, n);
    return strdup(path);
}

/* The same events at every slab size, equal to the oracle's. */
static void test_scanner_matches_oracle_any_slab(void **state)
{
    static const size_t slabs[] = {1, 2, 7, 64, 333, 4096, 65536, 1 << 20};
    struct fix *f = *state;
    struct evs want = {0};
    size_t n;
    char *buf = gen(42, 400000, &n), *path = write_tmp(buf, n);

    oracle(buf, n, 64, &want);
    assert_true(want.len > 1000);
    for (size_t i = 0; i < sizeof(slabs) / sizeof(slabs[0]); i++) {
        struct evs got = {0};
        struct iocs_scan_stats st;

        scan_file(f->db, path, slabs[i], 0, 64, i % 2, &got, &st);
        compare(&got, &want);
        assert_int_equal(st.bytes, n);
        assert_int_equal(st.lost, 0);
        free(got.v);
    }
    unlink(path);
    free(path);
    free(buf);
    free(want.v);
}

/* A hit array of 3 forces split scans; nothing is lost or doubled. */
static void test_scanner_split_scans(void **state)
{
    static const size_t slabs[] = {100, 4096, 1 << 20};
    struct fix *f = *state;
    struct evs want = {0};
    size_t n;
    char *buf = gen(7, 200000, &n), *path = write_tmp(buf, n);

    oracle(buf, n, 64, &want);
    for (size_t i = 0; i < sizeof(slabs) / sizeof(slabs[0]); i++) {
        struct evs got = {0};
        struct iocs_scan_stats st;

        scan_file(f->db, path, slabs[i], 3, 64, false, &got, &st);
        compare(&got, &want);
        assert_true(st.splits > 0);
        free(got.v);
    }
    unlink(path);
    free(path);
    free(buf);
    free(want.v);
}

/* Line counting and the edges of a file: empty, no final newline, CRLF. */
static void test_scanner_lines_and_edges(void **state)
{
    static const struct {
        const char *text;
        uint64_t lines;
        uint64_t hit_line; /* 0: no event */
    } t[] = {
        {"", 0, 0},
        {"\n", 1, 0},
        {"\n\n192.81.209.168", 3, 3},
        {"192.81.209.168\r\n", 1, 1},
        {"a\r192.81.209.168\n", 1, 1},
        {"x\n\n\nevil.example\n\n", 5, 4},
    };
    struct fix *f = *state;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char *path = write_tmp(t[i].text, strlen(t[i].text));

        for (size_t slab = 1; slab < 40; slab += 13) {
            struct evs got = {0};
            struct iocs_scan_stats st;

            scan_file(f->db, path, slab, 0, 4096, true, &got, &st);
            assert_int_equal(st.lines, t[i].lines);
            assert_int_equal(got.len, t[i].hit_line ? 1 : 0);
            if (t[i].hit_line)
                assert_int_equal(got.v[0].line, t[i].hit_line);
            free(got.v);
        }
        unlink(path);
        free(path);
    }
}

/* A 300 kB line: IOCs at its start, middle and end are found once, the
 * original is cut to max_line, the line length is whole. */
static void test_scanner_long_line(void **state)
{
    struct fix *f = *state;
    size_t n = 300000;
    char *buf = malloc(n + 1), *path;

    memset(buf, 'a', n);
    memcpy(buf, "evil.example ", 13);
    memcpy(buf + n / 2, " 192.81.209.168 ", 16);
    memcpy(buf + n - 14, " evil.example\n", 14);
    path = write_tmp(buf, n);
    for (size_t slab = 1000; slab <= (1 << 20); slab *= 7) {
        struct evs got = {0};
        struct iocs_scan_stats st;

        scan_file(f->db, path, slab, 0, 32, false, &got, &st);
        assert_int_equal(got.len, 2);
        assert_int_equal(got.v[0].ioc, 2); /* evil.example, leftmost first */
        assert_int_equal(got.v[0].count, 2);
        assert_int_equal(got.v[0].start, 0);
        assert_int_equal(got.v[0].line_len, n - 1);
        assert_int_equal(got.v[0].olen, 32);
        assert_memory_equal(got.v[0].original, buf, 32);
        assert_int_equal(got.v[1].ioc, 0);
        assert_int_equal(got.v[1].start, n / 2 + 1);
        free(got.v);
    }
    unlink(path);
    free(path);
    free(buf);
}

/* Regex rules: matched inside one line only, the leftmost start reported,
 * the same events at every slab size and with split scans; a match inside
 * a long line is found across pieces. */
static void test_scanner_regex_rules(void **state)
{
    static const char text[] =
        "id=AB12 then id=CD345 end\n" /* line 1: 2 occurrences */
        "tail id=\nXY9 next\n"        /* a match would cross a line */
        "\r\nfoo---bar\r\n"           /* line 5: \r not taken */
        "no rule here\n"
        "FOO-bar"; /* caseless rule, no final \n */
    static const char *const rules = "idrule high /id=[A-Z]{2}[0-9]+/ ids\n"
                                     "foobar 50 /foo-+bar/i foo then bar\n";
    struct iocs_iocset *set;
    struct iocs_db *db;
    char errbuf[256], *path;
    struct iocs_feed_report rep = {0};

    (void)state;
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_rules_load_mem(set, "t.rules", rules, strlen(rules),
                                         NULL, NULL, &rep),
                     0);
    assert_int_equal(rep.loaded, 2);
    assert_int_equal(iocs_db_compile(&db, set, errbuf, sizeof(errbuf)), 0);
    path = write_tmp(text, strlen(text));
    for (size_t slab = 1; slab < 200; slab += 3) {
        for (size_t hits = 0; hits <= 2; hits += 2) {
            struct evs got = {0};
            struct iocs_scan_stats st;

            scan_file(db, path, slab, hits, 4096, true, &got, &st);
            assert_int_equal(got.len, 3);
            assert_int_equal(got.v[0].line, 1);
            assert_int_equal(got.v[0].ioc, 0);
            assert_int_equal(got.v[0].count, 2);
            assert_int_equal(got.v[0].start, 0);
            assert_int_equal(got.v[0].end, 7);
            assert_memory_equal(got.v[0].atomic, "id=AB12", 7);
            assert_int_equal(got.v[1].line, 5);
            assert_int_equal(got.v[1].ioc, 1);
            assert_int_equal(got.v[1].start, 0);
            assert_int_equal(got.v[1].alen, 9);
            assert_memory_equal(got.v[1].atomic, "foo---bar", 9);
            assert_int_equal(got.v[2].line, 7);
            assert_memory_equal(got.v[2].atomic, "FOO-bar", 7);
            free(got.v);
        }
    }
    unlink(path);
    free(path);

    /* Inside a 100 kB line, cut into pieces. */
    {
        size_t n = 100000;
        char *buf = malloc(n);

        memset(buf, 'z', n);
        memcpy(buf + 50000, "foo----------bar", 16);
        buf[n - 1] = '\n';
        path = write_tmp(buf, n);
        for (size_t slab = 1000; slab <= 70000; slab *= 4) {
            struct evs got = {0};
            struct iocs_scan_stats st;

            scan_file(db, path, slab, 0, 64, false, &got, &st);
            assert_int_equal(got.len, 1);
            assert_int_equal(got.v[0].start, 50000);
            assert_int_equal(got.v[0].end, 50016);
            free(got.v);
        }
        unlink(path);
        free(path);
        free(buf);
    }
    iocs_db_free(db);
    iocs_iocset_free(set);
}

/* What the line-time test keeps of each event. */
struct tev {
    uint64_t line;
    uint32_t ioc;
    bool line_time;
    struct timespec ts, created;
    char host[32];
};

struct tevs {
    struct tev v[16];
    size_t len;
};

static int collect_time(void *ctx, const struct iocs_event *ev)
{
    struct tevs *t = ctx;
    struct tev *x;

    assert_true(t->len < sizeof(t->v) / sizeof(t->v[0]));
    x = &t->v[t->len++];
    *x = (struct tev){.line = ev->line,
                      .ioc = ev->ioc_id,
                      .line_time = ev->line_time,
                      .ts = ev->timestamp,
                      .created = ev->created};
    assert_true(ev->host_len < sizeof(x->host));
    if (ev->host)
        memcpy(x->host, ev->host, ev->host_len);
    return 0;
}

/* Scan text as one unit of a source with modification time mtime. */
static void scan_text(const struct iocs_db *db, const char *text, time_t mtime,
                      const struct iocs_scan_time *tm, struct tevs *out)
{
    struct iocs_scanner_opts so = {.max_line = 4096, .time = *tm};
    struct iocs_unit u = {.mtime = mtime,
                          .ptr = (const unsigned char *)text,
                          .len = strlen(text),
                          .starts_line = true,
                          .ends_line = true,
                          .first = true,
                          .last = true};
    struct iocs_scanner *sc;
    struct iocs_linestate *ls;
    uint64_t nl;

    out->len = 0;
    assert_int_equal(iocs_scanner_new(&sc, db, &so), 0);
    assert_int_equal(iocs_linestate_new(&ls, 4096), 0);
    assert_int_equal(
        iocs_scanner_unit(sc, &u, "t.log", 1, ls, collect_time, out, &nl), 0);
    iocs_scanner_free(sc);
    iocs_linestate_free(ls);
}

/* A line with hits gets its own time and host (once for all its IOCs);
 * the RFC 3164 year comes from the unit's mtime, else the scan's start;
 * zone-less times are in --tz; --since is inclusive, --until exclusive,
 * and a line without a time is kept whatever the window. */
static void test_scanner_line_time_and_window(void **state)
{
    static const char text[] =
        "<34>Dec 31 23:59:59 gw1 sshd[1]: from 192.81.209.168\n"        /* 1 */
        "2024-12-05T03:14:15Z x 192.81.209.168 evil.example\n"          /* 2 */
        "no time here 192.81.209.168\n"                                 /* 3 */
        "2024-12-06 00:00:00 y 192.81.209.168\n"                        /* 4 */
        "2024-12-01T00:00:00Z no hit\n"                                 /* 5 */
        "<165>1 2024-12-05T03:14:14.5Z web01 app - - - evil.example\n"; /* 6 */
    const time_t jan2025 = 1735689600; /* 2025-01-01T00:00:00Z */
    const time_t dec06 = 1733443200;   /* 2024-12-06T00:00:00Z */
    const time_t t0315 = 1733368455;   /* 2024-12-05T03:14:15Z */
    struct fix *f = *state;
    struct iocs_scan_time tm = {.start = 1000};
    struct tevs got;

    /* No window: every line with a hit, in order; line 2 twice. */
    scan_text(f->db, text, jan2025, &tm, &got);
    assert_int_equal(got.len, 6);
    assert_int_equal(got.v[0].line, 1);
    assert_true(got.v[0].line_time);
    assert_int_equal(got.v[0].ts.tv_sec, jan2025 - 1); /* Dec 31 2024 */
    assert_string_equal(got.v[0].host, "gw1");
    assert_int_equal(got.v[1].line, 2);
    assert_int_equal(got.v[2].line, 2);
    assert_int_equal(got.v[1].ts.tv_sec, t0315);
    assert_int_equal(got.v[2].ts.tv_sec, t0315);
    assert_string_equal(got.v[1].host, "");
    assert_int_equal(got.v[3].line, 3);
    assert_false(got.v[3].line_time);
    assert_int_equal(got.v[3].ts.tv_sec, got.v[3].created.tv_sec);
    assert_int_equal(got.v[3].ts.tv_nsec, got.v[3].created.tv_nsec);
    assert_int_equal(got.v[4].line, 4);
    assert_int_equal(got.v[4].ts.tv_sec, dec06);
    assert_int_equal(got.v[5].line, 6);
    assert_int_equal(got.v[5].ts.tv_sec, t0315 - 1);
    assert_int_equal(got.v[5].ts.tv_nsec, 500000000);
    assert_string_equal(got.v[5].host, "web01");

    /* Stdin (no mtime): the year from the scan's start (mid-2024 makes
     * Dec 31 the year before). */
    tm.start = 1719792000; /* 2024-07-01 */
    scan_text(f->db, text, 0, &tm, &got);
    assert_int_equal(got.v[0].ts.tv_sec, jan2025 - 1 - 366 * 86400);

    /* --tz +05:30 moves zone-less times only. */
    assert_int_equal(iocs_linetime_zone_init(&tm.zone, "+05:30"), 0);
    scan_text(f->db, text, jan2025, &tm, &got);
    assert_int_equal(got.v[1].ts.tv_sec, t0315);
    assert_int_equal(got.v[4].ts.tv_sec, dec06 - 19800);
    memset(&tm.zone, 0, sizeof(tm.zone));

    /* [03:14:15 Dec 5, Dec 6): line 2 is at the bound (kept), line 4 at
     * the end (dropped), line 1 after, line 6 half a second before. */
    tm.has_since = tm.has_until = true;
    tm.since = (struct timespec){.tv_sec = t0315};
    tm.until = (struct timespec){.tv_sec = dec06};
    scan_text(f->db, text, jan2025, &tm, &got);
    assert_int_equal(got.len, 3);
    assert_int_equal(got.v[0].line, 2);
    assert_int_equal(got.v[1].line, 2);
    assert_int_equal(got.v[2].line, 3);
    /* One nanosecond later, line 2 is out too. */
    tm.since.tv_nsec = 1;
    scan_text(f->db, text, jan2025, &tm, &got);
    assert_int_equal(got.len, 1);
    assert_int_equal(got.v[0].line, 3);
}

/* Read a whole file (the test's own) into a malloc'd buffer. */
static unsigned char *slurp(const char *path, size_t *n)
{
    char *buf = t_read_file(path, n);

    assert_non_null(buf);
    return (unsigned char *)buf;
}

/*
 * A database whose Hyperscan part reports pattern ids past its pattern
 * table (a file spliced together, its checks recomputed): the scanner
 * drops those ids rather than reading past its arrays (it used to: an
 * ASan heap-buffer-overflow in prefetch_hits, a segfault in release).
 */
static void test_scanner_foreign_pattern_ids(void **state)
{
    enum { NBIG = 20000 };
    struct iocs_iocset *small, *big;
    struct iocs_db *a, *b, *spliced = NULL;
    char pa[PATH_MAX], pb[PATH_MAX], plog[PATH_MAX], errbuf[256];
    unsigned char *ba, *bb, *c;
    size_t na, nb, hs_a, hs_b, n, len = 0;
    char *text = malloc((size_t)NBIG * 24);
    struct iocs_scan_stats st = {0};
    struct evs got = {0};
    FILE *log;

    (void)state;
    assert_non_null(text);
    for (unsigned i = 0; i < NBIG; i++)
        len += (size_t)sprintf(text + len, "host%05u.example\n", i);
    assert_int_equal(iocs_iocset_new(&small), 0);
    assert_int_equal(
        iocs_feed_load_mem(small, "s", "evil.example\n", 13, NULL, NULL, NULL),
        0);
    assert_int_equal(iocs_iocset_new(&big), 0);
    assert_int_equal(iocs_feed_load_mem(big, "b", text, len, NULL, NULL, NULL),
                     0);
    assert_int_equal(iocs_db_compile(&a, small, errbuf, sizeof(errbuf)), 0);
    iocs__db_own_set(a);
    assert_int_equal(iocs_db_compile(&b, big, errbuf, sizeof(errbuf)), 0);
    iocs__db_own_set(b);
    t_path(pa, sizeof(pa), "small.db");
    t_path(pb, sizeof(pb), "big.db");
    assert_int_equal(iocs_dbfile_write(a, pa, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(iocs_dbfile_write(b, pb, errbuf, sizeof(errbuf)), 0);
    ba = slurp(pa, &na);
    bb = slurp(pb, &nb);
    hs_a = 0;
    hs_b = 0;
    for (int i = 7; i >= 0; i--) {
        hs_a = hs_a << 8 | ba[144 + i];
        hs_b = hs_b << 8 | bb[144 + i];
    }
    n = na - 8 - hs_a + hs_b + 8;
    c = calloc(1, n);
    assert_non_null(c);
    memcpy(c, ba, na - 8 - hs_a);
    memcpy(c + na - 8 - hs_a, bb + nb - 8 - hs_b, hs_b);
    for (int i = 0; i < 8; i++)
        c[144 + i] = (unsigned char)((uint64_t)hs_b >> (8 * i));
    iocs__dbfile_fixup(c, n, true);
    assert_int_equal(
        iocs__dbfile_parse(&spliced, c, n, 0, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(iocs_db_patterns(spliced), iocs_db_patterns(a));

    /* Every one of the big set's names: ids up to NBIG. */
    t_path(plog, sizeof(plog), "foreign.log");
    log = fopen(plog, "w");
    assert_non_null(log);
    for (unsigned i = 0; i < NBIG; i += 7)
        fprintf(log, "GET http://host%05u.example/ 200\n", i);
    assert_int_equal(fclose(log), 0);
    scan_file(spliced, plog, 65536, 0, 4096, true, &got, &st);
    assert_true(st.matches == 0 || got.len == 0);
    assert_int_equal(got.len, 0);
    free(got.v);
    iocs_db_free(spliced);
    iocs_db_free(a);
    iocs_db_free(b);
    free(c);
    free(ba);
    free(bb);
    free(text);
}

/* Units of 1 MiB and more are scanned in blocks of about 256 KiB cut at
 * line ends: hits on both sides of each block edge, with the hit array
 * large and small (split blocks). */
static void test_scanner_block_edges(void **state)
{
    static const size_t slabs[] = {1 << 20, 4 << 20};
    struct fix *f = *state;
    struct evs want = {0};
    size_t n;
    char *buf = gen(99, 1500000, &n), *path = write_tmp(buf, n);

    oracle(buf, n, 64, &want);
    for (size_t i = 0; i < 2 * sizeof(slabs) / sizeof(slabs[0]); i++) {
        struct evs got = {0};
        struct iocs_scan_stats st;

        scan_file(f->db, path, slabs[i / 2], i % 2 ? 64 : 0, 64, true, &got,
                  &st);
        compare(&got, &want);
        assert_int_equal(st.bytes, n);
        assert_int_equal(st.lost, 0);
        if (i % 2)
            assert_true(st.splits > 0);
        free(got.v);
    }
    unlink(path);
    free(path);
    free(buf);
    free(want.v);
}

/* A CIDR or IPv6 IOC never alerts on an allowlisted address, in any
 * spelling; the other addresses of the line still do. */
static void test_scanner_cidr_allowlist(void **state)
{
    static const char allow[] = "10.20.3.4\n2001:db8:abcd::1\n";
    static const char text[] = "a 10.20.3.4 b\n"
                               "a 10.20.3.5 b\n"
                               "a 10.20.3.4 10.20.9.9 10.20.3.4 10.20.1.1\n"
                               "a 2001:db8:abcd::1 b\n"
                               "a 2001:DB8:ABCD:0:0:0:0:1 b\n"
                               "a 2001:db8:abcd::2 2001:db8:abcd::1 b\n"
                               "a 2604:a880:400:d1::7716:1 b\n";
    static const struct {
        uint64_t line;
        uint32_t ioc, count;
        const char *atomic;
    } want[] = {
        {2, 8, 1, "10.20.3.5"},
        {3, 8, 2, "10.20.9.9"},
        {6, 9, 1, "2001:db8:abcd::2"},
        {7, 1, 1, "2604:a880:400:d1::7716:1"},
    };
    struct fix *f = *state;
    struct iocs_allow *a;
    char *path = write_tmp(text, sizeof(text) - 1);

    assert_int_equal(iocs_allow_new(&a), 0);
    assert_int_equal(iocs_allow_load_mem(a, "allow", allow, sizeof(allow) - 1,
                                         NULL, NULL, NULL),
                     0);
    scan_allow = a;
    for (size_t slab = 5; slab <= 4096; slab *= 9) {
        struct evs got = {0};
        struct iocs_scan_stats st;

        scan_file(f->db, path, slab, 0, 4096, true, &got, &st);
        assert_int_equal(got.len, sizeof(want) / sizeof(want[0]));
        for (size_t i = 0; i < got.len; i++) {
            assert_int_equal(got.v[i].line, want[i].line);
            assert_int_equal(got.v[i].ioc, want[i].ioc);
            assert_int_equal(got.v[i].count, want[i].count);
            assert_int_equal(got.v[i].alen, strlen(want[i].atomic));
            assert_memory_equal(got.v[i].atomic, want[i].atomic, got.v[i].alen);
        }
        free(got.v);
    }
    scan_allow = NULL;
    iocs_allow_free(a);
    unlink(path);
    free(path);
}

/*
 * Tokens longer than the scanner's right-context margin (a 200-byte
 * domain, a SHA-512, 64-byte CIDR tokens) all along a 300 kB line, cut
 * into pieces at many slab sizes: each found once, as by Hyperscan (the
 * overlap covers the longest token: tokens.h, "judge only the hits ending
 * at least maxlen + 2 after p").
 */
static void test_scanner_long_tokens_in_pieces(void **state)
{
    char dom[256], feed[1024], errbuf[256];
    static const char sha512[] =
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0b931bd25aa4c8d6b47ffd0b6a4a7d1ac4ba6c2bcb6f7c4de4b48f1e3f9a0";
    static const char v4tok[] = "10.20.000000000000000000000000000000000000"
                                "000000000000000000003.4";
    struct iocs_iocset *set;
    struct iocs_db *db[2];
    struct evs got[2] = {{0}};
    size_t n = 300000, len = 0, placed = 0, fl;
    char *buf = malloc(n + 1), *path;

    (void)state;
    assert_non_null(buf);
    /* A 200-byte name of 50-byte labels. */
    for (int i = 0; i < 4; i++)
        len +=
            (size_t)snprintf(dom + len, sizeof(dom) - len, "%s%.*s",
                             i ? "." : "", i == 3 ? 46 : 49,
                             "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvw"
                             "xyz");
    len += (size_t)snprintf(dom + len, sizeof(dom) - len, ".com");
    fl = (size_t)snprintf(feed, sizeof(feed), "%s\n%s\n10.20.0.0/16\n", dom,
                          sha512);
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(
        iocs_feed_load_mem(set, "long", feed, fl, NULL, NULL, NULL), 0);
    assert_int_equal(iocs_iocset_count(set), 3);
    assert_int_equal(iocs_db_compile_mode(&db[0], set, IOCS_DB_TOKENS_OFF,
                                          errbuf, sizeof(errbuf)),
                     0);
    assert_int_equal(iocs_db_compile_mode(&db[1], set, IOCS_DB_TOKENS_ON,
                                          errbuf, sizeof(errbuf)),
                     0);
    assert_non_null(iocs_db_tokens(db[1]));
    assert_true(iocs_db_overlap(db[1]) >= len + IOCS_SCAN_RIGHT_CTX + 2);

    memset(buf, 'x', n);
    for (size_t at = 17; at + 300 < n; at += 331 + placed % 97) {
        const char *tok = placed % 3 == 0   ? dom
                          : placed % 3 == 1 ? sha512
                          : placed % 6 == 2 ? "10.20.3.4"
                                            : v4tok;

        buf[at] = ' ';
        memcpy(buf + at + 1, tok, strlen(tok));
        buf[at + 1 + strlen(tok)] = ' ';
        placed++;
    }
    buf[n - 1] = '\n';
    path = write_tmp(buf, n);
    for (size_t slab = 100; slab <= (1 << 20); slab = slab * 3 + 1) {
        for (int k = 0; k < 2; k++) {
            struct iocs_scan_stats st;

            got[k].len = 0;
            scan_file(db[k], path, slab, 0, 32, false, &got[k], &st);
        }
        compare(&got[1], &got[0]);
        assert_int_equal(got[0].len, 3);
        assert_int_equal(got[0].v[0].count + got[0].v[1].count +
                             got[0].v[2].count,
                         placed - placed / 6);
    }
    free(got[0].v);
    free(got[1].v);
    iocs_db_free(db[0]);
    iocs_db_free(db[1]);
    iocs_iocset_free(set);
    unlink(path);
    free(path);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner_regex_rules),
        cmocka_unit_test(test_scanner_matches_oracle_any_slab),
        cmocka_unit_test(test_scanner_split_scans),
        cmocka_unit_test(test_scanner_lines_and_edges),
        cmocka_unit_test(test_scanner_long_line),
        cmocka_unit_test(test_scanner_block_edges),
        cmocka_unit_test(test_scanner_cidr_allowlist),
        cmocka_unit_test(test_scanner_line_time_and_window),
        cmocka_unit_test(test_scanner_foreign_pattern_ids),
        cmocka_unit_test(test_scanner_long_tokens_in_pieces),
    };
    /* The same tests on the token path: same events, same order. */
    const struct CMUnitTest tokens[] = {
        cmocka_unit_test(test_scanner_matches_oracle_any_slab),
        cmocka_unit_test(test_scanner_split_scans),
        cmocka_unit_test(test_scanner_lines_and_edges),
        cmocka_unit_test(test_scanner_long_line),
        cmocka_unit_test(test_scanner_block_edges),
        cmocka_unit_test(test_scanner_cidr_allowlist),
    };
    int rc = cmocka_run_group_tests_name("hyperscan", tests, setup, teardown);

    return rc | cmocka_run_group_tests_name("tokens", tokens, setup_tokens,
                                            teardown);
}
