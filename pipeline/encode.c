/*
 * encode.c - events -> ECS msgpack or JSON (see encode.h).
 *
 * The layout is ECS_EVENT below: one row per key, nested as the event is
 * (a key path is the rows around it), each saying which value it holds
 * and how that is written. Each writer, msgpack and JSON, defines what a
 * row does and expands the table once, so both come from the same rows
 * and compile to straight-line code: keys and literals become constant
 * stores, as in a hand-written packer. A new field is one new row.
 *
 * Map sizes are never written by hand: a msgpack map's header byte is
 * left open and filled in when its last row is written (a fixmap: the
 * table has no map of 16 keys), and JSON's commas come from the same
 * count. Optional rows (OPT, TYPED) are left out of their map when their
 * value is absent.
 *
 * Per event the values are gathered first (struct value): every string is
 * measured once, which also bounds the room the event takes, so the
 * msgpack writer makes room once per event and once per record and stores
 * with no check per piece.
 */
#include "pipeline/encode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/eventid.h"
#include "pipeline/json.h"
#include "pipeline/utf8.h"

/* Holds the flush threshold plus a few ordinary events, so the buffer only
 * grows for an event that is itself huge. */
#define ENC_BUF_INIT (IOCS_ENCODE_FLUSH_AT + (64u << 10))
#define ENC_REC_INIT 1024
#define ENC_REC_MAX (IOCS_ENCODE_BUF_MAX / 64) /* no event is this small */

#define NSEC_PER_SEC 1000000000L
#define KEY_MAX 31  /* longest key: a msgpack fixstr */
#define DEPTH_MAX 8 /* maps inside maps */

/* Which value a row holds. V_REC_* change per record of the IOC. */
enum val {
    V_TIMESTAMP,
    V_CREATED,
    V_SEVERITY,
    V_EVENT_ID,
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
    V_HOST,
    V_TIME,
    V_WL_RECORD_ID,
    V_WL_CHANNEL,
    V_WL_EVENT_ID,
    V_WL_PROVIDER,
    V_WL_COMPUTER,
    V_REC_PROVIDER,
    V_REC_DESCRIPTION,
    V_REC_REFERENCE,
    V_REC_CONFIDENCE,
    V_REC_TAGS,
    V_REC_FEED,
    V_REC_PORT,     /* "address:port" feeds: the port; absent when 0 */
    V_REC_MATCH_ID, /* a rule's own id, else the IOC's index (V_IOC_ID) */
    V_COUNT_        /* number of values */
};

/* clang-format off */
/*
 * The event, in output order. Rows:
 *   MAP(key) ... END()          a map of the rows between
 *   RECORDS(key) ... END_RECORDS()
 *                               a list of maps of the rows between, one
 *                               per record of the IOC: the IOC itself,
 *                               then each record of its `also` chain
 *   LIT(key, text)              a constant string (no JSON escapes in it)
 *   LIT1(key, text)             a list of one constant string
 *   FIELD(key, value, how)      a value, written as how: str, time, uint,
 *                               int, bool, tags (a comma-separated string
 *                               as a list of strings), name (a string as
 *                               a map {"name": string}, so that an absent
 *                               value leaves out the whole map)
 *   OPT(key, value, how)        the same, left out when the value is absent
 *   OMAP(key, value) ... OEND() a map of the rows between, left out (with
 *                               them) when the value is absent
 *   TYPED()                     ECS threat.indicator's typed field: its key
 *                               path comes from the IOC type (see
 *                               typed_field()); none for strings and rules
 */
#define ECS_EVENT(MAP, END, RECORDS, END_RECORDS, LIT, LIT1, FIELD, OPT,     \
                  TYPED, OMAP, OEND)                                         \
    FIELD("@timestamp", V_TIMESTAMP, time)                                   \
    MAP("event")                                                             \
        LIT("kind", "alert")                                                 \
        LIT1("category", "threat")                                           \
        LIT1("type", "indicator")                                            \
        FIELD("id", V_EVENT_ID, str)                                         \
        FIELD("created", V_CREATED, time)                                    \
        FIELD("severity", V_SEVERITY, int)                                   \
        FIELD("original", V_ORIGINAL, str)                                   \
    END()                                                                    \
    OMAP("host", V_HOST)                                                     \
        FIELD("name", V_HOST, str)                                           \
    OEND()                                                                   \
    MAP("log")                                                               \
        MAP("file")                                                          \
            FIELD("path", V_PATH, str)                                       \
        END()                                                                \
        FIELD("offset", V_OFFSET, uint)                                      \
    END()                                                                    \
    OMAP("winlog", V_WL_RECORD_ID)                                           \
        FIELD("record_id", V_WL_RECORD_ID, uint)                             \
        OPT("channel", V_WL_CHANNEL, str)                                    \
        FIELD("event_id", V_WL_EVENT_ID, str)                                \
        OPT("provider_name", V_WL_PROVIDER, str)                             \
        OPT("computer_name", V_WL_COMPUTER, str)                             \
    OEND()                                                                   \
    MAP("threat")                                                            \
        MAP("feed")                                                          \
            FIELD("name", V_FEED, str)                                       \
        END()                                                                \
        RECORDS("enrichments")                                               \
            MAP("indicator")                                                 \
                FIELD("type", V_ECS_TYPE, str)                               \
                FIELD("name", V_VALUE, str)                                  \
                TYPED()                                                      \
                OPT("port", V_REC_PORT, uint)                                \
                OPT("provider", V_REC_PROVIDER, str)                         \
                OPT("description", V_REC_DESCRIPTION, str)                   \
                OPT("reference", V_REC_REFERENCE, str)                       \
                OPT("confidence", V_REC_CONFIDENCE, str)                     \
                OPT("tags", V_REC_TAGS, tags)                                \
            END()                                                            \
            MAP("matched")                                                   \
                FIELD("atomic", V_ATOMIC, str)                               \
                LIT("field", "event.original")                               \
                LIT("type", "indicator_match_rule")                          \
                FIELD("id", V_REC_MATCH_ID, str)                             \
            END()                                                            \
            MAP("feed")                                                      \
                FIELD("name", V_REC_FEED, str)                               \
            END()                                                            \
        END_RECORDS()                                                        \
    END()                                                                    \
    MAP("iocstream")                                                         \
        FIELD("line", V_LINE, uint)                                          \
        MAP("match")                                                         \
            FIELD("start", V_START, uint)                                    \
            FIELD("end", V_END, uint)                                        \
        END()                                                                \
        FIELD("count", V_COUNT, uint)                                        \
        FIELD("db", V_DB, str)                                               \
        FIELD("time", V_TIME, str)                                           \
        FIELD("truncated", V_TRUNCATED, bool)                                \
        FIELD("line_length", V_LINE_LENGTH, uint)                            \
    END()
/* clang-format on */

/* msgpack bytes of every row once, strings' bytes aside (they are counted
 * per event: head_room, body_room, rec_room): a key is a fixstr, a
 * string header at most 5 bytes, a number 9, a time as text 50. */
#define ROOM_str 5
#define ROOM_time 50
#define ROOM_uint 9
#define ROOM_int 9
#define ROOM_bool 1
#define ROOM_tags 5
#define ROOM_name (1 + 5 + 5)
#define R_KEY(k) +sizeof(k)
#define R_MAP(k) R_KEY(k) + 1
#define R_END()
#define R_RECORDS(k) R_KEY(k) + 5 + 1
#define R_END_RECORDS()
#define R_LIT(k, t) R_KEY(k) + sizeof(t) + 1
#define R_LIT1(k, t) R_KEY(k) + sizeof(t) + 2
#define R_FIELD(k, val, how) R_KEY(k) + ROOM_##how
#define R_TYPED() +3 * (KEY_MAX + 6)
#define R_OMAP(k, val) R_MAP(k)
#define R_OEND()
enum {
    ECS_MP_ROOM = 1 ECS_EVENT(R_MAP, R_END, R_RECORDS, R_END_RECORDS, R_LIT,
                              R_LIT1, R_FIELD, R_FIELD, R_TYPED, R_OMAP, R_OEND)
};

/* A string and its length, measured once. */
struct lstr {
    const char *s;
    size_t n;
};

/* One value of one event. A string with s NULL is absent. */
struct value {
    union { /* one per row's `how`: kept small, gathered per event */
        struct lstr str;
        uint64_t u;
        int64_t i;
        struct timespec ts;
    };
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
    bool raw; /* msgpack: event.original as bin */
    char *db_id;
    size_t db_len;
    struct iocs__jbuf buf;
    struct iocs_sink_rec *rec;
    char (*ids)[IOCS_EVENTID_LEN + 1]; /* rec[i].id points at ids[i] */
    size_t nrec, rec_cap;
    uint64_t count;
    struct lstr ecs_type[IOCS_TYPE_COUNT]; /* iocs_type_ecs() of each */
    struct lstr tname[IOCS_TYPE_COUNT];    /* iocs_type_name() of each */
    struct tstext ts[2];                   /* @timestamp, event.created */
    /* The event being written. */
    const struct iocs_event *ev;
    struct value v[V_COUNT_];
    size_t ntags;         /* tags of the record being written */
    struct lstr typed[3]; /* typed_field() of the event's IOC */
    unsigned ntyped;
    size_t head_room, body_room, rec_room; /* msgpack: bytes the strings
                                              of the event before the
                                              records, of each record and
                                              the tail, of one record's
                                              metadata may take */
    char id[16];
    char event_id[IOCS_EVENTID_LEN + 1];
    char wl_event_id[16]; /* winlog.event_id as text */
};

#define LSTR(lit) ((struct lstr){(lit), sizeof(lit) - 1})

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
    e->raw = o->raw && o->format == IOCS_FORMAT_MSGPACK;
    /* Made valid UTF-8 once here, so events write it as it is. */
    e->db_len = iocs__utf8_fixed_len(o->db_id, strlen(o->db_id));
    e->db_id = malloc(e->db_len + 1);
    if (e->db_id) {
        iocs__utf8_fix(e->db_id, o->db_id, strlen(o->db_id));
        e->db_id[e->db_len] = '\0';
    }
    e->rec_cap = ENC_REC_INIT;
    e->rec = calloc(e->rec_cap, sizeof(*e->rec));
    e->ids = calloc(e->rec_cap, sizeof(*e->ids));
    if (!e->db_id || !e->rec || !e->ids) {
        err = -ENOMEM;
        goto fail;
    }
    err = iocs__jbuf_init(&e->buf, ENC_BUF_INIT, IOCS_ENCODE_BUF_MAX);
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
    free(e->rec);
    free(e->ids);
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
    v[V_TIMESTAMP].ts = ev->timestamp;
    v[V_TIMESTAMP].present = true;
    v[V_CREATED].ts = ev->created;
    v[V_CREATED].present = true;
    v[V_SEVERITY].i = ioc->severity;
    v[V_SEVERITY].present = true;
    iocs_eventid_make(e->event_id, ev->source_id, ev->offset, ioc);
    set_str(&v[V_EVENT_ID], e->event_id, IOCS_EVENTID_LEN);
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
    set_str(&v[V_HOST], ev->host, ev->host_len);
    if (ev->line_time)
        set_str(&v[V_TIME], "line", 4);
    else
        set_str(&v[V_TIME], "none", 4);
    if (ev->winlog) {
        const struct iocs_winlog *wl = ev->winlog;

        set_u(&v[V_WL_RECORD_ID], wl->record_id);
        set_str(&v[V_WL_CHANNEL], wl->channel_len ? wl->channel : NULL,
                wl->channel_len);
        set_str(&v[V_WL_EVENT_ID], e->wl_event_id,
                u32_text(e->wl_event_id, wl->event_id));
        set_str(&v[V_WL_PROVIDER], wl->provider_len ? wl->provider : NULL,
                wl->provider_len);
        set_str(&v[V_WL_COMPUTER], wl->computer_len ? wl->computer : NULL,
                wl->computer_len);
    } else {
        v[V_WL_RECORD_ID].present = false;
    }
    e->ntyped = typed_field(e, ioc, e->typed);
    /* A string is its bytes and a header of at most 5. */
    e->head_room =
        v[V_ORIGINAL].str.n + v[V_PATH].str.n + v[V_FEED].str.n + type.n +
        e->db_len + IOCS_EVENTID_LEN + 32 + (ev->host ? ev->host_len : 0) +
        (ev->winlog ? ev->winlog->channel_len + ev->winlog->provider_len +
                          ev->winlog->computer_len + 16
                    : 0);
    /* What each record repeats, and the tail after the records. */
    e->body_room = 3 * (ioc->len + 5) + type.n + 5 + ev->atomic_len +
                   e->db_len + 3 * (KEY_MAX + 6) + 64;
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
    e->ntags = count_tags(rec->tags);
    v[V_REC_TAGS].present = e->ntags > 0;
    set_str(&v[V_REC_FEED], feed.s, feed.n);
    v[V_REC_PORT].u = rec->port;
    v[V_REC_PORT].present = rec->port != 0;
    if (rec->rule_id)
        set_str(&v[V_REC_MATCH_ID], rec->rule_id, strlen(rec->rule_id));
    else
        v[V_REC_MATCH_ID] = v[V_IOC_ID];
    /* Tags: the bytes, and a header per tag (at most one per byte). */
    e->rec_room = v[V_REC_PROVIDER].str.n + v[V_REC_DESCRIPTION].str.n +
                  v[V_REC_REFERENCE].str.n + v[V_REC_CONFIDENCE].str.n +
                  6 * measure(rec->tags).n + feed.n + v[V_REC_MATCH_ID].str.n +
                  64;
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

/*
 * msgpack, written directly: msgpack-c's packer calls its write callback
 * for every header and every body; here room for the event is made once
 * and the bytes are stored with no call and no check per piece. The
 * encodings are msgpack's smallest, as msgpack-c chooses them;
 * test_encode reads the result back with msgpack-c's unpacker.
 */
struct mp {
    struct iocs__jbuf *b;
    unsigned char *p;
    size_t end; /* offset in the buffer up to which room is made */
    int err;    /* a string that needed more room did not get it */
};

/* Make room for n more bytes at m->p. Returns 0 or the buffer's error. */
static inline int mp_room(struct mp *m, size_t n)
{
    struct iocs__jbuf *b = m->b;

    b->len = (size_t)(m->p - (unsigned char *)b->p);
    if (n > b->cap - b->len) {
        if (iocs__jbuf_reserve(b, n))
            return b->err;
        m->p = (unsigned char *)b->p + b->len;
    }
    m->end = b->len + n;
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

static inline __attribute__((always_inline)) void mp_str_head(struct mp *m,
                                                              size_t n)
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
}

/* A str of bytes known to be UTF-8 (keys, literals, times, types). */
static inline __attribute__((always_inline)) void
mp_str(struct mp *m, const void *s, size_t n)
{
    mp_str_head(m, n);
    mp_raw(m, s, n);
}

/* A bin: the bytes as they are (--raw event.original). The same room as
 * a str: a header of at most 5 bytes. */
static inline void mp_bin(struct mp *m, const void *s, size_t n)
{
    if (n < 256) {
        mp_byte(m, 0xc4);
        mp_byte(m, (unsigned char)n);
    } else if (n < 65536) {
        mp_byte(m, 0xc5);
        mp_be(m, n, 2);
    } else {
        mp_byte(m, 0xc6);
        mp_be(m, n, 4);
    }
    mp_raw(m, s, n);
}

/* Bytes of the str header for a string of n bytes. */
static inline size_t mp_str_head_len(size_t n)
{
    return n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
}

/*
 * mp_text() for bytes that are not all ASCII: the string as UTF-8 with
 * each ill-formed part as U+FFFD (utf8.h). The room made for the event
 * counts n bytes for it, and a U+FFFD may take more (at most 3n in all).
 * When the buffer has 3n to spare already, one pass writes the text and
 * the header is put in front (the text moved when the header's size was
 * not known before); otherwise the text is measured first and the room
 * extended by exactly what it needs. When that fails, an empty str is
 * written (it fits the room there is) and m->err says the event is lost.
 */
static void mp_text_slow(struct mp *m, const unsigned char *s, size_t n)
{
    struct iocs__jbuf *b = m->b;
    size_t at = (size_t)(m->p - (unsigned char *)b->p), w, h;

    if (b->cap - m->end >= 2 * n) {
        size_t h1 = mp_str_head_len(3 * n); /* the longest it can be */

        w = iocs__utf8_fix(m->p + h1, s, n);
        h = mp_str_head_len(w);
        if (h != h1)
            memmove(m->p + h, m->p + h1, w);
        mp_str_head(m, w);
        m->p += w;
        m->end += w - n;
        return;
    }
    w = iocs__utf8_fixed_len(s, n);
    if (w > n && mp_room(m, m->end - at + (w - n))) {
        m->err = b->err;
        mp_str_head(m, 0);
        return;
    }
    mp_str_head(m, w);
    m->p += iocs__utf8_fix(m->p, s, n);
}

/* A str of bytes from outside (the line, paths, feeds): valid UTF-8 as
 * it is after one check of whole words when all are ASCII. */
static inline __attribute__((always_inline)) void
mp_text(struct mp *m, const void *s, size_t n)
{
    if (iocs__utf8_is_ascii(s, n))
        mp_str(m, s, n);
    else
        mp_text_slow(m, s, n);
}

static inline __attribute__((always_inline)) void mp_uint(struct mp *m,
                                                          uint64_t v)
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

/* A string literal: its length is a constant, so is the header. */
#define MP_LIT(m, lit) mp_str(m, lit, sizeof(lit) - 1)

/* How each kind of value is written (the table's `how`). */
/* Always inline: which row v is decides the form at compile time. */
static inline __attribute__((always_inline)) void
mp_put_str(struct iocs_encoder *e, struct mp *m, const struct value *v)
{
    /* Our own ASCII (the ECS type, the confidence word, event.id in hex)
     * and the db id, made UTF-8 in iocs_encoder_new(), need no check; the
     * table's rows are expanded in line, so this is decided at compile
     * time. */
    if (v == &e->v[V_ECS_TYPE] || v == &e->v[V_DB] ||
        v == &e->v[V_REC_CONFIDENCE] || v == &e->v[V_EVENT_ID])
        mp_str(m, v->str.s, v->str.n);
    else if (v == &e->v[V_ORIGINAL] && e->raw)
        mp_bin(m, v->str.s, v->str.n);
    else
        mp_text(m, v->str.s, v->str.n);
}

static inline void mp_put_time(struct iocs_encoder *e, struct mp *m,
                               const struct value *v)
{
    if (e->str_times)
        mp_ts_text(m, &e->ts[v == &e->v[V_CREATED]], v->ts);
    else
        mp_ts(m, v->ts);
}

static inline void mp_put_uint(struct iocs_encoder *e, struct mp *m,
                               const struct value *v)
{
    (void)e;
    mp_uint(m, v->u);
}

static inline void mp_put_int(struct iocs_encoder *e, struct mp *m,
                              const struct value *v)
{
    (void)e;
    mp_int(m, v->i);
}

static inline void mp_put_bool(struct iocs_encoder *e, struct mp *m,
                               const struct value *v)
{
    (void)e;
    mp_byte(m, v->u ? 0xc3 : 0xc2);
}

static void mp_put_tags(struct iocs_encoder *e, struct mp *m,
                        const struct value *v)
{
    const char *tags = v->str.s, *tag;
    size_t len;

    mp_array(m, e->ntags);
    while (next_tag(&tags, &tag, &len))
        mp_text(m, tag, len);
}

/* The typed field: its keys as nested maps, then the value. */
static void mp_put_typed(struct iocs_encoder *e, struct mp *m)
{
    for (unsigned i = 0; i < e->ntyped; i++) {
        if (i)
            mp_map(m, 1);
        mp_str(m, e->typed[i].s, e->typed[i].n);
    }
    mp_text(m, e->v[V_VALUE].str.s, e->v[V_VALUE].str.n);
}

/*
 * The table as msgpack after what is buffered. hdr[] (offsets in the
 * buffer) and n[] are the open
 * maps' header bytes and key counts (lv the innermost); with the table's
 * rows expanded in line, the compiler knows lv everywhere. Room is made
 * for everything up to the records, then for each record and what follows
 * it. Returns 0 or the buffer's error.
 */
static int write_mp(struct iocs_encoder *e)
{
    struct mp m = {&e->buf, (unsigned char *)e->buf.p + e->buf.len, 0, 0};
    const struct iocs_ioc *ioc = e->ev->ioc;
    const struct value *v = e->v;
    size_t room = ECS_MP_ROOM + e->body_room;
    size_t hdr[DEPTH_MAX]; /* offsets: making room may move the buffer */
    unsigned n[DEPTH_MAX];
    int lv = 0, err;

    err = mp_room(&m, room + e->head_room);
    if (err)
        return err;
    hdr[0] = (size_t)(m.p++ - (unsigned char *)e->buf.p);
    n[0] = 0;

#define W_KEY(k) (n[lv]++, MP_LIT(&m, k))
#define W_OPEN()                                                               \
    (hdr[++lv] = (size_t)(m.p++ - (unsigned char *)e->buf.p), n[lv] = 0)
#define W_CLOSE()                                                              \
    (((unsigned char *)e->buf.p)[hdr[lv]] = (unsigned char)(0x80 | n[lv]), lv--)
#define W_MAP(k)                                                               \
    W_KEY(k);                                                                  \
    W_OPEN();
#define W_END() W_CLOSE();
#define W_RECORDS(k)                                                           \
    W_KEY(k);                                                                  \
    mp_array(&m, count_records(ioc));                                          \
    for (const struct iocs_ioc *rec = ioc; rec; rec = rec->also) {             \
        record_values(e, rec);                                                 \
        err = mp_room(&m, room + e->rec_room);                                 \
        if (err)                                                               \
            return err;                                                        \
        W_OPEN();
#define W_END_RECORDS()                                                        \
    W_CLOSE();                                                                 \
    }
#define W_LIT(k, t)                                                            \
    W_KEY(k);                                                                  \
    MP_LIT(&m, t);
#define W_LIT1(k, t)                                                           \
    W_KEY(k);                                                                  \
    mp_byte(&m, 0x91);                                                         \
    MP_LIT(&m, t);
#define W_FIELD(k, val, how)                                                   \
    W_KEY(k);                                                                  \
    mp_put_##how(e, &m, &v[val]);
#define W_OPT(k, val, how)                                                     \
    if (v[val].present) {                                                      \
        W_FIELD(k, val, how)                                                   \
    }
#define W_TYPED()                                                              \
    if (e->ntyped) {                                                           \
        n[lv]++;                                                               \
        mp_put_typed(e, &m);                                                   \
    }
#define W_OMAP(k, val)                                                         \
    if (v[val].present) {                                                      \
    W_MAP(k)
#define W_OEND()                                                               \
    W_END()                                                                    \
    }
    ECS_EVENT(W_MAP, W_END, W_RECORDS, W_END_RECORDS, W_LIT, W_LIT1, W_FIELD,
              W_OPT, W_TYPED, W_OMAP, W_OEND)
#undef W_OMAP
#undef W_OEND
#undef W_KEY
#undef W_OPEN
#undef W_CLOSE
#undef W_MAP
#undef W_END
#undef W_RECORDS
#undef W_END_RECORDS
#undef W_LIT
#undef W_LIT1
#undef W_FIELD
#undef W_OPT
#undef W_TYPED
    ((unsigned char *)e->buf.p)[hdr[0]] = (unsigned char)(0x80 | n[0]);
    e->buf.len = (size_t)(m.p - (unsigned char *)e->buf.p);
    return m.err;
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

/* How each kind of value is written (the table's `how`). */
static inline void js_put_str(struct iocs_encoder *e, struct iocs__jbuf *b,
                              const struct value *v)
{
    (void)e;
    iocs__json_str(b, v->str.s, v->str.n);
}

static inline void js_put_time(struct iocs_encoder *e, struct iocs__jbuf *b,
                               const struct value *v)
{
    json_ts(b, &e->ts[v == &e->v[V_CREATED]], v->ts);
}

static inline void js_put_uint(struct iocs_encoder *e, struct iocs__jbuf *b,
                               const struct value *v)
{
    (void)e;
    iocs__json_u64(b, v->u);
}

static inline void js_put_int(struct iocs_encoder *e, struct iocs__jbuf *b,
                              const struct value *v)
{
    (void)e;
    iocs__json_i64(b, v->i);
}

static inline void js_put_bool(struct iocs_encoder *e, struct iocs__jbuf *b,
                               const struct value *v)
{
    (void)e;
    if (v->u)
        LIT(b, "true");
    else
        LIT(b, "false");
}

static void js_put_tags(struct iocs_encoder *e, struct iocs__jbuf *b,
                        const struct value *v)
{
    const char *tags = v->str.s, *tag;
    bool first = true;
    size_t len;

    (void)e;
    LIT(b, "[");
    while (next_tag(&tags, &tag, &len)) {
        if (!first)
            LIT(b, ",");
        first = false;
        iocs__json_str(b, tag, len);
    }
    LIT(b, "]");
}

/* The typed field: its keys as nested objects, then the value. */
static void js_put_typed(struct iocs_encoder *e, struct iocs__jbuf *b)
{
    for (unsigned i = 0; i < e->ntyped; i++) {
        if (i)
            LIT(b, "{");
        iocs__json_str(b, e->typed[i].s, e->typed[i].n);
        LIT(b, ":");
    }
    iocs__json_str(b, e->v[V_VALUE].str.s, e->v[V_VALUE].str.n);
    for (unsigned i = 1; i < e->ntyped; i++)
        LIT(b, "}");
}

/*
 * The table as one JSON line, exactly as decode.c prints the msgpack form.
 * n[] counts the keys of the open objects, for the commas. Errors stay in
 * e->buf.err.
 */
static void write_json(struct iocs_encoder *e)
{
    struct iocs__jbuf *b = &e->buf;
    const struct iocs_ioc *ioc = e->ev->ioc;
    const struct value *v = e->v;
    unsigned n[DEPTH_MAX];
    int lv = 0;

    LIT(b, "{");
    n[0] = 0;

#define W_KEY(k)                                                               \
    if (n[lv]++)                                                               \
        LIT(b, ",\"" k "\":");                                                 \
    else                                                                       \
        LIT(b, "\"" k "\":");
#define W_OPEN()                                                               \
    LIT(b, "{");                                                               \
    n[++lv] = 0;
#define W_CLOSE()                                                              \
    LIT(b, "}");                                                               \
    lv--;
#define W_MAP(k) W_KEY(k) W_OPEN()
#define W_END() W_CLOSE()
#define W_RECORDS(k)                                                           \
    W_KEY(k)                                                                   \
    LIT(b, "[");                                                               \
    for (const struct iocs_ioc *rec = ioc; rec; rec = rec->also) {             \
        if (rec != ioc)                                                        \
            LIT(b, ",");                                                       \
        record_values(e, rec);                                                 \
        W_OPEN()
#define W_END_RECORDS()                                                        \
    W_CLOSE()                                                                  \
    }                                                                          \
    LIT(b, "]");
#define W_LIT(k, t) W_KEY(k) LIT(b, "\"" t "\"");
#define W_LIT1(k, t) W_KEY(k) LIT(b, "[\"" t "\"]");
#define W_FIELD(k, val, how) W_KEY(k) js_put_##how(e, b, &v[val]);
#define W_OPT(k, val, how)                                                     \
    if (v[val].present) {                                                      \
        W_FIELD(k, val, how)                                                   \
    }
#define W_TYPED()                                                              \
    if (e->ntyped) {                                                           \
        if (n[lv]++)                                                           \
            LIT(b, ",");                                                       \
        js_put_typed(e, b);                                                    \
    }
#define W_OMAP(k, val)                                                         \
    if (v[val].present) {                                                      \
    W_MAP(k)
#define W_OEND()                                                               \
    W_END()                                                                    \
    }
    ECS_EVENT(W_MAP, W_END, W_RECORDS, W_END_RECORDS, W_LIT, W_LIT1, W_FIELD,
              W_OPT, W_TYPED, W_OMAP, W_OEND)
#undef W_OMAP
#undef W_OEND
#undef W_KEY
#undef W_OPEN
#undef W_CLOSE
#undef W_MAP
#undef W_END
#undef W_RECORDS
#undef W_END_RECORDS
#undef W_LIT
#undef W_LIT1
#undef W_FIELD
#undef W_OPT
#undef W_TYPED
    LIT(b, "}\n");
}

#undef LIT

/* ---- events ------------------------------------------------------------ */

/* Keep where the event just written ends. Returns 0 or -ENOMEM. */
static int add_rec(struct iocs_encoder *e, const struct iocs_event *ev)
{
    if (e->nrec == e->rec_cap) {
        size_t cap = e->rec_cap * 2;
        struct iocs_sink_rec *r;
        char(*ids)[IOCS_EVENTID_LEN + 1];

        if (cap > ENC_REC_MAX)
            return -ENOMEM;
        r = realloc(e->rec, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        e->rec = r;
        ids = realloc(e->ids, cap * sizeof(*ids));
        if (!ids)
            return -ENOMEM; /* rec is bigger, which is harmless */
        e->ids = ids;
        e->rec_cap = cap;
        /* The ids moved: point the records kept so far at them again. */
        for (size_t i = 0; i < e->nrec; i++)
            e->rec[i].id = e->ids[i];
    }
    memcpy(e->ids[e->nrec], e->event_id, sizeof(e->event_id));
    e->rec[e->nrec] = (struct iocs_sink_rec){.end = e->buf.len,
                                             .timestamp = ev->timestamp,
                                             .id = e->ids[e->nrec],
                                             .path = ev->path};
    e->nrec++;
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
        err = write_mp(e);
    } else {
        write_json(e);
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
