/*
 * feed.c - IOC feeds into an iocs_iocset.
 *
 * A feed is read in three layers, so that a new format only adds the
 * middle one:
 *   1. iocs_feed_load_mem() checks the buffer (no NUL byte), skips a UTF-8
 *      BOM, picks a format from the content and runs its parser;
 *   2. the format's parser (today only plain lists: parse_plain()) cuts
 *      the buffer into lines and each line into a struct entry: the value,
 *      and the type, description, severity when the format states them;
 *   3. take() refangs, types, normalises and adds one entry, or reports
 *      the line to the reject callback with the reason.
 * Nothing is printed; everything runs at config time.
 */
#include "matchers/feed.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One IOC as a parser found it, before refanging and normalisation. */
struct entry {
    size_t line;
    const char *value;
    size_t len;
    bool typed; /* the feed stated the type: it wins over detection */
    enum iocs_type type;
    int severity;
    const char *description; /* NUL-terminated, or NULL */
};

/* State of one load. */
struct loader {
    struct iocs_iocset *set;
    const char *name; /* as given: in messages and references */
    const char *feed; /* base name of name: iocs_ioc.feed */
    iocs_reject_fn reject;
    void *ctx;
    struct iocs_feed_report *rep;
    char *ref; /* "name:line", rebuilt per IOC */
    size_t refcap;
    char raw[IOCS_IOC_MAX + 1];   /* refanged value */
    char norm[IOCS_IOC_MAX + 64]; /* normalised: may grow ("/32") */
};

static void report(struct loader *ld, size_t line, const char *why)
{
    ld->rep->rejected++;
    if (ld->reject)
        ld->reject(ld->ctx, ld->name, line, why);
}

/* Refang, type, normalise and add one entry. Returns 0 or -ENOMEM; a bad
 * value is reported and counted, not returned. */
static int take(struct loader *ld, const struct entry *e)
{
    enum iocs_type type;
    struct iocs_ioc ioc;
    const char *why;
    size_t len;
    bool dup;
    int n, err;

    n = iocs_refang(ld->raw, sizeof(ld->raw), e->value, e->len);
    if (n == -E2BIG) {
        report(ld, e->line, "longer than 2048 bytes");
        return 0;
    }
    if (n <= 0) {
        report(ld, e->line, "empty value");
        return 0;
    }
    type = e->typed ? e->type : iocs_type_detect(ld->raw, (size_t)n);
    err = iocs_ioc_normalise(&type, ld->raw, (size_t)n, ld->norm,
                             sizeof(ld->norm), &len, &why);
    if (err == -E2BIG) {
        report(ld, e->line, "longer than 2048 bytes");
        return 0;
    }
    if (err) {
        report(ld, e->line, why);
        return 0;
    }

    snprintf(ld->ref, ld->refcap, "%s:%zu", ld->name, e->line);
    ioc = (struct iocs_ioc){
        .type = type,
        .severity = e->severity,
        .value = ld->norm,
        .len = len,
        .feed = ld->feed,
        .description = e->description,
        .reference = ld->ref,
    };
    err = iocs_iocset_add(ld->set, &ioc, &dup);
    if (err)
        return err;
    if (dup)
        ld->rep->duplicates++;
    else
        ld->rep->loaded++;
    return 0;
}

/*
 * Cut the next line out of buf[*pos..n): sets *line and *len (without the
 * '\n' and a '\r' before it) and advances *pos. Returns false at the end.
 */
static bool next_line(const char *buf, size_t n, size_t *pos, const char **line,
                      size_t *len)
{
    const char *start = buf + *pos, *nl;
    size_t l;

    if (*pos >= n)
        return false;
    nl = memchr(start, '\n', n - *pos);
    l = nl ? (size_t)(nl - start) : n - *pos;
    *pos += nl ? l + 1 : l;
    if (l > 0 && start[l - 1] == '\r')
        l--;
    *line = start;
    *len = l;
    return true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* A plain list: one value per line; blank lines and '#' lines skipped. */
static int parse_plain(struct loader *ld, const char *buf, size_t n)
{
    const char *line;
    size_t pos = 0, len, lineno = 0;

    while (next_line(buf, n, &pos, &line, &len)) {
        struct entry e = {0};
        size_t i = 0;
        int err;

        lineno++;
        ld->rep->lines++;
        while (i < len && is_blank(line[i]))
            i++;
        if (i == len || line[i] == '#')
            continue;
        e.line = lineno;
        e.value = line + i;
        e.len = len - i;
        err = take(ld, &e);
        if (err)
            return err;
    }
    return 0;
}

/* The formats we read. CSV, Zeek, MISP and STIX parsers go here. */
enum format {
    FORMAT_PLAIN,
};

static const struct {
    int (*parse)(struct loader *ld, const char *buf, size_t n);
} formats[] = {
    [FORMAT_PLAIN] = {parse_plain},
};

/* Pick the format from the content, never from the file name. */
static enum format detect_format(const char *buf, size_t n)
{
    (void)buf;
    (void)n;
    return FORMAT_PLAIN;
}

static int load(struct iocs_iocset *set, const char *name, const char *buf,
                size_t n, iocs_reject_fn rejectfn, void *ctx,
                struct iocs_feed_report *rep)
{
    struct iocs_feed_report scratch = {0};
    struct loader *ld;
    const char *slash;
    int err;

    if (!name)
        name = "-";
    if (n > 0 && memchr(buf, '\0', n))
        return -EINVAL;
    /* The buffers for one value live on the heap, not on the stack. */
    ld = calloc(1, sizeof(*ld));
    if (!ld)
        return -ENOMEM;
    ld->set = set;
    ld->name = name;
    slash = strrchr(name, '/');
    ld->feed = slash && slash[1] ? slash + 1 : name;
    ld->reject = rejectfn;
    ld->ctx = ctx;
    ld->rep = rep ? rep : &scratch;
    ld->refcap = strlen(name) + 24; /* ":" and a 64-bit line number */
    ld->ref = malloc(ld->refcap);
    if (!ld->ref) {
        err = -ENOMEM;
        goto out;
    }

    if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        buf += 3;
        n -= 3;
    }
    err = formats[detect_format(buf, n)].parse(ld, buf, n);

out:
    free(ld->ref);
    free(ld);
    return err;
}

int iocs_feed_load_mem(struct iocs_iocset *set, const char *name,
                       const char *buf, size_t n, iocs_reject_fn reject,
                       void *ctx, struct iocs_feed_report *rep)
{
    return load(set, name, buf, n, reject, ctx, rep);
}

/* Read all of fd into *out (malloc'd) and *len. Returns 0 or -errno. */
static int read_all(int fd, char **out, size_t *len)
{
    struct stat st;
    size_t cap = 64 * 1024, n = 0;
    char *buf = NULL, *nb;
    int err;

    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    for (;;) {
        ssize_t r;

        if (n == cap || !buf) {
            if (buf)
                cap *= 2;
            nb = realloc(buf, cap);
            if (!nb) {
                err = -ENOMEM;
                goto fail;
            }
            buf = nb;
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = buf;
    *len = n;
    return 0;

fail:
    free(buf);
    return err;
}

int iocs_feed_load_file(struct iocs_iocset *set, const char *path,
                        iocs_reject_fn reject, void *ctx,
                        struct iocs_feed_report *rep)
{
    char *buf = NULL;
    size_t n = 0;
    int fd, err;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    err = read_all(fd, &buf, &n);
    close(fd);
    if (err)
        return err;
    err = load(set, path, buf, n, reject, ctx, rep);
    free(buf);
    return err;
}
