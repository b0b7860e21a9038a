/*
 * walk.c - PATH arguments to the ordered list of sources (see walk.h).
 *
 * A directory argument is walked depth first; every path found under it is
 * appended, then that run of the list is sorted with strcmp(), so the order
 * is the byte-wise order of the full paths ("d/a-b" before "d/a/x"), not a
 * per-directory order. When symbolic links are followed, a directory already
 * open higher up the same walk (a link loop) is skipped silently.
 */
#include "pipeline/walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The directories open on the current walk, to break symlink loops; each
 * node lives in its walk_dir() frame. */
struct ancestor {
    const struct ancestor *up;
    dev_t dev;
    ino_t ino;
};

struct walk {
    struct iocs_sourcelist *list;
    bool follow;
    iocs_walk_err_fn on_err;
    void *ctx;
    size_t *nerr;
    const struct ancestor *up;
    const struct iocs_walk_skip *skip; /* outputs: never yielded */
    size_t nskip;
};

/* Whether dev, ino is one of the files the walk must leave out. */
static bool skipped(const struct walk *w, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < w->nskip; i++)
        if (w->skip[i].dev == dev && w->skip[i].ino == ino)
            return true;
    return false;
}

/* Append path with the identity it was found with (0, 0: unknown). */
static int push(struct iocs_sourcelist *list, const char *path, uint64_t dev,
                uint64_t ino)
{
    struct iocs_source s = iocs_source_of(path);

    s.dev = dev;
    s.ino = ino;
    return iocs_sourcelist_add(list, &s);
}

/* Report an unwalkable path and keep it, so the reader fails on it in order. */
static int failed(struct walk *w, const char *path, int err)
{
    if (w->on_err)
        w->on_err(w->ctx, path, err);
    if (w->nerr)
        (*w->nerr)++;
    return push(w->list, path, 0, 0);
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const struct iocs_source *)a)->path,
                  ((const struct iocs_source *)b)->path);
}

static char *join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    char *p = malloc(dl + !slash + nl + 1);

    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    if (!slash)
        p[dl++] = '/';
    memcpy(p + dl, name, nl + 1);
    return p;
}

static int walk_dir(struct walk *w, const char *dir, const struct stat *st);

/* Handle one entry met inside a directory (w->up): a regular file is on
 * the directory's device, with the entry's inode, so it needs no stat. */
static int walk_entry(struct walk *w, const char *path, unsigned char type,
                      uint64_t ino)
{
    struct stat st;

    if (type == DT_LNK && !w->follow)
        return 0;
    if (type == DT_REG)
        return skipped(w, w->up->dev, ino)
                   ? 0
                   : push(w->list, path, w->up->dev, ino);
    if (type != DT_DIR && type != DT_LNK && type != DT_UNKNOWN)
        return 0; /* FIFOs, sockets and devices are never walked into. */

    /* A link (followed) or an unknown type needs a stat to decide. */
    if ((w->follow ? stat(path, &st) : lstat(path, &st)) < 0) {
        if (errno == ENOENT && type == DT_LNK)
            return 0; /* A dangling link is not an error, as in grep -r. */
        return failed(w, path, -errno);
    }
    if (S_ISREG(st.st_mode))
        return skipped(w, st.st_dev, st.st_ino)
                   ? 0
                   : push(w->list, path, st.st_dev, st.st_ino);
    if (S_ISDIR(st.st_mode))
        return walk_dir(w, path, &st);
    return 0;
}

static int walk_dir(struct walk *w, const char *dir, const struct stat *st)
{
    struct ancestor self = {.up = w->up, .dev = st->st_dev, .ino = st->st_ino};
    struct dirent *de;
    DIR *d;
    int err = 0;

    for (const struct ancestor *a = w->up; a; a = a->up) {
        if (a->dev == st->st_dev && a->ino == st->st_ino)
            return 0; /* A symlink loop back to an ancestor. */
    }

    d = opendir(dir);
    if (!d)
        return failed(w, dir, -errno);
    w->up = &self;

    for (;;) {
        char *path;

        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno)
                err = failed(w, dir, -errno);
            break;
        }
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        path = join(dir, de->d_name);
        if (!path) {
            err = -ENOMEM;
            break;
        }
        err = walk_entry(w, path, de->d_type, de->d_ino);
        free(path);
        if (err)
            break;
    }

    w->up = self.up;
    closedir(d);
    return err;
}

int iocs_walk_add(struct iocs_sourcelist *list, const char *arg,
                  bool follow_symlinks, iocs_walk_err_fn on_err, void *ctx,
                  size_t *nerr)
{
    return iocs_walk_add_except(list, arg, follow_symlinks, on_err, ctx, nerr,
                                NULL, 0);
}

int iocs_walk_add_except(struct iocs_sourcelist *list, const char *arg,
                         bool follow_symlinks, iocs_walk_err_fn on_err,
                         void *ctx, size_t *nerr,
                         const struct iocs_walk_skip *skip, size_t nskip)
{
    struct walk w = {
        .list = list,
        .follow = follow_symlinks,
        .on_err = on_err,
        .ctx = ctx,
        .nerr = nerr,
        .skip = skip,
        .nskip = nskip,
    };
    struct stat st;
    size_t start = list->len;
    int err;

    if (!strcmp(arg, "-"))
        return push(list, arg, 0, 0);
    /* Links named on the command line are always followed. */
    if (stat(arg, &st) < 0)
        return failed(&w, arg, -errno);
    if (!S_ISDIR(st.st_mode)) /* A file (or FIFO) named is taken as is. */
        return push(list, arg, st.st_dev, st.st_ino);

    err = walk_dir(&w, arg, &st);
    if (err)
        return err;
    if (list->len - start > 1)
        qsort(list->v + start, list->len - start, sizeof(*list->v), cmp_path);
    return 0;
}
