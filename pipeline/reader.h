/*
 * reader.h - streams the bytes of many sources, in turn, through a fixed
 * ring of slabs.
 *
 * First stage of the pipeline. Sources (files, "-" for stdin, pipes) are
 * read one after another; each source's slabs come out in file order. With
 * io_uring (the default) several reads are in flight at once, into distinct
 * slabs of the ring; completions may arrive out of order but slabs are
 * handed out in order. Where io_uring is unavailable (old kernel, seccomp,
 * or opts.no_uring) the same interface is served with read(2), and
 * iocs_reader_uring() says so: the caller reports it once.
 *
 * A regular file gives full slabs but the last; its end is where fstat
 * says it is (checked again when a read reaches it, so a file that grows
 * while read is read on), or a read that returns 0 (a file that shrank, an
 * empty file: an empty last slab). A pipe or terminal gives each
 * read as it comes (len may be short, never 0 but for the last slab). A
 * regular file on stdin is read from its current position, which is
 * offset 0.
 *
 * Sources are records (source.h). A regular file whose start_offset is
 * not 0 is read from there: its first slab has offset start_offset (and
 * it is never packed); offsets stay those of the file, and the caller
 * numbers its lines from start_line. A start offset past the end gives an
 * empty last slab. A regular file whose end_offset is not 0 ends there
 * (reads stop at it, growth past it is not read, and it is never packed):
 * a byte range. A pipe, FIFO or terminal cannot be skipped into: its
 * start_offset is ignored and its offsets count from 0.
 *
 * Waiting: a pipe, FIFO or terminal that is non-blocking (O_NONBLOCK set
 * by whoever opened it, e.g. a stdin shared with a non-blocking parent)
 * may have no bytes yet. Then iocs_reader_next() returns -EAGAIN, after
 * every slab read before it has been handed out; the caller flushes its
 * output (the events so far must not wait for more input) and calls
 * iocs_reader_wait() (or polls by itself) before calling next again. A
 * blocking descriptor and a regular file never give -EAGAIN: reads there
 * block in the kernel, unless opts.poll_pipes (a live input that goes
 * quiet must not hold back the events found before it).
 *
 * Small files (opts.pack_max > 0): a regular file of at most pack_max
 * bytes when opened is read whole, in one read of that size, into a
 * shared slab, a pack, beside the small files that follow it; the pack
 * comes out as one slab whose parts[] are those files, each a complete
 * source (first and last set, headroom 0). So 100k small files cost a few
 * thousand slabs, not 100k. A packed file is read up to the size it had
 * when it was opened (bytes appended after that are not read); a larger
 * file, a pipe or stdin is read on its own, through slabs, as above. A
 * source that cannot be opened becomes a part with err set (a slab with
 * err set when packing is off).
 *
 * Encoded sources: a regular file read on its own whose first bytes
 * (one pread of a page at offset 0, when it is opened) are a codec's magic
 * (codec.h: gzip, zstd, bzip2, xz, evtx) is not read through slabs: it
 * comes out as one slab with codec set, first and last set, len 0, and
 * its consumer reads and decodes the file itself, as one job. A packed
 * file is detected from its bytes once read (no extra read): its part has
 * codec set and holds the file's bytes as they are (compressed). Plain
 * files, stdin and pipes are read as before (codec IOCS_CODEC_PLAIN);
 * start_offset does not apply to an encoded source (its consumer decides).
 *
 * With io_uring the files are opened through it too, up to opts.open_ahead
 * of them ahead of the one being read, and closed through it; several
 * small files' reads are in flight at once (at most 64, so cold data does
 * not pile up open files). Open fds stay below open_ahead + 64 + 1.
 *
 * Mapped files (opts.mmap): a plain regular file read on its own (not
 * stdin, not packed, not encoded, not with opts.direct, not one whose size
 * says 0) is not copied into the slabs but mapped, read-only, one window
 * per slab: such a slab has `mapped` set, data points into the mapping,
 * and the `headroom` bytes before data[0] are the file's own bytes before
 * offset (at least min(offset, opts.headroom) of them), also mapped, so
 * the framer finds the previous slab's tail in place. Nothing may write
 * through a mapped slab's data or headroom. Slabs, offsets, lengths, ends
 * and errors are those of the read path: each window looks at the file's
 * size first (fstat), so a file that grew is mapped on and one that
 * shrank before its window ends there with -ENODATA. A file cut while its
 * window is mapped reads as zeros past its new end instead of raising
 * SIGBUS (mapguard.h, installed by iocs_reader_new()) and the slab is then
 * faulted (iocs_reader_slab_faulted()): whoever used its bytes must drop
 * what it made from them and fail the source. A window is unmapped when
 * its slab is released, so at most nslabs windows (slab_size + headroom
 * bytes of address space each) are mapped at once. A window that cannot
 * be mapped (mmap(2) refused, every guard slot taken) is read instead.
 *
 * Memory: nslabs * (headroom + slab_size) bytes, allocated in
 * iocs_reader_new() and never grown. Every slab that is not mapped has
 * `headroom` writable bytes before data[0], so the framer can prepend the
 * tail of the previous slab without copying the new bytes.
 *
 * One thread drives a reader; slabs may be released from the same thread
 * only, in any order.
 */
#ifndef IOCS_READER_H
#define IOCS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pipeline/source.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iocs_reader_opts {
    size_t slab_size; /* bytes read into one slab; >= 1 (tests use tiny ones) */
    size_t headroom;  /* writable bytes before each slab's data */
    unsigned nslabs;  /* slabs in the ring, >= 2 */
    unsigned depth;   /* reads in flight at most, 1..nslabs */
    bool no_uring;    /* use read(2) even where io_uring works */
    bool direct;      /* O_DIRECT for regular files where the file system
                         takes it (data not in the page cache: replays);
                         slab_size must be a multiple of 4096, and the
                         headroom is rounded up to one */
    size_t pack_max;  /* pack regular files of at most this many bytes;
                         0: never (every source gets its own slabs) */
    unsigned open_ahead; /* opens in flight ahead of the source being read
                            (io_uring only); 0 means the default */
    bool poll_pipes;     /* a pipe, FIFO or terminal is polled before each
                            read: with no bytes yet, next() returns -EAGAIN
                            as for a non-blocking one (so the caller writes
                            out its events before waiting), and a signal
                            that interrupts a wait inside next() returns
                            -EINTR */
    bool mmap;           /* map plain regular files instead of reading
                            them (see "Mapped files"); ignored with
                            direct, or where the SIGBUS guard cannot be
                            installed */
};

/* Defaults: 1 MiB slabs, 8 slabs, 4 reads in flight. */
#define IOCS_READER_SLAB_DEFAULT (1u << 20)
#define IOCS_READER_NSLABS_DEFAULT 8
#define IOCS_READER_DEPTH_DEFAULT 4
#define IOCS_READER_OPEN_AHEAD_DEFAULT 16
/* The most files in one pack (empty files take no room but a part). */
#define IOCS_READER_PARTS_MAX 256

struct iocs_slab {
    uint32_t source;     /* index into the sources given to
                            iocs_reader_new() */
    uint64_t offset;     /* byte offset in the source of data[0] */
    time_t mtime;        /* the source's modification time, from the
                            fstat the reader makes anyway; 0 for stdin
                            and a source that failed */
    unsigned char *data; /* len bytes read; data - headroom is writable
                            unless mapped */
    size_t len;
    size_t headroom;         /* writable bytes before data; when mapped,
                                the file's bytes before data, read-only */
    bool mapped;             /* data is a window of the file, mapped
                                read-only (see "Mapped files") */
    int map_id;              /* when mapped: its id in mapguard.h */
    bool first;              /* first slab of this source */
    bool last;               /* last slab of this source (len may be 0) */
    int err;                 /* < 0: the source failed (open or read); the
                                slab is then also the last of its source and
                                len holds the bytes read before the failure;
                                -ENODATA: a regular file ended (a read
                                returned 0) before the size fstat gave, so it
                                was truncated while being read, at offset +
                                len */
    enum iocs_codec codec;   /* not IOCS_CODEC_PLAIN: an encoded source
                                (see "Encoded sources" above) */
    unsigned nparts;         /* > 0: a pack of small files, in parts[];
                                the fields above then describe none */
    struct iocs_slab *parts; /* whole sources, in order (see above) */
};

struct iocs_reader;

/*
 * Make a reader over src[0..n) (a path "-" is stdin). The array and its
 * paths must outlive the reader. Opening happens lazily, in order; open
 * errors come back as a slab with err set. Returns 0, -EINVAL (bad opts)
 * or -ENOMEM.
 */
int iocs_reader_new(struct iocs_reader **out,
                    const struct iocs_reader_opts *opts,
                    const struct iocs_source *src, size_t n);

/* Release r, closing open files. NULL is accepted and ignored. */
void iocs_reader_free(struct iocs_reader *r);

/*
 * Hand out the next slab in order. Returns 1 with *out set, 0 when every
 * source is done, -EAGAIN when the source being read is a non-blocking
 * pipe, FIFO or terminal with no bytes yet (see "Waiting" above: wait with
 * iocs_reader_wait(), then call again), or another negative errno for a
 * failure of the reader itself (not of one source); with opts.poll_pipes,
 * -EINTR when a signal interrupted a wait (call again). Otherwise blocks until
 * the slab is read. The slab stays valid until iocs_reader_release(); a
 * caller holding all nslabs slabs gets -EBUSY.
 */
int iocs_reader_next(struct iocs_reader *r, struct iocs_slab **out);

/*
 * After -EAGAIN from iocs_reader_next(): wait up to timeout_ms (< 0:
 * forever, 0: just look) for the source to have bytes (or reach its end,
 * or fail). Returns 1 when iocs_reader_next() will make progress, 0 at
 * the deadline (or on a signal), or a negative errno from poll(2).
 */
int iocs_reader_wait(struct iocs_reader *r, int timeout_ms);

/* Give a slab back for reuse (a mapped slab's window is unmapped). */
void iocs_reader_release(struct iocs_reader *r, struct iocs_slab *s);

/*
 * Whether s is a mapped slab whose file was cut while mapped, so that some
 * of its bytes read as zeros (see "Mapped files"). Call it after the last
 * use of its bytes (a job's units scanned and encoded), before its events
 * are written: when true, drop them and fail the source (the file shrank
 * while being read). Cheap (one atomic load); any thread, while s is held;
 * s may be NULL, a pack or a slab made by the caller (false).
 */
bool iocs_reader_slab_faulted(const struct iocs_slab *s);

/* Whether reads go through io_uring (false after a fallback to read()). */
bool iocs_reader_uring(const struct iocs_reader *r);

/* Why io_uring is not used (negative errno from io_uring_queue_init, or
 * 0 when it is used or was turned off by opts.no_uring). */
int iocs_reader_uring_err(const struct iocs_reader *r);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_READER_H */
