/*
 * cmd_iocs.c - `iocstream iocs`: --explain lists how every entry of the
 * feeds and rule files was read (type, normalised value, feed, or why it
 * was skipped), each file loaded alone; --builtin lists the built-in pack.
 */
#include "pipeline/cmd.h"

#include <errno.h>
#include <hs/hs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "matchers/builtin.h"
#include "matchers/rules.h"
#include "pipeline/status.h"

/* One line of `iocs --explain`. */
struct explain_line {
    size_t line;
    char *text;
};

struct explain {
    struct explain_line *v;
    size_t len, cap;
    int err;
};

static void explain_add(struct explain *e, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void explain_add(struct explain *e, size_t line, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;

    if (e->err)
        return;
    if (e->len == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 64;
        struct explain_line *v = realloc(e->v, cap * sizeof(*v));

        if (!v) {
            e->err = -ENOMEM;
            return;
        }
        e->v = v;
        e->cap = cap;
    }
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0) {
        e->err = -ENOMEM;
        text = NULL;
    }
    va_end(ap);
    if (text)
        e->v[e->len++] = (struct explain_line){.line = line, .text = text};
}

static void on_explain_reject(void *ctx, const char *file, size_t line,
                              const char *why)
{
    explain_add(ctx, line, "%s:%zu\t-\t-\t-\tskipped: %s", file, line, why);
}

/* A feed's rejected lines come through the explain hook below, with their
 * raw value; only whole-file failures (line 0) come here. */
static void on_explain_fatal(void *ctx, const char *file, size_t line,
                             const char *why)
{
    if (line == 0)
        explain_add(ctx, line, "%s\t-\t-\t-\tskipped: %s", file, why);
}

/* Every entry a feed parser read; here only those it did not take. */
static void on_explain_entry(void *ctx, const char *file, size_t line,
                             const char *raw, const char *type,
                             const char *value, const char *why)
{
    (void)value;
    if (why)
        explain_add(ctx, line, "%s:%zu\t%s\t%s\t-\tskipped: %s", file, line,
                    type ? type : "-", raw, why);
}

static int by_line(const void *a, const void *b)
{
    const struct explain_line *x = a, *y = b;

    return x->line < y->line ? -1 : x->line > y->line;
}

/* The line number at the end of a "file:line" reference, or 0. */
static size_t ref_line(const char *ref)
{
    const char *colon = ref ? strrchr(ref, ':') : NULL;

    return colon ? (size_t)strtoull(colon + 1, NULL, 10) : 0;
}

/* Whether path is one of the --strings files (by identity, not name). */
static bool is_strings(const struct iocs_scan_opts *o, const char *path)
{
    for (size_t i = 0; i < o->nstrings; i++)
        if (o->strings[i] == path)
            return true;
    return false;
}

/* Explain one feed or rule file: load it alone, list what went in and
 * what was skipped, in line order, then the feed's hygiene summary. */
static int explain_file(const char *path, bool rules, bool all_attributes,
                        const struct iocs_scan_opts *o,
                        const struct iocs_allow *allow, size_t *skipped)
{
    struct iocs_feed_report rep = {0};
    struct explain e = {0};
    struct iocs_iocset *set = NULL;
    int err;

    err = iocs_iocset_new(&set);
    if (err)
        return err;
    if (rules) {
        err = iocs_rules_load_file(set, path, on_explain_reject, &e, &rep);
    } else {
        struct iocs_feed_opts fo = {.all_attributes = all_attributes,
                                    .allow_wide = o->allow_wide,
                                    .strings = is_strings(o, path),
                                    .now = time(NULL),
                                    .explain = on_explain_entry,
                                    .explain_ctx = &e};

        err = iocs_feed_load_file_opts(set, path, &fo, on_explain_fatal, &e,
                                       &rep);
    }
    if (err && e.len == 0)
        goto out;
    err = 0; /* a file refused whole is listed as skipped */
    *skipped += rep.rejected + rep.skipped + rep.expired;
    for (size_t i = 0; i < iocs_iocset_count(set); i++) {
        const struct iocs_ioc *x = iocs_iocset_get(set, i);
        bool allowed = allow && x->type != IOCS_REGEX &&
                       iocs_allow_ioc(allow, x->type, x->value, x->len);

        for (const struct iocs_ioc *r = x; r; r = r->also)
            explain_add(&e, ref_line(r->reference), "%s\t%s\t%s\t%s%s%s",
                        r->reference ? r->reference : path,
                        iocs_type_name(x->type), x->value,
                        r->feed ? r->feed : "-",
                        r != x ? "\tduplicate of " : "",
                        r != x    ? (x->reference ? x->reference : "-")
                        : allowed ? "\tallowlisted (dropped)"
                                  : "");
    }
    err = e.err;
    if (err)
        goto out;
    qsort(e.v, e.len, sizeof(*e.v), by_line);
    for (size_t i = 0; i < e.len; i++)
        printf("%s\n", e.v[i].text);
    if (!rules)
        iocs__cmd_print_hygiene(stdout, path, &rep);
out:
    for (size_t i = 0; i < e.len; i++)
        free(e.v[i].text);
    free(e.v);
    iocs_iocset_free(set);
    return err;
}

static void print_builtin(void)
{
    size_t n;
    const struct iocs_builtin *b = iocs_builtin_pack(&n);

    printf("type\tvalue\tseverity\tid\tdescription\treference\n");
    for (size_t i = 0; i < n; i++) {
        if (b[i].type == IOCS_REGEX)
            printf("regex\t/%s/%s%s\t%d\t%s\t%s\t%s\n", b[i].value,
                   b[i].hs_flags & HS_FLAG_CASELESS ? "i" : "",
                   b[i].hs_flags & HS_FLAG_DOTALL ? "s" : "", b[i].severity,
                   b[i].rule_id, b[i].description, b[i].reference);
        else
            printf("%s\t%s\t%d\t-\t%s\t%s\n", iocs_type_name(b[i].type),
                   b[i].value, b[i].severity, b[i].description, b[i].reference);
    }
}

int iocs_cmd_iocs(const struct iocs_scan_opts *o, bool explain, bool builtin)
{
    struct iocs_load_opts lo = iocs__cmd_load_opts(o);
    struct iocs_allow *allow = NULL;
    struct iocs_load_err e;
    size_t skipped = 0, rejected = 0;
    int status = 2, err;

    if (builtin)
        print_builtin();
    if (!explain)
        return fflush(stdout) == 0 ? 0 : 2;
    err = iocs_load_allow(&lo, false, &allow, &rejected, &e);
    if (err) {
        iocs__cmd_print_load_err(err, &e);
        goto out;
    }
    printf("reference\ttype\tvalue\tfeed\tnote\n");
    for (size_t i = 0; i < o->nfeeds + o->nrules + o->nstrings; i++) {
        bool feed = i < o->nfeeds || i >= o->nfeeds + o->nrules;
        const char *path = i < o->nfeeds ? o->feeds[i]
                           : feed        ? o->strings[i - o->nfeeds - o->nrules]
                                         : o->rules[i - o->nfeeds];

        err = explain_file(path, !feed, o->all_attributes, o, allow, &skipped);
        if (err) {
            fprintf(stderr, "iocstream: %s: %s\n", path, iocs_strerror(err));
            goto out;
        }
    }
    status = skipped ? 1 : 0;
out:
    iocs_allow_free(allow);
    if (fflush(stdout) != 0)
        status = 2;
    return status;
}
