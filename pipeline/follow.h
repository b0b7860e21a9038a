/*
 * follow.h - tail -F for `scan --follow`: which bytes of which files to
 * read next, as files grow, rotate, are truncated, compressed or deleted.
 *
 * Sits before the reader. The follower never reads log lines: it watches
 * the PATH arguments (files, and directories walked recursively: new files
 * and subdirectories join) with inotify, keeps a table of followed files
 * (descriptor, identity, read position) and hands the caller items saying
 * "read [offset, end) of this descriptor". The caller reads (pread, the
 * reader module, a decoder), then says with iocs_follow_done() how far it
 * consumed. Every byte is handed out once across:
 *
 * - growth: from the position consumed to the new size;
 * - rename rotation (x -> x.1, a new x): the old file stays open and is
 *   read to its end under its new name, including what its writer still
 *   appends; once quiet for quiet_ms and fully read it is closed, and
 *   remembered, so that x.1 -> x.2 later is not read again; then the new x
 *   from 0;
 * - copytruncate (x copied to x.1, x truncated): x.1 is recognised by the
 *   fingerprint of its first bytes and continues from x's position; x
 *   starts over at 0 (TRUNCATED). Truncation is seen by size and by a
 *   changed fingerprint, so a truncate followed at once by new writes is
 *   not missed;
 * - compression (x.1 -> x.1.gz): the same fingerprint over the inflated
 *   bytes (the prefix hook, below): the .gz continues from x.1's position
 *   (nothing, when x.1 was read to its end); it is looked at only once its
 *   writer has closed it or it has been quiet for quiet_ms;
 * - deletion: an open file is read to its end, then closed.
 *
 * Files present at start (the history) are reported first, each from the
 * position the resume checkpoint gives it (0 if none), then the live tail.
 *
 * An idle follower sleeps in poll(2) on the inotify descriptor: no timer
 * ticks unless a rotated or deleted file waits for its quiet period. An
 * inotify queue overflow rescans every path and re-checks every file.
 *
 * Bounded: at most max_open descriptors (fully read files are closed,
 * least recently active first, and reopened by path when they change) and
 * max_files remembered files (closed, forgotten identities give way first),
 * whatever the number of rotations seen. The follower allocates per file,
 * never per line or per wake-up.
 *
 * One thread drives a follower.
 */
#ifndef IOCS_FOLLOW_H
#define IOCS_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/checkpoint.h" /* struct iocs_ckpt_id */

#ifdef __cplusplus
extern "C" {
#endif

enum iocs_follow_kind {
    IOCS_FOLLOW_NEW,          /* first report of a file (history or new) */
    IOCS_FOLLOW_GROWN,        /* more bytes in a followed file */
    IOCS_FOLLOW_ROTATED_AWAY, /* renamed (path is its new name) or moved out
                                 of the watched tree; read what is left */
    IOCS_FOLLOW_TRUNCATED,    /* cut and rewritten: starts over at 0 */
    IOCS_FOLLOW_DELETED,      /* unlinked; read what is left */
    IOCS_FOLLOW_CLOSED,       /* done with: no more items for this handle
                                 (fd is -1); drop per-source state */
};

/* What to read next. */
struct iocs_follow_item {
    enum iocs_follow_kind kind;
    uint32_t handle;        /* the follower's name for this file; stable
                               while it is followed */
    int fd;                 /* read with pread; owned by the follower; valid
                               until iocs_follow_done() for this handle */
    const char *path;       /* current path (the last one seen); valid until
                               the next iocs_follow_next() */
    struct iocs_ckpt_id id; /* for the checkpoint */
    uint64_t offset;        /* read from here (decompressed offset for a
                               compressed file) */
    uint64_t line;          /* 1-based number of the line at offset */
    uint64_t end;           /* up to here (the size seen); UINT64_MAX for a
                               compressed file: to the end of the stream */
    bool compressed;        /* inflate from byte 0 and skip to offset */
    bool final;             /* no more bytes will come: a last line without
                               '\n' is a line */
};

/*
 * The first decompressed bytes of a compressed file. Fill buf[0..cap)
 * with the first cap inflated bytes of the file open at fd (read with
 * pread from 0), *len how many (fewer at the end of the stream). Return 1
 * when the file is compressed (buf filled), 0 when it is plain (the
 * follower reads its prefix itself), or a negative errno (the file is
 * skipped). The integrator implements it with codec.h (iocs_codec_detect
 * on the first IOCS_CODEC_MAGIC_MAX bytes, then iocs_decoder_run); with
 * none, the follower's own hook recognises gzip (through zlib) and takes
 * zstd, bzip2 and xz files by their magic but fingerprints their raw
 * bytes.
 */
typedef int (*iocs_follow_prefix_fn)(void *ctx, int fd, unsigned char *buf,
                                     size_t cap, size_t *len);

struct iocs_follow_opts {
    size_t max_open;      /* descriptors held at most; 0: 256 */
    size_t max_files;     /* files followed or remembered; 0: 16384 */
    int quiet_ms;         /* a rotated or deleted file is closed after this
                             long without change, once fully read; 0: 2000 */
    bool follow_symlinks; /* as iocs_walk_add() */
    const struct iocs_checkpoint *resume; /* start positions; may be NULL;
                                             only read during _new() */
    iocs_follow_prefix_fn prefix;         /* NULL: the built-in one */
    void *prefix_ctx;
    int wake_fd; /* > 0: polled beside inotify; when it is readable,
                    iocs_follow_next() returns -EINTR (the caller drains
                    it: a signalfd, an epoll set); 0: none */
};

struct iocs_follow;

/*
 * Watch paths[0..n) (files or directories; a file that does not exist
 * yet is picked up when its directory gets it) and take in the history:
 * every existing file is queued as a NEW item. Returns 0 with *out set, or
 * a negative errno with errbuf saying why: -ENOSYS (no inotify), -ENOSPC
 * (inotify watch limit: raise fs.inotify.max_user_watches), -ENOENT (a
 * path and its directory are both missing), -ENOMEM.
 */
int iocs_follow_new(struct iocs_follow **out, const char *const *paths,
                    size_t n, const struct iocs_follow_opts *o, char *errbuf,
                    size_t errlen);

/* Close every descriptor and release f. NULL is accepted and ignored. */
void iocs_follow_free(struct iocs_follow *f);

/*
 * The next thing to read, waiting up to timeout_ms (< 0: forever) for one.
 * Returns 0 with *it filled, -EAGAIN when nothing came within timeout_ms
 * (flush the sink, save the checkpoint, call again), -EINTR on a signal
 * or when opts.wake_fd is readable (checked only when nothing is ready:
 * items already queued come first), or another negative errno (inotify failed).
 * A file is not reported again until iocs_follow_done() is called for its item
 * (other files are).
 */
int iocs_follow_next(struct iocs_follow *f, struct iocs_follow_item *it,
                     int timeout_ms);

/*
 * The caller has consumed handle's bytes up to offset (a line start, or
 * the item's end) and line is the number of the line there. Bytes after
 * offset (a partial last line) are offered again once more arrive, or
 * with final set. Call it for every item but CLOSED, before reading the
 * same handle again. Returns 0, or -EINVAL (no such handle, or offset
 * outside the item).
 */
int iocs_follow_done(struct iocs_follow *f, uint32_t handle, uint64_t offset,
                     uint64_t line);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_FOLLOW_H */
