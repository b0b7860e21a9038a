/*
 * cmd_follow.c - `iocstream scan --follow [--state FILE] [-o DEST] PATH...`:
 * tail -F the PATHs (follow.h), scan each item on this thread (live.h),
 * and commit positions (checkpoint.h) only once the sink has acknowledged
 * the events before them.
 *
 * Exactly once with -o FILE and --state: the sink fsyncs before it
 * acknowledges; the state (positions, the output's committed length, the
 * database id) is saved atomically after the acknowledgement it describes;
 * on restart the output is cut back to the committed length and every
 * source resumes at its committed position. A kill -9 at any moment loses
 * only what was not committed, and that is scanned again.
 *
 * Each item's events are written to the sink as soon as it is scanned
 * (readers of the output see them within milliseconds). Commits (the
 * sink's flush: an fsync with --state; the state file): when the input
 * has been quiet for IDLE_MS, and at least every COMMIT_MS while it is
 * not, so an fsync storm is impossible.
 *
 * Signals (blocked, read from a signalfd, so none is lost between a check
 * and a sleep): SIGTERM and SIGINT stop reading, write and commit what was
 * scanned, and exit 128+signal; SIGHUP (or a change of a feed file,
 * watched with inotify) reloads the IOC set and swaps it between items;
 * SIGUSR1 prints the --stats line. Both descriptors sit in one epoll set
 * that the follower and the scanner poll as their wake descriptor.
 *
 * Bounded: one record per followed file (its path), a FIFO of at most
 * FIFO_CAP items between commits, the follower's own caps.
 */
#include "pipeline/cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/checkpoint.h"
#include "pipeline/follow.h"
#include "pipeline/live.h"
#include "pipeline/sink.h"
#include "pipeline/status.h"

#define COMMIT_MS 200   /* the longest scanned events wait for a commit */
#define IDLE_MS 20      /* input quiet this long: commit now */
#define FIFO_CAP 4096   /* items scanned but not yet committed */
#define MAX_FILES 16384 /* the follower's cap (follow.h) */
#define FORGET_S ((int64_t)30 * 86400) /* state entries unseen this long */

/* A followed file, from its first item to CLOSED and its last commit. */
struct src {
    uint32_t handle;
    uint32_t refs; /* FIFO entries naming it */
    bool closed;
    char *path; /* owned; the last name seen */
};

/* An item scanned, waiting for its events to be acknowledged. */
struct pending {
    struct src *src;
    struct iocs_ckpt_id id; /* as at the item (a truncation changes it) */
    uint32_t seq;           /* the item's number: sink pos.source */
    uint64_t start, start_line, end, line;
};

/* A feed file whose change reloads the IOC set. */
struct feedwatch {
    int wd;
    const char *name; /* its last path component, in the option string */
};

struct follow_ctx {
    const struct iocs_scan_opts *o;
    struct iocs_db **db;
    struct iocs_allow **allow;
    struct iocs_sink *sink;
    struct iocs_live *live;
    struct iocs_follow *f;
    struct iocs_checkpoint *s; /* NULL without --state */
    bool has_output;           /* -o is a regular file cut back on restart */
    uint64_t start_len;        /* its committed length at start */
    uint64_t out_dev, out_ino; /* the -o file (ino 0: none): never an input */
    struct src **tab;          /* open addressing, by handle */
    size_t tcap, tlen;
    struct pending *fifo;
    size_t fhead, flen;
    uint32_t item_seq;
    int64_t pending_since; /* ms of the oldest uncommitted item; 0: none */
    int sfd, ifd, efd;     /* signalfd, feed inotify, the epoll of both */
    struct feedwatch *fw;
    size_t nfw;
    int stop_sig;
    bool reload, usr1;
};

static int64_t now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* --- followed files, by handle ---------------------------------------- */

static size_t home(const struct follow_ctx *c, uint32_t h)
{
    return (size_t)(h * 2654435761u) & (c->tcap - 1);
}

static struct src *src_find(const struct follow_ctx *c, uint32_t h)
{
    for (size_t i = home(c, h); c->tab[i]; i = (i + 1) & (c->tcap - 1))
        if (c->tab[i]->handle == h)
            return c->tab[i];
    return NULL;
}

/* The record of handle h (made on its first item), path updated. NULL:
 * -ENOMEM, or the table is full (commit first). */
static struct src *src_get(struct follow_ctx *c, uint32_t h, const char *path)
{
    struct src *e = src_find(c, h);
    size_t i;

    if (e) {
        if (strcmp(e->path, path) != 0) {
            char *p = strdup(path);

            if (!p)
                return NULL;
            free(e->path);
            e->path = p;
        }
        return e;
    }
    if (2 * (c->tlen + 1) > c->tcap)
        return NULL;
    e = calloc(1, sizeof(*e));
    if (!e || !(e->path = strdup(path))) {
        free(e);
        return NULL;
    }
    e->handle = h;
    for (i = home(c, h); c->tab[i]; i = (i + 1) & (c->tcap - 1))
        ;
    c->tab[i] = e;
    c->tlen++;
    return e;
}

/* Remove e, shifting back the entries of its probe run. */
static void src_drop(struct follow_ctx *c, struct src *e)
{
    size_t mask = c->tcap - 1, i = home(c, e->handle), j;

    while (c->tab[i] != e)
        i = (i + 1) & mask;
    c->tab[i] = NULL;
    for (j = (i + 1) & mask; c->tab[j]; j = (j + 1) & mask) {
        size_t k = home(c, c->tab[j]->handle);

        /* Move j into the hole at i unless its home lies in (i, j]. */
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            c->tab[i] = c->tab[j];
            c->tab[j] = NULL;
            i = j;
        }
    }
    c->tlen--;
    free(e->path);
    free(e);
}

/* --- commits ---------------------------------------------------------- */

static int save_state(struct follow_ctx *c)
{
    char errbuf[512];
    int err = iocs_checkpoint_save(c->o->state, c->s, errbuf, sizeof(errbuf));

    if (err)
        fprintf(stderr, "iocstream: --state %s: %s\n", c->o->state,
                errbuf[0] ? errbuf : iocs_strerror(err));
    return err;
}

/*
 * Write what is scanned, wait up to timeout_ms for the sink's
 * acknowledgements, then record every item they cover in the state and
 * save it. Returns 0 or a negative errno (reported).
 */
static int commit(struct follow_ctx *c, int timeout_ms)
{
    struct iocs_sink_pos pos;
    int64_t now = time(NULL);
    uint64_t acked, seq, bytes;
    bool dirty = false;
    int err;

    err = iocs_live_write(c->live);
    if (!err)
        err = iocs_sink_flush(c->sink, timeout_ms);
    if (err && err != -ETIMEDOUT) {
        const char *why = iocs_sink_error(c->sink);

        if (err != -EPIPE)
            fprintf(stderr, "iocstream: %s: %s\n",
                    c->o->output ? c->o->output : "stdout",
                    why ? why : iocs_strerror(err));
        return err;
    }
    seq = iocs_live_written(c->live, &bytes);
    acked = iocs_sink_acked(c->sink, &pos);
    /* The output's length is known only at a batch written between items:
     * every batch when the file sink has synced. */
    if (acked == 0 || (c->has_output && acked != seq))
        goto out;
    while (c->flen) {
        struct pending *p = &c->fifo[c->fhead];

        if ((int32_t)(p->seq - pos.source) > 0)
            break;
        if (c->s) {
            err = iocs_checkpoint_set(c->s, &p->id, p->end, p->line,
                                      p->src->path, now);
            if (err == -ENOMEM) {
                fprintf(stderr, "iocstream: out of memory\n");
                return err;
            }
            dirty = true; /* -EINVAL: a path too long, not recorded */
        }
        if (--p->src->refs == 0 && p->src->closed)
            src_drop(c, p->src);
        c->fhead = (c->fhead + 1) % FIFO_CAP;
        c->flen--;
    }
    if (!c->s)
        goto out;
    if (c->has_output && c->s->output_len != c->start_len + bytes) {
        iocs_checkpoint_set_output(c->s, c->start_len + bytes);
        dirty = true;
    }
    if (strcmp(c->s->db, iocs_db_id(*c->db)) != 0) {
        (void)iocs_checkpoint_set_db(c->s, iocs_db_id(*c->db));
        dirty = true;
    }
    if (dirty) {
        iocs_checkpoint_forget(c->s, now - FORGET_S);
        err = save_state(c);
        if (err)
            return err;
    }
out:
    c->pending_since = c->flen ? now_ms() : 0;
    return 0;
}

/* --- items ------------------------------------------------------------ */

static int on_item(struct follow_ctx *c, const struct iocs_follow_item *it)
{
    struct iocs_live_res res;
    struct pending *p;
    struct src *e;
    int err;

    if (it->kind == IOCS_FOLLOW_CLOSED) {
        e = src_find(c, it->handle);
        if (e) {
            e->closed = true;
            if (e->refs == 0)
                src_drop(c, e);
        }
        return 0;
    }
    if (c->out_ino && it->id.dev == c->out_dev &&
        it->id.ino == c->out_ino) /* our own output: never an input */
        return iocs_follow_done(
            c->f, it->handle, it->compressed ? it->offset : it->end, it->line);
    e = src_get(c, it->handle, it->path);
    if (!e || c->flen == FIFO_CAP) {
        /* Commit, so that records and entries can go, then retry. */
        err = commit(c, -1);
        if (err)
            return err;
        e = e ? e : src_get(c, it->handle, it->path);
        if (!e || c->flen == FIFO_CAP) {
            fprintf(stderr, "iocstream: %s: out of memory\n", it->path);
            return -ENOMEM;
        }
    }
    err = iocs_live_scan(c->live, it, &res);
    if (err) {
        if (err != -EPIPE)
            fprintf(stderr, "iocstream: %s: %s\n", it->path,
                    iocs_strerror(err));
        return err;
    }
    if (res.damaged) {
        fprintf(stderr, "iocstream: %s: %s\n", it->path,
                iocs_strerror(res.damaged));
        if (!it->compressed && res.end < it->end && !res.stopped)
            res.end = it->end; /* unreadable: skip it, never spin on it */
    }
    c->item_seq++;
    p = &c->fifo[(c->fhead + c->flen) % FIFO_CAP];
    *p = (struct pending){.src = e,
                          .id = it->id,
                          .seq = c->item_seq,
                          .start = it->offset,
                          .start_line = it->line,
                          .end = res.end,
                          .line = res.line};
    c->flen++;
    e->refs++;
    iocs_live_set_pos(c->live, &(struct iocs_sink_pos){.source = c->item_seq,
                                                       .offset = res.end,
                                                       .line = res.line});
    if (!c->pending_since)
        c->pending_since = now_ms();
    err = iocs_follow_done(c->f, it->handle, res.end, res.line);
    if (err)
        fprintf(stderr, "iocstream: %s: follower: %s\n", it->path,
                iocs_strerror(err));
    return err;
}

/* --- signals, feed changes, stats -------------------------------------- */

/* Read what woke us: signals and feed-file events. */
static void drain_wake(struct follow_ctx *c)
{
    struct signalfd_siginfo si;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;

    while (read(c->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            c->stop_sig = (int)si.ssi_signo;
        else if (si.ssi_signo == SIGHUP)
            c->reload = true;
        else if (si.ssi_signo == SIGUSR1)
            c->usr1 = true;
    }
    while (c->ifd >= 0 && (n = read(c->ifd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;

            if (ev->mask & IN_Q_OVERFLOW)
                c->reload = true;
            for (size_t i = 0; i < c->nfw && ev->len; i++)
                if (ev->wd == c->fw[i].wd && !strcmp(ev->name, c->fw[i].name))
                    c->reload = true;
            p += sizeof(*ev) + ev->len;
        }
    }
}

/* Whether the wake descriptor has something, without sleeping. */
static bool wake_ready(const struct follow_ctx *c)
{
    struct pollfd p = {.fd = c->efd, .events = POLLIN};

    return poll(&p, 1, 0) > 0;
}

/* Watch the directory of every feed file for a new version of it. */
static int watch_feeds(struct follow_ctx *c)
{
    const struct iocs_scan_opts *o = c->o;
    const char *const *lists[] = {o->feeds, o->rules, o->strings, o->allows};
    size_t counts[] = {o->nfeeds, o->nrules, o->nstrings, o->nallows};
    size_t total = o->db ? 1 : 0;

    for (size_t k = 0; k < 4; k++)
        total += counts[k];
    c->fw = calloc(total ? total : 1, sizeof(*c->fw));
    if (!c->fw)
        return -ENOMEM;
    for (size_t k = 0; k <= 4; k++) {
        size_t n = k < 4 ? counts[k] : (o->db ? 1 : 0);

        for (size_t i = 0; i < n; i++) {
            const char *path = k < 4 ? lists[k][i] : o->db;
            const char *slash = strrchr(path, '/');
            char dir[PATH_MAX];
            int wd;

            if (!strcmp(path, "-"))
                continue;
            if (slash)
                snprintf(dir, sizeof(dir), "%.*s",
                         slash == path ? 1 : (int)(slash - path), path);
            else
                snprintf(dir, sizeof(dir), ".");
            /* A new version: written in place, or renamed over it. */
            wd = inotify_add_watch(c->ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO);
            if (wd < 0) {
                fprintf(stderr,
                        "iocstream: %s: not watched for changes (%s); "
                        "SIGHUP reloads it\n",
                        path, strerror(errno));
                continue;
            }
            c->fw[c->nfw++] =
                (struct feedwatch){.wd = wd, .name = slash ? slash + 1 : path};
        }
    }
    return 0;
}

/* Load the IOC set again; swap it in between items, or keep the old one
 * and say why. Returns 0, or the sink's error. */
static int reload(struct follow_ctx *c)
{
    struct iocs_dbcache_result cres;
    struct iocs_allow *allow = NULL;
    struct iocs_db *db = NULL;
    int err;

    c->reload = false;
    if (iocs__cmd_get_db(c->o, &db, &cres) ||
        iocs__cmd_load_allow(c->o, &allow)) {
        fprintf(stderr,
                "iocstream: reload failed: keeping the previous IOC set "
                "(db %s)\n",
                iocs_db_id(*c->db));
        iocs_db_free(db);
        return 0;
    }
    err = iocs_live_set_db(c->live, db, allow);
    if (err) {
        fprintf(stderr, "iocstream: reload: %s; keeping the previous IOC set\n",
                iocs_strerror(err));
        iocs_allow_free(allow);
        iocs_db_free(db);
        return err == -E2BIG || err == -ENOMEM ? 0 : err;
    }
    iocs_allow_free(*c->allow);
    iocs_db_free(*c->db);
    *c->allow = allow;
    *c->db = db;
    fprintf(stderr, "iocstream: IOC set reloaded: db %s (%zu patterns)\n",
            iocs_db_id(db), iocs_db_patterns(db));
    return 0;
}

static void print_stats(const struct follow_ctx *c)
{
    struct iocs_scan_stats st;
    uint64_t bytes;

    iocs_live_stats(c->live, &st);
    (void)iocs_live_written(c->live, &bytes);
    fprintf(stderr,
            "iocstream: following %zu files: %llu bytes, %llu lines, %llu "
            "events, %llu output bytes (db %s); ",
            c->tlen, (unsigned long long)st.bytes, (unsigned long long)st.lines,
            (unsigned long long)st.events,
            (unsigned long long)(c->start_len + bytes), iocs_db_id(*c->db));
    if (c->flen) {
        const struct pending *p = &c->fifo[c->fhead];

        fprintf(stderr,
                "oldest uncommitted: %s from offset %llu (line %llu), %zu "
                "items\n",
                p->src->path, (unsigned long long)p->start,
                (unsigned long long)p->start_line, c->flen);
    } else {
        fprintf(stderr, "everything committed\n");
    }
}

/* --- setup ------------------------------------------------------------ */

/* Read --state (a first run makes an empty one). Returns 0 or 2. */
static int load_state(struct follow_ctx *c)
{
    char errbuf[512];
    int err;

    if (!c->o->state)
        return 0;
    err = iocs_checkpoint_load(c->o->state, &c->s, errbuf, sizeof(errbuf));
    if (err == -ENOENT)
        err = iocs_checkpoint_new(&c->s);
    if (err) {
        fprintf(stderr, "iocstream: --state %s: %s\n", c->o->state,
                errbuf[0] && err != -ENOMEM ? errbuf : iocs_strerror(err));
        return 2;
    }
    if (c->s->db[0] && strcmp(c->s->db, iocs_db_id(*c->db)) != 0)
        fprintf(stderr,
                "iocstream: --state %s was written with IOC set %s, now %s: "
                "positions kept (lines already scanned are not scanned "
                "again for the new IOCs)\n",
                c->o->state, c->s->db, iocs_db_id(*c->db));
    return 0;
}

/*
 * Open the sink. With --state and a regular -o FILE: durable, appending,
 * cut back to the committed length (a first run starts it empty and
 * records that before anything is scanned). Returns 0 or 2 (reported).
 */
static int open_output(struct follow_ctx *c)
{
    const struct iocs_scan_opts *o = c->o;
    struct stat st;
    int fd;

    c->sink = iocs__cmd_open_sink(o, o->state != NULL);
    if (!c->sink)
        return 2;
    if (!o->output || !strcmp(o->output, "-") ||
        strcmp(c->sink->ops->name, "file") != 0)
        return 0;
    if (stat(o->output, &st) == 0 && S_ISREG(st.st_mode)) {
        c->out_dev = (uint64_t)st.st_dev; /* never scanned as an input */
        c->out_ino = (uint64_t)st.st_ino;
    }
    if (!o->state)
        return 0;
    fd = open(o->output, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "iocstream: %s: %s\n", o->output, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 2;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd); /* a pipe or device: nothing to cut back */
        return 0;
    }
    if (c->s->has_output && (uint64_t)st.st_size < c->s->output_len) {
        fprintf(stderr,
                "iocstream: %s holds %lld bytes, fewer than the %llu that "
                "--state %s committed: the output was replaced or cut; "
                "move the state file away to start over\n",
                o->output, (long long)st.st_size,
                (unsigned long long)c->s->output_len, o->state);
        close(fd);
        return 2;
    }
    c->start_len = c->s->has_output ? c->s->output_len : 0;
    if ((uint64_t)st.st_size != c->start_len &&
        ftruncate(fd, (off_t)c->start_len) < 0) {
        fprintf(stderr, "iocstream: %s: %s\n", o->output, strerror(errno));
        close(fd);
        return 2;
    }
    close(fd);
    c->has_output = true;
    if (!c->s->has_output) {
        /* A first run: the empty output is committed before any event. */
        iocs_checkpoint_set_output(c->s, 0);
        (void)iocs_checkpoint_set_db(c->s, iocs_db_id(*c->db));
        if (save_state(c))
            return 2;
    }
    return 0;
}

static int setup_wake(struct follow_ctx *c, sigset_t *old)
{
    struct epoll_event ev = {.events = EPOLLIN};
    sigset_t m;

    sigemptyset(&m);
    sigaddset(&m, SIGTERM);
    sigaddset(&m, SIGINT);
    sigaddset(&m, SIGHUP);
    sigaddset(&m, SIGUSR1);
    /* Before any sink thread starts: they inherit the mask. */
    if (sigprocmask(SIG_BLOCK, &m, old) < 0)
        return -errno;
    c->sfd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
    c->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    c->efd = epoll_create1(EPOLL_CLOEXEC);
    if (c->sfd < 0 || c->ifd < 0 || c->efd < 0)
        return -errno;
    if (epoll_ctl(c->efd, EPOLL_CTL_ADD, c->sfd, &ev) < 0 ||
        epoll_ctl(c->efd, EPOLL_CTL_ADD, c->ifd, &ev) < 0)
        return -errno;
    return watch_feeds(c);
}

/* --- the loop --------------------------------------------------------- */

static int run(struct follow_ctx *c)
{
    struct iocs_follow_item it;
    int err;

    for (;;) {
        int timeout = -1;

        if (wake_ready(c))
            drain_wake(c);
        if (c->stop_sig)
            return 0;
        if (c->usr1) {
            c->usr1 = false;
            print_stats(c);
        }
        if (c->reload) {
            err = reload(c);
            if (err)
                return err;
        }
        if (c->pending_since) {
            int64_t left = c->pending_since + COMMIT_MS - now_ms();

            timeout = left < IDLE_MS ? (left > 0 ? (int)left : 0) : IDLE_MS;
        }
        err = iocs_follow_next(c->f, &it, timeout);
        if (err == -EINTR)
            continue;
        if (err == -EAGAIN) {
            err = commit(c, COMMIT_MS);
            if (err)
                return err;
            continue;
        }
        if (err < 0) {
            fprintf(stderr, "iocstream: follow: %s\n", iocs_strerror(err));
            return err;
        }
        /* The item's events go out now (a write, no fsync): readers of
         * the output see them at once; the commit follows. */
        err = on_item(c, &it);
        if (!err)
            err = iocs_live_write(c->live);
        if (err)
            return err;
        if (c->pending_since && now_ms() - c->pending_since >= COMMIT_MS) {
            err = commit(c, COMMIT_MS);
            if (err)
                return err;
        }
    }
}

int iocs__cmd_follow(const struct iocs_scan_opts *o, struct iocs_db **db,
                     struct iocs_allow **allow)
{
    struct follow_ctx c = {
        .o = o, .db = db, .allow = allow, .sfd = -1, .ifd = -1, .efd = -1};
    struct iocs_live_opts lo = {.slab_size = o->slab_size,
                                .max_line = o->max_line,
                                .allow = *allow,
                                .time = o->time};
    struct iocs_follow_opts fo = {.max_files = MAX_FILES,
                                  .follow_symlinks = o->follow_symlinks,
                                  .prefix = iocs_live_prefix};
    char errbuf[512];
    sigset_t old;
    int status = 2, err;

    sigemptyset(&old);
    if (o->npaths == 0) {
        fputs("iocstream: --follow needs a PATH (a file or directory)\n",
              stderr);
        return 2;
    }
    err = setup_wake(&c, &old);
    if (err) {
        fprintf(stderr, "iocstream: --follow: %s\n", iocs_strerror(err));
        goto out;
    }
    for (c.tcap = 1; c.tcap < 4 * MAX_FILES; c.tcap <<= 1)
        ;
    c.tab = calloc(c.tcap, sizeof(*c.tab));
    c.fifo = calloc(FIFO_CAP, sizeof(*c.fifo));
    if (!c.tab || !c.fifo) {
        fputs("iocstream: out of memory\n", stderr);
        goto out;
    }
    if (load_state(&c) || open_output(&c))
        goto out;
    lo.wake_fd = c.efd;
    err = iocs_live_new(&c.live, *db, c.sink, &lo);
    if (err) {
        fprintf(stderr, "iocstream: cannot start the scan: %s\n",
                iocs_strerror(err));
        goto out;
    }
    fo.resume = c.s;
    fo.prefix_ctx = c.live;
    fo.wake_fd = c.efd;
    err =
        iocs_follow_new(&c.f, o->paths, o->npaths, &fo, errbuf, sizeof(errbuf));
    if (err) {
        fprintf(stderr, "iocstream: --follow: %s\n",
                errbuf[0] ? errbuf : iocs_strerror(err));
        goto out;
    }
    err = run(&c);
    /* Stopped (a signal) or failed: what was scanned still goes out and
     * is committed, unless the output itself broke. */
    if (err != -EPIPE && commit(&c, 5000) == 0 && !err)
        status = c.stop_sig ? 128 + c.stop_sig : 0;
    if (o->stats && c.live)
        print_stats(&c);
out:
    iocs_follow_free(c.f);
    iocs_live_free(c.live);
    iocs_sink_close(c.sink);
    iocs_checkpoint_free(c.s);
    for (size_t i = 0; c.tab && i < c.tcap; i++)
        if (c.tab[i]) {
            free(c.tab[i]->path);
            free(c.tab[i]);
        }
    free(c.tab);
    free(c.fifo);
    free(c.fw);
    if (c.efd >= 0)
        close(c.efd);
    if (c.ifd >= 0)
        close(c.ifd);
    if (c.sfd >= 0)
        close(c.sfd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return status;
}
