/*
 * live.c - follower items through framer -> scanner -> encoder -> sink on
 * one thread (live.h). Each item is framed as one source: its first slab
 * is marked first (the framer drops nothing, since every item starts at a
 * line start), its last slab last, so units end at the item's last line
 * end and no carry outlives an item.
 */
#include "pipeline/live.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/codec.h"
#include "pipeline/encode.h"
#include "pipeline/framer.h"

/* Compressed input read at once. */
#define IN_CAP (64u << 10)

struct iocs_live {
    struct iocs_sink *sink;
    const struct iocs_db *db;
    const struct iocs_allow *allow;
    struct iocs_live_opts o;
    struct iocs_scanner *sc;
    struct iocs_linestate *ls;
    struct iocs_encoder *enc;
    struct iocs_framer *fr;
    unsigned char *buf; /* headroom + slab */
    size_t headroom;
    unsigned char *in; /* IN_CAP: compressed input */
    struct iocs_decoder *dec[IOCS_CODEC_EVTX + 1];
    struct iocs_sink_pos pos;     /* carried by the next batch */
    struct iocs_sink_pos written; /* carried by the last batch */
    uint64_t seq, bytes;          /* last batch written; bytes 1..seq */
    struct iocs_scan_stats base;  /* totals of scanners swapped out */
};

/* A compressed stream being read: input left, end of input reached. */
struct instream {
    int fd;
    uint64_t off;
    const unsigned char *p;
    size_t len;
    int eof;
};

static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static bool same_pos(const struct iocs_sink_pos *a,
                     const struct iocs_sink_pos *b)
{
    return a->source == b->source && a->offset == b->offset &&
           a->line == b->line;
}

int iocs_live_write(struct iocs_live *l)
{
    struct iocs_sink_batch b;
    int err;

    if (iocs_encoder_events(l->enc) == 0 && l->seq > 0 &&
        same_pos(&l->pos, &l->written))
        return 0; /* nothing new to say */
    iocs_encoder_batch(l->enc, &b);
    b.seq = l->seq + 1;
    b.pos = l->pos;
    err = iocs_sink_write(l->sink, &b);
    if (err)
        return err;
    l->seq++;
    l->bytes += b.len;
    l->written = l->pos;
    iocs_encoder_clear(l->enc);
    return 0;
}

static int on_event(void *ctx, const struct iocs_event *ev)
{
    struct iocs_live *l = ctx;
    int err = iocs_encoder_event(l->enc, ev);

    if (err == -ENOMEM && iocs_encoder_events(l->enc) > 0) {
        /* It may fit alone: write out the events before it and retry. */
        err = iocs_live_write(l);
        if (err)
            return err;
        err = iocs_encoder_event(l->enc, ev);
    }
    if (err)
        return err;
    if (iocs_encoder_len(l->enc) >= IOCS_ENCODE_FLUSH_AT)
        return iocs_live_write(l);
    return 0;
}

static int make_stages(const struct iocs_db *db, const struct iocs_allow *allow,
                       const struct iocs_live_opts *o, struct iocs_sink *sink,
                       struct iocs_scanner **sc, struct iocs_encoder **enc)
{
    struct iocs_scanner_opts so = {
        .max_line = o->max_line, .allow = allow, .time = o->time};
    struct iocs_encoder_opts eo = {.format = sink->format,
                                   .str_times = sink->str_times,
                                   .db_id = iocs_db_id(db)};
    int err = iocs_scanner_new(sc, db, &so);

    if (err)
        return err;
    err = iocs_encoder_new(enc, &eo);
    if (err) {
        iocs_scanner_free(*sc);
        *sc = NULL;
    }
    return err;
}

int iocs_live_new(struct iocs_live **out, const struct iocs_db *db,
                  struct iocs_sink *sink, const struct iocs_live_opts *o)
{
    size_t overlap = iocs_db_overlap(db);
    struct iocs_live *l;
    int err;

    if (!o->slab_size || !o->max_line)
        return -EINVAL;
    l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->sink = sink;
    l->db = db;
    l->allow = o->allow;
    l->o = *o;
    l->headroom = o->slab_size > overlap ? o->slab_size : overlap;
    l->buf = malloc(l->headroom + o->slab_size);
    l->in = malloc(IN_CAP);
    err = l->buf && l->in ? 0 : -ENOMEM;
    if (!err)
        err = make_stages(db, o->allow, o, sink, &l->sc, &l->enc);
    if (!err)
        err = iocs_linestate_new(&l->ls, o->max_line);
    if (!err)
        err = iocs_framer_new(&l->fr, o->slab_size, overlap);
    if (err) {
        iocs_live_free(l);
        return err;
    }
    *out = l;
    return 0;
}

void iocs_live_free(struct iocs_live *l)
{
    if (!l)
        return;
    iocs_scanner_free(l->sc);
    iocs_linestate_free(l->ls);
    iocs_encoder_free(l->enc);
    iocs_framer_free(l->fr);
    for (size_t i = 0; i < sizeof(l->dec) / sizeof(l->dec[0]); i++)
        iocs_decoder_free(l->dec[i]);
    free(l->buf);
    free(l->in);
    free(l);
}

void iocs_live_set_pos(struct iocs_live *l, const struct iocs_sink_pos *pos)
{
    l->pos = *pos;
}

uint64_t iocs_live_written(const struct iocs_live *l, uint64_t *bytes)
{
    if (bytes)
        *bytes = l->bytes;
    return l->seq;
}

static void add_stats(struct iocs_scan_stats *a,
                      const struct iocs_scan_stats *b)
{
    a->bytes += b->bytes;
    a->lines += b->lines;
    a->matches += b->matches;
    a->events += b->events;
    a->splits += b->splits;
    a->lost += b->lost;
}

void iocs_live_stats(const struct iocs_live *l, struct iocs_scan_stats *out)
{
    struct iocs_scan_stats st;

    *out = l->base;
    iocs_scanner_stats(l->sc, &st);
    add_stats(out, &st);
}

int iocs_live_set_db(struct iocs_live *l, const struct iocs_db *db,
                     const struct iocs_allow *allow)
{
    struct iocs_scanner *sc = NULL;
    struct iocs_encoder *enc = NULL;
    struct iocs_framer *fr = NULL;
    struct iocs_scan_stats st;
    size_t overlap = iocs_db_overlap(db);
    int err;

    err = iocs_live_write(l); /* the old set's events leave first */
    if (err)
        return err;
    /* The new set may need a longer overlap: headroom is fixed, so keep
     * the slab-sized headroom rule (overlap never exceeds it in practice;
     * refuse rather than overrun). */
    if (overlap > l->headroom)
        return -E2BIG;
    err = make_stages(db, allow, &l->o, l->sink, &sc, &enc);
    if (!err)
        err = iocs_framer_new(&fr, l->o.slab_size, overlap);
    if (err) {
        iocs_scanner_free(sc);
        iocs_encoder_free(enc);
        return err;
    }
    iocs_scanner_stats(l->sc, &st);
    add_stats(&l->base, &st);
    iocs_scanner_free(l->sc);
    iocs_encoder_free(l->enc);
    iocs_framer_free(l->fr);
    l->sc = sc;
    l->enc = enc;
    l->fr = fr;
    l->db = db;
    l->allow = allow;
    return 0;
}

/* Whether the caller asked to stop (wake_fd readable). */
static bool woken(const struct iocs_live *l)
{
    struct pollfd p = {.fd = l->o.wake_fd, .events = POLLIN};

    return l->o.wake_fd > 0 && poll(&p, 1, 0) > 0;
}

/* The scan of one item in progress. */
struct itemscan {
    const struct iocs_follow_item *it;
    struct iocs_live_res *res;
    uint64_t line0; /* line of the next unit's first byte */
    bool first;     /* no slab framed yet */
    bool open;      /* a unit left its line open */
};

/*
 * Frame and scan the slab s: at most one unit. Moves res to the end of a
 * unit that ends its line; stops (res->stopped) there when woken.
 */
static int feed(struct iocs_live *l, struct itemscan *is, struct iocs_slab *s)
{
    struct iocs_unit u;
    uint64_t nl = 0;
    int rc, err;

    s->headroom = l->headroom;
    s->first = is->first;
    is->first = false;
    rc = iocs_framer_frame(l->fr, s, &u);
    if (rc <= 0)
        return rc;
    err = iocs_scanner_unit(l->sc, &u, is->it->path, is->line0, l->ls, on_event,
                            l, &nl);
    if (err)
        return err;
    is->line0 += nl;
    is->open = !u.ends_line;
    if (u.ends_line) {
        uint64_t end = u.offset + u.len;

        /* A last line with no '\n' (final items only): the next line. */
        if (u.last && u.len > 0 && u.ptr[u.len - 1] != '\n')
            is->line0++;
        is->res->end = end;
        is->res->line = is->line0;
        if (!u.last && woken(l))
            is->res->stopped = true;
    }
    return 0;
}

/* Where a non-final plain item's whole lines end: after its last '\n' in
 * [offset, end), or offset when it holds none. */
static int last_line_end(struct iocs_live *l, const struct iocs_follow_item *it,
                         uint64_t *lim)
{
    unsigned char *data = l->buf + l->headroom;
    uint64_t hi = it->end;

    while (hi > it->offset) {
        size_t n = hi - it->offset < l->o.slab_size ? (size_t)(hi - it->offset)
                                                    : l->o.slab_size;
        ssize_t got = pread_full(it->fd, data, n, hi - n);
        unsigned char *p;

        if (got < 0)
            return (int)got;
        if ((size_t)got < n) {
            hi = hi - n + (uint64_t)got; /* cut meanwhile: look again */
            continue;
        }
        p = memrchr(data, '\n', n);
        if (p) {
            *lim = hi - n + (uint64_t)(p - data) + 1;
            return 0;
        }
        hi -= n;
    }
    *lim = it->offset;
    return 0;
}

static int scan_plain(struct iocs_live *l, struct itemscan *is)
{
    const struct iocs_follow_item *it = is->it;
    unsigned char *data = l->buf + l->headroom;
    uint64_t lim = it->end, pos = it->offset;
    int err;

    if (!it->final) {
        err = last_line_end(l, it, &lim);
        if (err) {
            is->res->damaged = err;
            return 0;
        }
    }
    while (pos < lim && !is->res->stopped) {
        size_t want =
            lim - pos < l->o.slab_size ? (size_t)(lim - pos) : l->o.slab_size;
        ssize_t n = pread_full(it->fd, data, want, pos);
        struct iocs_slab s = {.offset = pos, .data = data};

        if (n < 0) {
            /* What is carried goes out as the last unit. */
            is->res->damaged = (int)n;
            s.len = 0;
            s.last = true;
            s.err = (int)n;
            return is->first ? 0 : feed(l, is, &s);
        }
        s.len = (size_t)n;
        /* A file cut meanwhile ends here: the follower reports it. */
        s.last = pos + (uint64_t)n >= lim || (size_t)n < want;
        err = feed(l, is, &s);
        if (err)
            return err;
        pos += (uint64_t)n;
        if ((size_t)n < want)
            break;
    }
    return 0;
}

static struct iocs_decoder *decoder(struct iocs_live *l, enum iocs_codec c)
{
    if (!l->dec[c] && iocs_decoder_new(&l->dec[c], c) < 0)
        return NULL;
    iocs_decoder_reset(l->dec[c]);
    return l->dec[c];
}

/* Inflate into out[0..cap): returns 0 (out full), 1 (stream complete), or
 * a negative errno (damaged, read error); *got bytes are good. */
static int inflate_some(struct iocs_live *l, struct iocs_decoder *d,
                        struct instream *in, unsigned char *out, size_t cap,
                        size_t *got)
{
    *got = 0;
    while (*got < cap) {
        size_t n = 0;
        int rc;

        if (in->len == 0 && !in->eof) {
            ssize_t r = pread_full(in->fd, l->in, IN_CAP, in->off);

            if (r < 0)
                return (int)r;
            in->off += (uint64_t)r;
            in->p = l->in;
            in->len = (size_t)r;
            in->eof = r == 0;
        }
        rc = iocs_decoder_run(d, &in->p, &in->len, in->eof, out + *got,
                              cap - *got, &n);
        *got += n;
        if (rc != 0)
            return rc;
        if (n == 0 && in->len == 0 && in->eof)
            return -EBADMSG; /* no progress possible */
    }
    return 0;
}

static int scan_compressed(struct iocs_live *l, struct itemscan *is)
{
    const struct iocs_follow_item *it = is->it;
    unsigned char *data = l->buf + l->headroom;
    struct instream in = {.fd = it->fd};
    unsigned char magic[IOCS_CODEC_MAGIC_MAX];
    struct iocs_decoder *d;
    uint64_t dpos = 0;
    ssize_t n;
    int rc;

    n = pread_full(it->fd, magic, sizeof(magic), 0);
    if (n < 0) {
        is->res->damaged = (int)n;
        return 0;
    }
    d = decoder(l, iocs_codec_detect(magic, (size_t)n));
    if (!d)
        return -ENOMEM;
    do {
        struct iocs_slab s = {0};
        size_t got = 0, skip = 0;

        rc = inflate_some(l, d, &in, data, l->o.slab_size, &got);
        if (rc == -ENOMEM)
            return rc;
        if (dpos + got <= it->offset && rc == 0) {
            dpos += got; /* before the committed position */
            continue;
        }
        if (it->offset > dpos)
            skip = (size_t)(it->offset - dpos < got ? it->offset - dpos : got);
        memmove(data, data + skip, got - skip);
        s.offset = dpos + skip;
        s.data = data;
        s.len = got - skip;
        s.last = rc != 0;
        dpos += got;
        if (rc < 0) {
            is->res->damaged = rc;
            s.err = rc;
        }
        if (s.len == 0 && is->first) {
            /* Nothing past the position: consumed to its end. */
            is->first = false;
            is->res->end = dpos > it->offset ? dpos : it->offset;
            break;
        }
        {
            int err = feed(l, is, &s);

            if (err)
                return err;
        }
    } while (rc == 0 && !is->res->stopped);
    return 0;
}

int iocs_live_scan(struct iocs_live *l, const struct iocs_follow_item *it,
                   struct iocs_live_res *res)
{
    struct itemscan is = {
        .it = it, .res = res, .line0 = it->line, .first = true};
    int err;

    *res = (struct iocs_live_res){.end = it->offset, .line = it->line};
    err = it->compressed ? scan_compressed(l, &is) : scan_plain(l, &is);
    if (!err && is.open) {
        /* Stopped inside a long line: not possible (stops are at line
         * ends), but never hand a half line's position back. */
        err = -EIO;
    }
    return err;
}

int iocs_live_prefix(void *ctx, int fd, unsigned char *buf, size_t cap,
                     size_t *len)
{
    struct iocs_live *l = ctx;
    unsigned char magic[IOCS_CODEC_MAGIC_MAX];
    struct instream in = {.fd = fd};
    enum iocs_codec c;
    struct iocs_decoder *d;
    ssize_t n = pread_full(fd, magic, sizeof(magic), 0);
    int rc;

    if (n < 0)
        return (int)n;
    c = iocs_codec_detect(magic, (size_t)n);
    if (!iocs_codec_is_stream(c))
        return 0;
    d = decoder(l, c);
    if (!d)
        return -ENOMEM;
    rc = inflate_some(l, d, &in, buf, cap, len);
    /* A damaged or cut stream: its good prefix still names it. */
    return rc == -ENOMEM ? rc : 1;
}
