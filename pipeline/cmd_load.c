/*
 * cmd_load.c - the IOC-loading glue every subcommand shares: the loader's
 * options from the command line's, and the printing of what it rejected,
 * skipped or failed on (matchers/load.h prints nothing itself).
 */
#include "pipeline/cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/progress.h"
#include "pipeline/status.h"

void iocs__cmd_on_reject(void *ctx, const char *file, size_t line,
                         const char *why)
{
    (void)ctx;
    fprintf(stderr, "%s:%zu: %s\n", file, line, why);
}

/* A compile can take minutes (regex rules grow superlinearly): say what
 * is compiled and for how long while stderr is a terminal. */
static void on_compiling(void *ctx, size_t niocs, bool done)
{
    static struct iocs_progress *p;
    char what[64];

    (void)ctx;
    if (done) {
        iocs_progress_free(p); /* ends the phase, erases the line */
        p = NULL;
        return;
    }
    if (p || iocs_progress_new(&p, STDERR_FILENO, isatty(STDERR_FILENO)))
        return;
    snprintf(what, sizeof(what), "compiling %zu IOCs", niocs);
    (void)iocs_progress_phase_begin(p, what);
}

/* The loader's options from the command line's. */
struct iocs_load_opts iocs__cmd_load_opts(const struct iocs_scan_opts *o)
{
    return (struct iocs_load_opts){.feeds = o->feeds,
                                   .nfeeds = o->nfeeds,
                                   .rules = o->rules,
                                   .nrules = o->nrules,
                                   .allows = o->allows,
                                   .nallows = o->nallows,
                                   .db = o->db,
                                   .builtin = o->builtin,
                                   .strict = o->strict,
                                   .use_cache = !o->no_cache,
                                   .all_attributes = o->all_attributes,
                                   .allow_wide = o->allow_wide,
                                   .strings = o->strings,
                                   .nstrings = o->nstrings,
                                   .reject = iocs__cmd_on_reject,
                                   .compiling = on_compiling};
}

void iocs__cmd_print_hygiene(FILE *f, const char *path,
                             const struct iocs_feed_report *r)
{
    fprintf(f, "# %s: loaded", path);
    for (int t = 0; t < IOCS_TYPE_COUNT; t++)
        if (r->by_type[t])
            fprintf(f, " %s %zu", iocs_type_name((enum iocs_type)t),
                    r->by_type[t]);
    fprintf(f,
            "; skipped: not an indicator %zu, CIDR too wide %zu, regex "
            "refused %zu, to_ids false %zu, other %zu; rejected %zu",
            r->untyped, r->wide, r->bad_regex, r->not_ids,
            r->skipped - r->untyped - r->wide - r->not_ids, r->rejected);
    if (r->widest4)
        fprintf(f, "; widest %s", r->widest4_text);
    if (r->widest6)
        fprintf(f, "; widest %s", r->widest6_text);
    fputc('\n', f);
}

/* Say why a load failed: "iocstream: [file: ]why". */
void iocs__cmd_print_load_err(int err, const struct iocs_load_err *e)
{
    const char *why = e->msg[0] ? e->msg : iocs_strerror(err);

    if (e->reported)
        return; /* the rejected lines were the message */
    if (e->path)
        fprintf(stderr, "iocstream: %s: %s\n", e->path, why);
    else
        fprintf(stderr, "iocstream: %s\n", why);
}

/* The feeds are read: say what was skipped before the allowlists speak. */
void iocs__cmd_on_feeds_read(void *ctx, const struct iocs_load_report *lr)
{
    (void)ctx;
    if (lr->rejected)
        fprintf(stderr, "iocstream: %zu IOC line%s rejected and skipped\n",
                lr->rejected, lr->rejected == 1 ? "" : "s");
    if (lr->skipped || lr->expired)
        fprintf(stderr,
                "iocstream: %zu feed entr%s not expressible or not for "
                "detection (to_ids) and %zu expired, skipped; "
                "`iocstream iocs --explain` lists them\n",
                lr->skipped, lr->skipped == 1 ? "y" : "ies", lr->expired);
}

/* The feeds are read (get_db with a progress line): report as usual, then
 * show the compile that follows. */
static void on_read_progress(void *ctx, const struct iocs_load_report *lr)
{
    const struct iocs_scan_opts *o = ctx;
    size_t n = 0;
    char what[64];

    iocs__cmd_on_feeds_read(NULL, lr);
    for (size_t i = 0; i < o->nfeeds + o->nrules; i++)
        n += lr->inputs[i].rep.loaded;
    if (n)
        snprintf(what, sizeof(what), "compiling %zu IOCs%s", n,
                 lr->builtin ? " and the built-in pack" : "");
    else
        snprintf(what, sizeof(what), "compiling the IOCs");
    iocs_progress_phase_begin(o->progress_line, what);
}

/*
 * Get the database: from --db; else from the cache (unless --no-cache),
 * parsing the inputs only when they changed; else compiled. The database
 * owns its set. Returns 0, or 2 after reporting what went wrong.
 */
int iocs__cmd_get_db(const struct iocs_scan_opts *o, struct iocs_db **out,
                     struct iocs_dbcache_result *res)
{
    struct iocs_load_opts lo = iocs__cmd_load_opts(o);
    struct iocs_load_report lr = {0};
    struct iocs_load_err e;
    int err;

    lo.read = iocs__cmd_on_feeds_read;
    if (o->progress_line) {
        lr.inputs = calloc(o->nfeeds + o->nrules + 1, sizeof(*lr.inputs));
        if (lr.inputs) {
            lo.read = on_read_progress;
            lo.read_ctx = (void *)o;
        }
    }
    err = iocs_load_db(&lo, out, res, &lr, &e);
    if (o->progress_line)
        iocs_progress_phase_end(o->progress_line);
    free(lr.inputs);
    if (res->warn[0])
        fprintf(stderr, "iocstream: warning: cache: %s\n", res->warn);
    if (!err && !iocs_db_tokens_match(*out, iocs_db_tokens_mode())) {
        /* A database from the cache or --db keeps the token path it was
         * made with; --tokens on or off asks for the other one. */
        char msg[512];

        err = iocs_db_recompile(out, iocs_db_tokens_mode(), msg, sizeof(msg));
        if (err) {
            fprintf(stderr, "iocstream: %s\n", msg);
            iocs_db_free(*out);
            *out = NULL;
            return 2;
        }
    }
    if (!err)
        return 0;
    if (o->db)
        fprintf(stderr, "iocstream: --db %s: %s%s\n", o->db, e.msg,
                err == -ESTALE || err == -EINVAL
                    ? "; rebuild it with `iocstream compile`"
                    : "");
    else
        iocs__cmd_print_load_err(err, &e);
    return 2;
}

/* The allowlists again, for the scan: a CIDR IOC's addresses are checked
 * against them (the database, maybe from the cache or --db, only lost the
 * IOCs they cover). Rejected lines are reported where the set is loaded
 * (a set with rejected lines is never taken from the cache index). Returns
 * 0, or 2 after reporting what went wrong. */
int iocs__cmd_load_allow(const struct iocs_scan_opts *o,
                         struct iocs_allow **out)
{
    struct iocs_load_opts lo = iocs__cmd_load_opts(o);
    struct iocs_load_err e;
    size_t rejected = 0;
    int err;

    lo.reject = NULL;
    err = iocs_load_allow(&lo, o->strict, out, &rejected, &e);
    if (err)
        iocs__cmd_print_load_err(err, &e);
    return err ? 2 : 0;
}

void iocs__cmd_print_cache(const struct iocs_scan_opts *o,
                           const struct iocs_dbcache_result *r, double secs)
{
    static const char *const how[] = {
        [IOCS_DBCACHE_BUILT] = "compiled",
        [IOCS_DBCACHE_REBUILT] = "compiled (cached file rebuilt)",
        [IOCS_DBCACHE_SET] = "loaded from the cache (feeds parsed)",
        [IOCS_DBCACHE_INPUTS] = "loaded from the cache (feeds unchanged)",
    };

    fprintf(stderr, "iocstream: database %s in %.3f s\n",
            o->db ? "loaded from --db" : how[r->how], secs);
    if (r->why[0])
        fprintf(stderr, "iocstream: cache: %s\n", r->why);
    if (r->inputs_changed)
        fprintf(stderr, "iocstream: cache: an input changed while it was "
                        "read; this set is not cached\n");
    if (r->store_err)
        fprintf(stderr, "iocstream: cache not written: %s\n",
                iocs_strerror(r->store_err));
}
