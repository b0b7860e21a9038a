/*
 * wholefile.c - one thread scans one compressed or .evtx file (wholefile.h).
 *
 * Streams: read(2) IOCS_WHOLEFILE_IN bytes, inflate until the output
 * buffer is full (or the stream ends), frame it as a slab of the source
 * (the framer carries a partial line into the next buffer's headroom),
 * scan the unit. The output buffer is reused for every buffer, so memory
 * does not depend on the ratio.
 *
 * .evtx: records are appended to the output buffer, '\n' after each, with
 * an index entry (where the line starts, the record's fields, its strings
 * copied into a fixed arena); a full buffer, index or arena is scanned as
 * one unit. Events come back in line order, so one cursor walking the
 * index finds each event's record.
 */
#include "pipeline/wholefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/codec.h"
#include "pipeline/codec_evtx.h"
#include "pipeline/framer.h"

/* Bytes of one record string (channel, provider, computer) kept. */
#define NAME_MAX_LEN 1024u
/* Bytes of record strings one scan of records holds. */
#define ARENA_CAP (64u << 10)
/* The smallest rendered record is well over this. */
#define REC_MIN_LEN 128u

struct wrec {
    size_t pos; /* where its line starts in the buffer */
    uint64_t record_id, ordinal, offset;
    uint32_t event_id;
    struct timespec ts;
    bool has_time;
    size_t chan, chan_len, prov, prov_len, comp, comp_len; /* in arena */
};

struct iocs_wholefile {
    size_t buf_size, head, max_line;
    unsigned char *in;  /* IOCS_WHOLEFILE_IN */
    unsigned char *mem; /* head + buf_size */
    unsigned char *out; /* mem + head: a slab's data */
    struct iocs_framer *fr;
    struct iocs_linestate *ls;
    struct iocs_decoder *dec[IOCS_CODEC_EVTX + 1];
    struct wrec *rec;
    size_t nrec, rec_cap;
    char *arena;
    size_t arena_len;
    /* The job under way. */
    const struct iocs_wholefile_job *job;
    iocs_event_fn fn;
    void *ctx;
    iocs_wholefile_warn_fn warn;
    void *wctx;
    size_t cur; /* index entry of the last event */
    struct iocs_winlog wl;
};

int iocs_wholefile_new(struct iocs_wholefile **out,
                       const struct iocs_wholefile_opts *o)
{
    struct iocs_wholefile *wf;
    int err;

    if (o->buf_size == 0 || o->overlap == 0 || o->max_line == 0)
        return -EINVAL;
    wf = calloc(1, sizeof(*wf));
    if (!wf)
        return -ENOMEM;
    wf->buf_size = o->buf_size;
    wf->head = o->buf_size > o->overlap ? o->buf_size : o->overlap;
    wf->max_line = o->max_line;
    wf->rec_cap = o->buf_size / REC_MIN_LEN + 1;
    wf->in = malloc(IOCS_WHOLEFILE_IN);
    wf->mem = malloc(wf->head + wf->buf_size);
    wf->rec = calloc(wf->rec_cap, sizeof(*wf->rec));
    wf->arena = malloc(ARENA_CAP);
    if (!wf->in || !wf->mem || !wf->rec || !wf->arena) {
        err = -ENOMEM;
        goto fail;
    }
    wf->out = wf->mem + wf->head;
    err = iocs_framer_new(&wf->fr, o->buf_size, o->overlap);
    if (!err)
        err = iocs_linestate_new(&wf->ls, o->max_line);
    if (err)
        goto fail;
    *out = wf;
    return 0;

fail:
    iocs_wholefile_free(wf);
    return err;
}

void iocs_wholefile_free(struct iocs_wholefile *wf)
{
    if (!wf)
        return;
    for (size_t i = 0; i < sizeof(wf->dec) / sizeof(wf->dec[0]); i++)
        iocs_decoder_free(wf->dec[i]);
    iocs_framer_free(wf->fr);
    iocs_linestate_free(wf->ls);
    free(wf->in);
    free(wf->mem);
    free(wf->rec);
    free(wf->arena);
    free(wf);
}

/* ---- compressed streams ------------------------------------------------ */

static int on_stream_event(void *ctx, const struct iocs_event *ev)
{
    struct iocs_wholefile *wf = ctx;

    /* A resumed source: what was committed before is not sent again. */
    if (ev->offset < wf->job->src->start_offset)
        return 0;
    return wf->fn(wf->ctx, ev);
}

/* Frame and scan out[0..len), decompressed bytes at offset off. */
static int scan_buf(struct iocs_wholefile *wf, struct iocs_scanner *sc,
                    uint64_t off, size_t len, bool first, bool last,
                    uint64_t *line0, struct iocs_wholefile_res *res)
{
    struct iocs_slab s = {.source = wf->job->source,
                          .offset = off,
                          .data = wf->out,
                          .len = len,
                          .headroom = wf->head,
                          .first = first,
                          .last = last};
    struct iocs_unit u;
    uint64_t nl = 0;
    int rc;

    res->bytes += len;
    rc = iocs_framer_frame(wf->fr, &s, &u);
    if (rc <= 0)
        return rc;
    u.source_id = wf->job->source_id;
    rc = iocs_scanner_unit(sc, &u, wf->job->src->path, *line0, wf->ls,
                           on_stream_event, wf, &nl);
    *line0 += nl;
    res->lines += nl;
    if (u.last && u.len > 0 && u.ptr[u.len - 1] != '\n')
        res->lines++; /* a last line with no final newline */
    return rc;
}

static int scan_stream(struct iocs_wholefile *wf, struct iocs_scanner *sc,
                       struct iocs_wholefile_res *res, char *errbuf,
                       size_t errlen)
{
    const struct iocs_wholefile_job *job = wf->job;
    struct iocs_decoder *d = wf->dec[job->codec];
    const unsigned char *in = NULL;
    size_t in_len = 0, fill = 0;
    uint64_t off = 0, line0 = 1;
    bool first = true;
    int fd = -1, eof = 0, ioerr = 0, rc, err = 0;

    if (d) {
        iocs_decoder_reset(d);
    } else {
        err = iocs_decoder_new(&d, job->codec);
        if (err)
            return err;
        wf->dec[job->codec] = d;
    }
    if (job->mem) {
        in = job->mem;
        in_len = job->mem_len;
        eof = 1;
    } else {
        fd = open(job->src->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            res->err = -errno;
            snprintf(errbuf, errlen, "%s", strerror(errno));
            return 0;
        }
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    for (;;) {
        size_t got = 0;

        if (!eof && in_len == 0) {
            ssize_t n = read(fd, wf->in, IOCS_WHOLEFILE_IN);

            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                ioerr = -errno;
                rc = ioerr; /* scan what is inflated, then stop */
            } else {
                eof = n == 0;
                in = wf->in;
                in_len = (size_t)n;
                rc = 0;
            }
        } else {
            rc = 0;
        }
        if (!ioerr) {
            rc = iocs_decoder_run(d, &in, &in_len, eof, wf->out + fill,
                                  wf->buf_size - fill, &got);
            if (rc == -ENOMEM) {
                err = rc;
                break;
            }
            fill += got;
            if (rc == 0 && fill < wf->buf_size) {
                if (!(got == 0 && in_len == 0 && eof))
                    continue;
                rc = -EBADMSG; /* no progress at the end: cut short */
            }
        }
        err = scan_buf(wf, sc, off, fill, first, rc != 0, &line0, res);
        off += fill;
        fill = 0;
        first = false;
        if (err || rc != 0)
            break;
    }
    if (fd >= 0)
        close(fd);
    res->end = off;
    if (err)
        return err;
    if (ioerr) {
        res->err = ioerr;
        snprintf(errbuf, errlen, "read: %s", strerror(-ioerr));
    } else if (rc < 0) {
        res->err = rc;
        snprintf(errbuf, errlen, "damaged %s stream at compressed offset %llu",
                 iocs_codec_name(job->codec),
                 (unsigned long long)iocs_decoder_in_offset(d));
    }
    return 0;
}

/* ---- .evtx ------------------------------------------------------------- */

static void evtx_warn(void *ctx, int64_t chunk, const char *msg)
{
    struct iocs_wholefile *wf = ctx;
    char line[512];

    if (!wf->warn)
        return;
    if (chunk >= 0)
        snprintf(line, sizeof(line), "chunk %lld: %s", (long long)chunk, msg);
    else
        snprintf(line, sizeof(line), "%s", msg);
    wf->warn(wf->wctx, wf->job->src->path, line);
}

static int on_record_event(void *ctx, const struct iocs_event *ev)
{
    struct iocs_wholefile *wf = ctx;
    const struct wrec *w;
    struct iocs_event e = *ev;

    while (wf->cur + 1 < wf->nrec && wf->rec[wf->cur + 1].pos <= ev->offset)
        wf->cur++;
    w = &wf->rec[wf->cur];
    /* A resumed source: records up to the committed one are done. */
    if (w->ordinal < wf->job->src->start_line)
        return 0;
    e.offset = w->offset;
    e.line = w->ordinal;
    if (w->has_time)
        e.timestamp = w->ts;
    e.host = w->comp_len ? wf->arena + w->comp : NULL;
    e.host_len = w->comp_len;
    wf->wl = (struct iocs_winlog){.record_id = w->record_id,
                                  .event_id = w->event_id,
                                  .channel = wf->arena + w->chan,
                                  .channel_len = w->chan_len,
                                  .provider = wf->arena + w->prov,
                                  .provider_len = w->prov_len,
                                  .computer = wf->arena + w->comp,
                                  .computer_len = w->comp_len};
    e.winlog = &wf->wl;
    return wf->fn(wf->ctx, &e);
}

/* Scan the records gathered in p[0..len), then start again empty. */
static int flush_records(struct iocs_wholefile *wf, struct iocs_scanner *sc,
                         const unsigned char *p, size_t len,
                         struct iocs_wholefile_res *res)
{
    struct iocs_unit u = {.source = wf->job->source,
                          .source_id = wf->job->source_id,
                          .ptr = p,
                          .len = len,
                          .starts_line = true,
                          .ends_line = true,
                          .first = true,
                          .last = true};
    uint64_t nl; /* the scanner counts the records as lines */
    int err = 0;

    if (wf->nrec > 0) {
        wf->cur = 0;
        res->bytes += len;
        err = iocs_scanner_unit(sc, &u, wf->job->src->path, 1, wf->ls,
                                on_record_event, wf, &nl);
    }
    wf->nrec = 0;
    wf->arena_len = 0;
    return err;
}

static size_t keep_name(struct iocs_wholefile *wf, const char *s, size_t *len)
{
    size_t at = wf->arena_len, n = strnlen(s, NAME_MAX_LEN);

    memcpy(wf->arena + at, s, n);
    wf->arena_len += n;
    *len = n;
    return at;
}

/* Index rec as the line at pos. The arena has room (checked). */
static void index_record(struct iocs_wholefile *wf,
                         const struct iocs_evtx_record *rec, size_t pos)
{
    struct wrec *w = &wf->rec[wf->nrec++];

    w->pos = pos;
    w->record_id = rec->record_id;
    w->ordinal = rec->ordinal;
    w->offset = rec->offset;
    w->event_id = rec->event_id;
    w->ts = rec->time_created;
    w->has_time = rec->has_time;
    w->chan = keep_name(wf, rec->channel, &w->chan_len);
    w->prov = keep_name(wf, rec->provider_name, &w->prov_len);
    w->comp = keep_name(wf, rec->computer_name, &w->comp_len);
}

static int scan_evtx(struct iocs_wholefile *wf, struct iocs_scanner *sc,
                     struct iocs_wholefile_res *res, char *errbuf,
                     size_t errlen)
{
    const char *path = wf->job->src->path;
    struct iocs_evtx_record rec;
    struct iocs_evtx *r = NULL;
    struct stat st;
    size_t fill = 0;
    int rc, err;

    wf->nrec = 0;
    wf->arena_len = 0;
    err = iocs_evtx_open(&r, path, evtx_warn, wf, errbuf, errlen);
    if (err == -ENOMEM)
        return err;
    if (err) {
        res->err = err;
        return 0;
    }
    while ((rc = iocs_evtx_next(r, &rec)) == 1) {
        res->lines++;
        if (fill + rec.len + 1 > wf->buf_size || wf->nrec == wf->rec_cap ||
            wf->arena_len + 3 * NAME_MAX_LEN > ARENA_CAP) {
            err = flush_records(wf, sc, wf->out, fill, res);
            fill = 0;
            if (err)
                break;
        }
        if (rec.len + 1 > wf->buf_size) {
            /* A record bigger than the buffer: scanned alone, where the
             * reader holds it. */
            index_record(wf, &rec, 0);
            err = flush_records(wf, sc, (const unsigned char *)rec.line,
                                rec.len, res);
            if (err)
                break;
            continue;
        }
        index_record(wf, &rec, fill);
        memcpy(wf->out + fill, rec.line, rec.len);
        fill += rec.len;
        wf->out[fill++] = '\n';
    }
    if (!err && rc < 0)
        err = rc;
    if (!err)
        err = flush_records(wf, sc, wf->out, fill, res);
    iocs_evtx_free(r);
    res->end = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    return err;
}

int iocs_wholefile_scan(struct iocs_wholefile *wf, struct iocs_scanner *sc,
                        const struct iocs_wholefile_job *job, iocs_event_fn fn,
                        void *ctx, iocs_wholefile_warn_fn warn, void *wctx,
                        struct iocs_wholefile_res *res, char *errbuf,
                        size_t errlen)
{
    int err;

    memset(res, 0, sizeof(*res));
    if (errlen)
        errbuf[0] = '\0';
    wf->job = job;
    wf->fn = fn;
    wf->ctx = ctx;
    wf->warn = warn;
    wf->wctx = wctx;
    if (job->codec == IOCS_CODEC_EVTX)
        err = scan_evtx(wf, sc, res, errbuf, errlen);
    else if (iocs_codec_is_stream(job->codec))
        err = scan_stream(wf, sc, res, errbuf, errlen);
    else
        err = -EINVAL;
    wf->job = NULL;
    return err;
}
