/*
 * sink_count.c - the sink behind grep's -q, -l and -c (sink.h): it writes
 * no event, only which inputs had hits. Each event's record names its
 * source by path (iocs_sink_rec.path, the source list's own pointer), and
 * events come in input order, so one cursor over the list finds every
 * event's source without a lookup table.
 *
 * -q: the first event ends the scan (write() returns -ECANCELED, which the
 * pipeline stops on quietly). -l: a path is printed, on its own line, with
 * its first event. -c: "PATH:EVENTS" per input (EVENTS alone when
 * opts.names is false), in input order, by flush(), once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/sink.h"
#include "pipeline/source.h"

struct sink_count {
    struct iocs_sink base;
    enum iocs_report mode;
    const struct iocs_sourcelist *list;
    FILE *out;
    bool names;      /* -c: PATH:EVENTS, else EVENTS */
    bool printed;    /* -c: the counts are out */
    size_t cur;      /* the source of the last event */
    uint64_t *count; /* events per source */
    uint64_t written, events;
};

/* The index of the source of path, from the cursor on (input order). */
static size_t find(struct sink_count *c, const char *path)
{
    for (size_t i = c->cur; i < c->list->len; i++) {
        if (c->list->v[i].path == path) {
            c->cur = i;
            return i;
        }
    }
    /* Not a pointer of the list (cannot happen): match by name. */
    for (size_t i = 0; i < c->list->len; i++) {
        if (strcmp(c->list->v[i].path, path) == 0) {
            c->cur = i;
            return i;
        }
    }
    return c->list->len;
}

static int count_write(struct iocs_sink *s, const struct iocs_sink_batch *b)
{
    struct sink_count *c = (struct sink_count *)s;

    if (b->seq != c->written + 1)
        return -EINVAL;
    c->written = b->seq;
    c->events += b->n;
    s->stats.events_sent += b->n;
    s->stats.events_acked += b->n;
    if (c->mode == IOCS_REPORT_QUIET)
        return b->n ? -ECANCELED : 0;
    for (size_t i = 0; i < b->n; i++) {
        size_t k = b->rec[i].path ? find(c, b->rec[i].path) : c->list->len;

        if (k == c->list->len)
            continue;
        if (c->count[k]++ == 0 && c->mode == IOCS_REPORT_LIST &&
            (fputs(c->list->v[k].path, c->out) == EOF ||
             putc('\n', c->out) == EOF))
            return -EIO;
    }
    return 0;
}

static int count_flush(struct iocs_sink *s, int timeout_ms)
{
    struct sink_count *c = (struct sink_count *)s;

    (void)timeout_ms;
    /* -c prints once, at the final flush (timeout_ms < 0 with the scan
     * done: the caller says so through iocs__sink_count_done()). */
    if (fflush(c->out) == EOF)
        return errno == EPIPE ? -EPIPE : -EIO;
    return 0;
}

static uint64_t count_acked(const struct iocs_sink *s,
                            struct iocs_sink_pos *pos)
{
    const struct sink_count *c = (const struct sink_count *)s;

    if (pos)
        *pos = (struct iocs_sink_pos){0};
    return c->written;
}

static void count_close(struct iocs_sink *s)
{
    struct sink_count *c = (struct sink_count *)s;

    free(c->count);
    free(c);
}

static const struct iocs_sink_ops count_ops = {
    .name = "count",
    .write = count_write,
    .flush = count_flush,
    .acked = count_acked,
    .close = count_close,
};

int iocs__sink_count_open(struct iocs_sink **out, enum iocs_report mode,
                          const struct iocs_sourcelist *list, bool names,
                          FILE *f)
{
    struct sink_count *c = calloc(1, sizeof(*c));

    if (!c)
        return -ENOMEM;
    c->count = calloc(list->len ? list->len : 1, sizeof(*c->count));
    if (!c->count) {
        free(c);
        return -ENOMEM;
    }
    c->base.ops = &count_ops;
    c->base.format = IOCS_FORMAT_MSGPACK;
    c->mode = mode;
    c->list = list;
    c->names = names;
    c->out = f;
    *out = &c->base;
    return 0;
}

int iocs__sink_count_done(struct iocs_sink *s)
{
    struct sink_count *c = (struct sink_count *)s;

    if (c->mode == IOCS_REPORT_COUNT && !c->printed) {
        c->printed = true;
        for (size_t i = 0; i < c->list->len; i++) {
            if (c->names)
                fprintf(c->out, "%s:", c->list->v[i].path);
            fprintf(c->out, "%llu\n", (unsigned long long)c->count[i]);
        }
    }
    return count_flush(s, -1);
}
