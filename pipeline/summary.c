/*
 * summary.c - per-IOC rows from an event stream. A hash table (open
 * addressing, power-of-two size, at most half full) maps (type, indicator)
 * to a row; each row keeps its feeds, hosts and files as sorted string
 * sets, so a repeated value costs a binary search and nothing else.
 */
#include "pipeline/summary.h"

#include <errno.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/decode.h"
#include "pipeline/json.h"

/* The longest JSON line or unparsed msgpack run accepted. */
#define SUMMARY_OBJ_MAX (64u << 20)

struct strset {
    char **v;
    size_t n, cap;
};

struct row {
    char *indicator, *type;
    uint64_t events;
    struct timespec first, last;
    bool seen_time;
    struct strset feeds, hosts, files;
};

enum fmt { FMT_UNKNOWN, FMT_JSON, FMT_MSGPACK };

struct iocs_summary {
    struct row *rows;
    size_t nrows, caprows;
    uint32_t *slots; /* row index + 1; 0 is empty */
    size_t nslots;
    uint64_t events, skipped, offset;
    enum fmt fmt;
    bool lead_ws; /* the stream started with white space */
    char *line;   /* JSON: the line being gathered */
    size_t linelen, linecap;
    msgpack_unpacker mp;
    bool mp_init;
};

static uint64_t hash(const char *a, const char *b)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (const char *s = a; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;
    for (const char *s = b; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* Add a copy of p[0..n) to set unless it is there. */
static int set_add(struct strset *set, const char *p, size_t n)
{
    char *s = strndup(p, n);
    size_t lo = 0, hi = set->n;

    if (!s)
        return -ENOMEM;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(set->v[mid], s);

        if (c == 0) {
            free(s);
            return 0;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 4;
        char **v = realloc(set->v, cap * sizeof(*v));

        if (!v) {
            free(s);
            return -ENOMEM;
        }
        set->v = v;
        set->cap = cap;
    }
    memmove(set->v + lo + 1, set->v + lo, (set->n - lo) * sizeof(*set->v));
    set->v[lo] = s;
    set->n++;
    return 0;
}

static void set_fini(struct strset *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->v[i]);
    free(set->v);
}

int iocs_summary_new(struct iocs_summary **out)
{
    struct iocs_summary *s = calloc(1, sizeof(*s));

    if (!s)
        return -ENOMEM;
    s->nslots = 1024;
    s->slots = calloc(s->nslots, sizeof(*s->slots));
    if (!s->slots) {
        free(s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

void iocs_summary_free(struct iocs_summary *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nrows; i++) {
        struct row *r = &s->rows[i];

        free(r->indicator);
        free(r->type);
        set_fini(&r->feeds);
        set_fini(&r->hosts);
        set_fini(&r->files);
    }
    free(s->rows);
    free(s->slots);
    free(s->line);
    if (s->mp_init)
        msgpack_unpacker_destroy(&s->mp);
    free(s);
}

static int grow_slots(struct iocs_summary *s)
{
    size_t n = s->nslots * 2;
    uint32_t *v = calloc(n, sizeof(*v));

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < s->nrows; i++) {
        size_t j = hash(s->rows[i].type, s->rows[i].indicator) & (n - 1);

        while (v[j])
            j = (j + 1) & (n - 1);
        v[j] = (uint32_t)(i + 1);
    }
    free(s->slots);
    s->slots = v;
    s->nslots = n;
    return 0;
}

/* The row of (type, indicator), made when new; NULL on ENOMEM. */
static struct row *get_row(struct iocs_summary *s, const char *type,
                           const char *ind)
{
    size_t j;
    struct row *r;

    if ((s->nrows + 1) * 2 > s->nslots && grow_slots(s))
        return NULL;
    j = hash(type, ind) & (s->nslots - 1);
    while (s->slots[j]) {
        r = &s->rows[s->slots[j] - 1];
        if (!strcmp(r->type, type) && !strcmp(r->indicator, ind))
            return r;
        j = (j + 1) & (s->nslots - 1);
    }
    if (s->nrows == s->caprows) {
        size_t cap = s->caprows ? s->caprows * 2 : 64;
        struct row *v = realloc(s->rows, cap * sizeof(*v));

        if (!v)
            return NULL;
        s->rows = v;
        s->caprows = cap;
    }
    r = &s->rows[s->nrows];
    memset(r, 0, sizeof(*r));
    r->indicator = strdup(ind);
    r->type = strdup(type);
    if (!r->indicator || !r->type) {
        free(r->indicator);
        free(r->type);
        return NULL;
    }
    s->slots[j] = (uint32_t)(++s->nrows);
    return r;
}

/* What one event contributes, as pointers into the decoded object. */
struct fields {
    const char *ind, *type, *host, *file;
    size_t ind_len, type_len, host_len, file_len;
    const char *feeds[16];
    size_t feed_len[16];
    unsigned nfeeds;
    struct timespec ts;
    bool has_ts;
};

static int timespec_cmp(const struct timespec *a, const struct timespec *b)
{
    if (a->tv_sec != b->tv_sec)
        return a->tv_sec < b->tv_sec ? -1 : 1;
    if (a->tv_nsec != b->tv_nsec)
        return a->tv_nsec < b->tv_nsec ? -1 : 1;
    return 0;
}

static int add_fields(struct iocs_summary *s, const struct fields *f)
{
    char ind[4096], type[64];
    struct row *r;
    int err = 0;

    if (!f->ind || !f->type || f->ind_len >= sizeof(ind) ||
        f->type_len >= sizeof(type)) {
        s->skipped++;
        return 0;
    }
    memcpy(ind, f->ind, f->ind_len);
    ind[f->ind_len] = '\0';
    memcpy(type, f->type, f->type_len);
    type[f->type_len] = '\0';
    r = get_row(s, type, ind);
    if (!r)
        return -ENOMEM;
    r->events++;
    s->events++;
    if (f->has_ts) {
        if (!r->seen_time || timespec_cmp(&f->ts, &r->first) < 0)
            r->first = f->ts;
        if (!r->seen_time || timespec_cmp(&f->ts, &r->last) > 0)
            r->last = f->ts;
        r->seen_time = true;
    }
    for (unsigned i = 0; i < f->nfeeds && !err; i++)
        err = set_add(&r->feeds, f->feeds[i], f->feed_len[i]);
    if (!err && f->host)
        err = set_add(&r->hosts, f->host, f->host_len);
    if (!err && f->file)
        err = set_add(&r->files, f->file, f->file_len);
    return err;
}

/* "2024-12-05T03:14:15.123456789Z" (or +hh:mm) -> *ts. */
static bool parse_rfc3339(const char *p, size_t n, struct timespec *ts)
{
    struct tm tm = {0};
    char buf[64];
    char *end;
    long frac = 0;
    int digits = 0;
    time_t t;

    if (n >= sizeof(buf))
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    end = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return false;
    if (*end == '.' || *end == ',') {
        for (end++; *end >= '0' && *end <= '9'; end++) {
            if (digits < 9) {
                frac = frac * 10 + (*end - '0');
                digits++;
            }
        }
        for (; digits < 9; digits++)
            frac *= 10;
    }
    t = timegm(&tm);
    if (*end == '+' || *end == '-') {
        int hh, mm;

        if (sscanf(end + 1, "%2d:%2d", &hh, &mm) != 2)
            return false;
        t -= (*end == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
    } else if (*end != 'Z' && *end != '\0') {
        return false;
    }
    ts->tv_sec = t;
    ts->tv_nsec = frac;
    return true;
}

/* -- msgpack -- */

static const msgpack_object *mp_get(const msgpack_object *o, const char *key)
{
    size_t n = strlen(key);

    if (!o || o->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;

        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            !memcmp(k->via.str.ptr, key, n))
            return &o->via.map.ptr[i].val;
    }
    return NULL;
}

/* o's path a.b.c as a string (str or bin), or false. */
static bool mp_str(const msgpack_object *o, const char *const *path,
                   const char **p, size_t *n)
{
    for (; *path && o; path++)
        o = mp_get(o, *path);
    if (!o)
        return false;
    if (o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.ptr;
        *n = o->via.str.size;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_BIN) {
        *p = o->via.bin.ptr;
        *n = o->via.bin.size;
        return true;
    }
    return false;
}

static bool mp_time(const msgpack_object *o, struct timespec *ts)
{
    if (!o)
        return false;
    if (o->type == MSGPACK_OBJECT_STR)
        return parse_rfc3339(o->via.str.ptr, o->via.str.size, ts);
    if (o->type == MSGPACK_OBJECT_EXT && o->via.ext.type == -1) {
        const unsigned char *b = (const unsigned char *)o->via.ext.ptr;
        uint64_t v = 0;

        switch (o->via.ext.size) {
        case 4:
            for (int i = 0; i < 4; i++)
                v = v << 8 | b[i];
            ts->tv_sec = (time_t)v;
            ts->tv_nsec = 0;
            return true;
        case 8:
            for (int i = 0; i < 8; i++)
                v = v << 8 | b[i];
            ts->tv_nsec = (long)(v >> 34);
            ts->tv_sec = (time_t)(v & 0x3ffffffffull);
            return ts->tv_nsec < 1000000000;
        case 12: {
            uint32_t ns = 0;

            for (int i = 0; i < 4; i++)
                ns = ns << 8 | b[i];
            for (int i = 4; i < 12; i++)
                v = v << 8 | b[i];
            ts->tv_nsec = (long)ns;
            ts->tv_sec = (time_t)(int64_t)v;
            return ns < 1000000000;
        }
        default:
            return false;
        }
    }
    return false;
}

static int add_mp(struct iocs_summary *s, const msgpack_object *ev)
{
    static const char *const p_host[] = {"host", "name", NULL};
    static const char *const p_file[] = {"log", "file", "path", NULL};
    static const char *const p_ind[] = {"indicator", "name", NULL};
    static const char *const p_type[] = {"indicator", "type", NULL};
    static const char *const p_feed[] = {"feed", "name", NULL};
    const msgpack_object *en = mp_get(mp_get(ev, "threat"), "enrichments");
    struct fields f = {0};

    if (en && en->type == MSGPACK_OBJECT_ARRAY && en->via.array.size > 0) {
        const msgpack_object *e0 = &en->via.array.ptr[0];

        if (!mp_str(e0, p_ind, &f.ind, &f.ind_len))
            f.ind = NULL;
        if (!mp_str(e0, p_type, &f.type, &f.type_len))
            f.type = NULL;
        for (uint32_t i = 0; i < en->via.array.size && f.nfeeds < 16; i++)
            if (mp_str(&en->via.array.ptr[i], p_feed, &f.feeds[f.nfeeds],
                       &f.feed_len[f.nfeeds]))
                f.nfeeds++;
    }
    if (!mp_str(ev, p_host, &f.host, &f.host_len))
        f.host = NULL;
    if (!mp_str(ev, p_file, &f.file, &f.file_len))
        f.file = NULL;
    f.has_ts = mp_time(mp_get(ev, "@timestamp"), &f.ts);
    return add_fields(s, &f);
}

static int add_msgpack(struct iocs_summary *s, const void *p, size_t n,
                       char *errbuf, size_t errlen)
{
    msgpack_unpacked u;
    int err = 0;

    if (!s->mp_init) {
        if (!msgpack_unpacker_init(&s->mp, 64 * 1024))
            return -ENOMEM;
        s->mp_init = true;
    }
    if (msgpack_unpacker_buffer_capacity(&s->mp) < n &&
        !msgpack_unpacker_reserve_buffer(&s->mp, n))
        return -ENOMEM;
    memcpy(msgpack_unpacker_buffer(&s->mp), p, n);
    msgpack_unpacker_buffer_consumed(&s->mp, n);
    msgpack_unpacked_init(&u);
    for (;;) {
        const unsigned char *b =
            (const unsigned char *)s->mp.buffer + s->mp.off;
        size_t avail = s->mp.used - s->mp.off, len = 0;
        int fr;

        if (avail == 0)
            break;
        /* Only whole, checked objects reach the unpacker: it allocates
         * for the counts in headers before the bytes are there. */
        fr = iocs__msgpack_frame(b, avail, &len);
        if (fr == 0) {
            if (len > SUMMARY_OBJ_MAX) {
                snprintf(errbuf, errlen, "an object over %u bytes",
                         SUMMARY_OBJ_MAX);
                err = -EBADMSG;
            }
            break;
        }
        if (fr < 0 ||
            msgpack_unpacker_next(&s->mp, &u) != MSGPACK_UNPACK_SUCCESS) {
            snprintf(errbuf, errlen, "not a msgpack event stream at byte %llu",
                     (unsigned long long)(s->offset + len));
            err = -EBADMSG;
            break;
        }
        s->offset += len;
        if (u.data.type == MSGPACK_OBJECT_MAP)
            err = add_mp(s, &u.data);
        else
            s->skipped++;
        if (err)
            break;
    }
    msgpack_unpacked_destroy(&u);
    return err;
}

/* -- JSON -- */

static bool js_str(json_t *o, const char *const *path, const char **p,
                   size_t *n)
{
    for (; *path && o; path++)
        o = json_object_get(o, *path);
    if (!json_is_string(o))
        return false;
    *p = json_string_value(o);
    *n = json_string_length(o);
    return true;
}

static int add_json_line(struct iocs_summary *s, const char *p, size_t n,
                         char *errbuf, size_t errlen)
{
    static const char *const p_host[] = {"host", "name", NULL};
    static const char *const p_file[] = {"log", "file", "path", NULL};
    static const char *const p_ind[] = {"indicator", "name", NULL};
    static const char *const p_type[] = {"indicator", "type", NULL};
    static const char *const p_feed[] = {"feed", "name", NULL};
    static const char *const p_ts[] = {"@timestamp", NULL};
    struct fields f = {0};
    json_error_t je;
    json_t *ev, *en;
    const char *ts;
    size_t tslen;
    int err;

    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0)
        return 0;
    ev = json_loadb(p, n, JSON_ALLOW_NUL, &je);
    if (!ev) {
        snprintf(errbuf, errlen, "not a JSON event near byte %llu: %s",
                 (unsigned long long)s->offset, je.text);
        return -EBADMSG;
    }
    en = json_object_get(json_object_get(ev, "threat"), "enrichments");
    if (json_is_array(en) && json_array_size(en) > 0) {
        json_t *e0 = json_array_get(en, 0);

        if (!js_str(e0, p_ind, &f.ind, &f.ind_len))
            f.ind = NULL;
        if (!js_str(e0, p_type, &f.type, &f.type_len))
            f.type = NULL;
        for (size_t i = 0; i < json_array_size(en) && f.nfeeds < 16; i++)
            if (js_str(json_array_get(en, i), p_feed, &f.feeds[f.nfeeds],
                       &f.feed_len[f.nfeeds]))
                f.nfeeds++;
    }
    if (!js_str(ev, p_host, &f.host, &f.host_len))
        f.host = NULL;
    if (!js_str(ev, p_file, &f.file, &f.file_len))
        f.file = NULL;
    if (js_str(ev, p_ts, &ts, &tslen))
        f.has_ts = parse_rfc3339(ts, tslen, &f.ts);
    err = add_fields(s, &f);
    json_decref(ev);
    return err;
}

static int add_json(struct iocs_summary *s, const char *p, size_t n,
                    char *errbuf, size_t errlen)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        int err;

        if (s->linelen + take > SUMMARY_OBJ_MAX) {
            snprintf(errbuf, errlen, "a line over %u bytes", SUMMARY_OBJ_MAX);
            return -EBADMSG;
        }
        if (!nl || s->linelen) {
            /* Gather a line cut between calls. */
            if (s->linelen + take > s->linecap) {
                size_t cap = s->linecap ? s->linecap : 4096;
                char *v;

                while (cap < s->linelen + take)
                    cap *= 2;
                v = realloc(s->line, cap);
                if (!v)
                    return -ENOMEM;
                s->line = v;
                s->linecap = cap;
            }
            memcpy(s->line + s->linelen, p, take);
            s->linelen += take;
        }
        if (!nl)
            return 0;
        err = s->linelen ? add_json_line(s, s->line, s->linelen, errbuf, errlen)
                         : add_json_line(s, p, take, errbuf, errlen);
        s->offset += take + 1;
        s->linelen = 0;
        if (err)
            return err;
        p += take + 1;
        n -= take + 1;
    }
    return 0;
}

int iocs_summary_add(struct iocs_summary *s, const void *p, size_t n,
                     char *errbuf, size_t errlen)
{
    const unsigned char *b = p;

    if (n == 0)
        return 0;
    if (s->fmt == FMT_UNKNOWN) {
        size_t i = 0;

        while (i < n &&
               (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
            i++;
        /* White space first can only be JSON; it means nothing there, so
         * it need not be kept. */
        s->lead_ws = s->lead_ws || i > 0;
        if (i == n)
            return 0;
        s->fmt = b[i] == '{' || s->lead_ws ? FMT_JSON : FMT_MSGPACK;
    }
    if (s->fmt == FMT_JSON)
        return add_json(s, p, n, errbuf, errlen);
    return add_msgpack(s, p, n, errbuf, errlen);
}

int iocs_summary_end(struct iocs_summary *s, char *errbuf, size_t errlen)
{
    int err = 0;

    if (s->fmt == FMT_JSON && s->linelen) {
        err = add_json_line(s, s->line, s->linelen, errbuf, errlen);
        s->linelen = 0;
    } else if (s->fmt == FMT_MSGPACK && s->mp_init && s->mp.used > s->mp.off) {
        snprintf(errbuf, errlen, "the stream ends inside an event");
        err = -EBADMSG;
    }
    if (s->mp_init) {
        msgpack_unpacker_destroy(&s->mp);
        s->mp_init = false;
    }
    s->fmt = FMT_UNKNOWN;
    s->lead_ws = false;
    s->offset = 0;
    return err;
}

uint64_t iocs_summary_events(const struct iocs_summary *s)
{
    return s->events;
}

uint64_t iocs_summary_skipped(const struct iocs_summary *s)
{
    return s->skipped;
}

static void fmt_time(char *out, size_t cap, const struct row *r, bool last)
{
    const struct timespec *t = last ? &r->last : &r->first;
    struct tm tm;

    if (!r->seen_time || !gmtime_r(&t->tv_sec, &tm)) {
        snprintf(out, cap, "-");
        return;
    }
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, t->tv_nsec);
}

static int by_first_seen(const void *a, const void *b)
{
    const struct row *x = *(const struct row *const *)a;
    const struct row *y = *(const struct row *const *)b;
    int c;

    if (x->seen_time != y->seen_time)
        return x->seen_time ? -1 : 1;
    c = x->seen_time ? timespec_cmp(&x->first, &y->first) : 0;
    if (c)
        return c;
    c = strcmp(x->indicator, y->indicator);
    return c ? c : strcmp(x->type, y->type);
}

static void put_set(struct iocs__jbuf *b, const char *key,
                    const struct strset *set)
{
    IOCS__JBUF_LIT(b, ",");
    iocs__json_cstr(b, key);
    IOCS__JBUF_LIT(b, ":");
    IOCS__JBUF_LIT(b, "[");
    for (size_t i = 0; i < set->n; i++) {
        if (i)
            IOCS__JBUF_LIT(b, ",");
        iocs__json_cstr(b, set->v[i]);
    }
    IOCS__JBUF_LIT(b, "]");
}

static void put_json_row(struct iocs__jbuf *b, const struct row *r)
{
    IOCS__JBUF_LIT(b, "{\"indicator\":");
    iocs__json_cstr(b, r->indicator);
    IOCS__JBUF_LIT(b, ",\"type\":");
    iocs__json_cstr(b, r->type);
    put_set(b, "feeds", &r->feeds);
    IOCS__JBUF_LIT(b, ",\"events\":");
    iocs__json_u64(b, r->events);
    IOCS__JBUF_LIT(b, ",\"first_seen\":");
    if (r->seen_time) {
        iocs__json_time(b, r->first.tv_sec, (uint32_t)r->first.tv_nsec);
    } else {
        IOCS__JBUF_LIT(b, "null");
    }
    IOCS__JBUF_LIT(b, ",\"last_seen\":");
    if (r->seen_time) {
        iocs__json_time(b, r->last.tv_sec, (uint32_t)r->last.tv_nsec);
    } else {
        IOCS__JBUF_LIT(b, "null");
    }
    put_set(b, "hosts", &r->hosts);
    put_set(b, "files", &r->files);
    IOCS__JBUF_LIT(b, "}\n");
}

/* "a, b, c" of a set, cut to cap with "..." */
static void join(char *out, size_t cap, const struct strset *set)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < set->n; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? "," : "", set->v[i]);

        if (w < 0 || (size_t)w >= cap - len) {
            if (cap > 4)
                memcpy(out + cap - 4, "...", 4);
            return;
        }
        len += (size_t)w;
    }
    if (set->n == 0)
        snprintf(out, cap, "-");
}

int iocs_summary_print(const struct iocs_summary *s, FILE *out, bool json)
{
    const struct row **v = NULL;
    struct iocs__jbuf b;
    int err = 0;

    if (s->nrows) {
        v = malloc(s->nrows * sizeof(*v));
        if (!v)
            return -ENOMEM;
    }
    for (size_t i = 0; i < s->nrows; i++)
        v[i] = &s->rows[i];
    if (s->nrows)
        qsort(v, s->nrows, sizeof(*v), by_first_seen);
    if (!json)
        fprintf(out, "%-30s %-11s %8s %-30s %-30s %-20s %s\n", "INDICATOR",
                "TYPE", "EVENTS", "FIRST_SEEN", "LAST_SEEN", "HOSTS", "FILES");
    if (iocs__jbuf_init(&b, 4096, SUMMARY_OBJ_MAX)) {
        free(v);
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->nrows; i++) {
        const struct row *r = v[i];

        if (json) {
            b.len = 0;
            put_json_row(&b, r);
            if (b.err) {
                err = b.err;
                break;
            }
            fwrite(b.p, 1, b.len, out);
        } else {
            char first[64], last[64], hosts[128], files[256];

            fmt_time(first, sizeof(first), r, false);
            fmt_time(last, sizeof(last), r, true);
            join(hosts, sizeof(hosts), &r->hosts);
            join(files, sizeof(files), &r->files);
            fprintf(out, "%-30s %-11s %8llu %-30s %-30s %-20s %s\n",
                    r->indicator, r->type, (unsigned long long)r->events, first,
                    last, hosts, files);
        }
    }
    iocs__jbuf_fini(&b);
    free(v);
    if (!err && (fflush(out) != 0 || ferror(out)))
        err = -EIO;
    return err;
}
