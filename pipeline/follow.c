/*
 * follow.c - tail -F over inotify. See follow.h for the contract.
 *
 * Two tables, both allocated once in iocs_follow_new():
 * - dirs: one inotify watch per watched directory. A directory given as a
 *   PATH (or found below one) is a tree directory: every regular file in
 *   it is followed. The parent of a file PATH is a filter directory: only
 *   the PATH names are taken, plus files that continue a followed one (a
 *   rename, or a copy recognised by its fingerprint).
 * - files: every followed file, and remembered ones. A slot is live (fd
 *   open, or closed only to save descriptors and reopened by path),
 *   retired (closed after it was read to its end; kept so that a later
 *   rename or copy of it is recognised) or a tombstone (deleted, or its
 *   name now holds another file: only its identity and position are left).
 *
 * Work flows through a FIFO of slots to examine (the ready queue): inotify
 * events, the history and done() put slots there; iocs_follow_next() takes
 * them off, fstat()s, and hands out an item when there are bytes to read.
 * The fingerprint is re-checked on every look at a file, which is how a
 * truncation followed at once by new writes (size larger than before) is
 * still seen.
 */
#include "pipeline/follow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define DIR_MASK                                                               \
    (IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_MODIFY |         \
     IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_ONLYDIR)
#define SELF_MASK (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB)
/* Slot index bits in a handle; the rest is the slot's generation, so that
 * a done() for a slot since reused is refused. */
#define IDX_BITS 20
#define MAX_FILES_CAP ((size_t)1 << IDX_BITS)

struct fdir {
    int wd; /* -1: free slot */
    bool tree;
    char *path; /* owned */
};

enum slot_kind { S_FREE, S_LIVE, S_RETIRED, S_TOMB };

struct ffile {
    enum slot_kind kind;
    uint32_t gen;
    int fd;      /* -1 when closed */
    int dir;     /* index in dirs; -1: not in a watched directory */
    int self_wd; /* watch on the file itself (orphans); -1 if none */
    char *path;  /* owned; NULL for a tombstone */
    struct iocs_ckpt_id id;
    uint64_t pos, line; /* consumed (done()) */
    uint64_t end;       /* end of the last item handed out */
    uint64_t size;      /* size at the last look */
    int64_t changed_ms; /* last time its size changed */
    int64_t used_ms;    /* last activity, for the descriptor LRU */
    bool announced;     /* NEW was sent */
    bool busy;          /* an item is out, done() not yet called */
    bool queued;        /* in the ready queue */
    bool renamed;       /* got another name, or left the tree */
    bool deleted;       /* unlinked */
    bool truncated;     /* a TRUNCATED item is due */
    bool final_sent;
    bool compressed;
    bool settled;      /* identity known: history, or a new file whose
                          first bytes are final enough to say whether it
                          is a copy (see settle()) */
    bool closed_write; /* its writer closed it (IN_CLOSE_WRITE) */
    bool only_known;   /* in a filter directory: dropped unless it
                          continues a known file */
    bool report_kind;  /* the next item reports renamed/deleted */
};

struct iocs_follow {
    int ifd;
    struct iocs_follow_opts o;
    struct fdir *dirs;
    size_t ndirs, dcap;
    struct ffile *files;
    size_t nfiles;   /* high-water mark of used slots */
    uint32_t *queue; /* ring of slot indices, capacity max_files */
    size_t qhead, qlen;
    size_t open;  /* descriptors held */
    char **roots; /* the PATH arguments, owned */
    size_t nroots;
    unsigned char *prefix; /* IOCS_CKPT_FP_BYTES, for fingerprints */
    char *evbuf;           /* inotify read buffer */
    char *pathbuf;         /* PATH_MAX scratch */
    const struct iocs_checkpoint *resume; /* only during new() */
    bool rescan;
};

enum { EVBUF = 64 * 1024 };

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!errbuf || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* --- prefixes and fingerprints ---------------------------------------- */

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

/* The built-in prefix hook: inflate the first bytes of a gzip file
 * (members one after another); zstd, bzip2 and xz are known by their magic
 * only, and fingerprinted over their raw bytes. */
static int builtin_prefix(void *ctx, int fd, unsigned char *buf, size_t cap,
                          size_t *len)
{
    unsigned char in[8192];
    z_stream z;
    uint64_t off = 0;
    ssize_t n;
    int zr, err = 1;

    (void)ctx;
    n = pread_full(fd, in, 8, 0);
    if (n < 0)
        return (int)n;
    if (n >= 4 &&
        ((in[0] == 0x28 && in[1] == 0xb5 && in[2] == 0x2f && in[3] == 0xfd) ||
         (in[0] == 'B' && in[1] == 'Z' && in[2] == 'h') ||
         (n >= 6 && !memcmp(in,
                            "\xfd"
                            "7zXZ\0",
                            6)))) {
        n = pread_full(fd, buf, cap, 0);
        if (n < 0)
            return (int)n;
        *len = (size_t)n;
        return 1;
    }
    if (n < 2 || in[0] != 0x1f || in[1] != 0x8b)
        return 0;

    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return -ENOMEM;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    while (z.avail_out > 0) {
        if (z.avail_in == 0) {
            n = pread_full(fd, in, sizeof(in), off);
            if (n <= 0) {
                if (n < 0)
                    err = (int)n;
                break; /* a stream cut short: what was inflated stands */
            }
            off += (uint64_t)n;
            z.next_in = in;
            z.avail_in = (uInt)n;
        }
        zr = inflate(&z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            inflateReset(&z); /* the next member, if any */
            continue;
        }
        if (zr != Z_OK)
            break; /* damaged: the reader will say so */
    }
    *len = cap - z.avail_out;
    inflateEnd(&z);
    return err;
}

/*
 * Read the prefix of e into f->prefix and set *len. Returns 1 if e is
 * compressed, 0 if plain, or a negative errno.
 */
static int read_prefix(struct iocs_follow *f, struct ffile *e, size_t *len)
{
    ssize_t n;
    int r;

    r = f->o.prefix(f->o.prefix_ctx, e->fd, f->prefix, IOCS_CKPT_FP_BYTES, len);
    if (r != 0)
        return r;
    n = pread_full(e->fd, f->prefix, IOCS_CKPT_FP_BYTES, 0);
    if (n < 0)
        return (int)n;
    *len = (size_t)n;
    return 0;
}

/* --- slots ----------------------------------------------------------- */

static uint32_t handle_of(const struct iocs_follow *f, const struct ffile *e)
{
    return (uint32_t)(e - f->files) | e->gen << IDX_BITS;
}

static void enqueue(struct iocs_follow *f, struct ffile *e)
{
    if (e->queued || e->kind == S_FREE || e->kind == S_TOMB)
        return;
    e->queued = true;
    f->queue[(f->qhead + f->qlen++) % f->o.max_files] =
        (uint32_t)(e - f->files);
}

static void close_fd(struct iocs_follow *f, struct ffile *e)
{
    if (e->self_wd >= 0) {
        inotify_rm_watch(f->ifd, e->self_wd);
        e->self_wd = -1;
    }
    if (e->fd >= 0) {
        close(e->fd);
        e->fd = -1;
        f->open--;
    }
}

/* Whether e waits for a quiet period: a renamed or deleted file (to be
 * closed), a new file whose identity is not settled. An empty unsettled
 * file has nothing to wait for: its first write wakes it. */
static bool waits(const struct ffile *e)
{
    return e->kind == S_LIVE &&
           (e->renamed || e->deleted || (!e->settled && e->size > 0));
}

/* Forget what e holds and make it a tombstone (identity and position
 * only), so that a copy or compressed rotation of it is still known. */
static void entomb(struct iocs_follow *f, struct ffile *e)
{
    close_fd(f, e);
    e->kind = S_TOMB;
    free(e->path);
    e->path = NULL;
    e->dir = -1;
}

static void release(struct iocs_follow *f, struct ffile *e)
{
    entomb(f, e);
    e->kind = S_FREE;
    e->gen = (e->gen + 1) & ((1u << (32 - IDX_BITS)) - 1);
}

/* A free slot; when none, the least recently used tombstone or retired
 * file gives its slot up. NULL when every slot holds a live file. */
static struct ffile *new_slot(struct iocs_follow *f)
{
    struct ffile *old = NULL;

    for (size_t i = 0; i < f->nfiles; i++)
        if (f->files[i].kind == S_FREE)
            return &f->files[i];
    if (f->nfiles < f->o.max_files)
        return &f->files[f->nfiles++];
    for (size_t i = 0; i < f->nfiles; i++) {
        struct ffile *e = &f->files[i];

        if ((e->kind == S_TOMB || e->kind == S_RETIRED) && !e->queued &&
            (!old || e->used_ms < old->used_ms))
            old = e;
    }
    if (old)
        release(f, old);
    return old;
}

/* Keep under max_open: close the least recently used descriptor of a
 * file read to its end that can be reopened by its path. */
static void make_room(struct iocs_follow *f)
{
    struct ffile *old = NULL;

    if (f->open < f->o.max_open)
        return;
    for (size_t i = 0; i < f->nfiles; i++) {
        struct ffile *e = &f->files[i];

        /* Only a file read to its end: one with bytes still to read
         * could be renamed away or deleted while closed, and its bytes
         * lost. A queued one is reopened by examine(). */
        if (e->kind != S_LIVE || e->fd < 0 || e->busy || e->dir < 0 ||
            e->pos < e->size || waits(e))
            continue;
        if (!old || e->used_ms < old->used_ms)
            old = e;
    }
    if (old)
        close_fd(f, old);
}

/* Zero a slot, keeping its generation. */
static void init_slot(struct ffile *e)
{
    uint32_t gen = e->gen;

    memset(e, 0, sizeof(*e));
    e->gen = gen;
    e->fd = -1;
    e->dir = -1;
    e->self_wd = -1;
    e->line = 1;
}

static struct ffile *by_inode(struct iocs_follow *f, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < f->nfiles; i++) {
        struct ffile *e = &f->files[i];

        if ((e->kind == S_LIVE || e->kind == S_RETIRED) && e->id.dev == dev &&
            e->id.ino == ino)
            return e;
    }
    return NULL;
}

/* A known file (any inode) whose fingerprint the prefix carries: the
 * source a copy or a compressed rotation continues. The one furthest
 * read wins (a copy holds what its original had). */
static struct ffile *by_print(struct iocs_follow *f, const struct ffile *self,
                              size_t len)
{
    struct ffile *best = NULL;

    for (size_t i = 0; i < f->nfiles; i++) {
        struct ffile *e = &f->files[i];

        if (e == self || e->kind == S_FREE || e->id.fp_len < IOCS_CKPT_FP_MIN ||
            !iocs_checkpoint_id_matches(&e->id, f->prefix, len))
            continue;
        if (!best || e->pos > best->pos)
            best = e;
    }
    return best;
}

/* Reopen a live file closed to save descriptors. Returns 0, or -ESTALE
 * when its name now holds another file (it becomes a tombstone and the
 * name is taken as a new file), or another negative errno. */
static int reopen(struct iocs_follow *f, struct ffile *e);

static int add_file(struct iocs_follow *f, const char *path, int dir,
                    bool history, bool only_known);

/* --- looking at a file ------------------------------------------------ */

/* Refresh e's identity from its prefix; set *cut when the bytes it was
 * fingerprinted over changed (truncated and rewritten in place). */
static int refresh_print(struct iocs_follow *f, struct ffile *e, bool *cut)
{
    size_t len;
    int r;

    *cut = false;
    if (e->id.fp_len == IOCS_CKPT_FP_BYTES && e->size >= e->id.fp_len) {
        /* Only the fingerprinted bytes matter: re-read just those. */
        ssize_t n = pread_full(e->fd, f->prefix, e->id.fp_len, 0);

        if (n < 0)
            return (int)n;
        len = (size_t)n;
    } else {
        r = read_prefix(f, e, &len);
        if (r < 0)
            return r;
    }
    if (!iocs_checkpoint_id_matches(&e->id, f->prefix, len)) {
        *cut = true;
        len = len < IOCS_CKPT_FP_BYTES ? len : IOCS_CKPT_FP_BYTES;
    } else if (len <= e->id.fp_len) {
        return 0;
    }
    e->id.fp_len =
        (uint32_t)(len < IOCS_CKPT_FP_BYTES ? len : IOCS_CKPT_FP_BYTES);
    e->id.fp = iocs_checkpoint_fingerprint(f->prefix, e->id.fp_len);
    return 0;
}

/* Keep the old identity of a file truncated in place as a tombstone, so
 * that its copy (copytruncate) continues from where it was. */
static void remember_cut(struct iocs_follow *f, const struct ffile *e)
{
    struct ffile *t;

    if (e->id.fp_len < IOCS_CKPT_FP_MIN)
        return;
    t = new_slot(f);
    if (!t)
        return;
    init_slot(t);
    t->kind = S_TOMB;
    t->id = e->id;
    t->id.ino = 0; /* the inode now holds other bytes */
    t->pos = e->pos;
    t->line = e->line;
    t->used_ms = now_ms();
}

static void fill(struct iocs_follow *f, struct ffile *e,
                 struct iocs_follow_item *it, enum iocs_follow_kind kind,
                 bool final)
{
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->handle = handle_of(f, e);
    it->fd = e->fd;
    it->path = e->path ? e->path : "";
    it->id = e->id;
    it->offset = e->pos;
    it->line = e->line;
    it->end = e->compressed ? UINT64_MAX : e->size;
    it->compressed = e->compressed;
    it->final = final;
    if (kind != IOCS_FOLLOW_CLOSED) {
        e->busy = true;
        e->end = e->size;
    } else {
        it->fd = -1;
    }
}

/* Whether prefix[0..len) begins live file x (whose identity covers more
 * than len bytes): then e may be a copy of x still being written. Sets
 * *src to x. */
static bool may_copy(struct iocs_follow *f, const struct ffile *e, size_t len,
                     struct ffile **src)
{
    unsigned char tmp[512];

    for (size_t i = 0; i < f->nfiles; i++) {
        struct ffile *x = &f->files[i];
        size_t off = 0;

        if (x == e || x->kind != S_LIVE || x->fd < 0 || x->id.fp_len <= len ||
            len < 1)
            continue;
        while (off < len) {
            size_t k = len - off < sizeof(tmp) ? len - off : sizeof(tmp);

            if (pread_full(x->fd, tmp, k, off) != (ssize_t)k ||
                memcmp(tmp, f->prefix + off, k) != 0)
                break;
            off += k;
        }
        if (off == len) {
            *src = x;
            return true;
        }
    }
    return false;
}

/*
 * Decide where a new file starts. A file that carries the fingerprint of
 * a known one (a copy, a compressed rotation) continues from that file's
 * position; one whose few bytes so far begin a live file may be a copy
 * still being written, and waits until it is long enough, closed by its
 * writer or quiet; anything else starts at 0. A compressed file is
 * looked at only once closed or quiet, as its first inflated bytes are
 * not all there before. Returns 1 when settled, 0 to wait, -ENOENT when a
 * filter directory's file turns out not to continue anything (dropped).
 */
static int settle(struct iocs_follow *f, struct ffile *e, int64_t now)
{
    bool done = e->closed_write || now - e->changed_ms >= f->o.quiet_ms;
    struct ffile *src = NULL;
    size_t len = 0;
    int r;

    if (e->size == 0)
        return 0;
    if (e->compressed && !done)
        return 0;
    r = read_prefix(f, e, &len);
    if (r < 0)
        return 0;
    e->compressed = r == 1;
    if (e->compressed && !done)
        return 0;
    e->id.fp_len =
        (uint32_t)(len < IOCS_CKPT_FP_BYTES ? len : IOCS_CKPT_FP_BYTES);
    e->id.fp = iocs_checkpoint_fingerprint(f->prefix, e->id.fp_len);
    src = by_print(f, e, len);
    if (src && e->compressed && src->kind == S_LIVE) {
        /* x.1.gz while x.1 is still followed: x.1 delivers its own bytes
         * to its end, so the .gz takes its position only once x.1 is
         * closed. Look again after another quiet period. */
        e->changed_ms = now;
        return 0;
    }
    if (src) {
        e->pos = src->pos;
        e->line = src->line;
    } else if (!e->compressed && may_copy(f, e, len, &src)) {
        if (!done)
            return 0;
        /* A whole copy of the start of src: what src has consumed of
         * it is not read again. */
        if (src->pos <= len) {
            e->pos = src->pos;
            e->line = src->line;
        } else {
            e->pos = len;
            e->line = 1;
            for (size_t i = 0; i < len; i++)
                e->line += f->prefix[i] == '\n';
        }
    } else if (e->only_known) {
        return -ENOENT;
    }
    e->settled = true;
    return 1;
}

/* The kind of the next data item for e. */
static enum iocs_follow_kind data_kind(struct ffile *e)
{
    if (!e->announced)
        return IOCS_FOLLOW_NEW;
    if (e->truncated)
        return IOCS_FOLLOW_TRUNCATED;
    if (e->report_kind && e->deleted)
        return IOCS_FOLLOW_DELETED;
    if (e->report_kind && e->renamed)
        return IOCS_FOLLOW_ROTATED_AWAY;
    return IOCS_FOLLOW_GROWN;
}

/*
 * Look at e now. Returns 1 with *it filled when there is something to
 * hand out, 0 when not.
 */
static int examine(struct iocs_follow *f, struct ffile *e,
                   struct iocs_follow_item *it, int64_t now)
{
    enum iocs_follow_kind kind;
    struct ffile old; /* e before a truncation, for remember_cut() */
    struct stat st;
    bool cut;
    int r;

    if (e->kind != S_LIVE || e->busy)
        return 0;
    if (e->fd < 0) {
        r = reopen(f, e);
        if (r == -ENOENT)
            entomb(f, e); /* gone, and it was read to its end */
        if (r < 0)
            return 0;
    }
    if (fstat(e->fd, &st) < 0)
        return 0;
    e->used_ms = now;
    if ((uint64_t)st.st_size != e->size) {
        e->size = (uint64_t)st.st_size;
        e->changed_ms = now;
    }
    if (st.st_nlink == 0 && !e->deleted)
        e->deleted = e->report_kind = true;

    if (!e->settled) {
        r = settle(f, e, now);
        if (r == -ENOENT) {
            release(f, e);
            return 0;
        }
        if (r == 0)
            return 0;
    }

    if (e->compressed) {
        /* A compressed file is one piece, handed out whole once; then it
         * is closed (and remembered). */
        if (!(e->end == e->size && e->announced)) {
            fill(f, e, it, data_kind(e), true);
            return 1;
        }
        kind = IOCS_FOLLOW_CLOSED;
        goto closed;
    }

    if (e->size > 0 || e->id.fp_len > 0) {
        old = *e;
        r = refresh_print(f, e, &cut);
        if (r < 0)
            return 0;
        /* Shrunk below what was handed out, or other first bytes. (Not
         * "below pos": a copy being written starts short of the position
         * it continues from.) */
        if (cut || e->size < e->end) {
            remember_cut(f, &old);
            e->pos = 0;
            e->line = 1;
            e->end = 0;
            e->final_sent = false;
            e->truncated = e->announced;
        }
    }
    if (e->truncated ||
        (e->size >= e->pos && (e->size > e->end || !e->announced))) {
        fill(f, e, it, data_kind(e), false);
        return 1;
    }
    if (!waits(e) || now - e->changed_ms < f->o.quiet_ms)
        return 0;
    /* Renamed or deleted, and quiet: hand out the last partial line,
     * then close. */
    if (e->pos < e->size && !e->final_sent) {
        e->final_sent = true;
        fill(f, e, it, data_kind(e), true);
        return 1;
    }
    kind = IOCS_FOLLOW_CLOSED;
closed:
    fill(f, e, it, kind, true);
    e->announced = false;
    e->final_sent = false;
    if (e->deleted || e->dir < 0) {
        entomb(f, e);
    } else {
        /* Still in the tree under its new name: remember it, so that a
         * later rename (x.1 -> x.2) or write wakes it, not a new read. */
        close_fd(f, e);
        e->kind = S_RETIRED;
        e->renamed = e->report_kind = false;
    }
    return 1;
}

static int reopen(struct iocs_follow *f, struct ffile *e)
{
    struct stat st;
    char *path;
    int fd, dir;

    if (!e->path)
        return -ENOENT;
    make_room(f);
    fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || st.st_dev != e->id.dev ||
        st.st_ino != e->id.ino) {
        /* The name moved on to another file: the old one is gone from
         * view, the new one is new. */
        close(fd);
        path = e->path;
        dir = e->dir;
        e->path = NULL;
        entomb(f, e);
        add_file(f, path, dir, false, false);
        free(path);
        return -ESTALE;
    }
    e->fd = fd;
    f->open++;
    return 0;
}

/* --- adding files and directories ------------------------------------ */

/* Follow the file at path (in dirs[dir], or -1). history: it was there at
 * start (the resume checkpoint applies). only_known: take it only if it
 * continues a known file (filter directories). Returns 0 or a negative
 * errno. */
static int add_file(struct iocs_follow *f, const char *path, int dir,
                    bool history, bool only_known)
{
    const struct iocs_ckpt_entry *c = NULL;
    struct ffile *e, *src;
    struct stat st;
    size_t len = 0;
    int fd, r;

    make_room(f);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
                        (f->o.follow_symlinks ? 0 : O_NOFOLLOW));
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    e = by_inode(f, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    if (e) {
        /* Known: a rename within the tree, or a retired file woken. */
        close(fd);
        if (!e->path || strcmp(e->path, path) != 0) {
            char *p = strdup(path);

            if (!p)
                return -ENOMEM;
            free(e->path);
            e->path = p;
            e->renamed = e->report_kind = true;
            e->changed_ms = now_ms();
        }
        if (e->dir < 0 || e->self_wd >= 0) {
            /* Back in a watched directory: its events come from there. */
            if (e->self_wd >= 0)
                inotify_rm_watch(f->ifd, e->self_wd);
            e->self_wd = -1;
        }
        e->dir = dir;
        if (e->kind == S_RETIRED)
            e->kind = S_LIVE;
        enqueue(f, e);
        return 0;
    }

    e = new_slot(f);
    if (!e) {
        close(fd);
        return -ENOSPC;
    }
    init_slot(e);
    e->kind = S_LIVE;
    e->fd = fd;
    f->open++;
    e->dir = dir;
    e->only_known = only_known;
    e->id.dev = (uint64_t)st.st_dev;
    e->id.ino = (uint64_t)st.st_ino;
    e->size = (uint64_t)st.st_size;
    e->changed_ms = e->used_ms = now_ms();
    e->path = strdup(path);
    if (!e->path) {
        r = -ENOMEM;
        goto drop;
    }
    if (!history) {
        /* A new file: settle() decides where it starts, once its first
         * bytes say whether it is a copy. */
        goto queue;
    }
    r = read_prefix(f, e, &len);
    if (r < 0)
        goto drop;
    e->compressed = r == 1;
    e->id.fp_len =
        (uint32_t)(len < IOCS_CKPT_FP_BYTES ? len : IOCS_CKPT_FP_BYTES);
    e->id.fp = iocs_checkpoint_fingerprint(f->prefix, e->id.fp_len);

    /* Where the history starts: the resume checkpoint (by inode, or by
     * fingerprint for a file copied or compressed while we were down),
     * else 0. A file now shorter than its checkpoint was truncated: its
     * old bytes live on in its copy, which the fingerprint finds. */
    if (f->resume)
        c = iocs_checkpoint_find(f->resume, e->id.dev, e->id.ino, f->prefix,
                                 len);
    if (c && (e->compressed || c->offset <= e->size)) {
        e->pos = c->offset;
        e->line = c->line;
    } else if ((src = by_print(f, e, len)) != NULL) {
        e->pos = src->pos;
        e->line = src->line;
    } else if (only_known) {
        r = -ENOENT;
        goto drop;
    }
    e->settled = true;
queue:
    /* Over the cap (a large history, a burst of new files): examine()
     * reopens it by path when its turn comes. */
    if (f->open > f->o.max_open && e->dir >= 0)
        close_fd(f, e);
    enqueue(f, e);
    return 0;

drop:
    release(f, e);
    return r;
}

static int add_dir(struct iocs_follow *f, const char *path, bool tree,
                   bool history);

/* Follow what path is (a file in dirs[dir], or a subdirectory). */
static int add_entry(struct iocs_follow *f, const char *path, int dir,
                     bool history)
{
    struct stat st;

    if ((f->o.follow_symlinks ? stat : lstat)(path, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return add_dir(f, path, true, history);
    if (S_ISREG(st.st_mode))
        return add_file(f, path, dir, history, false);
    return 0; /* FIFOs, sockets, devices, links are not logs */
}

/* Watch a directory; a tree directory has its files and subdirectories
 * followed too. */
static int add_dir(struct iocs_follow *f, const char *path, bool tree,
                   bool history)
{
    struct dirent *d;
    size_t plen = strlen(path);
    char *sub = NULL;
    int wd, idx = -1, r = 0;
    DIR *dh;

    wd = inotify_add_watch(f->ifd, path, DIR_MASK);
    if (wd < 0)
        return -errno;
    /* The same directory again (a move within the tree gives the same
     * watch): update its path and kind. */
    for (size_t i = 0; i < f->ndirs; i++)
        if (f->dirs[i].wd == wd)
            idx = (int)i;
    if (idx < 0) {
        for (size_t i = 0; i < f->ndirs; i++)
            if (f->dirs[i].wd < 0)
                idx = (int)i;
    }
    if (idx < 0) {
        if (f->ndirs == f->dcap) {
            size_t cap = f->dcap ? f->dcap * 2 : 16;
            struct fdir *v = realloc(f->dirs, cap * sizeof(*v));

            if (!v)
                return -ENOMEM;
            f->dirs = v;
            f->dcap = cap;
        }
        idx = (int)f->ndirs++;
        f->dirs[idx].path = NULL;
        f->dirs[idx].tree = false;
    }
    if (!f->dirs[idx].path || strcmp(f->dirs[idx].path, path)) {
        char *p = strdup(path);

        if (!p)
            return -ENOMEM;
        free(f->dirs[idx].path);
        f->dirs[idx].path = p;
    }
    f->dirs[idx].wd = wd;
    f->dirs[idx].tree |= tree;
    if (!tree)
        return 0;

    dh = opendir(path);
    if (!dh)
        return -errno;
    sub = malloc(PATH_MAX);
    if (!sub) {
        r = -ENOMEM;
        goto out;
    }
    while ((d = readdir(dh))) {
        if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
            continue;
        if (plen + 1 + strlen(d->d_name) >= PATH_MAX)
            continue;
        snprintf(sub, PATH_MAX, "%s/%s", path, d->d_name);
        add_entry(f, sub, idx, history);
    }
out:
    free(sub);
    closedir(dh);
    return r;
}

/* Whether name in dirs[dir] (a filter directory) is one of the roots. */
static bool is_root(struct iocs_follow *f, const char *path)
{
    for (size_t i = 0; i < f->nroots; i++)
        if (!strcmp(f->roots[i], path))
            return true;
    return false;
}

/* (Re)take every root: at start, and after an inotify overflow. */
static int scan_roots(struct iocs_follow *f, bool history, char *errbuf,
                      size_t errlen)
{
    int r;

    for (size_t i = 0; i < f->nroots; i++) {
        const char *p = f->roots[i];
        struct stat st;

        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            r = add_dir(f, p, true, history);
        } else {
            /* A file root: watch its directory for it and its rotations;
             * the file itself may not exist yet. */
            char *slash = strrchr(p, '/');
            char dir[PATH_MAX];

            if (slash)
                snprintf(dir, sizeof(dir), "%.*s",
                         slash == p ? 1 : (int)(slash - p), p);
            else
                snprintf(dir, sizeof(dir), ".");
            r = add_dir(f, dir, false, history);
            if (r == 0 && stat(p, &st) == 0) {
                int di = -1;

                for (size_t k = 0; k < f->ndirs; k++)
                    if (f->dirs[k].wd >= 0 && !strcmp(f->dirs[k].path, dir))
                        di = (int)k;
                add_file(f, p, di, history, false);
            }
        }
        if (r == -ENOSPC) {
            seterr(errbuf, errlen,
                   "%s: out of inotify watches (raise "
                   "fs.inotify.max_user_watches)",
                   p);
            return r;
        }
        if (r < 0) {
            seterr(errbuf, errlen, "%s: %s", p, strerror(-r));
            return r;
        }
    }
    return 0;
}

/* --- inotify events --------------------------------------------------- */

/* The followed or retired file named path in dirs[dir]. */
static struct ffile *in_dir(struct iocs_follow *f, int dir, const char *path)
{
    for (size_t i = 0; i < f->nfiles; i++) {
        struct ffile *e = &f->files[i];

        if ((e->kind == S_LIVE || e->kind == S_RETIRED) && e->dir == dir &&
            e->path && !strcmp(e->path, path))
            return e;
    }
    return NULL;
}

/* A followed file left the watched tree (moved out, or unlinked): watch
 * it through its descriptor so that late writes still wake us. */
static void orphan(struct iocs_follow *f, struct ffile *e, bool deleted)
{
    char proc[64];

    e->dir = -1;
    e->report_kind = true;
    if (deleted)
        e->deleted = true;
    else
        e->renamed = true;
    e->changed_ms = now_ms();
    if (e->fd < 0) {
        /* Closed only to save descriptors, so read to its end. Deleted:
         * done with. Renamed: its IN_MOVED_TO (if within the tree) finds
         * it by inode; if none comes, examine() cannot reopen it and
         * buries it. */
        if (deleted)
            entomb(f, e);
        else
            enqueue(f, e);
        return;
    }
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", e->fd);
    e->self_wd = inotify_add_watch(f->ifd, proc, SELF_MASK);
    enqueue(f, e);
}

static void on_event(struct iocs_follow *f, const struct inotify_event *ev)
{
    int dir = -1;
    char *path = f->pathbuf;
    struct ffile *e;

    if (ev->mask & IN_Q_OVERFLOW) {
        f->rescan = true;
        return;
    }
    for (size_t i = 0; i < f->ndirs; i++)
        if (f->dirs[i].wd == ev->wd)
            dir = (int)i;
    if (dir < 0) {
        /* A watch on an orphaned file itself. */
        for (size_t i = 0; i < f->nfiles; i++) {
            e = &f->files[i];
            if (e->kind == S_LIVE && e->self_wd == ev->wd) {
                if (ev->mask & IN_IGNORED)
                    e->self_wd = -1;
                enqueue(f, e);
            }
        }
        return;
    }
    if (ev->mask & (IN_IGNORED | IN_DELETE_SELF)) {
        if (ev->mask & IN_IGNORED) {
            free(f->dirs[dir].path);
            f->dirs[dir].path = NULL;
            f->dirs[dir].wd = -1;
        }
        return;
    }
    if (!ev->len)
        return;
    if (snprintf(path, PATH_MAX, "%s/%s", f->dirs[dir].path, ev->name) >=
        PATH_MAX)
        return;
    if (ev->mask & IN_ISDIR) {
        if (f->dirs[dir].tree && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
            add_dir(f, path, true, false);
        return;
    }
    e = in_dir(f, dir, path);
    if (ev->mask & (IN_MOVED_FROM | IN_DELETE)) {
        /* A rename within the tree is completed by its IN_MOVED_TO, which
         * finds the file by inode; until then it is an orphan. */
        if (e && e->kind == S_LIVE)
            orphan(f, e, ev->mask & IN_DELETE);
        else if (e && (ev->mask & IN_DELETE))
            entomb(f, e);
        else if (e)
            e->dir = -1; /* retired: its IN_MOVED_TO finds it by inode */
        return;
    }
    if (ev->mask & (IN_CREATE | IN_MOVED_TO) || !e) {
        bool take = f->dirs[dir].tree || is_root(f, path);

        add_file(f, path, dir, false, !take);
        return;
    }
    if (e->kind == S_RETIRED)
        e->kind = S_LIVE; /* written again after it was closed */
    if (ev->mask & IN_CLOSE_WRITE)
        e->closed_write = true;
    enqueue(f, e);
}

/* Read every pending event. Returns 0 or a negative errno. */
static int drain(struct iocs_follow *f)
{
    for (;;) {
        ssize_t n = read(f->ifd, f->evbuf, EVBUF);
        char *p;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0)
            return -errno;
        for (p = f->evbuf; p < f->evbuf + n;) {
            const struct inotify_event *ev = (const void *)p;

            on_event(f, ev);
            p += sizeof(*ev) + ev->len;
        }
    }
    if (f->rescan) {
        f->rescan = false;
        scan_roots(f, false, NULL, 0);
        for (size_t i = 0; i < f->nfiles; i++)
            enqueue(f, &f->files[i]);
    }
    return 0;
}

/* --- the API ---------------------------------------------------------- */

int iocs_follow_new(struct iocs_follow **out, const char *const *paths,
                    size_t n, const struct iocs_follow_opts *o, char *errbuf,
                    size_t errlen)
{
    struct iocs_follow *f;
    int err;

    f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->ifd = -1;
    if (o)
        f->o = *o;
    if (!f->o.max_open)
        f->o.max_open = 256;
    if (!f->o.max_files)
        f->o.max_files = 16384;
    if (f->o.max_files > MAX_FILES_CAP)
        f->o.max_files = MAX_FILES_CAP;
    if (f->o.quiet_ms <= 0)
        f->o.quiet_ms = 2000;
    if (!f->o.prefix)
        f->o.prefix = builtin_prefix;
    f->resume = f->o.resume;
    f->o.resume = NULL;

    f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (f->ifd < 0) {
        err = -errno;
        seterr(errbuf, errlen, "inotify: %s", strerror(errno));
        goto fail;
    }
    f->files = calloc(f->o.max_files, sizeof(*f->files));
    f->queue = calloc(f->o.max_files, sizeof(*f->queue));
    f->prefix = malloc(IOCS_CKPT_FP_BYTES);
    f->evbuf = malloc(EVBUF);
    f->pathbuf = malloc(PATH_MAX);
    f->roots = calloc(n ? n : 1, sizeof(*f->roots));
    if (!f->files || !f->queue || !f->prefix || !f->evbuf || !f->pathbuf ||
        !f->roots) {
        err = -ENOMEM;
        seterr(errbuf, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(paths[i]);

        /* "dir/" and "dir" are one root: event paths are built with one
         * '/'. */
        while (len > 1 && paths[i][len - 1] == '/')
            len--;
        f->roots[i] = strndup(paths[i], len);
        if (!f->roots[i]) {
            err = -ENOMEM;
            goto fail;
        }
        f->nroots++;
    }
    err = scan_roots(f, true, errbuf, errlen);
    f->resume = NULL;
    if (err)
        goto fail;
    *out = f;
    return 0;

fail:
    iocs_follow_free(f);
    return err;
}

void iocs_follow_free(struct iocs_follow *f)
{
    if (!f)
        return;
    for (size_t i = 0; f->files && i < f->nfiles; i++) {
        if (f->files[i].fd >= 0)
            close(f->files[i].fd);
        free(f->files[i].path);
    }
    for (size_t i = 0; i < f->ndirs; i++)
        free(f->dirs[i].path);
    for (size_t i = 0; i < f->nroots; i++)
        free(f->roots[i]);
    if (f->ifd >= 0)
        close(f->ifd);
    free(f->roots);
    free(f->dirs);
    free(f->files);
    free(f->queue);
    free(f->prefix);
    free(f->evbuf);
    free(f->pathbuf);
    free(f);
}

/* How long until the first quiet period ends (ms), -1 when none waits. */
static int next_quiet(struct iocs_follow *f, int64_t now)
{
    int64_t best = -1;

    for (size_t i = 0; i < f->nfiles; i++) {
        struct ffile *e = &f->files[i];
        int64_t left;

        if (!waits(e) || e->busy)
            continue;
        left = e->changed_ms + f->o.quiet_ms - now;
        if (left <= 0) {
            enqueue(f, e);
            left = 0;
        }
        if (best < 0 || left < best)
            best = left;
    }
    return (int)best;
}

int iocs_follow_next(struct iocs_follow *f, struct iocs_follow_item *it,
                     int timeout_ms)
{
    int64_t start = now_ms(), now;
    struct pollfd p[2] = {{.fd = f->ifd, .events = POLLIN},
                          {.fd = f->o.wake_fd, .events = POLLIN}};
    nfds_t np = f->o.wake_fd > 0 ? 2 : 1;
    int wait, quiet, r;

    for (;;) {
        now = now_ms();
        while (f->qlen) {
            struct ffile *e = &f->files[f->queue[f->qhead]];

            f->qhead = (f->qhead + 1) % f->o.max_files;
            f->qlen--;
            e->queued = false;
            if (examine(f, e, it, now))
                return 0;
        }
        quiet = next_quiet(f, now);
        if (f->qlen)
            continue;
        if (timeout_ms < 0) {
            wait = quiet;
        } else {
            int64_t left = start + timeout_ms - now;

            if (left <= 0)
                return -EAGAIN;
            wait = (int)left;
            if (quiet >= 0 && quiet < wait)
                wait = quiet;
        }
        /* The only sleep: in the kernel, until an event or a deadline. */
        r = poll(p, np, wait);
        if (r < 0)
            return -errno;
        if (np == 2 && p[1].revents)
            return -EINTR;
        if (r > 0 && p[0].revents) {
            r = drain(f);
            if (r < 0)
                return r;
        }
    }
}

int iocs_follow_done(struct iocs_follow *f, uint32_t handle, uint64_t offset,
                     uint64_t line)
{
    size_t idx = handle & (MAX_FILES_CAP - 1);
    struct ffile *e;

    if (idx >= f->nfiles)
        return -EINVAL;
    e = &f->files[idx];
    if (handle >> IDX_BITS != e->gen || e->kind != S_LIVE || !e->busy)
        return -EINVAL;
    if (offset < e->pos || (!e->compressed && offset > e->end) || line == 0)
        return -EINVAL;
    e->busy = false;
    e->pos = offset;
    e->line = line;
    e->announced = true;
    e->truncated = false;
    e->report_kind = false;
    e->used_ms = now_ms();
    if (e->compressed)
        e->end = e->size; /* read whole: wait for the next change */
    /* Look again: bytes may have come while the caller read. */
    enqueue(f, e);
    return 0;
}
