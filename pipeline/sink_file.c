/*
 * sink_file.c - the file and stdout sink (sink.h).
 *
 * Each batch goes out in one write(2) loop straight from the caller's
 * buffer (no copy): the collector's batches are a job's events, or up to
 * IOCS_ENCODE_FLUSH_AT bytes of whole events on the inline path, so writes
 * are big and an output cut short (a full disk, a killed reader) ends at a
 * batch boundary unless the write itself failed midway.
 *
 * Acknowledgement: a batch is acknowledged once written; with
 * opts.durable, once flush() has fsynced it (fsync per batch would cost a
 * disk flush per job), so a checkpoint never gets ahead of the disk.
 *
 * A stdout that is non-blocking (O_NONBLOCK set by whoever shares it) is
 * waited for with poll(2) when full: the scan goes on, as with a blocking
 * one, instead of failing with EAGAIN.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/sink.h"

struct sink_file {
    struct iocs_sink base;
    int fd;
    bool own; /* fd is ours to close (not stdout) */
    bool durable;
    uint64_t written, acked; /* last seq written, acknowledged */
    uint64_t written_events, acked_events;
    struct iocs_sink_pos written_pos, acked_pos;
    uint64_t partial_seq; /* a batch whose write failed midway... */
    size_t partial_off;   /* ...and how much of it went out */
};

/* Acknowledge everything written (after an fsync when durable). */
static void ack_written(struct sink_file *f)
{
    f->acked = f->written;
    f->acked_pos = f->written_pos;
    f->base.stats.events_acked = f->written_events;
}

/* Wait for a non-blocking fd (a stdout shared with a non-blocking
 * parent) to take bytes again. Returns 0, or -1 with errno set. */
static int wait_writable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};

    while (poll(&p, 1, -1) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

static int file_write(struct iocs_sink *s, const struct iocs_sink_batch *b)
{
    struct sink_file *f = (struct sink_file *)s;
    size_t off = b->seq == f->partial_seq ? f->partial_off : 0;
    int err = 0;

    if (b->seq != f->written + 1)
        return -EINVAL;
    while (off < b->len) {
        ssize_t n = write(f->fd, b->data + off, b->len - off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN && wait_writable(f->fd) == 0)
                continue; /* a non-blocking stdout: wait, as a blocking
                             one would */
            err = -errno;
            break;
        }
        off += (size_t)n;
        s->stats.bytes_sent += (uint64_t)n;
    }
    if (err) {
        /* A retry of this batch resumes here: no byte is written twice. */
        f->partial_seq = b->seq;
        f->partial_off = off;
        return err;
    }
    f->partial_seq = 0;
    f->written = b->seq;
    f->written_pos = b->pos;
    f->written_events += b->n;
    s->stats.events_sent += b->n;
    if (!f->durable)
        ack_written(f);
    return 0;
}

static int file_flush(struct iocs_sink *s, int timeout_ms)
{
    struct sink_file *f = (struct sink_file *)s;

    (void)timeout_ms; /* writes are synchronous: nothing to wait for */
    if (f->durable && f->acked != f->written) {
        /* EINVAL: a pipe or terminal, which holds nothing to sync. */
        if (fsync(f->fd) < 0 && errno != EINVAL && errno != EROFS)
            return -errno;
    }
    ack_written(f);
    return 0;
}

static uint64_t file_acked(const struct iocs_sink *s, struct iocs_sink_pos *pos)
{
    const struct sink_file *f = (const struct sink_file *)s;

    if (pos)
        *pos = f->acked_pos;
    return f->acked;
}

static void file_close(struct iocs_sink *s)
{
    struct sink_file *f = (struct sink_file *)s;

    if (f->own)
        (void)close(f->fd); /* close errors: see iocs__sink_file_open() */
    free(f);
}

static const struct iocs_sink_ops file_ops = {
    .name = "file",
    .write = file_write,
    .flush = file_flush,
    .acked = file_acked,
    .close = file_close,
};

/*
 * dest NULL is stdout (never closed). A path is created or truncated, mode
 * 0644. Data reaches the file through write(2) as batches come, so a close
 * error (NFS) could only concern bytes already counted as written: the
 * durable mode's fsync in flush() is where such errors surface.
 */
int iocs__sink_file_open(struct iocs_sink **out, const char *dest,
                         const struct iocs_sink_opts *o, char *errbuf,
                         size_t errlen)
{
    struct sink_file *f;
    int err;

    if (o->format != IOCS_FORMAT_MSGPACK && o->format != IOCS_FORMAT_JSON) {
        snprintf(errbuf, errlen, "unknown output format");
        return -EINVAL;
    }
    f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(errbuf, errlen, "out of memory");
        return -ENOMEM;
    }
    f->base.ops = &file_ops;
    f->base.format = o->format;
    f->durable = o->durable;
    f->fd = STDOUT_FILENO;
    if (dest) {
        f->fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (f->fd < 0) {
            err = -errno;
            snprintf(errbuf, errlen, "%s: %s", dest, strerror(errno));
            free(f);
            return err;
        }
        f->own = true;
    }
    *out = &f->base;
    return 0;
}
