/*
 * feed.c - IOC feeds into an iocs_iocset: the dispatcher. It checks the
 * buffer, picks the format and merges what its parser took.
 *
 * A feed is read in three layers, so that a new format only adds the
 * middle one:
 *   1. load() checks the buffer (no NUL byte), skips a UTF-8 BOM, picks a
 *      format from the content (feed.h lists the rules) and runs its
 *      parser into a private set;
 *   2. the format's parser (plain lists and LOKI files in feed_plain.c;
 *      CSV/TSV and Zeek intel files in feed_csv.c; JSON, MISP in
 *      feed_misp.c; STIX in feed_stix.c) cuts its input into struct
 *      iocs__entry records;
 *   3. iocs__feed_take() (feed_util.c) refangs, types, normalises, filters and
 * adds one entry, or reports it with the reason. When the parser succeeds the
 * private set is merged into the caller's, so that a fatal error leaves the
 * caller's set as it was. Nothing is printed; everything runs at config time.
 */
#include "matchers/feed.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "matchers/feed_csv.h"
#include "matchers/feed_misp.h"
#include "matchers/feed_plain.h"
#include "matchers/feed_util.h"
#include "matchers/util.h"

/* Skip whitespace; returns the first other byte's index. */
static size_t skip_ws(const char *buf, size_t n, size_t i)
{
    while (i < n && (iocs_is_blank(buf[i]) || buf[i] == '\n'))
        i++;
    return i;
}

static bool contains(const char *buf, size_t n, const char *needle)
{
    return memmem(buf, n, needle, strlen(needle)) != NULL;
}

/*
 * Whether buf[i] = '[' opens a JSON array: a value ('{', '[', '"', ']', a
 * digit, '-', true, false, null) must follow. A plain list may start with
 * "[Cc]:\\..." (path patterns) or "[2604:a880::1]:443" (an address and a
 * port, whole on its line) and is not JSON.
 */
static bool looks_json_array(const char *buf, size_t n, size_t i)
{
    const char *nl;
    size_t j, end, aoff, alen;
    unsigned port;

    if (buf[i] != '[')
        return false;
    nl = memchr(buf + i, '\n', n - i);
    end = nl ? (size_t)(nl - buf) : n;
    while (end > i && strchr(" \t\r", buf[end - 1]))
        end--;
    if (iocs_addr_port(buf + i, end - i, &aoff, &alen, &port) == 0)
        return false;
    j = skip_ws(buf, n, i + 1);
    if (j == n || strchr("{[\"]-0123456789", buf[j]))
        return true;
    return (n - j >= 4 && memcmp(buf + j, "true", 4) == 0) ||
           (n - j >= 5 && memcmp(buf + j, "false", 5) == 0) ||
           (n - j >= 4 && memcmp(buf + j, "null", 4) == 0);
}

/* Pick the format from the content, never from the file name, and run it. */
static int parse(struct iocs__loader *ld, const char *buf, size_t n)
{
    size_t i = skip_ws(buf, n, 0);
    size_t head = n - i < 4096 ? n - i : 4096;

    if (i < n && (buf[i] == '{' || looks_json_array(buf, n, i)))
        return iocs__feed_json(ld, buf, n);
    if (i < n && buf[i] == '<') {
        if (contains(buf + i, head, "STIX_Package") ||
            contains(buf + i, head, "stix.mitre.org"))
            return iocs__feed_fatal(ld, 0, "STIX 1.x XML is not supported");
        if (contains(buf + i, head, "schemas.mandiant.com") ||
            contains(buf + i, head, "<ioc "))
            return iocs__feed_fatal(ld, 0, "OpenIOC XML is not supported");
        return iocs__feed_fatal(ld, 0, "XML feeds are not supported");
    }
    if (n - i >= 10 && (memcmp(buf + i, "#separator", 10) == 0 ||
                        memcmp(buf + i, "#fields", 7) == 0))
        return iocs__feed_zeek(ld, buf, n);
    if (iocs__feed_is_csv(buf, n))
        return iocs__feed_csv(ld, buf, n);
    if (iocs__feed_is_loki(buf, n))
        return iocs__feed_loki(ld, buf, n);
    return iocs__feed_plain(ld, buf, n);
}

/* Move what the private set holds into the caller's and count it. */
static int merge(struct iocs_iocset *dst, const struct iocs__loader *ld,
                 struct iocs_feed_report *rep)
{
    const struct iocs_feed_report *r = &ld->rep;
    size_t loaded = 0, dups = 0;
    size_t by_type[IOCS_TYPE_COUNT] = {0};
    int err;

    for (size_t i = 0; i < iocs_iocset_count(ld->set); i++) {
        const struct iocs_ioc *x = iocs_iocset_get(ld->set, i), *a;
        bool dup;

        err = iocs_iocset_add(dst, x, &dup);
        if (err)
            return err;
        if (dup) {
            dups++;
        } else {
            loaded++;
            by_type[x->type]++;
        }
        for (a = x->also; a; a = a->also) {
            err = iocs_iocset_add(dst, a, NULL);
            if (err)
                return err;
        }
    }
    rep->lines += r->lines;
    rep->loaded += loaded;
    rep->duplicates += r->duplicates + dups;
    rep->rejected += r->rejected;
    rep->skipped += r->skipped;
    rep->expired += r->expired;
    rep->allowed += r->allowed;
    rep->untyped += r->untyped;
    rep->wide += r->wide;
    rep->bad_regex += r->bad_regex;
    rep->not_ids += r->not_ids;
    if (r->widest4 && (!rep->widest4 || r->widest4 < rep->widest4)) {
        rep->widest4 = r->widest4;
        memcpy(rep->widest4_text, r->widest4_text, sizeof(rep->widest4_text));
    }
    if (r->widest6 && (!rep->widest6 || r->widest6 < rep->widest6)) {
        rep->widest6 = r->widest6;
        memcpy(rep->widest6_text, r->widest6_text, sizeof(rep->widest6_text));
    }
    for (size_t t = 0; t < IOCS_TYPE_COUNT; t++)
        rep->by_type[t] += by_type[t];
    return 0;
}

static int load(struct iocs_iocset *set, const char *name, const char *buf,
                size_t n, const struct iocs_feed_opts *opts,
                iocs_reject_fn rejectfn, void *ctx,
                struct iocs_feed_report *rep)
{
    static const struct iocs_feed_opts defaults;
    struct iocs_feed_report scratch = {0};
    struct iocs__loader *ld;
    const char *slash;
    int err;

    if (!name)
        name = "-";
    /* The buffers for one value live on the heap, not on the stack. */
    ld = calloc(1, sizeof(*ld));
    if (!ld)
        return -ENOMEM;
    ld->name = name;
    slash = strrchr(name, '/');
    ld->feed = slash && slash[1] ? slash + 1 : name;
    ld->opts = opts ? opts : &defaults;
    ld->now = ld->opts->now ? ld->opts->now : (int64_t)time(NULL);
    ld->reject = rejectfn;
    ld->ctx = ctx;
    ld->refcap = strlen(name) + 24; /* ":" and a 64-bit line number */
    ld->ref = malloc(ld->refcap);
    err = ld->ref ? iocs_iocset_new(&ld->set) : -ENOMEM;
    if (err)
        goto out;

    if (n > 0 && memchr(buf, '\0', n)) {
        err = iocs__feed_fatal(ld, 0, "binary data (a NUL byte)");
        goto out;
    }
    if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        buf += 3;
        n -= 3;
    }
    err = parse(ld, buf, n);
    if (!err)
        err = merge(set, ld, rep ? rep : &scratch);

out:
    iocs_iocset_free(ld->set);
    free(ld->ref);
    free(ld);
    return err;
}

int iocs_feed_load_mem(struct iocs_iocset *set, const char *name,
                       const char *buf, size_t n, iocs_reject_fn reject,
                       void *ctx, struct iocs_feed_report *rep)
{
    return load(set, name, buf, n, NULL, reject, ctx, rep);
}

int iocs_feed_load_mem_opts(struct iocs_iocset *set, const char *name,
                            const char *buf, size_t n,
                            const struct iocs_feed_opts *opts,
                            iocs_reject_fn reject, void *ctx,
                            struct iocs_feed_report *rep)
{
    return load(set, name, buf, n, opts, reject, ctx, rep);
}

int iocs_feed_load_file_opts(struct iocs_iocset *set, const char *path,
                             const struct iocs_feed_opts *opts,
                             iocs_reject_fn reject, void *ctx,
                             struct iocs_feed_report *rep)
{
    char *buf = NULL;
    size_t n = 0;
    int err;

    err = iocs_read_file(path, &buf, &n);
    if (err)
        return err;
    err = load(set, path, buf, n, opts, reject, ctx, rep);
    free(buf);
    return err;
}

int iocs_feed_load_file(struct iocs_iocset *set, const char *path,
                        iocs_reject_fn reject, void *ctx,
                        struct iocs_feed_report *rep)
{
    return iocs_feed_load_file_opts(set, path, NULL, reject, ctx, rep);
}
