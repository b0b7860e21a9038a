/*
 * codec_evtx.c - .evtx records through libevtx, each rendered as one JSON
 * line (contract in codec_evtx.h).
 *
 * libevtx decodes the binary XML of a record into text XML; a small,
 * bounded parser turns that restricted XML (elements, attributes, text,
 * the five entities and character references; CDATA, comments and
 * processing instructions tolerated) into a tree of nodes held in arrays of
 * the reader, and the tree is written out as JSON. Every index is checked
 * against its array and every write against its buffer's cap: the XML is
 * as untrusted as the file it came from.
 *
 * libevtx says nothing about which chunk is damaged, so the reader reads
 * the chunk headers itself when it opens a file and checks their
 * signatures and CRC32s (the file format's own checks), once per chunk.
 */
#include "pipeline/codec_evtx.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Debian's libevtx.h includes libbfio.h when its features.h says bfio is
 * there, but libbfio-dev is not a dependency of libevtx-dev; this reader
 * opens files by name and needs none of the bfio prototypes. */
#include <libevtx/features.h>
#undef LIBEVTX_HAVE_BFIO
#include <libevtx.h>
#include <zlib.h>

#define FILE_HEADER_SIZE 4096u
#define CHUNK_SIZE 65536u
#define CHUNK_HEADER_SIZE 512u

/* Caps of the parse tree and the line, whatever the XML. */
#define MAX_NODES (1u << 20)
#define MAX_ATTRS (1u << 20)
#define MAX_DEPTH 64
#define LINE_MAX_BYTES (8u * IOCS_EVTX_XML_MAX + 4096u)

enum { N_ELEM, N_TEXT };

/* An element, or a text run of its parent. Spans point into the XML. */
struct node {
    const char *name; /* element name, or the text (decoded) */
    uint32_t name_len;
    uint32_t first_attr, nattr;
    int32_t first_child, last_child, next;
    /* Grouping of same-named siblings while rendering. */
    const char *key;
    uint32_t key_len;
    int32_t dup_next, dup_last;
    uint8_t kind, is_dup;
};

struct attr {
    const char *name, *val;
    uint32_t name_len, val_len;
};

struct recpos {
    uint64_t id, off;
};

struct iocs_evtx {
    libevtx_file_t *file;
    int nrec, nrecovered, idx;
    int bad_recovered; /* recovered records libevtx could not read */
    iocs_evtx_warn_fn warn;
    void *ctx;
    struct iocs_evtx_stats st;

    char *xml;
    size_t xml_cap;

    struct node *nodes;
    uint32_t nnodes, nodes_cap;
    struct attr *attrs;
    uint32_t nattrs, attrs_cap;
    int32_t root;

    /* Open addressing over node keys, cleared by bumping gen. */
    uint32_t *hslot, *hgen;
    uint32_t hcap, gen;

    char *line;
    size_t line_len, line_cap;
    int err; /* first failure while writing the line */

    char channel[256], provider[256], computer[256];

    /* Where each record header sits in the file, by record number: libevtx
     * 20181227 always says offset 0. live[] from walking the records of
     * each chunk, slack[] from their signatures in the chunks' free space
     * (where libevtx finds its recovered records). */
    struct recpos *live, *slack;
    size_t nlive, nslack, live_cap, slack_cap;
};

int iocs_evtx_is_evtx(const unsigned char *p, size_t n)
{
    return n >= IOCS_EVTX_MAGIC_LEN &&
           memcmp(p, IOCS_EVTX_MAGIC, IOCS_EVTX_MAGIC_LEN) == 0;
}

static void warnf(struct iocs_evtx *r, int64_t chunk, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warnf(struct iocs_evtx *r, int64_t chunk, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    r->st.warnings++;
    if (!r->warn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->warn(r->ctx, chunk, msg);
}

/* libevtx's message for err into buf (one line), and err released. */
static const char *evtx_msg(libevtx_error_t **err, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (*err) {
        libevtx_error_sprint(*err, buf, cap);
        libevtx_error_free(err);
    }
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    return buf[0] ? buf : "unknown error";
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* ---- the line buffer --------------------------------------------------- */

static int grow_line(struct iocs_evtx *r, size_t need)
{
    size_t cap = r->line_cap ? r->line_cap : 4096;
    char *p;

    if (need > LINE_MAX_BYTES)
        return -E2BIG;
    while (cap < need)
        cap *= 2;
    if (cap > LINE_MAX_BYTES)
        cap = LINE_MAX_BYTES;
    p = realloc(r->line, cap);
    if (!p)
        return -ENOMEM;
    r->line = p;
    r->line_cap = cap;
    return 0;
}

/* Append n bytes; the first failure sticks in r->err. Room for a NUL is
 * always kept. */
static void put(struct iocs_evtx *r, const char *s, size_t n)
{
    if (r->err)
        return;
    if (r->line_len + n + 1 > r->line_cap) {
        int err = grow_line(r, r->line_len + n + 1);

        if (err) {
            r->err = err;
            return;
        }
    }
    memcpy(r->line + r->line_len, s, n);
    r->line_len += n;
}

static void putc1(struct iocs_evtx *r, char c)
{
    put(r, &c, 1);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && s[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && s[1] >= 0xa0)
            return 0; /* a surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
            (s[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

/* The body of a JSON string (no quotes): escaped, valid UTF-8. */
static void put_escaped(struct iocs_evtx *r, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;

    while (i < n) {
        unsigned c = s[i];
        size_t l;
        char esc[8];

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80 && (l = utf8_len(s + i, n - i)) > 0) {
            i += l;
            continue;
        }
        put(r, str + run, i - run);
        switch (c) {
        case '"':
            put(r, "\\\"", 2);
            break;
        case '\\':
            put(r, "\\\\", 2);
            break;
        case '\n':
            put(r, "\\n", 2);
            break;
        case '\r':
            put(r, "\\r", 2);
            break;
        case '\t':
            put(r, "\\t", 2);
            break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                put(r, esc, 6);
            } else {
                put(r, "\\ufffd", 6); /* a byte that is not UTF-8 */
            }
        }
        i++;
        run = i;
    }
    put(r, str + run, n - run);
}

static void put_string(struct iocs_evtx *r, const char *s, size_t n)
{
    putc1(r, '"');
    put_escaped(r, s, n);
    putc1(r, '"');
}

/* ---- the XML tree ------------------------------------------------------ */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int all_ws(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_ws(s[i]))
            return 0;
    return 1;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        cp = 0xfffd;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Decode entities of s[0..n) where they stand; returns the new length. A
 * decoded entity is never longer than its spelling (the longest UTF-8, 4
 * bytes, needs "&#65536;" or longer), so the write never passes the read.
 * An entity this does not know stays as written: data is never dropped.
 */
static size_t decode_entities(char *s, size_t n)
{
    size_t i = 0, o = 0;

    while (i < n) {
        char *semi;
        size_t el;

        if (s[i] != '&') {
            s[o++] = s[i++];
            continue;
        }
        semi = memchr(s + i, ';', n - i < 12 ? n - i : 12);
        if (!semi) {
            s[o++] = s[i++];
            continue;
        }
        el = (size_t)(semi - (s + i)) + 1; /* "&...;" */
        if (el == 5 && !memcmp(s + i, "&amp;", 5)) {
            s[o++] = '&';
        } else if (el == 4 && !memcmp(s + i, "&lt;", 4)) {
            s[o++] = '<';
        } else if (el == 4 && !memcmp(s + i, "&gt;", 4)) {
            s[o++] = '>';
        } else if (el == 6 && !memcmp(s + i, "&quot;", 6)) {
            s[o++] = '"';
        } else if (el == 6 && !memcmp(s + i, "&apos;", 6)) {
            s[o++] = '\'';
        } else if (el >= 4 && s[i + 1] == '#') {
            int hex = s[i + 2] == 'x' || s[i + 2] == 'X';
            size_t d = i + 2 + (size_t)hex, digits = 0;
            uint32_t cp = 0;
            int ok = 1;

            for (; s + d < semi; d++, digits++) {
                char c = s[d];
                unsigned v;

                if (c >= '0' && c <= '9')
                    v = (unsigned)(c - '0');
                else if (hex && c >= 'a' && c <= 'f')
                    v = (unsigned)(c - 'a' + 10);
                else if (hex && c >= 'A' && c <= 'F')
                    v = (unsigned)(c - 'A' + 10);
                else {
                    ok = 0;
                    break;
                }
                if (cp > 0x10ffff)
                    ok = 0; /* keeps cp from overflowing: rejected below */
                else
                    cp = cp * (hex ? 16u : 10u) + v;
            }
            if (!ok || digits == 0 || cp > 0x10ffff ||
                put_utf8((char[4]){0}, cp) > el) {
                s[o++] = s[i++];
                continue;
            }
            o += put_utf8(s + o, cp);
        } else {
            s[o++] = s[i++];
            continue;
        }
        i += el;
    }
    return o;
}

static int new_node(struct iocs_evtx *r, int kind, int32_t parent, int32_t *out)
{
    struct node *n;

    if (r->nnodes == r->nodes_cap) {
        uint32_t cap = r->nodes_cap ? r->nodes_cap * 2 : 256;
        struct node *p;

        if (r->nodes_cap >= MAX_NODES)
            return -E2BIG;
        p = realloc(r->nodes, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        r->nodes = p;
        r->nodes_cap = cap;
    }
    n = &r->nodes[r->nnodes];
    memset(n, 0, sizeof(*n));
    n->kind = (uint8_t)kind;
    n->first_child = n->last_child = n->next = -1;
    n->dup_next = n->dup_last = -1;
    n->first_attr = r->nattrs;
    if (parent >= 0) {
        struct node *p = &r->nodes[parent];

        if (p->last_child >= 0)
            r->nodes[p->last_child].next = (int32_t)r->nnodes;
        else
            p->first_child = (int32_t)r->nnodes;
        p->last_child = (int32_t)r->nnodes;
    }
    *out = (int32_t)r->nnodes++;
    return 0;
}

static int new_attr(struct iocs_evtx *r, const char *name, size_t nl,
                    const char *val, size_t vl)
{
    if (r->nattrs == r->attrs_cap) {
        uint32_t cap = r->attrs_cap ? r->attrs_cap * 2 : 256;
        struct attr *p;

        if (r->attrs_cap >= MAX_ATTRS)
            return -E2BIG;
        p = realloc(r->attrs, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        r->attrs = p;
        r->attrs_cap = cap;
    }
    r->attrs[r->nattrs++] = (struct attr){.name = name,
                                          .val = val,
                                          .name_len = (uint32_t)nl,
                                          .val_len = (uint32_t)vl};
    return 0;
}

static int name_char(char c)
{
    return c && !is_ws(c) && c != '/' && c != '>' && c != '<' && c != '=' &&
           c != '"' && c != '\'';
}

/* Where the NUL-terminated needle starts in s[i..n), or n. */
static size_t find(const char *s, size_t i, size_t n, const char *needle)
{
    size_t nl = strlen(needle);

    for (; i + nl <= n; i++)
        if (s[i] == needle[0] && !memcmp(s + i, needle, nl))
            return i;
    return n;
}

/* Parse xml[0..n) into r's tree; r->root is the document element. */
static int parse(struct iocs_evtx *r, char *x, size_t n)
{
    int32_t stack[MAX_DEPTH];
    int depth = 0, err;
    size_t i = 0;

    r->nnodes = 0;
    r->nattrs = 0;
    r->root = -1;
    while (i < n) {
        if (x[i] != '<') {
            size_t end = i;
            int32_t t;

            while (end < n && x[end] != '<')
                end++;
            if (depth == 0) {
                if (!all_ws(x + i, end - i))
                    return -EBADMSG;
            } else {
                err = new_node(r, N_TEXT, stack[depth - 1], &t);
                if (err)
                    return err;
                r->nodes[t].name = x + i;
                r->nodes[t].name_len =
                    (uint32_t)decode_entities(x + i, end - i);
            }
            i = end;
            continue;
        }
        if (i + 1 < n && x[i + 1] == '?') {
            i = find(x, i, n, "?>");
            if (i == n)
                return -EBADMSG;
            i += 2;
            continue;
        }
        if (n - i >= 4 && !memcmp(x + i, "<!--", 4)) {
            i = find(x, i + 4, n, "-->");
            if (i == n)
                return -EBADMSG;
            i += 3;
            continue;
        }
        if (n - i >= 9 && !memcmp(x + i, "<![CDATA[", 9)) {
            size_t end = find(x, i + 9, n, "]]>");
            int32_t t;

            if (end == n || depth == 0)
                return -EBADMSG;
            err = new_node(r, N_TEXT, stack[depth - 1], &t);
            if (err)
                return err;
            r->nodes[t].name = x + i + 9;
            r->nodes[t].name_len = (uint32_t)(end - i - 9);
            i = end + 3;
            continue;
        }
        if (i + 1 < n && x[i + 1] == '/') {
            size_t s = i + 2, e = s;
            const struct node *top;

            while (e < n && name_char(x[e]))
                e++;
            if (depth == 0)
                return -EBADMSG;
            top = &r->nodes[stack[depth - 1]];
            if (top->name_len != e - s || memcmp(top->name, x + s, e - s))
                return -EBADMSG;
            while (e < n && is_ws(x[e]))
                e++;
            if (e >= n || x[e] != '>')
                return -EBADMSG;
            depth--;
            i = e + 1;
            continue;
        }
        {
            size_t s = i + 1, e = s;
            int32_t el;

            while (e < n && name_char(x[e]))
                e++;
            if (e == s)
                return -EBADMSG;
            if (depth == 0 && r->root >= 0)
                return -EBADMSG; /* a second document element */
            err = new_node(r, N_ELEM, depth ? stack[depth - 1] : -1, &el);
            if (err)
                return err;
            if (depth == 0)
                r->root = el;
            r->nodes[el].name = x + s;
            r->nodes[el].name_len = (uint32_t)(e - s);
            for (;;) {
                size_t an, ae, vs, ve;
                char q;

                while (e < n && is_ws(x[e]))
                    e++;
                if (e >= n)
                    return -EBADMSG;
                if (x[e] == '>') {
                    if (depth == MAX_DEPTH)
                        return -E2BIG;
                    stack[depth++] = el;
                    i = e + 1;
                    break;
                }
                if (x[e] == '/') {
                    if (e + 1 >= n || x[e + 1] != '>')
                        return -EBADMSG;
                    i = e + 2;
                    break;
                }
                an = e;
                while (e < n && name_char(x[e]))
                    e++;
                ae = e;
                if (ae == an)
                    return -EBADMSG;
                while (e < n && is_ws(x[e]))
                    e++;
                if (e >= n || x[e] != '=')
                    return -EBADMSG;
                e++;
                while (e < n && is_ws(x[e]))
                    e++;
                if (e >= n || (x[e] != '"' && x[e] != '\''))
                    return -EBADMSG;
                q = x[e++];
                vs = e;
                while (e < n && x[e] != q)
                    e++;
                if (e >= n)
                    return -EBADMSG;
                ve = e++;
                err = new_attr(r, x + an, ae - an, x + vs,
                               decode_entities(x + vs, ve - vs));
                if (err)
                    return err;
                r->nodes[el].nattr++;
            }
        }
    }
    if (depth != 0 || r->root < 0)
        return -EBADMSG;
    return 0;
}

/* ---- the tree as JSON -------------------------------------------------- */

static int span_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && !memcmp(s, lit, n);
}

static int is_xmlns(const struct attr *a)
{
    return span_is(a->name, a->name_len, "xmlns") ||
           (a->name_len > 6 && !memcmp(a->name, "xmlns:", 6));
}

/* Plain decimal that fits a JSON integer without loss: written bare. */
static int plain_number(const char *s, size_t n)
{
    if (n == 0 || n > 15 || (n > 1 && s[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int numeric_elem(const char *s, size_t n)
{
    return span_is(s, n, "EventID") || span_is(s, n, "Version") ||
           span_is(s, n, "Level") || span_is(s, n, "Task") ||
           span_is(s, n, "Opcode") || span_is(s, n, "EventRecordID");
}

static int numeric_attr(const char *s, size_t n)
{
    return span_is(s, n, "ProcessID") || span_is(s, n, "ThreadID") ||
           span_is(s, n, "Qualifiers");
}

static void put_scalar(struct iocs_evtx *r, const char *s, size_t n, int number)
{
    if (number && plain_number(s, n))
        put(r, s, n);
    else
        put_string(r, s, n);
}

/* The Name attribute of a <Data> element, or NULL. */
static const struct attr *data_name(const struct iocs_evtx *r,
                                    const struct node *e)
{
    if (!span_is(e->name, e->name_len, "Data"))
        return NULL;
    for (uint32_t a = 0; a < e->nattr; a++) {
        const struct attr *at = &r->attrs[e->first_attr + a];

        if (span_is(at->name, at->name_len, "Name"))
            return at;
    }
    return NULL;
}

/* Text of e: its text children, concatenated, in JSON; skip_ws drops runs
 * that are only white space (indentation between elements). */
static void put_text(struct iocs_evtx *r, const struct node *e, int skip_ws,
                     int number)
{
    int32_t only = -1, count = 0;

    for (int32_t c = e->first_child; c >= 0; c = r->nodes[c].next) {
        const struct node *t = &r->nodes[c];

        if (t->kind != N_TEXT || (skip_ws && all_ws(t->name, t->name_len)))
            continue;
        only = c;
        count++;
    }
    if (count == 1) {
        put_scalar(r, r->nodes[only].name, r->nodes[only].name_len, number);
        return;
    }
    putc1(r, '"');
    for (int32_t c = e->first_child; c >= 0; c = r->nodes[c].next) {
        const struct node *t = &r->nodes[c];

        if (t->kind == N_TEXT && !(skip_ws && all_ws(t->name, t->name_len)))
            put_escaped(r, t->name, t->name_len);
    }
    putc1(r, '"');
}

static uint32_t hash_span(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/*
 * Give each element child of e its key and chain same-keyed siblings
 * behind the first one (dup_next), through the hash table, so rendering
 * stays linear however many children there are.
 */
static void group_children(struct iocs_evtx *r, const struct node *e)
{
    uint32_t param = 0;

    if (++r->gen == 0) {
        memset(r->hgen, 0, r->hcap * sizeof(*r->hgen));
        r->gen = 1;
    }
    for (int32_t c = e->first_child; c >= 0; c = r->nodes[c].next) {
        struct node *ch = &r->nodes[c];
        const struct attr *dn;
        uint32_t h;

        if (ch->kind != N_ELEM)
            continue;
        ch->dup_next = ch->dup_last = -1;
        ch->is_dup = 0;
        dn = data_name(r, ch);
        if (dn) {
            ch->key = dn->val;
            ch->key_len = dn->val_len;
        } else if (span_is(ch->name, ch->name_len, "Data")) {
            /* Unnamed: "param<k>", unique, written when rendered. */
            ch->key = NULL;
            ch->key_len = ++param;
            continue;
        } else {
            ch->key = ch->name;
            ch->key_len = ch->name_len;
        }
        h = hash_span(ch->key, ch->key_len) & (r->hcap - 1);
        for (;; h = (h + 1) & (r->hcap - 1)) {
            struct node *first;

            if (r->hgen[h] != r->gen) {
                r->hgen[h] = r->gen;
                r->hslot[h] = (uint32_t)c;
                break;
            }
            first = &r->nodes[r->hslot[h]];
            if (first->key_len == ch->key_len &&
                !memcmp(first->key, ch->key, ch->key_len)) {
                if (first->dup_last >= 0)
                    r->nodes[first->dup_last].dup_next = c;
                else
                    first->dup_next = c;
                first->dup_last = c;
                ch->is_dup = 1;
                break;
            }
        }
    }
}

static void put_value(struct iocs_evtx *r, int32_t idx, int in_system,
                      int depth);

/* The members of element e's object: attributes, children, "#text". */
static void put_object(struct iocs_evtx *r, int32_t idx, int in_system,
                       int depth)
{
    const struct node *e = &r->nodes[idx];
    int first = 1, text = 0;

    putc1(r, '{');
    for (uint32_t a = 0; a < e->nattr; a++) {
        const struct attr *at = &r->attrs[e->first_attr + a];

        if (is_xmlns(at))
            continue;
        if (!first)
            putc1(r, ',');
        first = 0;
        put_string(r, at->name, at->name_len);
        putc1(r, ':');
        put_scalar(r, at->val, at->val_len,
                   in_system && numeric_attr(at->name, at->name_len));
    }
    group_children(r, e);
    for (int32_t c = e->first_child; c >= 0; c = r->nodes[c].next) {
        const struct node *ch = &r->nodes[c];
        int sys = in_system ||
                  (depth == 0 && span_is(ch->name, ch->name_len, "System"));

        if (ch->kind == N_TEXT) {
            text |= !all_ws(ch->name, ch->name_len);
            continue;
        }
        if (ch->is_dup)
            continue;
        if (!first)
            putc1(r, ',');
        first = 0;
        if (ch->key) {
            put_string(r, ch->key, ch->key_len);
        } else {
            char k[24];

            put(r, k,
                (size_t)snprintf(k, sizeof(k), "\"param%u\"", ch->key_len));
        }
        putc1(r, ':');
        if (ch->dup_next < 0) {
            put_value(r, c, sys, depth + 1);
            continue;
        }
        putc1(r, '[');
        for (int32_t d = c; d >= 0; d = r->nodes[d].dup_next) {
            if (d != c)
                putc1(r, ',');
            put_value(r, d, sys, depth + 1);
        }
        putc1(r, ']');
    }
    if (text) {
        if (!first)
            putc1(r, ',');
        put(r, "\"#text\":", 8);
        put_text(r, e, 1, in_system && numeric_elem(e->name, e->name_len));
    }
    putc1(r, '}');
}

/* Whether e has element children or attributes other than xmlns ones (a
 * named <Data>'s Name is its key, not a member). */
static int needs_object(const struct iocs_evtx *r, const struct node *e)
{
    const struct attr *dn = data_name(r, e);

    for (int32_t c = e->first_child; c >= 0; c = r->nodes[c].next)
        if (r->nodes[c].kind == N_ELEM)
            return 1;
    for (uint32_t a = 0; a < e->nattr; a++) {
        const struct attr *at = &r->attrs[e->first_attr + a];

        if (at != dn && !is_xmlns(at))
            return 1;
    }
    return 0;
}

static void put_value(struct iocs_evtx *r, int32_t idx, int in_system,
                      int depth)
{
    const struct node *e = &r->nodes[idx];

    /* The parser allows MAX_DEPTH levels; this is a second fence. */
    if (depth > MAX_DEPTH) {
        r->err = -E2BIG;
        return;
    }
    if (needs_object(r, e)) {
        put_object(r, idx, in_system, depth);
        return;
    }
    if (e->first_child < 0 && !data_name(r, e)) {
        put(r, "null", 4);
        return;
    }
    put_text(r, e, 0, in_system && numeric_elem(e->name, e->name_len));
}

int iocs__evtx_render(struct iocs_evtx *r, char *xml, size_t len,
                      const char **line, size_t *line_len)
{
    int err;

    /* libevtx hands out a C string: the XML ends at its first NUL, and so
     * no NUL ever reaches a line (some JSON readers refuse \u0000). */
    len = strnlen(xml, len);
    err = parse(r, xml, len);

    if (err)
        return err;
    if (r->hcap < 2 * r->nodes_cap) {
        uint32_t cap = r->hcap ? r->hcap : 512;
        uint32_t *s, *g;

        while (cap < 2 * r->nodes_cap)
            cap *= 2;
        s = malloc(cap * sizeof(*s));
        g = calloc(cap, sizeof(*g));
        if (!s || !g) {
            free(s);
            free(g);
            return -ENOMEM;
        }
        free(r->hslot);
        free(r->hgen);
        r->hslot = s;
        r->hgen = g;
        r->hcap = cap;
        r->gen = 0;
    }
    r->line_len = 0;
    r->err = 0;
    putc1(r, '{');
    put_string(r, r->nodes[r->root].name, r->nodes[r->root].name_len);
    putc1(r, ':');
    put_value(r, r->root, 0, 0);
    putc1(r, '}');
    if (r->err)
        return r->err;
    r->line[r->line_len] = '\0';
    *line = r->line;
    *line_len = r->line_len;
    return 0;
}

int iocs__evtx_new_renderer(struct iocs_evtx **out)
{
    struct iocs_evtx *r = calloc(1, sizeof(*r));

    if (!r)
        return -ENOMEM;
    *out = r;
    return 0;
}

/* ---- chunks, records ---------------------------------------------------- */

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void add_pos(struct recpos **v, size_t *n, size_t *cap, uint64_t id,
                    uint64_t off)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        struct recpos *p = realloc(*v, nc * sizeof(*p));

        if (!p)
            return; /* offsets are a help, not a need: 0 then */
        *v = p;
        *cap = nc;
    }
    (*v)[(*n)++] = (struct recpos){.id = id, .off = off};
}

/* A record header at b[pos] whose size fits in b[0..end) and is repeated
 * at its end, as the format writes it: its size, else 0. */
static uint32_t record_at(const unsigned char *b, size_t pos, size_t end)
{
    uint32_t size;

    if (pos + 28 > end || memcmp(b + pos, "**\0\0", 4) != 0)
        return 0;
    size = le32(b + pos + 4);
    if (size < 28 || size > end - pos || le32(b + pos + size - 4) != size)
        return 0;
    return size;
}

/* Note where the records of chunk b (n bytes, at file offset at) are. */
static void index_chunk(struct iocs_evtx *r, const unsigned char *b, size_t n,
                        uint64_t at, uint32_t free_off)
{
    size_t pos = CHUNK_HEADER_SIZE, end = free_off < n ? free_off : n;
    uint32_t size;

    while ((size = record_at(b, pos, end)) > 0) {
        add_pos(&r->live, &r->nlive, &r->live_cap, le64(b + pos + 8), at + pos);
        pos += size;
    }
    for (pos = end; pos + 28 <= n; pos++)
        if ((size = record_at(b, pos, n)) > 0)
            add_pos(&r->slack, &r->nslack, &r->slack_cap, le64(b + pos + 8),
                    at + pos);
}

static int cmp_pos(const void *a, const void *b)
{
    const struct recpos *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

static const struct recpos *find_pos(const struct recpos *v, size_t n,
                                     uint64_t id)
{
    struct recpos key = {.id = id};

    return v ? bsearch(&key, v, n, sizeof(*v), cmp_pos) : NULL;
}

/*
 * Check the file header and every chunk against the format's own
 * signatures and CRC32s, warning once per damaged chunk. Unused chunks
 * (all zero, as Windows preallocates them) are not damage.
 */
static void check_chunks(struct iocs_evtx *r, int fd)
{
    unsigned char *b = malloc(CHUNK_SIZE);
    struct stat st;
    ssize_t got;

    if (!b || fstat(fd, &st) < 0) {
        free(b);
        return; /* a check we cannot make; libevtx still reads the file */
    }
    got = pread(fd, b, FILE_HEADER_SIZE, 0);
    if (got < (ssize_t)FILE_HEADER_SIZE)
        warnf(r, -1, "file header cut short (%lld bytes)",
              (long long)st.st_size);
    else if ((uint32_t)crc32(0, b, 120) != le32(b + 124))
        warnf(r, -1, "file header checksum mismatch");
    for (uint64_t k = 0;
         FILE_HEADER_SIZE + k * CHUNK_SIZE < (uint64_t)st.st_size; k++) {
        off_t at = (off_t)(FILE_HEADER_SIZE + k * CHUNK_SIZE);
        char why[256] = "";
        size_t n, wl = 0, z = 0;
        uint32_t fr;

        got = pread(fd, b, CHUNK_SIZE, at);
        if (got < 0) {
            warnf(r, (int64_t)k, "read: %s", strerror(errno));
            break;
        }
        n = (size_t)got;
        while (z < n && b[z] == 0)
            z++;
        if (z == n)
            continue; /* unused */
        if (n < 8 || memcmp(b, "ElfChnk", 8) != 0) {
            warnf(r, (int64_t)k, "bad chunk signature");
            continue;
        }
        if (n < CHUNK_SIZE)
            wl += (size_t)snprintf(why + wl, sizeof(why) - wl,
                                   "; cut short (%zu of %u bytes)", n,
                                   CHUNK_SIZE);
        if (n >= CHUNK_HEADER_SIZE) {
            uint32_t c = (uint32_t)crc32(0, b, 120);

            c = (uint32_t)crc32(c, b + 128, CHUNK_HEADER_SIZE - 128);
            if (c != le32(b + 124))
                wl += (size_t)snprintf(why + wl, sizeof(why) - wl,
                                       "; header checksum mismatch");
            fr = le32(b + 48);
            if (fr < CHUNK_HEADER_SIZE || fr > CHUNK_SIZE)
                wl += (size_t)snprintf(why + wl, sizeof(why) - wl,
                                       "; bad free space offset %" PRIu32, fr);
            else if (fr <= n &&
                     (uint32_t)crc32(0, b + CHUNK_HEADER_SIZE,
                                     fr - CHUNK_HEADER_SIZE) != le32(b + 52))
                wl += (size_t)snprintf(why + wl, sizeof(why) - wl,
                                       "; record data checksum mismatch");
        }
        if (wl)
            warnf(r, (int64_t)k, "%s", why + 2);
        if (n >= CHUNK_HEADER_SIZE)
            index_chunk(r, b, n, (uint64_t)at, le32(b + 48));
    }
    free(b);
    if (r->live)
        qsort(r->live, r->nlive, sizeof(*r->live), cmp_pos);
    if (r->slack)
        qsort(r->slack, r->nslack, sizeof(*r->slack), cmp_pos);
}

int iocs_evtx_open(struct iocs_evtx **out, const char *path,
                   iocs_evtx_warn_fn warn, void *ctx, char *errbuf,
                   size_t errlen)
{
    libevtx_error_t *lerr = NULL;
    unsigned char magic[IOCS_EVTX_MAGIC_LEN];
    struct iocs_evtx *r = NULL;
    char msg[256];
    ssize_t got;
    int err, fd;

    if (errbuf && errlen)
        errbuf[0] = '\0';
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = -errno;
        if (errbuf)
            snprintf(errbuf, errlen, "%s", strerror(errno));
        goto fail;
    }
    got = pread(fd, magic, sizeof(magic), 0);
    if (got < 0 || !iocs_evtx_is_evtx(magic, (size_t)got)) {
        err = got < 0 ? -errno : -EINVAL;
        if (errbuf)
            snprintf(errbuf, errlen, "not an .evtx file");
        goto fail;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        err = -ENOMEM;
        goto fail;
    }
    r->warn = warn;
    r->ctx = ctx;
    check_chunks(r, fd);
    if (libevtx_file_initialize(&r->file, &lerr) != 1) {
        evtx_msg(&lerr, msg, sizeof(msg));
        r->file = NULL;
        err = -ENOMEM;
        goto fail;
    }
    if (libevtx_file_open(r->file, path, libevtx_get_access_flags_read(),
                          &lerr) != 1) {
        if (errbuf)
            snprintf(errbuf, errlen, "libevtx: %s",
                     evtx_msg(&lerr, msg, sizeof(msg)));
        err = -EBADMSG;
        goto fail;
    }
    if (libevtx_file_get_number_of_records(r->file, &r->nrec, &lerr) != 1) {
        warnf(r, -1, "libevtx: %s", evtx_msg(&lerr, msg, sizeof(msg)));
        r->nrec = 0;
    }
    if (libevtx_file_get_number_of_recovered_records(r->file, &r->nrecovered,
                                                     &lerr) != 1) {
        warnf(r, -1, "libevtx: %s", evtx_msg(&lerr, msg, sizeof(msg)));
        r->nrecovered = 0;
    }
    if (r->nrec < 0)
        r->nrec = 0;
    if (r->nrecovered < 0)
        r->nrecovered = 0;
    close(fd);
    *out = r;
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    iocs_evtx_free(r);
    return err;
}

/* Copy span s into a fixed field, NUL-terminated, cut to fit. */
static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static const struct node *child_named(const struct iocs_evtx *r,
                                      const struct node *e, const char *name)
{
    for (int32_t c = e->first_child; c >= 0; c = r->nodes[c].next)
        if (r->nodes[c].kind == N_ELEM &&
            span_is(r->nodes[c].name, r->nodes[c].name_len, name))
            return &r->nodes[c];
    return NULL;
}

/* The first text run of e, or an empty span. */
static const char *text_of(const struct iocs_evtx *r, const struct node *e,
                           size_t *n)
{
    for (int32_t c = e ? e->first_child : -1; c >= 0; c = r->nodes[c].next)
        if (r->nodes[c].kind == N_TEXT) {
            *n = r->nodes[c].name_len;
            return r->nodes[c].name;
        }
    *n = 0;
    return "";
}

static const char *attr_of(const struct iocs_evtx *r, const struct node *e,
                           const char *name, size_t *n)
{
    for (uint32_t a = 0; e && a < e->nattr; a++) {
        const struct attr *at = &r->attrs[e->first_attr + a];

        if (span_is(at->name, at->name_len, name)) {
            *n = at->val_len;
            return at->val;
        }
    }
    *n = 0;
    return "";
}

static uint64_t to_u64(const char *s, size_t n, int *ok)
{
    uint64_t v = 0;

    *ok = n > 0 && n <= 19;
    for (size_t i = 0; *ok && i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            *ok = 0;
        else
            v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return *ok ? v : 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z]" into *ts; 0 or -1. */
static int parse_time(const char *s, size_t n, struct timespec *ts)
{
    unsigned v[6];
    static const unsigned at[6] = {0, 5, 8, 11, 14, 17};
    static const unsigned w[6] = {4, 2, 2, 2, 2, 2};
    long ns = 0, scale = 100000000;

    if (n < 19)
        return -1;
    for (int f = 0; f < 6; f++) {
        v[f] = 0;
        for (unsigned i = at[f]; i < at[f] + w[f]; i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            v[f] = v[f] * 10 + (unsigned)(s[i] - '0');
        }
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
        v[4] > 59 || v[5] > 60)
        return -1;
    if (n > 20 && s[19] == '.')
        for (size_t i = 20; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            ns += (s[i] - '0') * scale;
            scale /= 10;
        }
    ts->tv_sec = (time_t)(days_from_civil(v[0], v[1], v[2]) * 86400 +
                          v[3] * 3600 + v[4] * 60 + v[5]);
    ts->tv_nsec = ns;
    return 0;
}

/* The System fields of the tree into rec; absent ones stay as set. */
static void system_fields(struct iocs_evtx *r, struct iocs_evtx_record *rec)
{
    const struct node *sys, *e;
    const char *s;
    size_t n;
    uint64_t v;
    int ok;

    if (r->root < 0)
        return;
    sys = child_named(r, &r->nodes[r->root], "System");
    if (!sys)
        return;
    s = attr_of(r, child_named(r, sys, "Provider"), "Name", &n);
    copy_field(r->provider, sizeof(r->provider), s, n);
    s = text_of(r, child_named(r, sys, "Channel"), &n);
    copy_field(r->channel, sizeof(r->channel), s, n);
    s = text_of(r, child_named(r, sys, "Computer"), &n);
    copy_field(r->computer, sizeof(r->computer), s, n);
    s = text_of(r, child_named(r, sys, "EventID"), &n);
    v = to_u64(s, n, &ok);
    if (ok && v <= UINT32_MAX)
        rec->event_id = (uint32_t)v;
    s = text_of(r, child_named(r, sys, "EventRecordID"), &n);
    v = to_u64(s, n, &ok);
    if (ok)
        rec->record_id = v;
    e = child_named(r, sys, "TimeCreated");
    s = attr_of(r, e, "SystemTime", &n);
    if (e && parse_time(s, n, &rec->time_created) == 0)
        rec->has_time = 1;
}

/* What libevtx says of a record whose XML we could not parse, with the XML
 * as one escaped string. */
static int render_fallback(struct iocs_evtx *r, libevtx_record_t *lr,
                           size_t xml_len, struct iocs_evtx_record *rec)
{
    libevtx_error_t *lerr = NULL;
    uint8_t name[256];
    char num[64];

    r->line_len = 0;
    r->err = 0;
    put(r, "{\"Event\":{\"System\":{", 20);
    put(r, num,
        (size_t)snprintf(num, sizeof(num),
                         "\"EventID\":%" PRIu32 ",\"EventRecordID\":%" PRIu64,
                         rec->event_id, rec->record_id));
    if (libevtx_record_get_utf8_source_name(lr, name, sizeof(name), &lerr) ==
        1) {
        copy_field(r->provider, sizeof(r->provider), (char *)name,
                   strlen((char *)name));
        put(r, ",\"Provider\":{\"Name\":", 20);
        put_string(r, r->provider, strlen(r->provider));
        putc1(r, '}');
    }
    libevtx_error_free(&lerr);
    if (libevtx_record_get_utf8_computer_name(lr, name, sizeof(name), &lerr) ==
        1) {
        copy_field(r->computer, sizeof(r->computer), (char *)name,
                   strlen((char *)name));
        put(r, ",\"Computer\":", 12);
        put_string(r, r->computer, strlen(r->computer));
    }
    libevtx_error_free(&lerr);
    put(r, "},\"xml\":", 8);
    put_string(r, r->xml, xml_len);
    put(r, "}}", 2);
    if (!r->err)
        r->line[r->line_len] = '\0';
    return r->err;
}

/*
 * Render the record lr into r's line and fill rec. 0, or a negative errno
 * after which the record is skipped (msg says why).
 */
static int do_record(struct iocs_evtx *r, libevtx_record_t *lr,
                     struct iocs_evtx_record *rec, char *msg, size_t cap)
{
    libevtx_error_t *lerr = NULL;
    uint64_t ft;
    uint32_t u32;
    size_t size = 0, len;
    const char *line;
    int err;

    if (libevtx_record_get_identifier(lr, &rec->record_id, &lerr) != 1)
        libevtx_error_free(&lerr);
    if (libevtx_record_get_event_identifier(lr, &u32, &lerr) == 1)
        rec->event_id = u32;
    else
        libevtx_error_free(&lerr);
    if (libevtx_record_get_written_time(lr, &ft, &lerr) == 1 &&
        ft >= 116444736000000000ull) {
        /* FILETIME: 100 ns since 1601-01-01. */
        ft -= 116444736000000000ull;
        rec->time_created.tv_sec = (time_t)(ft / 10000000);
        rec->time_created.tv_nsec = (long)(ft % 10000000) * 100;
        rec->has_time = 1;
    }
    libevtx_error_free(&lerr);

    if (libevtx_record_get_utf8_xml_string_size(lr, &size, &lerr) != 1) {
        evtx_msg(&lerr, msg, cap);
        return -EBADMSG;
    }
    if (size == 0 || size > IOCS_EVTX_XML_MAX) {
        snprintf(msg, cap, "XML of %zu bytes (cap %u)", size,
                 IOCS_EVTX_XML_MAX);
        return -E2BIG;
    }
    if (size > r->xml_cap) {
        char *p = realloc(r->xml, size);

        if (!p)
            return -ENOMEM;
        r->xml = p;
        r->xml_cap = size;
    }
    if (libevtx_record_get_utf8_xml_string(lr, (uint8_t *)r->xml, size,
                                           &lerr) != 1) {
        evtx_msg(&lerr, msg, cap);
        return -EBADMSG;
    }
    len = strnlen(r->xml, size);
    err = iocs__evtx_render(r, r->xml, len, &line, &len);
    if (err == 0) {
        system_fields(r, rec);
        return 0;
    }
    if (err == -ENOMEM)
        return err;
    /* The parse changed the XML in place: fetch it again, raw. */
    if (libevtx_record_get_utf8_xml_string(lr, (uint8_t *)r->xml, size,
                                           &lerr) != 1) {
        evtx_msg(&lerr, msg, cap);
        return -EBADMSG;
    }
    snprintf(msg, cap, "XML not understood, kept as a string");
    err = render_fallback(r, lr, strnlen(r->xml, size), rec);
    return err ? err : 1;
}

int iocs_evtx_next(struct iocs_evtx *r, struct iocs_evtx_record *rec)
{
    while (r->idx < r->nrec + r->nrecovered) {
        int recovered = r->idx >= r->nrec;
        int i = recovered ? r->idx - r->nrec : r->idx;
        struct iocs_evtx_record out = {0};
        libevtx_record_t *lr = NULL;
        libevtx_error_t *lerr = NULL;
        off64_t off = 0;
        uint64_t id;
        char msg[256] = "";
        int rc, err;

        r->idx++;
        rc = recovered
                 ? libevtx_file_get_recovered_record_by_index(r->file, i, &lr,
                                                              &lerr)
                 : libevtx_file_get_record_by_index(r->file, i, &lr, &lerr);
        if (rc != 1) {
            r->st.skipped++;
            evtx_msg(&lerr, msg, sizeof(msg));
            /* Slack holds many stale fragments that libevtx finds but
             * cannot read: those are counted, and summed up once at the
             * end, not each a warning. */
            if (recovered)
                r->bad_recovered++;
            else
                warnf(r, -1, "record %d: libevtx: %s", i + 1, msg);
            continue;
        }
        out.chunk = -1;
        if (libevtx_record_get_offset(lr, &off, &lerr) == 1 && off > 0)
            out.offset = (uint64_t)off;
        libevtx_error_free(&lerr);
        if (out.offset == 0 &&
            libevtx_record_get_identifier(lr, &id, &lerr) == 1) {
            const struct recpos *p =
                recovered ? find_pos(r->slack, r->nslack, id) : NULL;

            if (!p)
                p = find_pos(r->live, r->nlive, id);
            if (p)
                out.offset = p->off;
        }
        libevtx_error_free(&lerr);
        if (out.offset >= FILE_HEADER_SIZE)
            out.chunk = (int64_t)((out.offset - FILE_HEADER_SIZE) / CHUNK_SIZE);
        r->channel[0] = r->provider[0] = r->computer[0] = '\0';
        err = do_record(r, lr, &out, msg, sizeof(msg));
        libevtx_record_free(&lr, NULL);
        if (err == -ENOMEM)
            return err;
        if (err < 0) {
            r->st.skipped++;
            warnf(
                r, out.chunk, "%srecord %" PRIu64 " at offset %" PRIu64 ": %s",
                recovered ? "recovered " : "", out.record_id, out.offset, msg);
            continue;
        }
        if (err == 1)
            warnf(r, out.chunk, "%srecord %" PRIu64 ": %s",
                  recovered ? "recovered " : "", out.record_id, msg);
        out.line = r->line;
        out.len = r->line_len;
        out.ordinal = ++r->st.records;
        out.recovered = recovered;
        out.channel = r->channel;
        out.provider_name = r->provider;
        out.computer_name = r->computer;
        r->st.recovered += (uint64_t)recovered;
        *rec = out;
        return 1;
    }
    if (r->bad_recovered) {
        warnf(r, -1,
              "%d of %d recovered records (stale fragments in chunk slack) "
              "could not be decoded",
              r->bad_recovered, r->nrecovered);
        r->bad_recovered = 0;
    }
    return 0;
}

void iocs_evtx_get_stats(const struct iocs_evtx *r, struct iocs_evtx_stats *st)
{
    *st = r->st;
}

void iocs_evtx_free(struct iocs_evtx *r)
{
    if (!r)
        return;
    if (r->file) {
        libevtx_file_close(r->file, NULL);
        libevtx_file_free(&r->file, NULL);
    }
    free(r->xml);
    free(r->nodes);
    free(r->attrs);
    free(r->hslot);
    free(r->hgen);
    free(r->line);
    free(r->live);
    free(r->slack);
    free(r);
}
