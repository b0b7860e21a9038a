/*
 * sink_summary.c - the summary tee of `scan --summary` (sink_summary.h):
 * each batch's bytes go to iocs_summary_add(), then to the output.
 */
#include "pipeline/sink_summary.h"

#include <errno.h>
#include <stdlib.h>

struct sink_summary {
    struct iocs_sink base;
    struct iocs_sink *out; /* NULL: the summary alone */
    struct iocs_summary *sum;
    uint64_t added;           /* last batch seq given to the summary */
    struct iocs_sink_pos pos; /* without an output: the last batch's */
    char errbuf[256];         /* why the summary refused a batch */
};

static int ss_write(struct iocs_sink *s, const struct iocs_sink_batch *b)
{
    struct sink_summary *t = (struct sink_summary *)s;
    int err;

    /* A batch written again after the output failed is counted once. */
    if (b->seq != t->added) {
        t->errbuf[0] = '\0';
        err = iocs_summary_add(t->sum, b->data, b->len, t->errbuf,
                               sizeof(t->errbuf));
        if (err)
            return err;
        t->added = b->seq;
    }
    if (t->out) {
        err = iocs_sink_write(t->out, b);
        s->stats = t->out->stats;
        return err;
    }
    t->pos = b->pos;
    s->stats.events_sent += b->n;
    s->stats.events_acked += b->n;
    s->stats.bytes_sent += b->len;
    return 0;
}

static int ss_flush(struct iocs_sink *s, int timeout_ms)
{
    struct sink_summary *t = (struct sink_summary *)s;
    int err;

    if (!t->out)
        return 0;
    err = iocs_sink_flush(t->out, timeout_ms);
    s->stats = t->out->stats;
    return err;
}

static uint64_t ss_acked(const struct iocs_sink *s, struct iocs_sink_pos *pos)
{
    const struct sink_summary *t = (const struct sink_summary *)s;

    if (t->out)
        return iocs_sink_acked(t->out, pos);
    if (pos)
        *pos = t->pos;
    return t->added;
}

static void ss_close(struct iocs_sink *s)
{
    struct sink_summary *t = (struct sink_summary *)s;

    iocs_sink_close(t->out);
    free(t);
}

static const char *ss_error(const struct iocs_sink *s)
{
    const struct sink_summary *t = (const struct sink_summary *)s;

    if (t->errbuf[0])
        return t->errbuf;
    return t->out ? iocs_sink_error(t->out) : NULL;
}

static const struct iocs_sink_ops summary_ops = {
    .name = "summary",
    .write = ss_write,
    .flush = ss_flush,
    .acked = ss_acked,
    .close = ss_close,
    .error = ss_error,
};

int iocs_sink_summary_open(struct iocs_sink **sink, struct iocs_sink *out,
                           struct iocs_summary *sum)
{
    struct sink_summary *t = calloc(1, sizeof(*t));

    if (!t)
        return -ENOMEM;
    t->base.ops = &summary_ops;
    t->base.format = out ? out->format : IOCS_FORMAT_MSGPACK;
    t->base.str_times = out ? out->str_times : false;
    t->out = out;
    t->sum = sum;
    *sink = &t->base;
    return 0;
}
