/*
 * cmd_compile.c - `iocstream compile`: load and compile the IOC inputs
 * afresh (neither --db nor the cache), write the database file for
 * `scan --db`, and print counts per type and per feed.
 */
#include "pipeline/cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matchers/dbcache.h"
#include "matchers/tokens.h"
#include "matchers/util.h"

static void print_counts(const struct iocs_db *db,
                         const struct iocs_load_report *lr,
                         const struct iocs_scan_opts *o, const char *out)
{
    const struct iocs_iocset *set = iocs_db_set(db);
    size_t by_type[IOCS_TYPE_COUNT] = {0}, n = iocs_iocset_count(set);
    size_t builtin = 0, records = 0;

    for (size_t i = 0; i < n; i++) {
        const struct iocs_ioc *x = iocs_iocset_get(set, i);

        by_type[x->type]++;
        for (const struct iocs_ioc *r = x; r; r = r->also) {
            records++;
            builtin += r->feed && strcmp(r->feed, "builtin") == 0;
        }
    }
    printf("%s: %zu IOCs (%zu records), %zu patterns, %zu bytes, db %s\n", out,
           n, records, iocs_db_patterns(db), iocs_db_size(db), iocs_db_id(db));
    if (iocs_db_tokens(db))
        printf("token index: %zu IOCs, the rest in Hyperscan (--tokens)\n",
               iocs_tokens_count(iocs_db_tokens(db)));
    printf("by type:\n");
    for (int t = 0; t < IOCS_TYPE_COUNT; t++)
        if (by_type[t])
            printf("  %-9s %zu\n", iocs_type_name((enum iocs_type)t),
                   by_type[t]);
    printf("by feed:\n");
    if (lr->builtin)
        printf("  %s: %zu loaded\n", "builtin", builtin);
    for (size_t i = 0; i < o->nfeeds + o->nrules + o->nstrings; i++) {
        const struct iocs_load_input *c = &lr->inputs[i];

        printf("  %s: %zu loaded, %zu duplicates, %zu rejected (%s)\n", c->path,
               c->rep.loaded, c->rep.duplicates, c->rep.rejected,
               i < o->nfeeds               ? "feed"
               : i < o->nfeeds + o->nrules ? "rules"
                                           : "strings");
        iocs__cmd_print_hygiene(stdout, c->path, &c->rep);
    }
    if (o->nallows)
        printf("  allowlists: %zu IOCs dropped\n", lr->allowed);
}

int iocs_cmd_compile(const struct iocs_scan_opts *o, const char *out)
{
    struct iocs_load_opts lo = iocs__cmd_load_opts(o);
    struct iocs_dbcache_result res;
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    struct iocs_db *db = NULL;
    char errbuf[512];
    int status = 2, err;

    lr.inputs =
        calloc(o->nfeeds + o->nrules + o->nstrings + 1, sizeof(*lr.inputs));
    if (!lr.inputs) {
        fprintf(stderr, "iocstream: out of memory\n");
        goto out;
    }
    /* Compiled afresh from the inputs: neither --db nor the cache. */
    lo.db = NULL;
    lo.use_cache = false;
    lo.read = iocs__cmd_on_feeds_read;
    /* Refuse a device, FIFO, link or directory before compiling: only a
     * regular file (or a new path) is replaced. */
    err = iocs_check_replace(out, "output", errbuf, sizeof(errbuf));
    if (err) {
        fprintf(stderr, "iocstream: %s\n", errbuf);
        goto out;
    }
    err = iocs_load_db(&lo, &db, &res, &lr, &e);
    if (err) {
        iocs__cmd_print_load_err(err, &e);
        goto out;
    }
    err = iocs_dbfile_write(db, out, errbuf, sizeof(errbuf));
    if (err) {
        fprintf(stderr, "iocstream: %s\n", errbuf);
        goto out;
    }
    print_counts(db, &lr, o, out);
    status = 0;
out:
    iocs_db_free(db);
    free(lr.inputs);
    return status;
}
