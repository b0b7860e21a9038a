/*
 * emit.c - hits -> ECS events -> bytes on the output fd (see emit.h).
 *
 * One buffer (a struct iocs__jbuf) holds the encoded events of both
 * formats: msgpack_packer appends to it through append(), the JSON writer
 * of json.c writes into it directly. It starts at EMIT_BUF_INIT bytes,
 * which holds the flush threshold plus a few ordinary events, so it only
 * grows for an event that is itself huge, and never past IOCS_EMIT_BUF_MAX.
 * Once len passes EMIT_FLUSH_AT the whole buffer goes out in one write(2)
 * loop. An event that fails to encode is rolled back, so the buffer only
 * ever holds whole events.
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

struct iocs_emitter {
    int fd;
    enum iocs_format fmt;
    char *db_id;
    size_t db_len;
    struct iocs__jbuf buf;
    msgpack_packer pk;
    uint64_t count;
};

/* msgpack_packer's write callback: append to the event buffer. The cause of
 * a failure stays in e->buf.err. */
static int append(void *data, const char *p, size_t n)
{
    struct iocs_emitter *e = data;

    iocs__jbuf_put(&e->buf, p, n);
    return e->buf.err ? -1 : 0;
}

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
    msgpack_packer_init(&e->pk, e, append);
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
 * one inner key ("domain", ...), and for hashes the key inside "hash". */
struct typed {
    const char *field;
    const char *key;
    const char *hash;
};

static bool typed_field(const struct iocs_ioc *ioc, struct typed *t)
{
    memset(t, 0, sizeof(*t));
    switch (ioc->type) {
    case IOCS_IPV4:
    case IOCS_IPV6:
    case IOCS_CIDR4:
    case IOCS_CIDR6:
        t->field = "ip";
        return true;
    case IOCS_DOMAIN:
        t->field = "url";
        t->key = "domain";
        return true;
    case IOCS_URL:
        t->field = "url";
        t->key = "full";
        return true;
    case IOCS_EMAIL:
        t->field = "email";
        t->key = "address";
        return true;
    case IOCS_MD5:
    case IOCS_SHA1:
    case IOCS_SHA256:
    case IOCS_SHA512:
        t->field = "file";
        t->key = "hash";
        t->hash = iocs_type_name(ioc->type);
        return true;
    case IOCS_FILENAME:
        t->field = "file";
        t->key = memchr(ioc->value, '/', ioc->len) ||
                         memchr(ioc->value, '\\', ioc->len)
                     ? "path"
                     : "name";
        return true;
    default:
        return false; /* strings and regex rules: "name" says it all */
    }
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

/* Pack a string literal or a C string; both return msgpack's result. */
static int pk_str(msgpack_packer *pk, const void *s, size_t n)
{
    int err = msgpack_pack_str(pk, n);

    return err ? err : msgpack_pack_str_body(pk, s, n);
}

static int pk_cstr(msgpack_packer *pk, const char *s)
{
    return pk_str(pk, s, strlen(s));
}

/* Stop packing at the first failure; the caller rolls the event back. */
#define PK(call)                                                               \
    do {                                                                       \
        if ((call) != 0)                                                       \
            return -1;                                                         \
    } while (0)

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

/* One record of an IOC: rec's metadata, with the value and type of ioc
 * (the head of the chain). */
static int pack_indicator(msgpack_packer *pk, const struct iocs_ioc *ioc,
                          const struct iocs_ioc *rec)
{
    struct typed t;
    bool has_typed = typed_field(ioc, &t);
    const char *conf = confidence_word(rec->confidence), *tags = rec->tags,
               *tag;
    size_t ntags = count_tags(rec->tags), len;
    size_t n = 2 + has_typed + !!rec->provider + !!rec->description +
               !!rec->reference + !!conf + !!ntags;

    PK(msgpack_pack_map(pk, n));
    PK(pk_cstr(pk, "type"));
    PK(pk_cstr(pk, iocs_type_ecs(ioc->type)));
    PK(pk_cstr(pk, "name"));
    PK(pk_str(pk, ioc->value, ioc->len));
    if (has_typed) {
        PK(pk_cstr(pk, t.field));
        if (t.key) {
            PK(msgpack_pack_map(pk, 1));
            PK(pk_cstr(pk, t.key));
        }
        if (t.hash) {
            PK(msgpack_pack_map(pk, 1));
            PK(pk_cstr(pk, t.hash));
        }
        PK(pk_str(pk, ioc->value, ioc->len));
    }
    if (rec->provider) {
        PK(pk_cstr(pk, "provider"));
        PK(pk_cstr(pk, rec->provider));
    }
    if (rec->description) {
        PK(pk_cstr(pk, "description"));
        PK(pk_cstr(pk, rec->description));
    }
    if (rec->reference) {
        PK(pk_cstr(pk, "reference"));
        PK(pk_cstr(pk, rec->reference));
    }
    if (conf) {
        PK(pk_cstr(pk, "confidence"));
        PK(pk_cstr(pk, conf));
    }
    if (ntags) {
        PK(pk_cstr(pk, "tags"));
        PK(msgpack_pack_array(pk, ntags));
        while (next_tag(&tags, &tag, &len))
            PK(pk_str(pk, tag, len));
    }
    return 0;
}

/* Records of an IOC: itself, then its `also` chain. */
static size_t count_records(const struct iocs_ioc *ioc)
{
    size_t n = 0;

    for (; ioc; ioc = ioc->also)
        n++;
    return n;
}

/* The event map of emit.h, key for key. Returns 0 or -1 (see PK). */
static int pack_event(struct iocs_emitter *e, const struct iocs_event *ev)
{
    msgpack_packer *pk = &e->pk;
    const struct iocs_ioc *ioc = ev->ioc;
    msgpack_timestamp ts = to_mts(ev->timestamp), cr = to_mts(ev->created);
    char id[16];
    size_t idlen = u32_text(id, ev->ioc_id);

    PK(msgpack_pack_map(pk, 5));
    PK(pk_cstr(pk, "@timestamp"));
    PK(msgpack_pack_timestamp(pk, &ts));

    PK(pk_cstr(pk, "event"));
    PK(msgpack_pack_map(pk, 6));
    PK(pk_cstr(pk, "kind"));
    PK(pk_cstr(pk, "alert"));
    PK(pk_cstr(pk, "category"));
    PK(msgpack_pack_array(pk, 1));
    PK(pk_cstr(pk, "threat"));
    PK(pk_cstr(pk, "type"));
    PK(msgpack_pack_array(pk, 1));
    PK(pk_cstr(pk, "indicator"));
    PK(pk_cstr(pk, "created"));
    PK(msgpack_pack_timestamp(pk, &cr));
    PK(pk_cstr(pk, "severity"));
    PK(msgpack_pack_int(pk, ioc->severity));
    PK(pk_cstr(pk, "original"));
    PK(pk_str(pk, ev->original, ev->original_len));

    PK(pk_cstr(pk, "log"));
    PK(msgpack_pack_map(pk, 2));
    PK(pk_cstr(pk, "file"));
    PK(msgpack_pack_map(pk, 1));
    PK(pk_cstr(pk, "path"));
    PK(pk_cstr(pk, ev->path));
    PK(pk_cstr(pk, "offset"));
    PK(msgpack_pack_uint64(pk, ev->offset));

    PK(pk_cstr(pk, "threat"));
    PK(msgpack_pack_map(pk, 2));
    PK(pk_cstr(pk, "feed"));
    PK(msgpack_pack_map(pk, 1));
    PK(pk_cstr(pk, "name"));
    PK(pk_cstr(pk, ioc->feed));
    PK(pk_cstr(pk, "enrichments"));
    PK(msgpack_pack_array(pk, count_records(ioc)));
    for (const struct iocs_ioc *rec = ioc; rec; rec = rec->also) {
        PK(msgpack_pack_map(pk, 3));
        PK(pk_cstr(pk, "indicator"));
        PK(pack_indicator(pk, ioc, rec));
        PK(pk_cstr(pk, "matched"));
        PK(msgpack_pack_map(pk, 4));
        PK(pk_cstr(pk, "atomic"));
        PK(pk_str(pk, ev->atomic, ev->atomic_len));
        PK(pk_cstr(pk, "field"));
        PK(pk_cstr(pk, "event.original"));
        PK(pk_cstr(pk, "type"));
        PK(pk_cstr(pk, "indicator_match_rule"));
        PK(pk_cstr(pk, "id"));
        PK(pk_str(pk, id, idlen));
        PK(pk_cstr(pk, "feed"));
        PK(msgpack_pack_map(pk, 1));
        PK(pk_cstr(pk, "name"));
        PK(pk_cstr(pk, rec->feed ? rec->feed : ioc->feed));
    }

    PK(pk_cstr(pk, "iocstream"));
    PK(msgpack_pack_map(pk, 6));
    PK(pk_cstr(pk, "line"));
    PK(msgpack_pack_uint64(pk, ev->line));
    PK(pk_cstr(pk, "match"));
    PK(msgpack_pack_map(pk, 2));
    PK(pk_cstr(pk, "start"));
    PK(msgpack_pack_uint64(pk, ev->start));
    PK(pk_cstr(pk, "end"));
    PK(msgpack_pack_uint64(pk, ev->end));
    PK(pk_cstr(pk, "count"));
    PK(msgpack_pack_uint32(pk, ev->count));
    PK(pk_cstr(pk, "db"));
    PK(pk_str(pk, e->db_id, e->db_len));
    PK(pk_cstr(pk, "truncated"));
    PK(ev->original_len < ev->line_len ? msgpack_pack_true(pk)
                                       : msgpack_pack_false(pk));
    PK(pk_cstr(pk, "line_length"));
    PK(msgpack_pack_uint64(pk, ev->line_len));
    return 0;
}

#undef PK

/* Shorthand for the JSON writer: append a string literal. */
#define LIT(b, s) IOCS__JBUF_LIT(b, s)

static void json_indicator(struct iocs__jbuf *b, const struct iocs_ioc *ioc,
                           const struct iocs_ioc *rec)
{
    const char *conf = confidence_word(rec->confidence), *tags = rec->tags,
               *tag;
    bool first = true;
    struct typed t;
    size_t len;

    LIT(b, "{\"type\":");
    iocs__json_cstr(b, iocs_type_ecs(ioc->type));
    LIT(b, ",\"name\":");
    iocs__json_str(b, ioc->value, ioc->len);
    if (typed_field(ioc, &t)) {
        LIT(b, ",");
        iocs__json_cstr(b, t.field);
        LIT(b, ":");
        if (t.key) {
            LIT(b, "{");
            iocs__json_cstr(b, t.key);
            LIT(b, ":");
        }
        if (t.hash) {
            LIT(b, "{");
            iocs__json_cstr(b, t.hash);
            LIT(b, ":");
        }
        iocs__json_str(b, ioc->value, ioc->len);
        if (t.hash)
            LIT(b, "}");
        if (t.key)
            LIT(b, "}");
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

/* The same event as one JSON line, exactly as decode.c would print the
 * msgpack form. Errors are left in e->buf.err. */
static void json_event(struct iocs_emitter *e, const struct iocs_event *ev)
{
    struct iocs__jbuf *b = &e->buf;
    msgpack_timestamp ts = to_mts(ev->timestamp), cr = to_mts(ev->created);
    char id[16];
    size_t idlen = u32_text(id, ev->ioc_id);

    LIT(b, "{\"@timestamp\":");
    iocs__json_time(b, ts.tv_sec, ts.tv_nsec);
    LIT(b, ",\"event\":{\"kind\":\"alert\",\"category\":[\"threat\"],"
           "\"type\":[\"indicator\"],\"created\":");
    iocs__json_time(b, cr.tv_sec, cr.tv_nsec);
    LIT(b, ",\"severity\":");
    iocs__json_i64(b, ev->ioc->severity);
    LIT(b, ",\"original\":");
    iocs__json_str(b, ev->original, ev->original_len);
    LIT(b, "},\"log\":{\"file\":{\"path\":");
    iocs__json_cstr(b, ev->path);
    LIT(b, "},\"offset\":");
    iocs__json_u64(b, ev->offset);
    LIT(b, "},\"threat\":{\"feed\":{\"name\":");
    iocs__json_cstr(b, ev->ioc->feed);
    LIT(b, "},\"enrichments\":[");
    for (const struct iocs_ioc *rec = ev->ioc; rec; rec = rec->also) {
        if (rec != ev->ioc)
            LIT(b, ",");
        LIT(b, "{\"indicator\":");
        json_indicator(b, ev->ioc, rec);
        LIT(b, ",\"matched\":{\"atomic\":");
        iocs__json_str(b, ev->atomic, ev->atomic_len);
        LIT(b, ",\"field\":\"event.original\","
               "\"type\":\"indicator_match_rule\",\"id\":");
        iocs__json_str(b, id, idlen);
        LIT(b, "},\"feed\":{\"name\":");
        iocs__json_cstr(b, rec->feed ? rec->feed : ev->ioc->feed);
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
        if (pack_event(e, ev) != 0 && !e->buf.err)
            e->buf.err = -EIO; /* msgpack failed without our callback */
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
