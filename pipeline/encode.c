/*
 * encode.c - events -> ECS msgpack or JSON (see encode.h).
 *
 * The layout is the table ecs[] below, one row per field: its key path,
 * the value it holds, how that value is written, and whether it may be
 * absent. iocs_encoder_new() turns the rows into a tree (a map per path
 * prefix, a list of maps for a "[]" segment), then compiles the tree into
 * a short program for the encoder's format: every run of bytes that is
 * the same for every event (keys, map headers, literals, JSON punctuation)
 * becomes one constant, and only values, optional fields, the headers of
 * maps that hold optional fields, and the list of records remain as steps.
 * So both formats come from the one table, and an event costs about what
 * hand-written code did (bench/bench_emit.cc).
 *
 * Per event the values are gathered first (struct value): every string is
 * measured once, and whether an optional field is present is known before
 * its map's size must be written (msgpack puts the count first).
 */
#include "pipeline/encode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"

/* Holds the flush threshold plus a few ordinary events, so the buffer only
 * grows for an event that is itself huge. */
#define ENC_BUF_INIT (IOCS_ENCODE_FLUSH_AT + (64u << 10))
#define ENC_REC_INIT 1024
#define ENC_REC_MAX (IOCS_ENCODE_BUF_MAX / 64) /* no event is this small */

#define NSEC_PER_SEC 1000000000L

/* Which value a field holds. V_REC_* change per record of the IOC. */
enum val {
    V_NONE, /* a literal: the row's lit */
    V_TIMESTAMP,
    V_CREATED,
    V_SEVERITY,
    V_ORIGINAL,
    V_PATH,
    V_OFFSET,
    V_FEED,
    V_ECS_TYPE,
    V_VALUE,
    V_ATOMIC,
    V_IOC_ID,
    V_LINE,
    V_START,
    V_END,
    V_COUNT,
    V_DB,
    V_TRUNCATED,
    V_LINE_LENGTH,
    V_REC_PROVIDER,
    V_REC_DESCRIPTION,
    V_REC_REFERENCE,
    V_REC_CONFIDENCE,
    V_REC_TAGS,
    V_REC_FEED,
    V_COUNT_ /* number of values */
};

/* How a value is written. */
enum how {
    H_MAP,       /* inner node: a map of its children */
    H_RECORDS,   /* inner node: a list of maps, one per IOC record */
    H_LIT,       /* the row's literal string */
    H_LIT_ARRAY, /* a list holding the row's literal string */
    H_STR,
    H_TIME,
    H_UINT,
    H_INT,
    H_BOOL,
    H_TAGS,  /* a comma-separated string as a list of strings */
    H_TYPED, /* ECS typed indicator field: key path from the IOC type */
};

struct ecs_row {
    const char *path; /* dotted key path; "name[]" is a list of records */
    enum val val;
    enum how how;
    const char *lit; /* H_LIT, H_LIT_ARRAY */
    bool opt;        /* absent when its value is (NULL, no tags, no typed
                        field): left out of its map */
};

/*
 * The event, field by field, in output order. The typed field's key path
 * ("*") depends on the IOC type, see typed_field(). The first field of a
 * map is never optional (JSON's commas are compiled in).
 */
static const struct ecs_row ecs[] = {
    {"@timestamp", V_TIMESTAMP, H_TIME, NULL, false},
    {"event.kind", V_NONE, H_LIT, "alert", false},
    {"event.category", V_NONE, H_LIT_ARRAY, "threat", false},
    {"event.type", V_NONE, H_LIT_ARRAY, "indicator", false},
    {"event.created", V_CREATED, H_TIME, NULL, false},
    {"event.severity", V_SEVERITY, H_INT, NULL, false},
    {"event.original", V_ORIGINAL, H_STR, NULL, false},
    {"log.file.path", V_PATH, H_STR, NULL, false},
    {"log.offset", V_OFFSET, H_UINT, NULL, false},
    {"threat.feed.name", V_FEED, H_STR, NULL, false},
    {"threat.enrichments[].indicator.type", V_ECS_TYPE, H_STR, NULL, false},
    {"threat.enrichments[].indicator.name", V_VALUE, H_STR, NULL, false},
    {"threat.enrichments[].indicator.*", V_VALUE, H_TYPED, NULL, true},
    {"threat.enrichments[].indicator.provider", V_REC_PROVIDER, H_STR, NULL,
     true},
    {"threat.enrichments[].indicator.description", V_REC_DESCRIPTION, H_STR,
     NULL, true},
    {"threat.enrichments[].indicator.reference", V_REC_REFERENCE, H_STR, NULL,
     true},
    {"threat.enrichments[].indicator.confidence", V_REC_CONFIDENCE, H_STR, NULL,
     true},
    {"threat.enrichments[].indicator.tags", V_REC_TAGS, H_TAGS, NULL, true},
    {"threat.enrichments[].matched.atomic", V_ATOMIC, H_STR, NULL, false},
    {"threat.enrichments[].matched.field", V_NONE, H_LIT, "event.original",
     false},
    {"threat.enrichments[].matched.type", V_NONE, H_LIT, "indicator_match_rule",
     false},
    {"threat.enrichments[].matched.id", V_IOC_ID, H_STR, NULL, false},
    {"threat.enrichments[].feed.name", V_REC_FEED, H_STR, NULL, false},
    {"iocstream.line", V_LINE, H_UINT, NULL, false},
    {"iocstream.match.start", V_START, H_UINT, NULL, false},
    {"iocstream.match.end", V_END, H_UINT, NULL, false},
    {"iocstream.count", V_COUNT, H_UINT, NULL, false},
    {"iocstream.db", V_DB, H_STR, NULL, false},
    {"iocstream.truncated", V_TRUNCATED, H_BOOL, NULL, false},
    {"iocstream.line_length", V_LINE_LENGTH, H_UINT, NULL, false},
};

#define ROWS (sizeof(ecs) / sizeof(ecs[0]))
/* Every row is a leaf; inner nodes are fewer than the rows; plus the root. */
#define NODES_MAX (2 * ROWS + 1)
#define KEY_MAX 31    /* longest key segment: a msgpack fixstr */
#define OPT_MAX 8     /* optional fields in one map */
#define OPS_MAX 256   /* steps of a compiled program */
#define BLOB_MAX 4096 /* constant bytes of a compiled program */
/* Constants up to this long are copied as a whole block of this size (two
 * vector moves, no call): the blob and every reservation have this much
 * slack past the bytes counted. */
#define SMALL_COPY 32

/* One node of the tree built from ecs[]. Index 0 is the root (a map). */
struct node {
    enum how how;
    enum val val;
    const char *lit;
    bool opt;
    unsigned kid, next; /* first child, next sibling; 0: none */
    size_t key_len;
    char key[KEY_MAX + 1];
};

/* One step of a compiled program. */
enum op_kind {
    OP_CONST,   /* copy blob[off..off+len) */
    OP_VALUE,   /* (when present, if opt) blob[off..off+len), the key, then
                   the value */
    OP_MAPHDR,  /* msgpack: a map of nfixed + present optional fields */
    OP_RECORDS, /* first record of the IOC; msgpack: the list's header */
    OP_NEXT,    /* next record: back to jump, or on past the list */
};

struct op {
    unsigned char kind, how, val;
    bool opt;
    unsigned short off, len;
    unsigned short jump;        /* OP_NEXT: the step after OP_RECORDS */
    unsigned char nfixed, nopt; /* OP_MAPHDR */
    unsigned char opt_how[OPT_MAX], opt_val[OPT_MAX];
};

/* A string and its length, measured once. */
struct lstr {
    const char *s;
    size_t n;
};

/* One value of one event. A string with s NULL is absent. */
struct value {
    struct lstr str;
    uint64_t u;
    int64_t i;
    struct timespec ts;
    bool present;
};

/* A time as text, kept while events carry the same one (a scan stamps a
 * whole unit's events with one time). */
struct tstext {
    struct timespec ts;
    bool valid;
    size_t len;
    char text[48]; /* quoted RFC 3339, expanded years included */
};

struct iocs_encoder {
    enum iocs_format fmt;
    bool str_times;
    char *db_id;
    size_t db_len;
    struct iocs__jbuf buf;
    struct iocs_sink_rec *rec;
    size_t nrec, rec_cap;
    uint64_t count;
    /* The table as a tree, then as a program for fmt. */
    struct node nodes[NODES_MAX];
    unsigned nnodes;
    struct op ops[OPS_MAX];
    unsigned nops;
    unsigned char *blob; /* heap: a copy of unknown length is a memcpy
                            call, not `rep movs` (slow to start) */
    size_t blob_len;
    int build_err;
    struct lstr ecs_type[IOCS_TYPE_COUNT]; /* iocs_type_ecs() of each */
    struct lstr tname[IOCS_TYPE_COUNT];    /* iocs_type_name() of each */
    struct tstext ts[2];                   /* @timestamp, event.created */
    /* The event being written. */
    const struct iocs_event *ev;
    const struct iocs_ioc *recp; /* the record being written */
    struct value v[V_COUNT_];
    struct lstr typed[3]; /* typed_field() of the event's IOC */
    unsigned ntyped;
    size_t prog_room; /* msgpack: every step once, strings aside */
    size_t head_room, body_room, rec_room; /* msgpack: bytes the strings
                                              of the event before the
                                              records, of each record and
                                              the tail, of one record's
                                              metadata may take */
    char id[16];
};

#define LSTR(lit) ((struct lstr){(lit), sizeof(lit) - 1})

/* ---- the tree ---------------------------------------------------------- */

/* The child of node p named key[0..n) that is an inner node of kind how,
 * if it is p's last child (paths group by prefix, in order); else a new
 * node. Returns its index, or 0 when the table is too big. */
static unsigned tree_node(struct iocs_encoder *e, unsigned p, const char *key,
                          size_t n, enum how how, bool inner)
{
    struct node *nd;
    unsigned last = 0, i;

    for (i = e->nodes[p].kid; i; i = e->nodes[i].next)
        last = i;
    if (inner && last && e->nodes[last].how == how &&
        e->nodes[last].key_len == n && memcmp(e->nodes[last].key, key, n) == 0)
        return last;
    if (e->nnodes == NODES_MAX || n > KEY_MAX)
        return 0;
    i = e->nnodes++;
    nd = &e->nodes[i];
    memset(nd, 0, sizeof(*nd));
    nd->how = how;
    memcpy(nd->key, key, n);
    nd->key_len = n;
    if (last)
        e->nodes[last].next = i;
    else
        e->nodes[p].kid = i;
    return i;
}

/* Build the tree from ecs[]. Returns 0 or -EINVAL (a table too big for
 * NODES_MAX or a key over KEY_MAX: a programming error). */
static int tree_build(struct iocs_encoder *e)
{
    memset(&e->nodes[0], 0, sizeof(e->nodes[0]));
    e->nodes[0].how = H_MAP;
    e->nnodes = 1;
    for (size_t r = 0; r < ROWS; r++) {
        const char *p = ecs[r].path, *dot;
        unsigned at = 0;

        while ((dot = strchr(p, '.'))) {
            size_t n = (size_t)(dot - p);
            bool list = n > 2 && memcmp(dot - 2, "[]", 2) == 0;

            at = tree_node(e, at, p, list ? n - 2 : n, list ? H_RECORDS : H_MAP,
                           true);
            if (!at)
                return -EINVAL;
            p = dot + 1;
        }
        at = tree_node(e, at, p, strlen(p), ecs[r].how, false);
        if (!at)
            return -EINVAL;
        e->nodes[at].val = ecs[r].val;
        e->nodes[at].lit = ecs[r].lit;
        e->nodes[at].opt = ecs[r].opt;
    }
    return 0;
}

/* ---- the program ------------------------------------------------------- */

/* Append constant bytes: to the last step when it is a constant too. */
static void gen_const(struct iocs_encoder *e, const void *p, size_t n)
{
    struct op *last = e->nops ? &e->ops[e->nops - 1] : NULL;

    if (e->build_err || n == 0)
        return;
    if (e->blob_len + n > BLOB_MAX) {
        e->build_err = -EINVAL;
        return;
    }
    memcpy(e->blob + e->blob_len, p, n);
    if (last && last->kind == OP_CONST &&
        last->off + last->len == e->blob_len) {
        last->len = (unsigned short)(last->len + n);
    } else if (e->nops == OPS_MAX) {
        e->build_err = -EINVAL;
        return;
    } else {
        e->ops[e->nops++] = (struct op){.kind = OP_CONST,
                                        .off = (unsigned short)e->blob_len,
                                        .len = (unsigned short)n};
    }
    e->blob_len += n;
}

/* Append a step; its key bytes (an optional field's) are p[0..n). Returns
 * it, or NULL (build_err set). */
static struct op *gen_op(struct iocs_encoder *e, enum op_kind kind,
                         const void *p, size_t n)
{
    struct op *o;

    if (e->build_err)
        return NULL;
    if (e->nops == OPS_MAX || e->blob_len + n > BLOB_MAX) {
        e->build_err = -EINVAL;
        return NULL;
    }
    o = &e->ops[e->nops++];
    *o = (struct op){.kind = (unsigned char)kind,
                     .off = (unsigned short)e->blob_len,
                     .len = (unsigned short)n};
    if (n)
        memcpy(e->blob + e->blob_len, p, n);
    e->blob_len += n;
    return o;
}

/* Constant bytes written by a msgpack or JSON writer: into a fixed buffer,
 * then appended. */
static void gen_mp_str(struct iocs_encoder *e, const char *s, size_t n)
{
    unsigned char b[KEY_MAX + 40];
    size_t k = 0;

    if (n >= 32 && n < 256) {
        b[k++] = 0xd9;
        b[k++] = (unsigned char)n;
    } else if (n < 32) {
        b[k++] = (unsigned char)(0xa0 | n);
    } else {
        e->build_err = -EINVAL; /* no literal or key is this long */
        return;
    }
    if (k + n > sizeof(b)) {
        e->build_err = -EINVAL;
        return;
    }
    memcpy(b + k, s, n);
    gen_const(e, b, k + n);
}

static void gen_json_str(struct iocs_encoder *e, const char *s, size_t n)
{
    char b[128];
    struct iocs__jbuf j;

    iocs__jbuf_init_fixed(&j, b, sizeof(b));
    iocs__json_str(&j, s, n);
    if (j.err) {
        e->build_err = -EINVAL;
        return;
    }
    gen_const(e, b, j.len);
}

static void gen_value(struct iocs_encoder *e, const struct node *nd,
                      const void *key, size_t key_len)
{
    struct op *o = gen_op(e, OP_VALUE, key, key_len);

    if (!o)
        return;
    o->how = (unsigned char)nd->how;
    o->val = (unsigned char)nd->val;
    o->opt = nd->opt;
}

static void gen_mp_map(struct iocs_encoder *e, unsigned n);
static void gen_json_map(struct iocs_encoder *e, unsigned n);

/* The list of records of node n, whose body is a map of n's children. */
static void gen_records(struct iocs_encoder *e, unsigned n, bool json)
{
    struct op *o = gen_op(e, OP_RECORDS, NULL, 0);
    unsigned body = e->nops;

    if (!o)
        return;
    if (json)
        gen_json_map(e, n);
    else
        gen_mp_map(e, n);
    o = gen_op(e, OP_NEXT, NULL, 0);
    if (o)
        o->jump = (unsigned short)body;
}

/* msgpack: node n's children as a map. */
static void gen_mp_map(struct iocs_encoder *e, unsigned n)
{
    unsigned char nfixed = 0, nopt = 0, hdr;
    struct op *o;

    for (unsigned k = e->nodes[n].kid; k; k = e->nodes[k].next) {
        if (!e->nodes[k].opt) {
            nfixed++;
        } else if (nopt == OPT_MAX) {
            e->build_err = -EINVAL;
            return;
        } else {
            nopt++;
        }
    }
    if (nfixed + nopt >= 16) {
        e->build_err = -EINVAL; /* a fixmap holds 15 */
        return;
    }
    if (nopt == 0) {
        hdr = (unsigned char)(0x80 | nfixed);
        gen_const(e, &hdr, 1);
    } else if ((o = gen_op(e, OP_MAPHDR, NULL, 0))) {
        o->nfixed = nfixed;
        for (unsigned k = e->nodes[n].kid; k; k = e->nodes[k].next) {
            if (!e->nodes[k].opt)
                continue;
            o->opt_how[o->nopt] = (unsigned char)e->nodes[k].how;
            o->opt_val[o->nopt++] = (unsigned char)e->nodes[k].val;
        }
    }
    for (unsigned k = e->nodes[n].kid; k; k = e->nodes[k].next) {
        const struct node *nd = &e->nodes[k];
        unsigned char key[KEY_MAX + 1];

        key[0] = (unsigned char)(0xa0 | nd->key_len);
        memcpy(key + 1, nd->key, nd->key_len);
        if (nd->opt) {
            /* H_TYPED writes its own keys. */
            gen_value(e, nd, key, nd->how == H_TYPED ? 0 : nd->key_len + 1);
            continue;
        }
        gen_const(e, key, nd->key_len + 1);
        switch (nd->how) {
        case H_MAP:
            gen_mp_map(e, k);
            break;
        case H_RECORDS:
            gen_records(e, k, false);
            break;
        case H_LIT_ARRAY:
            hdr = 0x91;
            gen_const(e, &hdr, 1);
            /* fall through */
        case H_LIT:
            gen_mp_str(e, nd->lit, strlen(nd->lit));
            break;
        default:
            gen_value(e, nd, NULL, 0);
            break;
        }
    }
}

/* JSON: node n's children as an object. */
static void gen_json_map(struct iocs_encoder *e, unsigned n)
{
    bool first = true;

    gen_const(e, "{", 1);
    for (unsigned k = e->nodes[n].kid; k; k = e->nodes[k].next) {
        const struct node *nd = &e->nodes[k];
        char key[KEY_MAX + 5];
        size_t kl = 0;

        if (nd->opt && first) {
            e->build_err = -EINVAL; /* its comma would depend on others */
            return;
        }
        if (!first)
            key[kl++] = ',';
        first = false;
        if (nd->how != H_TYPED) {
            key[kl++] = '"';
            memcpy(key + kl, nd->key, nd->key_len);
            kl += nd->key_len;
            key[kl++] = '"';
            key[kl++] = ':';
        }
        if (nd->opt) {
            gen_value(e, nd, key, kl); /* the comma goes with it */
            continue;
        }
        gen_const(e, key, kl);
        switch (nd->how) {
        case H_MAP:
            gen_json_map(e, k);
            break;
        case H_RECORDS:
            gen_const(e, "[", 1);
            gen_records(e, k, true);
            gen_const(e, "]", 1);
            break;
        case H_LIT:
            gen_json_str(e, nd->lit, strlen(nd->lit));
            break;
        case H_LIT_ARRAY:
            gen_const(e, "[", 1);
            gen_json_str(e, nd->lit, strlen(nd->lit));
            gen_const(e, "]", 1);
            break;
        default:
            gen_value(e, nd, NULL, 0);
            break;
        }
    }
    gen_const(e, "}", 1);
}

/* Compile the tree for e->fmt. Returns 0 or -EINVAL (a table the program
 * cannot hold: a programming error). */
static int prog_build(struct iocs_encoder *e)
{
    e->nops = 0;
    e->blob_len = 0;
    e->build_err = 0;
    if (e->fmt == IOCS_FORMAT_MSGPACK) {
        gen_mp_map(e, 0);
    } else {
        gen_json_map(e, 0);
        gen_const(e, "\n", 1);
    }
    /* Every step once: its constant bytes, and for a value its header or
     * number (9), or a time (as text, quoted: 50). */
    e->prog_room = SMALL_COPY;
    for (unsigned i = 0; i < e->nops; i++) {
        const struct op *o = &e->ops[i];

        e->prog_room += o->len + 9;
        if (o->kind == OP_VALUE && o->how == H_TIME)
            e->prog_room += sizeof(e->ts[0].text) + 2;
    }
    return e->build_err;
}

int iocs_encoder_new(struct iocs_encoder **out,
                     const struct iocs_encoder_opts *o)
{
    struct iocs_encoder *e;
    int err;

    if (!o->db_id ||
        (o->format != IOCS_FORMAT_MSGPACK && o->format != IOCS_FORMAT_JSON))
        return -EINVAL;
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->fmt = o->format;
    e->str_times = o->str_times;
    e->db_len = strlen(o->db_id);
    e->db_id = strdup(o->db_id);
    e->rec_cap = ENC_REC_INIT;
    e->rec = calloc(e->rec_cap, sizeof(*e->rec));
    e->blob = malloc(BLOB_MAX + SMALL_COPY);
    if (!e->db_id || !e->rec || !e->blob) {
        err = -ENOMEM;
        goto fail;
    }
    err = iocs__jbuf_init(&e->buf, ENC_BUF_INIT, IOCS_ENCODE_BUF_MAX);
    if (!err)
        err = tree_build(e);
    if (!err)
        err = prog_build(e);
    if (err)
        goto fail;
    /* Constant per type: measured here, not per event. */
    for (int t = 0; t < IOCS_TYPE_COUNT; t++) {
        e->ecs_type[t].s = iocs_type_ecs((enum iocs_type)t);
        e->ecs_type[t].n = strlen(e->ecs_type[t].s);
        e->tname[t].s = iocs_type_name((enum iocs_type)t);
        e->tname[t].n = strlen(e->tname[t].s);
    }
    *out = e;
    return 0;

fail:
    iocs_encoder_free(e);
    return err;
}

void iocs_encoder_free(struct iocs_encoder *e)
{
    if (!e)
        return;
    iocs__jbuf_fini(&e->buf);
    free(e->blob);
    free(e->rec);
    free(e->db_id);
    free(e);
}

size_t iocs_encoder_len(const struct iocs_encoder *e)
{
    return e->buf.len;
}

size_t iocs_encoder_events(const struct iocs_encoder *e)
{
    return e->nrec;
}

uint64_t iocs_encoder_count(const struct iocs_encoder *e)
{
    return e->count;
}

void iocs_encoder_batch(const struct iocs_encoder *e, struct iocs_sink_batch *b)
{
    b->data = (const unsigned char *)e->buf.p;
    b->len = e->buf.len;
    b->rec = e->rec;
    b->n = e->nrec;
}

void iocs_encoder_clear(struct iocs_encoder *e)
{
    e->buf.len = 0;
    e->buf.err = 0;
    e->nrec = 0;
}

/* ---- values ------------------------------------------------------------ */

static struct lstr measure(const char *s)
{
    return (struct lstr){s, s ? strlen(s) : 0};
}

/* Decimal text of v into d; returns its length. */
static size_t u32_text(char d[16], uint32_t v)
{
    char t[10];
    size_t n = 0, i = 0;

    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        d[i++] = t[--n];
    d[i] = '\0';
    return i;
}

/* ECS threat.indicator.confidence is a keyword; feeds give 0..100. Only a
 * stated, non-zero confidence is written (0 is also "not set" for IOCs
 * built without a feed). */
static const char *confidence_word(int c)
{
    if (c <= 0)
        return NULL;
    return c >= 70 ? "High" : c >= 30 ? "Medium" : "Low";
}

/* The next tag of a comma-separated list at *p; false at the end. */
static bool next_tag(const char **p, const char **tag, size_t *len)
{
    const char *s = *p, *c;

    if (!s)
        return false;
    while (*s == ',')
        s++;
    if (!*s)
        return false;
    c = strchr(s, ',');
    *tag = s;
    *len = c ? (size_t)(c - s) : strlen(s);
    *p = s + *len;
    return true;
}

static size_t count_tags(const char *tags)
{
    const char *t;
    size_t n = 0, len;

    while (next_tag(&tags, &t, &len))
        n++;
    return n;
}

/* Records of an IOC: itself, then its `also` chain. */
static size_t count_records(const struct iocs_ioc *ioc)
{
    size_t n = 0;

    for (; ioc; ioc = ioc->also)
        n++;
    return n;
}

/* The typed ECS field of an indicator: up to three keys ("file", "hash",
 * "md5") before the value. Returns how many; 0 for strings and regex
 * rules, whose "name" says it all. */
static unsigned typed_field(const struct iocs_encoder *e,
                            const struct iocs_ioc *ioc, struct lstr k[3])
{
    switch (ioc->type) {
    case IOCS_IPV4:
    case IOCS_IPV6:
    case IOCS_CIDR4:
    case IOCS_CIDR6:
        k[0] = LSTR("ip");
        return 1;
    case IOCS_DOMAIN:
        k[0] = LSTR("url");
        k[1] = LSTR("domain");
        return 2;
    case IOCS_URL:
        k[0] = LSTR("url");
        k[1] = LSTR("full");
        return 2;
    case IOCS_EMAIL:
        k[0] = LSTR("email");
        k[1] = LSTR("address");
        return 2;
    case IOCS_MD5:
    case IOCS_SHA1:
    case IOCS_SHA256:
    case IOCS_SHA512:
        k[0] = LSTR("file");
        k[1] = LSTR("hash");
        k[2] = e->tname[ioc->type];
        return 3;
    case IOCS_FILENAME:
        k[0] = LSTR("file");
        k[1] = memchr(ioc->value, '/', ioc->len) ||
                       memchr(ioc->value, '\\', ioc->len)
                   ? LSTR("path")
                   : LSTR("name");
        return 2;
    default:
        return 0;
    }
}

static void set_str(struct value *v, const char *s, size_t n)
{
    v->str = (struct lstr){s, n};
    v->present = s != NULL;
}

static void set_u(struct value *v, uint64_t u)
{
    v->u = u;
    v->present = true;
}

/* The values that are the same for every record of the event. */
static void event_values(struct iocs_encoder *e, const struct iocs_event *ev)
{
    const struct iocs_ioc *ioc = ev->ioc;
    struct value *v = e->v;
    struct lstr type = (unsigned)ioc->type < IOCS_TYPE_COUNT
                           ? e->ecs_type[ioc->type]
                           : measure(iocs_type_ecs(ioc->type));

    e->ev = ev;
    v[V_NONE].present = true;
    v[V_TIMESTAMP].ts = ev->timestamp;
    v[V_TIMESTAMP].present = true;
    v[V_CREATED].ts = ev->created;
    v[V_CREATED].present = true;
    v[V_SEVERITY].i = ioc->severity;
    v[V_SEVERITY].present = true;
    set_str(&v[V_ORIGINAL], (const char *)ev->original, ev->original_len);
    v[V_ORIGINAL].present = true; /* an empty line may have a NULL pointer */
    set_str(&v[V_PATH], ev->path,
            ev->path_len ? ev->path_len : strlen(ev->path));
    set_u(&v[V_OFFSET], ev->offset);
    set_str(&v[V_FEED], ioc->feed, strlen(ioc->feed));
    set_str(&v[V_ECS_TYPE], type.s, type.n);
    set_str(&v[V_VALUE], ioc->value, ioc->len);
    set_str(&v[V_ATOMIC], (const char *)ev->atomic, ev->atomic_len);
    v[V_ATOMIC].present = true;
    set_str(&v[V_IOC_ID], e->id, u32_text(e->id, ev->ioc_id));
    set_u(&v[V_LINE], ev->line);
    set_u(&v[V_START], ev->start);
    set_u(&v[V_END], ev->end);
    set_u(&v[V_COUNT], ev->count);
    set_str(&v[V_DB], e->db_id, e->db_len);
    set_u(&v[V_TRUNCATED], ev->original_len < ev->line_len);
    set_u(&v[V_LINE_LENGTH], ev->line_len);
    e->ntyped = typed_field(e, ioc, e->typed);
    /* A string is its bytes and a header of at most 5. */
    e->head_room = v[V_ORIGINAL].str.n + v[V_PATH].str.n + v[V_FEED].str.n +
                   type.n + e->db_len + 32;
    /* What each record repeats, and the tail after the records. */
    e->body_room = 3 * (ioc->len + 5) + ev->atomic_len + e->db_len +
                   3 * (KEY_MAX + 6) + 64;
}

/* The values of one record of the IOC (rec is the IOC or one of its
 * `also` chain). */
static void record_values(struct iocs_encoder *e, const struct iocs_ioc *rec)
{
    const struct iocs_ioc *ioc = e->ev->ioc;
    struct value *v = e->v;
    struct lstr feed = measure(rec->feed ? rec->feed : ioc->feed);
    const char *conf = confidence_word(rec->confidence);

    set_str(&v[V_REC_PROVIDER], rec->provider, measure(rec->provider).n);
    set_str(&v[V_REC_DESCRIPTION], rec->description,
            measure(rec->description).n);
    set_str(&v[V_REC_REFERENCE], rec->reference, measure(rec->reference).n);
    set_str(&v[V_REC_CONFIDENCE], conf, measure(conf).n);
    set_str(&v[V_REC_TAGS], rec->tags, 0);
    v[V_REC_TAGS].u = count_tags(rec->tags);
    v[V_REC_TAGS].present = v[V_REC_TAGS].u > 0;
    set_str(&v[V_REC_FEED], feed.s, feed.n);
    /* Tags: the bytes, and a header per tag (at most one per byte). */
    e->rec_room = v[V_REC_PROVIDER].str.n + v[V_REC_DESCRIPTION].str.n +
                  v[V_REC_REFERENCE].str.n + v[V_REC_CONFIDENCE].str.n +
                  6 * measure(rec->tags).n + feed.n + 64;
}

/* Whether an optional field is written for this event. */
static inline bool field_present(const struct iocs_encoder *e, unsigned how,
                                 unsigned val)
{
    return how == H_TYPED ? e->ntyped > 0 : e->v[val].present;
}

/* A struct timespec as seconds and nanoseconds in [0, 1e9): an
 * unnormalised timespec is folded into tv_sec first. */
static void norm_ts(struct timespec ts, int64_t *sec, uint32_t *nsec)
{
    int64_t s = (int64_t)ts.tv_sec + ts.tv_nsec / NSEC_PER_SEC;
    long ns = ts.tv_nsec % NSEC_PER_SEC;

    if (ns < 0) {
        ns += NSEC_PER_SEC;
        s--;
    }
    *sec = s;
    *nsec = (uint32_t)ns;
}

/* ts as quoted RFC 3339 text, from the cache c when ts is the one it
 * holds. Returns NULL when the text does not fit (never for real times);
 * the caller then writes it directly. */
static const struct tstext *time_text(struct tstext *c, struct timespec ts)
{
    if (!c->valid || c->ts.tv_sec != ts.tv_sec || c->ts.tv_nsec != ts.tv_nsec) {
        struct iocs__jbuf f;
        int64_t sec;
        uint32_t nsec;

        norm_ts(ts, &sec, &nsec);
        iocs__jbuf_init_fixed(&f, c->text, sizeof(c->text));
        iocs__json_time(&f, sec, nsec);
        c->valid = !f.err;
        if (!c->valid)
            return NULL;
        c->ts = ts;
        c->len = f.len;
    }
    return c;
}

/* ---- msgpack ----------------------------------------------------------- */

/*/*
 * msgpack, written directly: msgpack-c's packer calls its write callback
 * for every header and every body; here each leaf makes room for itself
 * once (one compare in the common case) and its bytes are stored with no
 * call per piece. The encodings are msgpack's smallest, as msgpack-c
 * chooses them; test_encode reads the result back with msgpack-c's unpacker.
 */
struct mp {
    struct iocs__jbuf *b;
    unsigned char *p;
};

/* Make room for n more bytes at m->p. Returns 0 or the buffer's error. */
static inline int mp_room(struct mp *m, size_t n)
{
    struct iocs__jbuf *b = m->b;

    b->len = (size_t)(m->p - (unsigned char *)b->p);
    if (n <= b->cap - b->len)
        return 0;
    if (iocs__jbuf_reserve(b, n))
        return b->err;
    m->p = (unsigned char *)b->p + b->len;
    return 0;
}

static inline void mp_byte(struct mp *m, unsigned char c)
{
    *m->p++ = c;
}

static inline void mp_be(struct mp *m, uint64_t v, unsigned bytes)
{
    for (unsigned i = bytes; i-- > 0;)
        *m->p++ = (unsigned char)(v >> (8 * i));
}

static inline void mp_raw(struct mp *m, const void *s, size_t n)
{
    if (n)
        memcpy(m->p, s, n);
    m->p += n;
}

static inline void mp_map(struct mp *m, size_t n)
{
    if (n < 16) {
        mp_byte(m, (unsigned char)(0x80 | n));
    } else if (n < 65536) {
        mp_byte(m, 0xde);
        mp_be(m, n, 2);
    } else {
        mp_byte(m, 0xdf);
        mp_be(m, n, 4);
    }
}

static inline void mp_array(struct mp *m, size_t n)
{
    if (n < 16) {
        mp_byte(m, (unsigned char)(0x90 | n));
    } else if (n < 65536) {
        mp_byte(m, 0xdc);
        mp_be(m, n, 2);
    } else {
        mp_byte(m, 0xdd);
        mp_be(m, n, 4);
    }
}

static inline void mp_str(struct mp *m, const void *s, size_t n)
{
    if (n < 32) {
        mp_byte(m, (unsigned char)(0xa0 | n));
    } else if (n < 256) {
        mp_byte(m, 0xd9);
        mp_byte(m, (unsigned char)n);
    } else if (n < 65536) {
        mp_byte(m, 0xda);
        mp_be(m, n, 2);
    } else {
        mp_byte(m, 0xdb);
        mp_be(m, n, 4);
    }
    mp_raw(m, s, n);
}

static inline void mp_uint(struct mp *m, uint64_t v)
{
    if (v < 128) {
        mp_byte(m, (unsigned char)v);
    } else if (v < 256) {
        mp_byte(m, 0xcc);
        mp_byte(m, (unsigned char)v);
    } else if (v < 65536) {
        mp_byte(m, 0xcd);
        mp_be(m, v, 2);
    } else if (v <= UINT32_MAX) {
        mp_byte(m, 0xce);
        mp_be(m, v, 4);
    } else {
        mp_byte(m, 0xcf);
        mp_be(m, v, 8);
    }
}

static inline void mp_int(struct mp *m, int64_t v)
{
    if (v >= 0) {
        mp_uint(m, (uint64_t)v);
    } else if (v >= -32) {
        mp_byte(m, (unsigned char)(0xe0 | (v + 32)));
    } else if (v >= INT8_MIN) {
        mp_byte(m, 0xd0);
        mp_byte(m, (unsigned char)(int8_t)v);
    } else if (v >= INT16_MIN) {
        mp_byte(m, 0xd1);
        mp_be(m, (uint16_t)(int16_t)v, 2);
    } else if (v >= INT32_MIN) {
        mp_byte(m, 0xd2);
        mp_be(m, (uint32_t)(int32_t)v, 4);
    } else {
        mp_byte(m, 0xd3);
        mp_be(m, (uint64_t)v, 8);
    }
}

/* The timestamp extension (type -1) in its 32, 64 or 96-bit form. */
static void mp_ts(struct mp *m, struct timespec ts)
{
    int64_t s;
    uint32_t ns;
    uint64_t sec;

    norm_ts(ts, &s, &ns);
    sec = (uint64_t)s;
    if (s >= 0 && (sec >> 34) == 0) {
        if (ns == 0 && (sec >> 32) == 0) {
            mp_byte(m, 0xd6);
            mp_byte(m, 0xff);
            mp_be(m, sec, 4);
        } else {
            mp_byte(m, 0xd7);
            mp_byte(m, 0xff);
            mp_be(m, (uint64_t)ns << 34 | sec, 8);
        }
    } else {
        mp_byte(m, 0xc7);
        mp_byte(m, 12);
        mp_byte(m, 0xff);
        mp_be(m, ns, 4);
        mp_be(m, sec, 8);
    }
}

/* A time as RFC 3339 text in a msgpack str (str_times). */
static void mp_ts_text(struct mp *m, struct tstext *c, struct timespec ts)
{
    const struct tstext *t = time_text(c, ts);

    if (t) {
        mp_str(m, t->text + 1, t->len - 2); /* without the quotes */
    } else {
        mp_str(m, "", 0); /* unreachable: every int64 second fits */
    }
}
/* One value step: the key (an optional field's), then the value. */
static void mp_value(struct iocs_encoder *e, struct mp *m, const struct op *o)
{
    const struct value *v = &e->v[o->val];
    const char *tags, *tag;
    size_t len;

    mp_raw(m, e->blob + o->off, o->len);
    switch (o->how) {
    case H_STR:
        mp_str(m, v->str.s, v->str.n);
        break;
    case H_TIME:
        if (e->str_times)
            mp_ts_text(m, &e->ts[o->val == V_CREATED], v->ts);
        else
            mp_ts(m, v->ts);
        break;
    case H_UINT:
        mp_uint(m, v->u);
        break;
    case H_INT:
        mp_int(m, v->i);
        break;
    case H_BOOL:
        mp_byte(m, v->u ? 0xc3 : 0xc2);
        break;
    case H_TAGS:
        mp_array(m, v->u);
        tags = v->str.s;
        while (next_tag(&tags, &tag, &len))
            mp_str(m, tag, len);
        break;
    case H_TYPED:
        for (unsigned i = 0; i < e->ntyped; i++) {
            if (i)
                mp_map(m, 1);
            mp_str(m, e->typed[i].s, e->typed[i].n);
        }
        mp_str(m, v->str.s, v->str.n);
        break;
    default:
        break;
    }
}

/* Constant bytes: a short run as one fixed-size block (see SMALL_COPY). */
static inline void mp_const(struct mp *m, const unsigned char *p, size_t n)
{
    memcpy(m->p, p, n <= SMALL_COPY ? SMALL_COPY : n);
    m->p += n;
}

/*
 * Run the program as msgpack after what is buffered. Room is made up front
 * for everything up to the records, then for each record and what follows
 * it (prog_room covers every step once, head_room and rec_room the
 * strings), so the steps themselves check nothing. Returns 0 or the
 * buffer's error.
 */
static int run_mp(struct iocs_encoder *e)
{
    struct mp m = {&e->buf, (unsigned char *)e->buf.p + e->buf.len};
    size_t room = e->prog_room + e->body_room;
    int err = mp_room(&m, room + e->head_room);

    for (unsigned pc = 0; pc < e->nops && !err; pc++) {
        const struct op *o = &e->ops[pc];
        unsigned n;

        switch (o->kind) {
        case OP_CONST:
            mp_const(&m, e->blob + o->off, o->len);
            break;
        case OP_MAPHDR:
            n = o->nfixed;
            for (unsigned i = 0; i < o->nopt; i++)
                n += field_present(e, o->opt_how[i], o->opt_val[i]);
            mp_map(&m, n);
            break;
        case OP_RECORDS:
            e->recp = e->ev->ioc;
            record_values(e, e->recp);
            err = mp_room(&m, room + e->rec_room);
            if (!err)
                mp_array(&m, count_records(e->ev->ioc));
            break;
        case OP_NEXT:
            e->recp = e->recp->also;
            if (e->recp) {
                record_values(e, e->recp);
                err = mp_room(&m, room + e->rec_room);
                pc = o->jump - 1u; /* the loop's pc++ lands on jump */
            }
            break;
        default:
            if (!o->opt || field_present(e, o->how, o->val))
                mp_value(e, &m, o);
            break;
        }
    }
    if (!err)
        e->buf.len = (size_t)(m.p - (unsigned char *)e->buf.p);
    return err;
}

/* ---- JSON -------------------------------------------------------------- */

#define LIT(b, s) IOCS__JBUF_LIT(b, s)

/* Append ts as JSON text, from the cache slot c. */
static void json_ts(struct iocs__jbuf *b, struct tstext *c, struct timespec ts)
{
    const struct tstext *t = time_text(c, ts);

    if (t) {
        iocs__jbuf_put(b, t->text, t->len);
    } else {
        int64_t sec;
        uint32_t nsec;

        norm_ts(ts, &sec, &nsec);
        iocs__json_time(b, sec, nsec); /* never kept */
    }
}

/* One value step: the key (an optional field's, with its comma), then the
 * value. Errors stay in b->err. */
static void json_value(struct iocs_encoder *e, struct iocs__jbuf *b,
                       const struct op *o)
{
    const struct value *v = &e->v[o->val];
    const char *tags, *tag;
    bool first = true;
    size_t len;

    iocs__jbuf_put(b, e->blob + o->off, o->len);
    switch (o->how) {
    case H_STR:
        iocs__json_str(b, v->str.s, v->str.n);
        break;
    case H_TIME:
        json_ts(b, &e->ts[o->val == V_CREATED], v->ts);
        break;
    case H_UINT:
        iocs__json_u64(b, v->u);
        break;
    case H_INT:
        iocs__json_i64(b, v->i);
        break;
    case H_BOOL:
        if (v->u)
            LIT(b, "true");
        else
            LIT(b, "false");
        break;
    case H_TAGS:
        LIT(b, "[");
        tags = v->str.s;
        while (next_tag(&tags, &tag, &len)) {
            if (!first)
                LIT(b, ",");
            first = false;
            iocs__json_str(b, tag, len);
        }
        LIT(b, "]");
        break;
    case H_TYPED:
        for (unsigned i = 0; i < e->ntyped; i++) {
            if (i)
                LIT(b, "{");
            iocs__json_str(b, e->typed[i].s, e->typed[i].n);
            LIT(b, ":");
        }
        iocs__json_str(b, v->str.s, v->str.n);
        for (unsigned i = 1; i < e->ntyped; i++)
            LIT(b, "}");
        break;
    default:
        break;
    }
}

/* Run the program as JSON after what is buffered. Errors stay in
 * e->buf.err. */
static void run_json(struct iocs_encoder *e)
{
    struct iocs__jbuf *b = &e->buf;

    for (unsigned pc = 0; pc < e->nops; pc++) {
        const struct op *o = &e->ops[pc];

        switch (o->kind) {
        case OP_CONST:
            if (o->len <= SMALL_COPY && b->cap - b->len >= SMALL_COPY &&
                !b->err) {
                /* As mp_const(): one fixed-size block, no call. */
                memcpy(b->p + b->len, e->blob + o->off, SMALL_COPY);
                b->len += o->len;
            } else {
                iocs__jbuf_put(b, e->blob + o->off, o->len);
            }
            break;
        case OP_RECORDS:
            e->recp = e->ev->ioc;
            record_values(e, e->recp);
            break;
        case OP_NEXT:
            e->recp = e->recp->also;
            if (e->recp) {
                record_values(e, e->recp);
                LIT(b, ",");
                pc = o->jump - 1u; /* the loop's pc++ lands on jump */
            }
            break;
        case OP_VALUE:
            if (!o->opt || field_present(e, o->how, o->val))
                json_value(e, b, o);
            break;
        default:
            break; /* OP_MAPHDR: msgpack only */
        }
    }
}

#undef LIT

/* ---- events ------------------------------------------------------------ */

/* Keep where the event just written ends. Returns 0 or -ENOMEM. */
static int add_rec(struct iocs_encoder *e, const struct iocs_event *ev)
{
    if (e->nrec == e->rec_cap) {
        size_t cap = e->rec_cap * 2;
        struct iocs_sink_rec *r;

        if (cap > ENC_REC_MAX)
            return -ENOMEM;
        r = realloc(e->rec, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        e->rec = r;
        e->rec_cap = cap;
    }
    e->rec[e->nrec++] = (struct iocs_sink_rec){
        .end = e->buf.len, .timestamp = ev->timestamp, .id = NULL};
    return 0;
}

int iocs_encoder_event(struct iocs_encoder *e, const struct iocs_event *ev)
{
    size_t mark = e->buf.len;
    int err;

    if (!ev || !ev->ioc || !ev->ioc->value || !ev->ioc->feed || !ev->path ||
        (!ev->original && ev->original_len) || (!ev->atomic && ev->atomic_len))
        return -EINVAL;
    event_values(e, ev);
    if (e->fmt == IOCS_FORMAT_MSGPACK) {
        err = run_mp(e);
    } else {
        run_json(e);
        err = e->buf.err;
    }
    if (!err)
        err = add_rec(e, ev);
    if (err) {
        e->buf.len = mark;
        e->buf.err = 0;
        /* Past the cap is -ENOBUFS inside the buffer; callers see -ENOMEM
         * as encode.h promises. */
        return err == -ENOBUFS ? -ENOMEM : err;
    }
    e->count++;
    return 0;
}
