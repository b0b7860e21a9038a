/*
 * reader.c - sources to slabs through io_uring, or read(2) as a fallback
 * (see reader.h).
 *
 * The slabs live in one allocation made by iocs_reader_new(). A slab is
 * FREE (on the free stack), INFLIGHT (a read is queued or running, or a
 * pack is still being filled), SHORT (a read came back short or with
 * -EAGAIN/-EINTR and must be resubmitted for the rest), READY (full, at
 * end of file, failed, or a sealed pack whose reads are all back) or HELD
 * (handed to the caller). Slabs that are not FREE or HELD sit in the issue
 * queue in the order their reads were issued, which is source order and
 * file order; iocs_reader_next() hands out the queue head only, so
 * completions may come back in any order while slabs still come out in
 * order.
 *
 * Sources are opened in order through a window of open_ahead entries
 * (io_uring OPENATs in flight; one synchronous open(2) without io_uring),
 * and started in order once open. A started source is either packed or
 * read on its own:
 *   - packed (a regular file of at most pack_max bytes): the file gets a
 *     reservation of its size in the pack being filled and one read into
 *     it; several packed files are read at once. The pack is sealed when
 *     full, before a source that is not packed, at the last source, or
 *     when it is at the queue head with every read back and the next
 *     source's open still running (so a slow open delays nothing already
 *     read). Its fds are closed as their reads come back.
 *   - on its own (the exclusive source, fd >= 0): a regular file gets up
 *     to `depth` reads in flight at consecutive offsets; a pipe or
 *     terminal gets one read at the current position, and a short read
 *     there is handed out as it is (the writer may be slow). End of file is
 *     a read that returns 0, or reaching the size fstat gives: that slab
 *     is the source's last, and slabs of the same source behind it (reads
 *     issued past the end) are dropped unseen. Once the end is seen or a
 *     read fails, no new reads are issued for the source; when its reads
 *     have all come back, its file is closed and the next source starts,
 *     while its slabs may still wait in the queue.
 *
 * A mapped source (reader.h, "Mapped files") takes the same path with no
 * read: each slab it takes is mapped at once by map_slab() (fstat, mmap,
 * guard), READY before refill() goes on; a window that cannot be mapped
 * is read into the slab's own bytes as above. The window goes when the
 * slab is freed (release, a slab dropped past a source's end, free).
 *
 * io_uring user data is a pointer with a tag in its low two bits: a slab
 * read, a packed file's read, an open, or nothing to account (closes,
 * which post no completion on success, and cancels). `inflight` counts
 * the requests whose completion is awaited.
 */
#include "pipeline/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/mapguard.h"

/* The largest slab: io_uring takes a 32-bit length, read(2) caps at 2 GiB. */
#define SLAB_MAX (1u << 30)
#define PAGE 4096u
/* Packed files open at once, their reads in flight: with cold data those
 * reads wait on the disk, and every started file would hold an fd. */
#define PARTS_OPEN_MAX 64u

/* Tags in the low bits of io_uring user data. */
#define TAG_SLAB 0u
#define TAG_PART 1u
#define TAG_OPEN 2u
#define TAG_NONE 3u
#define TAG_MASK 3u

enum slab_state {
    SLAB_FREE,
    SLAB_INFLIGHT,
    SLAB_SHORT,
    SLAB_READY,
    SLAB_HELD,
};

struct rslab;

/* A packed file being read: pub.parts[idx] of its pack. */
struct rpart {
    struct rslab *pack;
    unsigned idx;
    int fd;      /* open until its read is back */
    size_t want; /* the file's size when opened: read this much */
    size_t room; /* bytes reserved (want, page-rounded with O_DIRECT) */
    bool direct; /* fd has O_DIRECT */
};

struct rslab {
    struct iocs_slab pub; /* first, so &pub converts back */
    enum slab_state state;
    bool eof;           /* a read into it returned 0 */
    unsigned char *buf; /* its own bytes: data when not mapped */
    void *map;          /* its mapped window, or NULL */
    size_t maplen;
    /* A pack: */
    bool sealed;          /* no more parts will be added */
    unsigned pending;     /* parts whose read is not back */
    size_t used;          /* bytes of data[] reserved */
    struct rpart *rparts; /* IOCS_READER_PARTS_MAX, or NULL if no packing */
};

/* A source in the open window. */
struct rsrc {
    int fd;        /* >= 0: open, and owned by the window */
    int err;       /* < 0: the open failed */
    bool own;      /* false for stdin, which is not closed */
    bool inflight; /* an OPENAT is queued or running */
    bool ready;    /* fd or err is set */
    bool direct;   /* opened with O_DIRECT */
    bool statted;  /* st_mode and size below are set */
    bool peeked;   /* codec below is set (peek_codec()) */
    enum iocs_codec codec;
    mode_t st_mode;
    uint64_t size;
    time_t mtime; /* 0 for stdin (the scanner uses the scan's start) */
};

struct iocs_reader {
    struct io_uring ring;
    bool uring;
    int uring_err;
    bool direct;     /* open regular files with O_DIRECT (cold replays) */
    bool poll_pipes; /* opts.poll_pipes */
    bool use_mmap;   /* opts.mmap, and the SIGBUS guard is installed */
    uintptr_t page;  /* mmap offsets are multiples of it */

    size_t slab_size;
    size_t headroom;
    size_t pack_max;
    unsigned nslabs;
    unsigned depth;
    unsigned char *mem;
    unsigned char *peek; /* one page: a file's first bytes (its codec) */
    struct rslab *slabs;
    struct iocs_slab *partv; /* every slab's parts, when packing */
    struct rpart *rpartv;

    struct rslab **freev; /* stack of FREE slabs */
    unsigned nfree;
    struct rslab **queue; /* ring of issued slabs, in issue order */
    unsigned qhead;
    unsigned qlen;

    const struct iocs_source *srcv; /* the caller's records */
    size_t npaths;

    /* Sources [next_src, next_open) are in the window, being opened or
     * open; next_src is the next to start. */
    struct rsrc *win;
    unsigned nwin;
    size_t next_src;
    size_t next_open;
    struct rslab *filling; /* the pack being filled, if any */
    unsigned parts_open;   /* packed files whose fd is open */

    /* The exclusive source (fd >= 0). */
    uint32_t src;
    int fd;
    bool own_fd;    /* false for stdin, which is not closed */
    bool seekable;  /* regular file: reads at explicit offsets */
    bool stop;      /* EOF or an error seen: issue no new reads */
    bool need_poll; /* a read on a non-blocking pipe got -EAGAIN */
    bool nonblock;  /* a pipe or terminal opened O_NONBLOCK: read(2) */
    bool issued;    /* a slab of this source was issued */
    bool mapping;   /* its slabs are mapped, not read (map_slab()) */
    uint64_t base;  /* file position of offset 0 (stdin may start later) */
    uint64_t size;  /* regular file: its size as last seen (fstat) */
    time_t mtime;   /* as in its rsrc */
    uint64_t limit; /* regular file: the source's end_offset; 0: none */
    uint64_t next_off;
    unsigned busy;     /* slabs of this source INFLIGHT or SHORT */
    unsigned nshort;   /* of which SHORT */
    unsigned inflight; /* requests whose completion is awaited */

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

static uint64_t tagged(const void *p, unsigned tag)
{
    return (uint64_t)(uintptr_t)p | tag;
}

/* An SQE, submitting what is queued first if the ring is full. */
static struct io_uring_sqe *get_sqe(struct iocs_reader *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

    if (!sqe && io_uring_submit(&r->ring) >= 0)
        sqe = io_uring_get_sqe(&r->ring);
    return sqe;
}

/* Close fd through the ring (no completion unless it fails), or now. */
static void close_fd(struct iocs_reader *r, int fd)
{
    struct io_uring_sqe *sqe = r->uring ? get_sqe(r) : NULL;

    if (!sqe) {
        close(fd);
        return;
    }
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data64(sqe, TAG_NONE);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/* Unmap slab s's window, if it has one: its bytes are its own again. */
static void unmap_slab(struct iocs_reader *r, struct rslab *s)
{
    if (!s->map)
        return;
    iocs_mapguard_remove(s->pub.map_id); /* a fault there is not ours now */
    (void)munmap(s->map, s->maplen);
    s->map = NULL;
    s->maplen = 0;
    s->pub.mapped = false;
    s->pub.map_id = -1;
    s->pub.data = s->buf;
    s->pub.headroom = r->headroom;
}

/* Put slab s back on the free stack. */
static void free_slab(struct iocs_reader *r, struct rslab *s)
{
    unmap_slab(r, s);
    s->state = SLAB_FREE;
    r->freev[r->nfree++] = s;
}

/* Take a free slab for the exclusive source at offset off, queued in
 * issue order. */
static struct rslab *take(struct iocs_reader *r, uint64_t off)
{
    struct rslab *s = r->freev[--r->nfree];

    s->pub.source = r->src;
    s->pub.offset = off;
    s->pub.mtime = r->mtime;
    s->pub.len = 0;
    s->pub.first = !r->issued;
    s->pub.last = false;
    s->pub.err = 0;
    s->pub.nparts = 0;
    s->pub.codec = IOCS_CODEC_PLAIN;
    s->eof = false;
    r->issued = true;
    qpush(r, s);
    return s;
}

/* The rest of a short read starts off a page: O_DIRECT cannot read it, so
 * the file is read through the page cache from here on. */
static void unalign_fd(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0 && (fl & O_DIRECT))
        (void)fcntl(fd, F_SETFL, fl & ~O_DIRECT);
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
    if (r->size == 0)
        return false; /* says empty but may not be (/proc): read to a 0 */
    if (s->pub.len < r->slab_size)
        return true; /* the read stopped short of what it asked: the end */
    if (r->limit)
        return true; /* a byte range ends at its limit, grown file or not */
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
        /* The end before the size fstat gave: cut while being read (as
         * copytruncate does); the bytes before it are still scanned. */
        if (res == 0 && r->seekable &&
            r->base + s->pub.offset + s->pub.len < r->size)
            s->pub.err = -ENODATA;
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
                unalign_fd(r->fd);
            s->state = SLAB_SHORT; /* ask for the rest */
            r->nshort++;
            return;
        }
    }
    s->state = SLAB_READY;
    r->busy--;
}

/*
 * Map the window of slab s (just taken) instead of reading it (reader.h,
 * "Mapped files"): up to slab_size bytes at its offset, and before them
 * up to `headroom` bytes of the file (from a page boundary). The size is
 * looked at first, as the read path finds it: a file that grew is mapped
 * on; one that ends short of this window, before the size seen last, was
 * cut (-ENODATA after the bytes that are left). Returns true with s READY,
 * or false when the window cannot be mapped: s must be read (issue()).
 */
static bool map_slab(struct iocs_reader *r, struct rslab *s)
{
    uint64_t off = r->base + s->pub.offset, size, end, mend, moff, pre;
    struct stat st;
    void *p;
    int id;

    if (fstat(r->fd, &st) < 0)
        return false; /* the read finds the error */
    size = (uint64_t)st.st_size;
    if (r->limit && size > r->limit)
        size = r->limit; /* a byte range ends at its limit */
    end = off + r->slab_size < size ? off + r->slab_size : size;
    /* Mapped even with no bytes left (the end, or a cut): the framer then
     * takes the tail before it from the file too, and a tail that was cut
     * away faults here, where it is seen, instead of being scanned from
     * the copy the framer keeps. */
    pre = off < r->headroom ? off : r->headroom;
    moff = (off - pre) & ~(uint64_t)(r->page - 1);
    mend = end > off ? end : off;
    if (mend > moff) {
        p = mmap(NULL, (size_t)(mend - moff), PROT_READ, MAP_SHARED, r->fd,
                 (off_t)moff);
        if (p == MAP_FAILED)
            return false;
        /* Read once, in order: faults read further ahead (on cold data a
         * run went from 4.9 s to 4.1 s, bench/LIMITS.md), and the pages
         * are not promoted in the page cache. */
        (void)madvise(p, (size_t)(mend - moff), MADV_SEQUENTIAL);
        id = iocs_mapguard_add(p, (size_t)(mend - moff));
        if (id < 0) {
            (void)munmap(p, (size_t)(mend - moff));
            return false;
        }
        s->map = p;
        s->maplen = (size_t)(mend - moff);
        s->pub.data = (unsigned char *)p + (off - moff);
        s->pub.headroom = (size_t)(off - moff);
        s->pub.len = (size_t)(mend - off);
        s->pub.mapped = true;
        s->pub.map_id = id;
    }
    if (end < off + r->slab_size && end < r->size) {
        s->pub.err = -ENODATA; /* cut before the size seen last */
        r->stop = true;
    } else if (end >= size) {
        s->eof = true; /* the end as fstat says it now */
        r->stop = true;
    }
    if (size > r->size)
        r->size = size; /* grew: map on */
    s->state = SLAB_READY;
    r->busy--;
    return true;
}

/* Start (or, without io_uring, do) a read of the rest of slab s. */
static int issue(struct iocs_reader *r, struct rslab *s)
{
    unsigned char *buf = s->pub.data + s->pub.len;
    size_t len = r->slab_size - s->pub.len;
    uint64_t off = r->base + s->pub.offset + s->pub.len;
    struct io_uring_sqe *sqe;
    ssize_t n;

    if (r->limit && off + len > r->limit)
        len = off < r->limit ? (size_t)(r->limit - off) : 0; /* a range */

    s->state = SLAB_INFLIGHT;
    if (!r->uring || r->nonblock) {
        if (r->seekable)
            n = pread(r->fd, buf, len, (off_t)off);
        else
            n = read(r->fd, buf, len);
        complete(r, s, n < 0 ? -errno : (int)n);
        return 0;
    }
    sqe = get_sqe(r);
    if (!sqe)
        return -EBUSY;
    /* Offset -1 reads at the current position, as pipes need. */
    io_uring_prep_read(sqe, r->fd, buf, (unsigned)len,
                       r->seekable ? off : (uint64_t)-1);
    io_uring_sqe_set_data64(sqe, tagged(s, TAG_SLAB));
    r->inflight++;
    return 0;
}

/* Finish the exclusive source: its reads have all come back. */
static void close_src(struct iocs_reader *r)
{
    if (r->own_fd)
        close_fd(r, r->fd);
    r->fd = -1;
}

/* --- packs ------------------------------------------------------------- */

/* No more parts go into the pack being filled. */
static void seal(struct iocs_reader *r)
{
    struct rslab *p = r->filling;

    if (!p)
        return;
    r->filling = NULL;
    p->sealed = true;
    if (p->pending == 0)
        p->state = SLAB_READY;
}

/* The pack with room for `room` more bytes and one more part: the one being
 * filled, or a new one. NULL when no slab is free. */
static struct rslab *pack_for(struct iocs_reader *r, size_t room)
{
    struct rslab *p = r->filling;

    if (p && (p->pub.nparts == IOCS_READER_PARTS_MAX ||
              room > r->slab_size - p->used))
        seal(r);
    if (r->filling)
        return r->filling;
    if (r->nfree == 0)
        return NULL;
    p = r->freev[--r->nfree];
    p->pub.source = (uint32_t)r->next_src;
    p->pub.offset = 0;
    p->pub.len = 0;
    p->pub.first = false;
    p->pub.last = false;
    p->pub.err = 0;
    p->pub.nparts = 0;
    p->eof = false;
    p->sealed = false;
    p->pending = 0;
    p->used = 0;
    p->state = SLAB_INFLIGHT;
    qpush(r, p);
    r->filling = p;
    return p;
}

/* A packed file's read is back (all of it, or it failed): close it. */
static void part_finish(struct iocs_reader *r, struct rpart *rp)
{
    struct rslab *p = rp->pack;
    struct iocs_slab *ps = &p->pub.parts[rp->idx];

    if (rp->fd >= 0) {
        close_fd(r, rp->fd);
        r->parts_open--;
    }
    rp->fd = -1;
    /* The bytes are in memory: the codec costs no read (reader.h). */
    if (ps->err == 0)
        ps->codec = iocs_codec_detect(ps->data, ps->len);
    if (--p->pending == 0 && p->sealed)
        p->state = SLAB_READY;
}

/* Account for a read of a packed file that returned res. Returns whether
 * the file must be read on (an interrupted or short read). */
static bool part_account(struct iocs_reader *r, struct rpart *rp, int res)
{
    struct iocs_slab *ps = &rp->pack->pub.parts[rp->idx];

    if (res == -EINTR || res == -EAGAIN)
        return true;
    if (res < 0) {
        ps->err = res;
    } else if (res == 0 && ps->len < rp->want) {
        ps->err = -ENODATA; /* truncated while being read */
    } else if (res > 0) {
        ps->len += (size_t)res;
        if (ps->len < rp->want) {
            /* Short of the size it had: read on until a read returns 0. */
            if (rp->direct) {
                unalign_fd(rp->fd);
                rp->direct = false;
            }
            return true;
        }
    }
    part_finish(r, rp);
    return false;
}

/* Start the read of the rest of a packed file; without io_uring (or with
 * the ring full and unsubmittable), read it now. */
static void part_issue(struct iocs_reader *r, struct rpart *rp)
{
    struct iocs_slab *ps = &rp->pack->pub.parts[rp->idx];
    ssize_t n;

    do {
        unsigned char *buf = ps->data + ps->len;
        size_t len = rp->room - ps->len;
        struct io_uring_sqe *sqe = r->uring ? get_sqe(r) : NULL;

        if (sqe) {
            io_uring_prep_read(sqe, rp->fd, buf, (unsigned)len, ps->len);
            io_uring_sqe_set_data64(sqe, tagged(rp, TAG_PART));
            r->inflight++;
            return;
        }
        n = pread(rp->fd, buf, len, (off_t)ps->len);
    } while (part_account(r, rp, n < 0 ? -errno : (int)n));
}

/* --- opening ----------------------------------------------------------- */

/* With poll_pipes, O_NONBLOCK: opening a FIFO with no writer returns at
 * once instead of blocking the scan (and holding back the events found
 * before it); its reads then wait in poll(2), where a writer's first bytes
 * (or its close) wake them. Regular files ignore the flag. */
static int open_flags(const struct iocs_reader *r, bool direct)
{
    return O_RDONLY | O_CLOEXEC | O_NOCTTY | (direct ? O_DIRECT : 0) |
           (r->poll_pipes ? O_NONBLOCK : 0);
}

/* Open path now, with O_DIRECT where asked and the file system takes it. */
static void open_now(struct iocs_reader *r, struct rsrc *e, const char *path)
{
    int fd = -1;

    e->direct = false;
    if (r->direct) {
        fd = open(path, open_flags(r, true));
        e->direct = fd >= 0;
    }
    if (fd < 0)
        fd = open(path, open_flags(r, false));
    e->fd = fd;
    e->err = fd < 0 ? -errno : 0;
    e->ready = true;
}

/* Put sources into the window up to open_ahead: OPENATs through io_uring,
 * or (without it) one open(2) of the next source. */
static int issue_opens(struct iocs_reader *r)
{
    while (r->next_open < r->npaths && r->next_open - r->next_src < r->nwin) {
        struct rsrc *e = &r->win[r->next_open % r->nwin];
        const char *path = r->srcv[r->next_open].path;
        struct io_uring_sqe *sqe;

        *e = (struct rsrc){.fd = -1, .own = strcmp(path, "-") != 0};
        if (!e->own) {
            e->fd = STDIN_FILENO;
            e->ready = true;
        } else if (!r->uring) {
            open_now(r, e, path);
        } else {
            sqe = get_sqe(r);
            if (!sqe)
                return -EBUSY;
            io_uring_prep_openat(sqe, AT_FDCWD, path, open_flags(r, r->direct),
                                 0);
            io_uring_sqe_set_data64(sqe, tagged(e, TAG_OPEN));
            e->inflight = true;
            e->direct = r->direct;
            r->inflight++;
        }
        r->next_open++;
    }
    return 0;
}

/* Make source k the exclusive one, reading fd (already fstat'ed). */
static void start_exclusive(struct iocs_reader *r, const struct rsrc *e)
{
    r->src = (uint32_t)r->next_src;
    r->fd = e->fd;
    r->own_fd = e->own;
    r->mtime = e->mtime;
    r->stop = false;
    r->need_poll = false;
    r->issued = false;
    r->base = 0;
    r->next_off = 0;
    r->seekable = S_ISREG(e->st_mode);
    /* io_uring waits in the kernel for a pipe, O_NONBLOCK or not; read(2)
     * says -EAGAIN, which the caller needs to flush and wait itself. */
    r->nonblock = !r->seekable && (fcntl(e->fd, F_GETFL) & O_NONBLOCK);
    if (r->seekable && !e->own) {
        /* A file on stdin is read from where the caller left it. */
        off_t pos = lseek(e->fd, 0, SEEK_CUR);

        r->base = pos > 0 ? (uint64_t)pos : 0;
    }
    r->size = r->seekable ? e->size : 0;
    /* A resumed file is read from its start offset, and its offsets count
     * from the file's start; a pipe cannot be skipped into (reader.h). */
    if (r->seekable)
        r->next_off = r->srcv[r->next_src].start_offset;
    /* A byte range (source.h's end_offset) ends there: reads stop at it,
     * and it reads as the end of the file. */
    r->limit = r->seekable ? r->srcv[r->next_src].end_offset : 0;
    if (r->limit && r->limit < r->size)
        r->size = r->limit;
    if (r->limit && r->limit % PAGE)
        unalign_fd(e->fd); /* the last read is not a whole page */
    if (r->seekable && (r->base + r->next_off) % PAGE)
        unalign_fd(e->fd); /* read from an odd position */
    if (r->seekable && r->size > r->slab_size)
        (void)posix_fadvise(e->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    /* A file that says it is empty (/proc) is read to a 0 instead; stdin
     * keeps its file position, which only reads move. */
    r->mapping =
        r->use_mmap && r->seekable && e->own && !e->direct && r->size > 0;
}

/*
 * The codec of a regular file read on its own, from its first bytes, into
 * e->codec: pread of a page-aligned buffer (O_DIRECT takes nothing
 * smaller), made once per file (e->peeked). An interrupted or short read
 * is read on up to IOCS_CODEC_MAGIC_MAX bytes (with O_DIRECT, a short read
 * is the end). Files packed whole are detected from their bytes instead
 * (part_finish()); stdin and pipes are plain. Returns 0, or the negative
 * errno of a read that failed: the source fails with it.
 */
static int peek_codec(struct iocs_reader *r, struct rsrc *e)
{
    size_t got = 0;

    if (e->peeked)
        return 0;
    e->codec = IOCS_CODEC_PLAIN;
    if (e->own && S_ISREG(e->st_mode) && e->size >= 2) {
        while (got < IOCS_CODEC_MAGIC_MAX) {
            ssize_t n = pread(e->fd, r->peek + got, PAGE - got, (off_t)got);

            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return -errno;
            got += (size_t)n;
            if (n == 0 || e->direct)
                break;
        }
        e->codec = iocs_codec_detect(r->peek, got);
    }
    e->peeked = true;
    return 0;
}

/*
 * Start the next source: pack it, or make it the exclusive one. Returns 1
 * if it started, 0 if it must wait (its open is running, or no slab is
 * free for it).
 */
static int start_next(struct iocs_reader *r)
{
    struct rsrc *e = &r->win[r->next_src % r->nwin];
    const char *path = r->srcv[r->next_src].path;
    struct iocs_slab *ps;
    struct rpart *rp;
    struct rslab *p;
    size_t room = 0;
    bool packed;

    if (!e->ready)
        return 0;
    if (e->err < 0 && e->direct) {
        e->direct = false;
        open_now(r, e, path); /* the file system refused O_DIRECT */
    }
    /*
     * fstat(2) here rather than IORING_OP_STATX: the kernel always runs a
     * statx request on an io-wq thread, and on 100k files of 10 KB that
     * took the whole scan from 0.95 to 0.66 GB/s (2 vCPUs), while one
     * fstat of an open fd costs well under a microsecond.
     */
    if (e->err == 0 && !e->statted) {
        struct stat st;

        if (fstat(e->fd, &st) < 0) {
            e->err = -errno;
            if (e->own)
                close_fd(r, e->fd);
            e->fd = -1;
        } else {
            e->st_mode = st.st_mode;
            e->size = (uint64_t)st.st_size;
            e->mtime = e->own ? st.st_mtime : 0;
            e->statted = true;
        }
    }
    /* A pack holds whole files: a file resumed past its start is read on
     * its own. */
    packed = r->pack_max > 0 && e->own &&
             r->srcv[r->next_src].start_offset == 0 &&
             r->srcv[r->next_src].end_offset == 0 &&
             (e->err < 0 ||
              (S_ISREG(e->st_mode) && e->size > 0 && e->size <= r->pack_max));
    if (!packed) {
        seal(r); /* its slabs come after every pack before it */
        if (e->err == 0) {
            int err = peek_codec(r, e);

            if (err < 0) {
                e->err = err;
                if (e->own)
                    close_fd(r, e->fd);
                e->fd = -1;
            }
        }
        if (e->err < 0) {
            struct rslab *s;

            if (r->nfree == 0)
                return 0;
            r->src = (uint32_t)r->next_src;
            r->issued = false;
            s = take(r, 0);
            s->pub.err = e->err;
            s->state = SLAB_READY;
        } else if (e->codec != IOCS_CODEC_PLAIN) {
            struct rslab *s;

            if (r->nfree == 0)
                return 0;
            /* Not read here: its consumer reads it as one job. */
            r->src = (uint32_t)r->next_src;
            r->issued = false;
            s = take(r, 0);
            s->pub.codec = e->codec;
            s->eof = true;
            s->state = SLAB_READY;
            if (e->own)
                close_fd(r, e->fd);
            e->fd = -1;
        } else {
            start_exclusive(r, e);
            e->fd = -1; /* the exclusive source owns it now */
        }
        r->next_src++;
        return 1;
    }

    if (e->err == 0) {
        room = (size_t)e->size;
        if (e->direct)
            room = (room + PAGE - 1) & ~(size_t)(PAGE - 1);
    }
    if (r->parts_open >= PARTS_OPEN_MAX)
        return 0; /* wait for reads to come back: bounded fds */
    p = pack_for(r, room + (e->direct ? PAGE - 1 : 0));
    if (!p)
        return 0;
    if (e->direct)
        p->used = (p->used + PAGE - 1) & ~(size_t)(PAGE - 1);
    ps = &p->pub.parts[p->pub.nparts];
    rp = &p->rparts[p->pub.nparts];
    *ps = (struct iocs_slab){
        .source = (uint32_t)r->next_src,
        .mtime = e->mtime,
        .data = p->pub.data + p->used,
        .first = true,
        .last = true,
        .err = e->err,
    };
    *rp = (struct rpart){.pack = p,
                         .idx = p->pub.nparts,
                         .fd = e->fd,
                         .want = (size_t)e->size,
                         .room = room,
                         .direct = e->direct};
    p->pub.nparts++;
    p->used += room;
    p->pending++;
    r->parts_open += rp->fd >= 0;
    e->fd = -1; /* the part owns it now */
    r->next_src++;
    if (rp->fd < 0 || rp->want == 0)
        part_finish(r, rp); /* an open error or an empty file: no read */
    else
        part_issue(r, rp);
    return 1;
}

/*
 * Issue what can be issued: resubmit short slabs, open, start and close
 * sources, start new reads up to the depth. Without io_uring, stop after
 * one read (or one pack), so nothing is read far ahead of the caller.
 */
/* Whether a read of the pipe fd would not block (bytes, its end, or an
 * error to report). */
static bool readable_now(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 0) != 0;
}

static int refill(struct iocs_reader *r)
{
    struct rslab *ns;
    int err;

    for (;;) {
        struct rslab *head = qpeek(r);

        /* Without io_uring, hand out what is ready before reading on. */
        if (!r->uring && head && head->state == SLAB_READY)
            return 0;
        if (r->fd < 0) {
            err = issue_opens(r);
            if (err)
                return err;
            if (r->next_src == r->npaths) {
                seal(r);
                return 0;
            }
            if (start_next(r) == 0)
                return 0;
            continue;
        }
        /* A non-blocking pipe said -EAGAIN: nothing is resubmitted until
         * iocs_reader_next() sees it readable (it returns -EAGAIN until
         * then). */
        if (r->need_poll)
            return 0;
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
        /* A file that says it is empty (/proc) is read one slab at a time
         * until a read returns 0, as a pipe is. */
        if (r->nfree == 0 ||
            r->busy >= (r->seekable && r->size ? r->depth : 1u))
            return 0;
        /* Past the known size only a read already issued can find more
         * (at_size() looks again); an empty file still gets its one read. */
        if (r->seekable && r->issued && r->size &&
            r->base + r->next_off >= r->size)
            return 0;
        if (r->poll_pipes && !r->seekable && !readable_now(r->fd)) {
            r->need_poll = true; /* next() says -EAGAIN, as when
                                    non-blocking */
            return 0;
        }
        r->busy++;
        ns = take(r, r->next_off);
        if (!r->mapping || !map_slab(r, ns)) {
            err = issue(r, ns);
            if (err)
                return err;
        }
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
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        void *p = (void *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK);
        struct rsrc *e;

        seen++;
        switch (ud & TAG_MASK) {
        case TAG_SLAB:
            r->inflight--;
            complete(r, p, cqe->res);
            break;
        case TAG_PART:
            r->inflight--;
            if (part_account(r, p, cqe->res))
                part_issue(r, p);
            break;
        case TAG_OPEN:
            r->inflight--;
            e = p;
            e->inflight = false;
            e->ready = true;
            if (cqe->res >= 0)
                e->fd = cqe->res;
            else
                e->err = cqe->res;
            break;
        default:
            break; /* a close that failed, or a cancel */
        }
    }
    io_uring_cq_advance(&r->ring, seen);
}

int iocs_reader_next(struct iocs_reader *r, struct iocs_slab **out)
{
    struct rslab *s;
    int err;

    for (;;) {
        while ((s = qpeek(r)) && s->state == SLAB_READY) {
            qpop(r);
            if (s->pub.nparts) {
                r->out_src = s->pub.parts[s->pub.nparts - 1].source + 1;
            } else if (s->pub.source < r->out_src) {
                /* Read past the end of a source that is already done. */
                free_slab(r, s);
                continue;
            } else if (s->eof || s->pub.err) {
                s->pub.last = true;
                r->out_src = s->pub.source + 1;
            }
            s->state = SLAB_HELD;
            *out = &s->pub;
            return 1;
        }
        if (!s && r->fd < 0 && r->next_src == r->npaths)
            return 0;
        if (!s && r->nfree == 0)
            return -EBUSY;
        if (r->need_poll) {
            err = iocs_reader_wait(r, 0);
            if (err < 0)
                return err;
            /* No bytes yet: the caller waits, once the reads in flight
             * (a pack before this pipe) are back. */
            if (err == 0 && r->inflight == 0)
                return -EAGAIN;
        }

        err = refill(r);
        if (err)
            return err;
        if (!r->uring || (r->need_poll && r->inflight == 0))
            continue;
        s = qpeek(r);
        if ((s && s->state == SLAB_READY) ||
            (!s && r->fd < 0 && r->next_src == r->npaths))
            continue;
        if (s && s == r->filling && s->pending == 0) {
            /* The pack at the head waits only for the next open: let what
             * is queued run; if that open is still running, hand the pack
             * out as it is. */
            if (io_uring_sq_ready(&r->ring)) {
                err = io_uring_submit(&r->ring);
                if (err < 0 && err != -EINTR && err != -EAGAIN)
                    return err;
                reap(r);
            } else {
                seal(r);
            }
            continue;
        }
        if (r->inflight == 0)
            return -EIO; /* nothing can finish: cannot happen */
        err = io_uring_submit_and_wait(&r->ring, 1);
        if (err == -EINTR && r->poll_pipes)
            return -EINTR; /* a signal: the caller looks at why */
        if (err < 0 && err != -EINTR)
            return err;
        reap(r);
    }
}

int iocs_reader_wait(struct iocs_reader *r, int timeout_ms)
{
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    int n;

    if (!r->need_poll || r->fd < 0)
        return 1;
    n = poll(&p, 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n == 0)
        return 0;
    r->need_poll = false; /* readable, at its end, or failed: read on */
    return 1;
}

void iocs_reader_release(struct iocs_reader *r, struct iocs_slab *slab)
{
    struct rslab *s = (struct rslab *)slab;

    if (!slab || s->state != SLAB_HELD)
        return;
    free_slab(r, s);
}

bool iocs_reader_slab_faulted(const struct iocs_slab *s)
{
    return s && s->mapped && iocs_mapguard_faulted(s->map_id);
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
                    const struct iocs_source *src, size_t npaths)
{
    struct iocs_reader *r;
    unsigned entries;
    size_t stride;
    int err;

    if (!out || !opts || (!src && npaths) || opts->slab_size == 0 ||
        opts->slab_size > SLAB_MAX || opts->headroom > SLAB_MAX ||
        opts->nslabs < 2 || opts->depth < 1 || opts->depth > opts->nslabs ||
        npaths > UINT32_MAX || opts->pack_max > opts->slab_size ||
        opts->open_ahead > 4096)
        return -EINVAL;
    if (opts->direct && opts->slab_size % PAGE)
        return -EINVAL; /* O_DIRECT reads whole pages */
    stride =
        ((opts->headroom + PAGE - 1) & ~(size_t)(PAGE - 1)) + opts->slab_size;
    if (stride > SIZE_MAX / opts->nslabs)
        return -ENOMEM;

    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->fd = -1;
    r->slab_size = opts->slab_size;
    r->pack_max = opts->pack_max;
    r->direct = opts->direct;
    r->poll_pipes = opts->poll_pipes;
    r->use_mmap = opts->mmap && !opts->direct && iocs_mapguard_init() == 0;
    r->page = (uintptr_t)sysconf(_SC_PAGESIZE);
    if (r->page == 0 || (r->page & (r->page - 1)))
        r->use_mmap = false; /* cannot happen */
    /* O_DIRECT reads land page-aligned: data[] must start on a page. */
    r->headroom = opts->direct
                      ? (opts->headroom + PAGE - 1) & ~(size_t)(PAGE - 1)
                      : opts->headroom;
    r->nslabs = opts->nslabs;
    r->depth = opts->depth;
    r->srcv = src;
    r->npaths = npaths;
    r->nwin =
        opts->open_ahead ? opts->open_ahead : IOCS_READER_OPEN_AHEAD_DEFAULT;

    if (!opts->no_uring) {
        /* Room for the opens ahead, a pack's reads and its closes at
         * once; a full ring is submitted and reused. */
        entries = r->depth + r->nwin + (r->pack_max ? 64 : 0);
        err = io_uring_queue_init(entries, &r->ring, 0);
        r->uring = err == 0;
        r->uring_err = err;
    }
    if (!r->uring)
        r->nwin = 1; /* open(2) as each source starts */

    r->slabs = calloc(r->nslabs, sizeof(*r->slabs));
    r->freev = calloc(r->nslabs, sizeof(*r->freev));
    r->queue = calloc(r->nslabs, sizeof(*r->queue));
    r->win = calloc(r->nwin, sizeof(*r->win));
    if (r->pack_max) {
        size_t n = (size_t)r->nslabs * IOCS_READER_PARTS_MAX;

        r->partv = calloc(n, sizeof(*r->partv));
        r->rpartv = calloc(n, sizeof(*r->rpartv));
    }
    /* Page-aligned, as O_DIRECT needs. */
    if (!r->slabs || !r->freev || !r->queue || !r->win ||
        (r->pack_max && (!r->partv || !r->rpartv)) ||
        posix_memalign((void **)&r->mem, PAGE, stride * r->nslabs) ||
        posix_memalign((void **)&r->peek, PAGE, PAGE)) {
        err = -ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < r->nwin; i++)
        r->win[i].fd = -1;
    for (unsigned i = 0; i < r->nslabs; i++) {
        unsigned k = r->nslabs - 1 - i;
        struct rslab *s = &r->slabs[k];

        s->buf = r->mem + (size_t)k * stride + r->headroom;
        s->pub.data = s->buf;
        s->pub.headroom = r->headroom;
        s->pub.map_id = -1;
        if (r->pack_max) {
            s->pub.parts = r->partv + (size_t)k * IOCS_READER_PARTS_MAX;
            s->rparts = r->rpartv + (size_t)k * IOCS_READER_PARTS_MAX;
        }
        r->freev[r->nfree++] = s; /* popped in order 0, 1, ... */
    }
    *out = r;
    return 0;

fail:
    iocs_reader_free(r);
    return err;
}

/* Cancel the request tagged ud (a pipe read or a FIFO open may wait
 * forever for a writer). */
static void cancel(struct iocs_reader *r, uint64_t ud)
{
    struct io_uring_sqe *sqe = get_sqe(r);

    if (!sqe)
        return;
    io_uring_prep_cancel64(sqe, ud, 0);
    io_uring_sqe_set_data64(sqe, TAG_NONE);
}

/* Wait out the requests still running: the kernel writes into our slabs,
 * and opens may still hand us fds. */
static void drain(struct iocs_reader *r)
{
    for (unsigned i = 0; i < r->nslabs; i++)
        if (r->slabs[i].state == SLAB_INFLIGHT && !r->slabs[i].pub.nparts)
            cancel(r, tagged(&r->slabs[i], TAG_SLAB));
    for (unsigned i = 0; i < r->nwin; i++)
        if (r->win[i].inflight)
            cancel(r, tagged(&r->win[i], TAG_OPEN));
    while (r->inflight) {
        int err = io_uring_submit_and_wait(&r->ring, 1);

        if (err < 0 && err != -EINTR)
            break; /* the ring is broken; nothing more can be done */
        reap(r);
    }
    io_uring_submit(&r->ring); /* the closes queued meanwhile */
}

void iocs_reader_free(struct iocs_reader *r)
{
    if (!r)
        return;
    if (r->uring) {
        drain(r);
        io_uring_queue_exit(&r->ring);
        r->uring = false; /* close what is left with close(2) */
    }
    if (r->fd >= 0)
        close_src(r);
    for (unsigned i = 0; r->slabs && i < r->nslabs; i++)
        unmap_slab(r, &r->slabs[i]);
    for (unsigned i = 0; r->win && i < r->nwin; i++)
        if (r->win[i].own && r->win[i].fd >= 0)
            close(r->win[i].fd);
    for (size_t i = 0;
         r->rpartv && i < (size_t)r->nslabs * IOCS_READER_PARTS_MAX; i++)
        if (r->rpartv[i].pack && r->rpartv[i].fd >= 0)
            close(r->rpartv[i].fd);
    free(r->mem);
    free(r->peek);
    free(r->win);
    free(r->partv);
    free(r->rpartv);
    free(r->queue);
    free(r->freev);
    free(r->slabs);
    free(r);
}
