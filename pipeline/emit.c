/*
 * emit.c - hits -> ECS events -> bytes on the output fd (see emit.h).
 *
 * One buffer (a struct iocs__jbuf) holds the encoded events of both
 * formats: the msgpack writer below stores into room reserved for the
 * whole event, the JSON writer of json.c writes into it directly. It starts at
 * EMIT_BUF_INIT bytes, which holds the flush threshold plus a few ordinary
 * events, so it only grows for an event that is itself huge, and never past
 * IOCS_EMIT_BUF_MAX. Once len passes EMIT_FLUSH_AT the whole buffer goes out in
 * one write(2) loop. An event that fails to encode is rolled back, so the
 * buffer only ever holds whole events.
 */
#include "pipeline/emit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "pipeline/json.h"

/* Write out once this much is buffered: big writes, few syscalls. */
#define EMIT_FLUSH_AT (256u << 10)
#define EMIT_BUF_INIT (EMIT_FLUSH_AT + (64u << 10))

#define NSEC_PER_SEC 1000000000L

/* A string and its length, measured once. */
struct lstr {
    const char *s;
    size_t n;
};

/* A timestamp as JSON text, kept while events carry the same one. */
struct tstext {
    struct timespec ts;
    bool valid;
    size_t len;
    char text[48]; /* quoted RFC 3339, expanded years included */
};

struct iocs_emitter {
    int fd;
    enum iocs_format fmt;
    char *db_id;
    size_t db_len;
    struct iocs__jbuf buf;
    uint64_t count;
    struct lstr ecs[IOCS_TYPE_COUNT];   /* iocs_type_ecs() of each type */
    struct lstr tname[IOCS_TYPE_COUNT]; /* iocs_type_name() of each type */
    struct tstext ts[2];                /* @timestamp, event.created */
};

int iocs_emitter_new(struct iocs_emitter **out, int fd, enum iocs_format fmt,
                     const char *db_id)
{
    struct iocs_emitter *e;
    int err;

    if (!db_id || (fmt != IOCS_FORMAT_MSGPACK && fmt != IOCS_FORMAT_JSON))
        return -EINVAL;
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->fd = fd;
    e->fmt = fmt;
    e->db_len = strlen(db_id);
    e->db_id = strdup(db_id);
    if (!e->db_id) {
        err = -ENOMEM;
        goto fail;
    }
    err = iocs__jbuf_init(&e->buf, EMIT_BUF_INIT, IOCS_EMIT_BUF_MAX);
    if (err)
        goto fail;
    /* Constant per type: measured here, not per event. */
    for (int t = 0; t < IOCS_TYPE_COUNT; t++) {
        e->ecs[t].s = iocs_type_ecs((enum iocs_type)t);
        e->ecs[t].n = strlen(e->ecs[t].s);
        e->tname[t].s = iocs_type_name((enum iocs_type)t);
        e->tname[t].n = strlen(e->tname[t].s);
    }
    *out = e;
    return 0;

fail:
    iocs_emitter_free(e);
    return err;
}

void iocs_emitter_free(struct iocs_emitter *e)
{
    if (!e)
        return;
    if (e->buf.p)
        (void)iocs_emitter_flush(e);
    iocs__jbuf_fini(&e->buf);
    free(e->db_id);
    free(e);
}

static int write_out(struct iocs_emitter *e, int fd)
{
    size_t off = 0;
    int err = 0;

    while (off < e->buf.len) {
        ssize_t n = write(fd, e->buf.p + off, e->buf.len - off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            break;
        }
        off += (size_t)n;
    }
    /* Keep what did not go out, so a later flush resumes where this one
     * stopped and no byte is written twice. */
    memmove(e->buf.p, e->buf.p + off, e->buf.len - off);
    e->buf.len -= off;
    return err;
}

int iocs_emitter_flush(struct iocs_emitter *e)
{
    if (e->fd < 0)
        return 0; /* buffer mode: iocs_emitter_drain() writes */
    return write_out(e, e->fd);
}

int iocs_emitter_drain(struct iocs_emitter *e, int fd)
{
    return write_out(e, fd);
}

uint64_t iocs_emitter_count(const struct iocs_emitter *e)
{
    return e->count;
}

/* A struct timespec as a msgpack timestamp: tv_nsec must be in
 * [0, 1e9), so an unnormalised timespec is folded into tv_sec first. */
static msgpack_timestamp to_mts(struct timespec ts)
{
    int64_t sec = (int64_t)ts.tv_sec + ts.tv_nsec / NSEC_PER_SEC;
    long nsec = ts.tv_nsec % NSEC_PER_SEC;

    if (nsec < 0) {
        nsec += NSEC_PER_SEC;
        sec--;
    }
    return (msgpack_timestamp){.tv_sec = sec, .tv_nsec = (uint32_t)nsec};
}

/* The typed ECS field of an indicator: "ip", "url", "email" or "file", its
 * one inner key ("domain", ...), and for hashes the key inside "hash". A
 * missing key has s NULL. */
struct typed {
    struct lstr field;
    struct lstr key;
    struct lstr hash;
};

#define LSTR(lit) ((struct lstr){(lit), sizeof(lit) - 1})

static bool typed_field(const struct iocs_emitter *e,
                        const struct iocs_ioc *ioc, struct typed *t)
{
    memset(t, 0, sizeof(*t));
    switch (ioc->type) {
    case IOCS_IPV4:
    case IOCS_IPV6:
    case IOCS_CIDR4:
    case IOCS_CIDR6:
        t->field = LSTR("ip");
        return true;
    case IOCS_DOMAIN:
        t->field = LSTR("url");
        t->key = LSTR("domain");
        return true;
    case IOCS_URL:
        t->field = LSTR("url");
        t->key = LSTR("full");
        return true;
    case IOCS_EMAIL:
        t->field = LSTR("email");
        t->key = LSTR("address");
        return true;
    case IOCS_MD5:
    case IOCS_SHA1:
    case IOCS_SHA256:
    case IOCS_SHA512:
        t->field = LSTR("file");
        t->key = LSTR("hash");
        t->hash = e->tname[ioc->type];
        return true;
    case IOCS_FILENAME:
        t->field = LSTR("file");
        t->key = memchr(ioc->value, '/', ioc->len) ||
                         memchr(ioc->value, '\\', ioc->len)
                     ? LSTR("path")
                     : LSTR("name");
        return true;
    default:
        return false; /* strings and regex rules: "name" says it all */
    }
}

/* The ECS type name of ioc. */
static struct lstr ecs_type(const struct iocs_emitter *e,
                            const struct iocs_ioc *ioc)
{
    if ((unsigned)ioc->type < IOCS_TYPE_COUNT)
        return e->ecs[ioc->type];
    return (struct lstr){iocs_type_ecs(ioc->type),
                         strlen(iocs_type_ecs(ioc->type))};
}

/* The strings of one record of an IOC, each measured once per event. */
struct rec_strs {
    struct lstr provider, description, reference, feed, tags;
};

static struct lstr measure(const char *s)
{
    return (struct lstr){s, s ? strlen(s) : 0};
}

static void rec_strs(struct rec_strs *r, const struct iocs_ioc *ioc,
                     const struct iocs_ioc *rec)
{
    r->provider = measure(rec->provider);
    r->description = measure(rec->description);
    r->reference = measure(rec->reference);
    r->feed = measure(rec->feed ? rec->feed : ioc->feed);
    r->tags = measure(rec->tags);
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

/*
 * msgpack, written directly. msgpack-c's packer calls its write callback
 * for every header and every body (about 120 calls per event); here the
 * event's size is bounded first, room for it is made once, and the bytes
 * are stored with no call and no check per piece. The encodings are
 * msgpack's smallest, as msgpack-c chooses them; test_emit reads the
 * result back with msgpack-c's unpacker.
 */
struct mp {
    unsigned char *p;
};

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
    memcpy(m->p, s, n);
    m->p += n;
}

/* Maps and arrays here never hold 16 entries, but for tags. */
static inline void mp_map(struct mp *m, unsigned n)
{
    mp_byte(m, (unsigned char)(0x80 | n));
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

/* A string literal: its length is a constant, so is the header. */
#define MP_LIT(m, lit) mp_str(m, lit, sizeof(lit) - 1)

static inline void mp_cstr(struct mp *m, const char *s)
{
    mp_str(m, s, strlen(s));
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
static void mp_ts(struct mp *m, msgpack_timestamp t)
{
    uint64_t sec = (uint64_t)t.tv_sec;

    if (t.tv_sec >= 0 && (sec >> 34) == 0) {
        if (t.tv_nsec == 0 && (sec >> 32) == 0) {
            mp_byte(m, 0xd6);
            mp_byte(m, 0xff);
            mp_be(m, sec, 4);
        } else {
            mp_byte(m, 0xd7);
            mp_byte(m, 0xff);
            mp_be(m, (uint64_t)t.tv_nsec << 34 | sec, 8);
        }
    } else {
        mp_byte(m, 0xc7);
        mp_byte(m, 12);
        mp_byte(m, 0xff);
        mp_be(m, t.tv_nsec, 4);
        mp_be(m, sec, 8);
    }
}

/* Room a string may take, header included. */
static size_t str_room(struct lstr s)
{
    return s.s ? s.n + 5 : 0;
}

/* Make room for n more bytes after what m wrote so far, and point m at the
 * end again (the buffer may have moved). The bytes written so far count as
 * buffered: encode() takes them back if the event fails. Returns 0 or the
 * buffer's error. */
static int mp_room(struct iocs_emitter *e, struct mp *m, size_t n)
{
    int err;

    e->buf.len = (size_t)(m->p - (unsigned char *)e->buf.p);
    err = iocs__jbuf_reserve(&e->buf, n);
    m->p = (unsigned char *)e->buf.p + e->buf.len;
    return err;
}

/* An upper bound of the bytes one enrichment takes (the event's tail, the
 * "iocstream" map, included: see pack_event()). */
static size_t rec_room(const struct iocs_emitter *e,
                       const struct iocs_event *ev, const struct rec_strs *r)
{
    return 512 + 2 * (ev->ioc->len + 5) + ev->atomic_len + e->db_len +
           str_room(r->provider) + str_room(r->description) +
           str_room(r->reference) + str_room(r->feed) + 2 * str_room(r->tags);
}

/* One record of an IOC: rec's metadata (its strings measured in r), with
 * the value and type of ioc (the head of the chain). */
static void pack_indicator(const struct iocs_emitter *e, struct mp *m,
                           const struct iocs_ioc *ioc, const struct rec_strs *r,
                           int confidence, unsigned port)
{
    struct typed t;
    bool has_typed = typed_field(e, ioc, &t);
    struct lstr type = ecs_type(e, ioc);
    const char *conf = confidence_word(confidence), *tags = r->tags.s, *tag;
    size_t ntags = count_tags(r->tags.s), len;

    mp_map(m, 2 + has_typed + !!port + !!r->provider.s + !!r->description.s +
                  !!r->reference.s + !!conf + !!ntags);
    MP_LIT(m, "type");
    mp_str(m, type.s, type.n);
    MP_LIT(m, "name");
    mp_str(m, ioc->value, ioc->len);
    if (has_typed) {
        mp_str(m, t.field.s, t.field.n);
        if (t.key.s) {
            mp_map(m, 1);
            mp_str(m, t.key.s, t.key.n);
        }
        if (t.hash.s) {
            mp_map(m, 1);
            mp_str(m, t.hash.s, t.hash.n);
        }
        mp_str(m, ioc->value, ioc->len);
    }
    if (port) { /* "address:port" feeds: threat.indicator.port */
        MP_LIT(m, "port");
        mp_uint(m, port);
    }
    if (r->provider.s) {
        MP_LIT(m, "provider");
        mp_str(m, r->provider.s, r->provider.n);
    }
    if (r->description.s) {
        MP_LIT(m, "description");
        mp_str(m, r->description.s, r->description.n);
    }
    if (r->reference.s) {
        MP_LIT(m, "reference");
        mp_str(m, r->reference.s, r->reference.n);
    }
    if (conf) {
        MP_LIT(m, "confidence");
        mp_cstr(m, conf);
    }
    if (ntags) {
        MP_LIT(m, "tags");
        mp_array(m, ntags);
        while (next_tag(&tags, &tag, &len))
            mp_str(m, tag, len);
    }
}

/*
 * The event map of emit.h, key for key. Room is made in two steps, so that
 * every string is measured once: the head (everything before the
 * enrichments) with its own strings, then each enrichment once its record's
 * strings are measured, with room for the tail in each. Returns 0 or the
 * buffer's error (no room within IOCS_EMIT_BUF_MAX).
 */
static int pack_event(struct iocs_emitter *e, const struct iocs_event *ev)
{
    const struct iocs_ioc *ioc = ev->ioc;
    struct lstr path = {ev->path,
                        ev->path_len ? ev->path_len : strlen(ev->path)},
                feed = measure(ioc->feed);
    char id[16];
    size_t idlen = u32_text(id, ev->ioc_id);
    struct mp m = {(unsigned char *)e->buf.p + e->buf.len};
    int err;

    err = mp_room(e, &m, 384 + ev->original_len + path.n + feed.n + e->db_len);
    if (err)
        return err;

    mp_map(&m, 5);
    MP_LIT(&m, "@timestamp");
    mp_ts(&m, to_mts(ev->timestamp));

    MP_LIT(&m, "event");
    mp_map(&m, 6);
    MP_LIT(&m, "kind");
    MP_LIT(&m, "alert");
    MP_LIT(&m, "category");
    mp_array(&m, 1);
    MP_LIT(&m, "threat");
    MP_LIT(&m, "type");
    mp_array(&m, 1);
    MP_LIT(&m, "indicator");
    MP_LIT(&m, "created");
    mp_ts(&m, to_mts(ev->created));
    MP_LIT(&m, "severity");
    mp_int(&m, ioc->severity);
    MP_LIT(&m, "original");
    mp_str(&m, ev->original, ev->original_len);

    MP_LIT(&m, "log");
    mp_map(&m, 2);
    MP_LIT(&m, "file");
    mp_map(&m, 1);
    MP_LIT(&m, "path");
    mp_str(&m, path.s, path.n);
    MP_LIT(&m, "offset");
    mp_uint(&m, ev->offset);

    MP_LIT(&m, "threat");
    mp_map(&m, 2);
    MP_LIT(&m, "feed");
    mp_map(&m, 1);
    MP_LIT(&m, "name");
    mp_str(&m, feed.s, feed.n);
    MP_LIT(&m, "enrichments");
    mp_array(&m, count_records(ioc));
    for (const struct iocs_ioc *rec = ioc; rec; rec = rec->also) {
        struct rec_strs r;

        rec_strs(&r, ioc, rec);
        err = mp_room(e, &m,
                      rec_room(e, ev, &r) + str_room(measure(rec->rule_id)));
        if (err)
            return err;
        mp_map(&m, 3);
        MP_LIT(&m, "indicator");
        pack_indicator(e, &m, ioc, &r, rec->confidence, rec->port);
        MP_LIT(&m, "matched");
        mp_map(&m, 4);
        MP_LIT(&m, "atomic");
        mp_str(&m, ev->atomic, ev->atomic_len);
        MP_LIT(&m, "field");
        MP_LIT(&m, "event.original");
        MP_LIT(&m, "type");
        MP_LIT(&m, "indicator_match_rule");
        MP_LIT(&m, "id");
        if (rec->rule_id) /* a rule's own id, not its index */
            mp_cstr(&m, rec->rule_id);
        else
            mp_str(&m, id, idlen);
        MP_LIT(&m, "feed");
        mp_map(&m, 1);
        MP_LIT(&m, "name");
        mp_str(&m, r.feed.s, r.feed.n);
    }

    /* Within the room of the last enrichment (rec_room()), or of the head
     * when there is none. */
    MP_LIT(&m, "iocstream");
    mp_map(&m, 6);
    MP_LIT(&m, "line");
    mp_uint(&m, ev->line);
    MP_LIT(&m, "match");
    mp_map(&m, 2);
    MP_LIT(&m, "start");
    mp_uint(&m, ev->start);
    MP_LIT(&m, "end");
    mp_uint(&m, ev->end);
    MP_LIT(&m, "count");
    mp_uint(&m, ev->count);
    MP_LIT(&m, "db");
    mp_str(&m, e->db_id, e->db_len);
    MP_LIT(&m, "truncated");
    mp_byte(&m, ev->original_len < ev->line_len ? 0xc3 : 0xc2);
    MP_LIT(&m, "line_length");
    mp_uint(&m, ev->line_len);
    e->buf.len = (size_t)(m.p - (unsigned char *)e->buf.p);
    return 0;
}

/* Shorthand for the JSON writer: append a string literal. */
#define LIT(b, s) IOCS__JBUF_LIT(b, s)

static void json_indicator(const struct iocs_emitter *e, struct iocs__jbuf *b,
                           const struct iocs_ioc *ioc,
                           const struct iocs_ioc *rec)
{
    const char *conf = confidence_word(rec->confidence), *tags = rec->tags,
               *tag;
    struct lstr type = ecs_type(e, ioc);
    bool first = true;
    struct typed t;
    size_t len;

    LIT(b, "{\"type\":");
    iocs__json_str(b, type.s, type.n);
    LIT(b, ",\"name\":");
    iocs__json_str(b, ioc->value, ioc->len);
    if (typed_field(e, ioc, &t)) {
        LIT(b, ",");
        iocs__json_str(b, t.field.s, t.field.n);
        LIT(b, ":");
        if (t.key.s) {
            LIT(b, "{");
            iocs__json_str(b, t.key.s, t.key.n);
            LIT(b, ":");
        }
        if (t.hash.s) {
            LIT(b, "{");
            iocs__json_str(b, t.hash.s, t.hash.n);
            LIT(b, ":");
        }
        iocs__json_str(b, ioc->value, ioc->len);
        if (t.hash.s)
            LIT(b, "}");
        if (t.key.s)
            LIT(b, "}");
    }
    if (rec->port) {
        LIT(b, ",\"port\":");
        iocs__json_u64(b, rec->port);
    }
    if (rec->provider) {
        LIT(b, ",\"provider\":");
        iocs__json_cstr(b, rec->provider);
    }
    if (rec->description) {
        LIT(b, ",\"description\":");
        iocs__json_cstr(b, rec->description);
    }
    if (rec->reference) {
        LIT(b, ",\"reference\":");
        iocs__json_cstr(b, rec->reference);
    }
    if (conf) {
        LIT(b, ",\"confidence\":");
        iocs__json_cstr(b, conf);
    }
    if (count_tags(rec->tags)) {
        LIT(b, ",\"tags\":[");
        while (next_tag(&tags, &tag, &len)) {
            if (!first)
                LIT(b, ",");
            first = false;
            iocs__json_str(b, tag, len);
        }
        LIT(b, "]");
    }
    LIT(b, "}");
}

/* Append ts as JSON text. A scan stamps a whole unit's events with one
 * time: the text is made when it changes, then copied. */
static void json_ts(struct iocs__jbuf *b, struct tstext *c, struct timespec ts)
{
    if (!c->valid || c->ts.tv_sec != ts.tv_sec || c->ts.tv_nsec != ts.tv_nsec) {
        msgpack_timestamp t = to_mts(ts);
        struct iocs__jbuf f;

        iocs__jbuf_init_fixed(&f, c->text, sizeof(c->text));
        iocs__json_time(&f, t.tv_sec, t.tv_nsec);
        if (f.err) {
            c->valid = false;
            iocs__json_time(b, t.tv_sec, t.tv_nsec); /* never kept */
            return;
        }
        c->ts = ts;
        c->len = f.len;
        c->valid = true;
    }
    iocs__jbuf_put(b, c->text, c->len);
}

/* The same event as one JSON line, exactly as decode.c would print the
 * msgpack form. Errors are left in e->buf.err. */
static void json_event(struct iocs_emitter *e, const struct iocs_event *ev)
{
    struct iocs__jbuf *b = &e->buf;
    char id[16];
    size_t idlen = u32_text(id, ev->ioc_id);
    struct lstr feed = measure(ev->ioc->feed);

    LIT(b, "{\"@timestamp\":");
    json_ts(b, &e->ts[0], ev->timestamp);
    LIT(b, ",\"event\":{\"kind\":\"alert\",\"category\":[\"threat\"],"
           "\"type\":[\"indicator\"],\"created\":");
    json_ts(b, &e->ts[1], ev->created);
    LIT(b, ",\"severity\":");
    iocs__json_i64(b, ev->ioc->severity);
    LIT(b, ",\"original\":");
    iocs__json_str(b, ev->original, ev->original_len);
    LIT(b, "},\"log\":{\"file\":{\"path\":");
    iocs__json_str(b, ev->path, ev->path_len ? ev->path_len : strlen(ev->path));
    LIT(b, "},\"offset\":");
    iocs__json_u64(b, ev->offset);
    LIT(b, "},\"threat\":{\"feed\":{\"name\":");
    iocs__json_str(b, feed.s, feed.n);
    LIT(b, "},\"enrichments\":[");
    for (const struct iocs_ioc *rec = ev->ioc; rec; rec = rec->also) {
        if (rec != ev->ioc)
            LIT(b, ",");
        LIT(b, "{\"indicator\":");
        json_indicator(e, b, ev->ioc, rec);
        LIT(b, ",\"matched\":{\"atomic\":");
        iocs__json_str(b, ev->atomic, ev->atomic_len);
        LIT(b, ",\"field\":\"event.original\","
               "\"type\":\"indicator_match_rule\",\"id\":");
        if (rec->rule_id)
            iocs__json_cstr(b, rec->rule_id);
        else
            iocs__json_str(b, id, idlen);
        LIT(b, "},\"feed\":{\"name\":");
        if (rec->feed)
            iocs__json_cstr(b, rec->feed);
        else
            iocs__json_str(b, feed.s, feed.n);
        LIT(b, "}}");
    }
    LIT(b, "]},\"iocstream\":{\"line\":");
    iocs__json_u64(b, ev->line);
    LIT(b, ",\"match\":{\"start\":");
    iocs__json_u64(b, ev->start);
    LIT(b, ",\"end\":");
    iocs__json_u64(b, ev->end);
    LIT(b, "},\"count\":");
    iocs__json_u64(b, ev->count);
    LIT(b, ",\"db\":");
    iocs__json_str(b, e->db_id, e->db_len);
    if (ev->original_len < ev->line_len)
        LIT(b, ",\"truncated\":true");
    else
        LIT(b, ",\"truncated\":false");
    LIT(b, ",\"line_length\":");
    iocs__json_u64(b, ev->line_len);
    LIT(b, "}}\n");
}

#undef LIT

/* Encode ev after whatever is buffered. Returns 0 or a negative errno with
 * the buffer as it was. */
static int encode(struct iocs_emitter *e, const struct iocs_event *ev)
{
    size_t mark = e->buf.len;
    int err;

    if (e->fmt == IOCS_FORMAT_MSGPACK) {
        (void)pack_event(e, ev); /* a failure stays in e->buf.err */
    } else {
        json_event(e, ev);
    }
    err = e->buf.err;
    if (err) {
        e->buf.len = mark;
        e->buf.err = 0;
        /* Past the cap is -ENOBUFS inside the buffer; callers see -ENOMEM
         * as emit.h promises. */
        return err == -ENOBUFS ? -ENOMEM : err;
    }
    return 0;
}

int iocs_emitter_event(struct iocs_emitter *e, const struct iocs_event *ev)
{
    int err;

    if (!ev || !ev->ioc || !ev->ioc->value || !ev->ioc->feed || !ev->path ||
        (!ev->original && ev->original_len) || (!ev->atomic && ev->atomic_len))
        return -EINVAL;
    err = encode(e, ev);
    if (err == -ENOMEM && e->buf.len > 0 && e->fd >= 0) {
        /* It may fit alone: write out the events before it and retry. */
        err = iocs_emitter_flush(e);
        if (err)
            return err;
        err = encode(e, ev);
    }
    if (err)
        return err;
    e->count++;
    if (e->buf.len >= EMIT_FLUSH_AT && e->fd >= 0)
        return iocs_emitter_flush(e);
    return 0;
}
