/*
 * reader.c - sources to slabs through io_uring, or read(2) as a fallback
 * (see reader.h).
 *
 * The slabs live in one allocation made by iocs_reader_new(). A slab is
 * FREE (on the free stack), INFLIGHT (a read is queued or running),
 * SHORT (a read came back short or with -EAGAIN/-EINTR and must be
 * resubmitted for the rest), READY (full, at end of file, or failed) or
 * HELD (handed to the caller). Slabs that are not FREE or HELD sit in the
 * issue queue in the order their reads were issued, which is file order;
 * iocs_reader_next() hands out the queue head only, so completions may come
 * back in any order while slabs still come out in order.
 *
 * One source is read at a time. A regular file gets up to `depth` reads in
 * flight at consecutive offsets; a pipe or terminal gets one read at the
 * current position, and a short read there is handed out as it is (the
 * writer may be slow). End of file is a read that returns 0: that slab is
 * the source's last, and slabs of the same source behind it (reads issued
 * past the end) are dropped unseen. Once a read returns 0 or fails, no new
 * reads are issued for the source; when its reads have all come back, its
 * file is closed and the next source is opened, while its slabs may still
 * wait in the queue. So at most one file is open at a time.
 */
#include "pipeline/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest slab: io_uring takes a 32-bit length, read(2) caps at 2 GiB. */
#define SLAB_MAX (1u << 30)

enum slab_state {
    SLAB_FREE,
    SLAB_INFLIGHT,
    SLAB_SHORT,
    SLAB_READY,
    SLAB_HELD,
};

struct rslab {
    struct iocs_slab pub; /* first, so &pub converts back */
    enum slab_state state;
    bool eof; /* a read into it returned 0 */
};

struct iocs_reader {
    struct io_uring ring;
    bool uring;
    int uring_err;
    bool direct; /* open regular files with O_DIRECT (cold replays) */

    size_t slab_size;
    size_t headroom;
    unsigned nslabs;
    unsigned depth;
    unsigned char *mem;
    struct rslab *slabs;

    struct rslab **freev; /* stack of FREE slabs */
    unsigned nfree;
    struct rslab **queue; /* ring of issued slabs, in issue order */
    unsigned qhead;
    unsigned qlen;

    const char *const *paths;
    size_t npaths;

    /* The source being read (fd >= 0) and the next one to open. */
    size_t next_src;
    uint32_t src;
    int fd;
    bool own_fd;    /* false for stdin, which is not closed */
    bool seekable;  /* regular file: reads at explicit offsets */
    bool stop;      /* EOF or an error seen: issue no new reads */
    bool need_poll; /* a read on a non-blocking pipe got -EAGAIN */
    bool issued;    /* a slab of this source was issued */
    uint64_t base;  /* file position of offset 0 (stdin may start later) */
    uint64_t size;  /* regular file: its size as last seen (fstat) */
    uint64_t next_off;
    unsigned busy;     /* slabs of this source INFLIGHT or SHORT */
    unsigned nshort;   /* of which SHORT */
    unsigned inflight; /* SQEs queued or running */

    /* The source being handed out: slabs of earlier sources are dropped. */
    uint32_t out_src;
};

static struct rslab *qpeek(const struct iocs_reader *r)
{
    return r->qlen ? r->queue[r->qhead] : NULL;
}

static void qpush(struct iocs_reader *r, struct rslab *s)
{
    r->queue[(r->qhead + r->qlen) % r->nslabs] = s;
    r->qlen++;
}

static void qpop(struct iocs_reader *r)
{
    r->qhead = (r->qhead + 1) % r->nslabs;
    r->qlen--;
}

/* Take a free slab for source src at offset off, queued in issue order. */
static struct rslab *take(struct iocs_reader *r, uint64_t off)
{
    struct rslab *s = r->freev[--r->nfree];

    s->pub.source = r->src;
    s->pub.offset = off;
    s->pub.len = 0;
    s->pub.first = !r->issued;
    s->pub.last = false;
    s->pub.err = 0;
    s->eof = false;
    r->issued = true;
    qpush(r, s);
    return s;
}

/* The rest of a short read starts off a page: O_DIRECT cannot read it, so
 * the file is read through the page cache from here on. */
static void unalign(struct iocs_reader *r)
{
    int fl = fcntl(r->fd, F_GETFL);

    if (fl >= 0 && (fl & O_DIRECT))
        (void)fcntl(r->fd, F_SETFL, fl & ~O_DIRECT);
}

/*
 * Whether slab s of a regular file now ends at the file's size. A read
 * that came back short there found the end; one that filled its slab
 * exactly up to the size checks the size again (fstat is far cheaper than
 * one more read that returns 0), so a file that grew is read on. This
 * saves two round trips per small file.
 */
static bool at_size(struct iocs_reader *r, const struct rslab *s)
{
    uint64_t end = r->base + s->pub.offset + s->pub.len;
    struct stat st;

    if (end < r->size)
        return false;
    if (s->pub.len < r->slab_size)
        return true; /* the read stopped short of what it asked: the end */
    if (fstat(r->fd, &st) == 0 && (uint64_t)st.st_size > r->size) {
        r->size = (uint64_t)st.st_size;
        return end >= r->size;
    }
    return true;
}

/* Account for a read into s that returned res (bytes or a negative errno). */
static void complete(struct iocs_reader *r, struct rslab *s, int res)
{
    if (res == -EINTR || res == -EAGAIN) {
        if (res == -EAGAIN && !r->seekable)
            r->need_poll = true;
        s->state = SLAB_SHORT;
        r->nshort++;
        return;
    }
    if (res <= 0) {
        s->pub.err = res;
        s->eof = res == 0;
        r->stop = true;
    } else {
        s->pub.len += (size_t)res;
        if (!r->seekable) {
            r->next_off += (uint64_t)res; /* one read at a time here */
        } else if (at_size(r, s)) {
            /* The file ends here, as fstat says: no read to learn it. */
            s->eof = true;
            r->stop = true;
        } else if (s->pub.len < r->slab_size) {
            if (r->direct)
                unalign(r);
            s->state = SLAB_SHORT; /* ask for the rest */
            r->nshort++;
            return;
        }
    }
    s->state = SLAB_READY;
    r->busy--;
}

/* Start (or, without io_uring, do) a read of the rest of slab s. */
static int issue(struct iocs_reader *r, struct rslab *s)
{
    unsigned char *buf = s->pub.data + s->pub.len;
    size_t len = r->slab_size - s->pub.len;
    uint64_t off = r->base + s->pub.offset + s->pub.len;
    struct io_uring_sqe *sqe;
    ssize_t n;

    if (r->need_poll) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};

        /* A non-blocking stdin: wait for data rather than spin. */
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            return -errno;
        r->need_poll = false;
    }
    s->state = SLAB_INFLIGHT;
    if (!r->uring) {
        if (r->seekable)
            n = pread(r->fd, buf, len, (off_t)off);
        else
            n = read(r->fd, buf, len);
        complete(r, s, n < 0 ? -errno : (int)n);
        return 0;
    }
    sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) {
        /* Cannot happen with at most `depth` reads queued; be safe. */
        int err = io_uring_submit(&r->ring);

        if (err < 0)
            return err;
        sqe = io_uring_get_sqe(&r->ring);
        if (!sqe)
            return -EBUSY;
    }
    /* Offset -1 reads at the current position, as pipes need. */
    io_uring_prep_read(sqe, r->fd, buf, (unsigned)len,
                       r->seekable ? off : (uint64_t)-1);
    io_uring_sqe_set_data(sqe, s);
    r->inflight++;
    return 0;
}

/* Finish the current source: its reads have all come back. */
static void close_src(struct iocs_reader *r)
{
    if (r->own_fd)
        close(r->fd);
    r->fd = -1;
}

/* Open the next source; an open error becomes that source's only slab. */
static void open_src(struct iocs_reader *r)
{
    const char *path = r->paths[r->next_src];
    struct stat st;
    int fd, err = 0;

    r->src = (uint32_t)r->next_src++;
    r->own_fd = strcmp(path, "-") != 0;
    r->stop = false;
    r->need_poll = false;
    r->issued = false;
    r->base = 0;
    r->next_off = 0;

    if (r->own_fd) {
        /* O_DIRECT where asked and the file system takes it; a pipe or a
         * file system without it is read through the page cache. */
        fd = -1;
        if (r->direct)
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_DIRECT);
        if (fd < 0)
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            err = -errno;
    } else {
        fd = STDIN_FILENO;
    }
    if (!err && fstat(fd, &st) < 0) {
        err = -errno;
        if (r->own_fd)
            close(fd);
    }
    if (err) {
        struct rslab *s = take(r, 0);

        s->pub.err = err;
        s->state = SLAB_READY;
        return;
    }
    r->fd = fd;
    r->seekable = S_ISREG(st.st_mode);
    if (r->seekable && !r->own_fd) {
        /* A file on stdin is read from where the caller left it. */
        off_t pos = lseek(fd, 0, SEEK_CUR);

        r->base = pos > 0 ? (uint64_t)pos : 0;
    }
    r->size = r->seekable ? (uint64_t)st.st_size : 0;
    if (r->seekable && r->base % 4096)
        unalign(r); /* a file on stdin read from an odd position */
    if (r->seekable && r->size > r->slab_size)
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
}

/*
 * Issue what can be issued: resubmit short slabs, open and close sources,
 * start new reads up to the depth. Without io_uring, stop after one read,
 * so nothing is read far ahead of the caller.
 */
static int refill(struct iocs_reader *r)
{
    int err;

    for (;;) {
        struct rslab *head = qpeek(r);

        /* Without io_uring, hand out an open error before reading on. */
        if (!r->uring && head && head->state == SLAB_READY)
            return 0;
        if (r->fd < 0) {
            if (r->next_src == r->npaths || r->nfree == 0)
                return 0;
            open_src(r);
            continue;
        }
        if (r->nshort) {
            for (unsigned i = 0; i < r->qlen && r->nshort; i++) {
                struct rslab *s = r->queue[(r->qhead + i) % r->nslabs];

                if (s->state != SLAB_SHORT)
                    continue;
                r->nshort--;
                err = issue(r, s);
                if (err)
                    return err;
                if (!r->uring)
                    return 0;
            }
        }
        if (r->stop) {
            if (r->busy)
                return 0;
            close_src(r);
            continue;
        }
        if (r->nfree == 0 || r->inflight >= (r->seekable ? r->depth : 1u))
            return 0;
        /* Past the known size only a read already issued can find more
         * (at_size() looks again); an empty file still gets its one read. */
        if (r->seekable && r->issued && r->base + r->next_off >= r->size)
            return 0;
        r->busy++;
        err = issue(r, take(r, r->next_off));
        if (err)
            return err;
        if (r->seekable)
            r->next_off += r->slab_size;
        if (!r->uring)
            return 0;
    }
}

/* Slabs may finish out of order; they are handed out in queue order. */
static void reap(struct iocs_reader *r)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;

    io_uring_for_each_cqe(&r->ring, head, cqe) {
        struct rslab *s = io_uring_cqe_get_data(cqe);

        seen++;
        if (!s)
            continue; /* a cancel request of iocs_reader_free() */
        r->inflight--;
        complete(r, s, cqe->res);
    }
    io_uring_cq_advance(&r->ring, seen);
}

int iocs_reader_next(struct iocs_reader *r, struct iocs_slab **out)
{
    struct rslab *s;
    unsigned wait;
    int err;

    for (;;) {
        while ((s = qpeek(r)) && s->state == SLAB_READY) {
            qpop(r);
            if (s->pub.source < r->out_src) {
                /* Read past the end of a source that is already done. */
                s->state = SLAB_FREE;
                r->freev[r->nfree++] = s;
                continue;
            }
            if (s->eof || s->pub.err) {
                s->pub.last = true;
                r->out_src++;
            }
            s->state = SLAB_HELD;
            *out = &s->pub;
            return 1;
        }
        if (!s && r->fd < 0 && r->next_src == r->npaths)
            return 0;
        if (!s && r->nfree == 0)
            return -EBUSY;

        err = refill(r);
        if (err)
            return err;
        if (!r->uring)
            continue;
        /* Start what was queued; wait only if the head is still being
         * read (refill() resubmitted every short slab). */
        s = qpeek(r);
        wait = s && s->state == SLAB_INFLIGHT;
        err = io_uring_submit_and_wait(&r->ring, wait);
        if (err < 0 && err != -EINTR)
            return err;
        reap(r);
    }
}

void iocs_reader_release(struct iocs_reader *r, struct iocs_slab *slab)
{
    struct rslab *s = (struct rslab *)slab;

    if (!slab || s->state != SLAB_HELD)
        return;
    s->state = SLAB_FREE;
    r->freev[r->nfree++] = s;
}

bool iocs_reader_uring(const struct iocs_reader *r)
{
    return r->uring;
}

int iocs_reader_uring_err(const struct iocs_reader *r)
{
    return r->uring_err;
}

int iocs_reader_new(struct iocs_reader **out,
                    const struct iocs_reader_opts *opts,
                    const char *const *paths, size_t npaths)
{
    struct iocs_reader *r;
    size_t stride;
    int err;

    if (!out || !opts || (!paths && npaths) || opts->slab_size == 0 ||
        opts->slab_size > SLAB_MAX || opts->headroom > SLAB_MAX ||
        opts->nslabs < 2 || opts->depth < 1 || opts->depth > opts->nslabs ||
        npaths > UINT32_MAX)
        return -EINVAL;
    if (opts->direct && opts->slab_size % 4096)
        return -EINVAL; /* O_DIRECT reads whole pages */
    stride = ((opts->headroom + 4095) & ~(size_t)4095) + opts->slab_size;
    if (stride > SIZE_MAX / opts->nslabs)
        return -ENOMEM;

    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->fd = -1;
    r->slab_size = opts->slab_size;
    r->direct = opts->direct;
    /* O_DIRECT reads land page-aligned: data[] must start on a page. */
    r->headroom =
        opts->direct ? (opts->headroom + 4095) & ~(size_t)4095 : opts->headroom;
    r->nslabs = opts->nslabs;
    r->depth = opts->depth;
    r->paths = paths;
    r->npaths = npaths;

    r->slabs = calloc(r->nslabs, sizeof(*r->slabs));
    r->freev = calloc(r->nslabs, sizeof(*r->freev));
    r->queue = calloc(r->nslabs, sizeof(*r->queue));
    /* Page-aligned, so a future O_DIRECT path can use the same slabs. */
    if (!r->slabs || !r->freev || !r->queue ||
        posix_memalign((void **)&r->mem, 4096, stride * r->nslabs)) {
        err = -ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < r->nslabs; i++) {
        struct rslab *s = &r->slabs[r->nslabs - 1 - i];

        s->pub.data =
            r->mem + (size_t)(r->nslabs - 1 - i) * stride + r->headroom;
        s->pub.headroom = r->headroom;
        r->freev[r->nfree++] = s; /* popped in order 0, 1, ... */
    }

    if (!opts->no_uring) {
        err = io_uring_queue_init(r->depth, &r->ring, 0);
        r->uring = err == 0;
        r->uring_err = err;
    }
    *out = r;
    return 0;

fail:
    iocs_reader_free(r);
    return err;
}

/* Wait out the reads still running: the kernel writes into our slabs. */
static void drain(struct iocs_reader *r)
{
    for (unsigned i = 0; i < r->nslabs; i++) {
        struct io_uring_sqe *sqe;

        if (r->slabs[i].state != SLAB_INFLIGHT)
            continue;
        sqe = io_uring_get_sqe(&r->ring);
        if (!sqe) {
            io_uring_submit(&r->ring);
            sqe = io_uring_get_sqe(&r->ring);
            if (!sqe)
                break;
        }
        /* A pipe read may wait forever for a writer: cancel it. */
        io_uring_prep_cancel(sqe, &r->slabs[i], 0);
        io_uring_sqe_set_data(sqe, NULL);
    }
    while (r->inflight) {
        int err = io_uring_submit_and_wait(&r->ring, 1);

        if (err < 0 && err != -EINTR)
            break; /* the ring is broken; nothing more can be done */
        reap(r);
    }
}

void iocs_reader_free(struct iocs_reader *r)
{
    if (!r)
        return;
    if (r->uring) {
        drain(r);
        io_uring_queue_exit(&r->ring);
    }
    if (r->fd >= 0)
        close_src(r);
    free(r->mem);
    free(r->queue);
    free(r->freev);
    free(r->slabs);
    free(r);
}
