/*
 * load.c - the IOC set and its database from a scan's inputs (load.h).
 *
 * The steps, in the order their messages must reach the user: the
 * built-in pack, the feeds and rule files (each rejected line through the
 * callback), the caller's summary hook, the allowlists, then the cache or
 * the compiler. Every failure fills struct iocs_load_err; nothing prints.
 */
#include "matchers/load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "matchers/builtin.h"
#include "matchers/rules.h"

/* Fill e and return err. */
static int fail(struct iocs_load_err *e, int err, const char *path,
                const char *msg)
{
    e->path = path;
    snprintf(e->msg, sizeof(e->msg), "%s", msg ? msg : "");
    return err;
}

bool iocs_load_builtin_used(const struct iocs_load_opts *o)
{
    return o->builtin || (o->nfeeds == 0 && o->nrules == 0 && o->nstrings == 0);
}

/* Copy every IOC of from (with its `also` records) that a does not cover
 * into a new set *out; *dropped counts the others. */
static int copy_unallowed(const struct iocs_iocset *from,
                          const struct iocs_allow *a, struct iocs_iocset **out,
                          size_t *dropped)
{
    struct iocs_iocset *to = NULL;
    size_t n = 0;
    int err;

    err = iocs_iocset_new(&to);
    if (err)
        return err;
    for (size_t i = 0; i < iocs_iocset_count(from); i++) {
        const struct iocs_ioc *x = iocs_iocset_get(from, i);

        if (x->type != IOCS_REGEX &&
            iocs_allow_ioc(a, x->type, x->value, x->len)) {
            n++;
            continue;
        }
        for (const struct iocs_ioc *r = x; r; r = r->also) {
            struct iocs_ioc copy = *r;

            copy.also = NULL; /* the set rebuilds the chain */
            err = iocs_iocset_add(to, &copy, NULL);
            if (err) {
                iocs_iocset_free(to);
                return err;
            }
        }
    }
    *out = to;
    *dropped += n;
    return 0;
}

int iocs_load_drop_allowed(struct iocs_iocset **set, const struct iocs_allow *a,
                           size_t *dropped)
{
    struct iocs_iocset *to;
    int err = copy_unallowed(*set, a, &to, dropped);

    if (err)
        return err;
    iocs_iocset_free(*set);
    *set = to;
    return 0;
}

/* A rejected allowlist line: counted, then passed on. */
struct count_ctx {
    const struct iocs_load_opts *o;
    size_t *rejected;
};

static void on_reject_count(void *ctx, const char *file, size_t line,
                            const char *why)
{
    struct count_ctx *c = ctx;

    (*c->rejected)++;
    if (c->o->reject)
        c->o->reject(c->o->reject_ctx, file, line, why);
}

int iocs_load_allow(const struct iocs_load_opts *o, bool strict,
                    struct iocs_allow **out, size_t *rejected,
                    struct iocs_load_err *e)
{
    struct count_ctx c = {.o = o, .rejected = rejected};
    struct iocs_allow *a = NULL;
    int err;

    memset(e, 0, sizeof(*e));
    *out = NULL;
    if (o->nallows == 0)
        return 0;
    err = iocs_allow_new(&a);
    if (err)
        return fail(e, err, NULL, "out of memory");
    for (size_t i = 0; i < o->nallows; i++) {
        size_t before = *rejected;

        err = iocs_allow_load_file(a, o->allows[i], on_reject_count, &c, NULL);
        if (err) {
            fail(e, err, o->allows[i], NULL);
            goto out;
        }
        /* Stop at the end of the first file with a rejected line. */
        if (strict && *rejected > before) {
            err = -EINVAL;
            e->reported = true;
            goto out;
        }
    }
    *out = a;
    return 0;

out:
    iocs_allow_free(a);
    return err;
}

/* The allowlists, and the IOCs they cover dropped from *set. */
static int apply_allow(const struct iocs_load_opts *o, struct iocs_iocset **set,
                       struct iocs_load_report *lr, struct iocs_load_err *e)
{
    struct iocs_allow *a = NULL;
    int err;

    err = iocs_load_allow(o, o->strict, &a, &lr->rejected, e);
    if (err || !a)
        return err;
    err = iocs_load_drop_allowed(set, a, &lr->allowed);
    if (err)
        fail(e, err, NULL, strerror(-err));
    iocs_allow_free(a);
    return err;
}

/* One feed or rule file into set, its counts into lr. */
static int load_input(const struct iocs_load_opts *o, struct iocs_iocset *set,
                      size_t i, struct iocs_load_report *lr,
                      struct iocs_load_err *e)
{
    bool strings = i >= o->nfeeds + o->nrules;
    bool feed = i < o->nfeeds || strings;
    const char *path = strings         ? o->strings[i - o->nfeeds - o->nrules]
                       : i < o->nfeeds ? o->feeds[i]
                                       : o->rules[i - o->nfeeds];
    struct iocs_feed_report rep = {0};
    int err;

    if (feed) {
        struct iocs_feed_opts fo = {.all_attributes = o->all_attributes,
                                    .allow_wide = o->allow_wide,
                                    .strings = strings,
                                    .now =
                                        o->now ? o->now : (int64_t)time(NULL)};

        err = iocs_feed_load_file_opts(set, path, &fo, o->reject, o->reject_ctx,
                                       &rep);
    } else {
        err = iocs_rules_load_file(set, path, o->reject, o->reject_ctx, &rep);
    }
    if (err)
        return fail(e, err, path, NULL);
    lr->rejected += rep.rejected;
    lr->skipped += rep.skipped;
    lr->expired += rep.expired;
    lr->not_ids += rep.not_ids;
    if (lr->inputs)
        lr->inputs[i] = (struct iocs_load_input){.path = path, .rep = rep};
    return 0;
}

int iocs_load_set(const struct iocs_load_opts *o, struct iocs_iocset **set,
                  struct iocs_load_report *lr, struct iocs_load_err *e)
{
    int err;

    memset(e, 0, sizeof(*e));
    lr->builtin = iocs_load_builtin_used(o);
    if (lr->builtin) {
        err = iocs_builtin_load(*set, e->msg, sizeof(e->msg));
        if (err)
            return err;
    }
    for (size_t i = 0; i < o->nfeeds + o->nrules + o->nstrings; i++) {
        err = load_input(o, *set, i, lr, e);
        if (err)
            return err;
    }
    if (lr->rejected && o->strict) {
        snprintf(e->msg, sizeof(e->msg),
                 "%zu IOC line%s rejected (--strict); nothing scanned",
                 lr->rejected, lr->rejected == 1 ? "" : "s");
        return -EINVAL;
    }
    if (o->read)
        o->read(o->read_ctx, lr);
    err = apply_allow(o, set, lr, e);
    if (err)
        return err;
    if (iocs_iocset_count(*set) == 0 && lr->not_ids)
        return fail(e, -ENODATA, NULL,
                    "the feeds hold no indicators: their MISP attributes "
                    "all have to_ids false; load them with --all-attributes");
    if (iocs_iocset_count(*set) == 0)
        return fail(e, -ENODATA, NULL, "the feeds hold no indicators");
    return 0;
}

/* Everything besides the input files' identities that shapes the set: the
 * options, this build's version, and the built-in pack when used. */
static uint64_t cache_salt(const struct iocs_load_opts *o)
{
    uint64_t h = IOCS_FNV1A_BASIS;
    unsigned char flags[5] = {iocs_load_builtin_used(o), o->strict,
                              o->all_attributes, IOCS_DBFILE_VERSION,
                              o->allow_wide};
    size_t n;
    const struct iocs_builtin *b = iocs_builtin_pack(&n);

    h = iocs_fnv1a(h, flags, sizeof(flags));
    for (size_t i = 0; flags[0] && i < n; i++) {
        h = iocs_fnv1a(h, b[i].value, strlen(b[i].value) + 1);
        h = iocs_fnv1a(h, b[i].reference, strlen(b[i].reference) + 1);
        h = iocs_fnv1a(h, b[i].description, strlen(b[i].description) + 1);
        h = iocs_fnv1a(h, &b[i].severity, sizeof(b[i].severity));
    }
    /* Separate the feed, rule and allowlist lists. */
    h = iocs_fnv1a(h, &o->nfeeds, sizeof(o->nfeeds));
    h = iocs_fnv1a(h, &o->nrules, sizeof(o->nrules));
    h = iocs_fnv1a(h, &o->nstrings, sizeof(o->nstrings));
    return h;
}

/*
 * --db with --allow: the allowlists cover exact-value IOCs as they do when
 * feeds are parsed, not only the addresses of CIDR IOCs. When they cover
 * some IOC of *db, it is rebuilt without them (the file stays as it is).
 */
static int allow_db(const struct iocs_load_opts *o, struct iocs_db **db,
                    struct iocs_load_report *lr, struct iocs_load_err *e)
{
    const struct iocs_iocset *set = iocs_db_set(*db);
    struct iocs_iocset *kept = NULL;
    struct iocs_allow *a = NULL;
    struct iocs_db *fresh = NULL;
    size_t dropped = 0;
    bool any = false;
    int err;

    err = iocs_load_allow(o, o->strict, &a, &lr->rejected, e);
    if (err || !a)
        return err;
    for (size_t i = 0; i < iocs_iocset_count(set) && !any; i++) {
        const struct iocs_ioc *x = iocs_iocset_get(set, i);

        any = x->type != IOCS_REGEX &&
              iocs_allow_ioc(a, x->type, x->value, x->len);
    }
    if (!any)
        goto out;
    err = copy_unallowed(set, a, &kept, &dropped);
    if (err) {
        fail(e, err, NULL, "out of memory");
        goto out;
    }
    if (iocs_iocset_count(kept) == 0) {
        err = fail(e, -ENODATA, o->db, "the allowlists cover every IOC");
        goto out;
    }
    err = iocs_db_compile(&fresh, kept, e->msg, sizeof(e->msg));
    if (err) {
        e->path = o->db;
        goto out;
    }
    iocs__db_own_set(fresh);
    kept = NULL; /* the database owns it now */
    iocs_db_free(*db);
    *db = fresh;
    lr->allowed += dropped;
out:
    iocs_iocset_free(kept);
    iocs_allow_free(a);
    return err;
}

int iocs_load_db(const struct iocs_load_opts *o, struct iocs_db **out,
                 struct iocs_dbcache_result *res, struct iocs_load_report *lr,
                 struct iocs_load_err *e)
{
    struct iocs_dbcache_opts co = {0};
    struct iocs_iocset *set = NULL;
    const char **inputs = NULL;
    char dir[4096];
    int err;

    memset(e, 0, sizeof(*e));
    memset(res, 0, sizeof(*res));
    if (o->db) {
        err = iocs_dbfile_read(out, o->db, 0, e->msg, sizeof(e->msg));
        if (err) {
            e->path = o->db;
            return err;
        }
        err = allow_db(o, out, lr, e);
        if (err) {
            iocs_db_free(*out);
            *out = NULL;
        }
        return err;
    }
    if (o->use_cache && iocs_dbcache_dir(dir, sizeof(dir)) == 0) {
        size_t n = o->nfeeds + o->nrules + o->nallows + o->nstrings;

        inputs = calloc(n ? n : 1, sizeof(*inputs));
        if (!inputs)
            return fail(e, -ENOMEM, NULL, "out of memory");
        for (size_t i = 0; i < o->nfeeds; i++)
            inputs[co.ninputs++] = o->feeds[i];
        for (size_t i = 0; i < o->nrules; i++)
            inputs[co.ninputs++] = o->rules[i];
        for (size_t i = 0; i < o->nallows; i++)
            inputs[co.ninputs++] = o->allows[i];
        for (size_t i = 0; i < o->nstrings; i++)
            inputs[co.ninputs++] = o->strings[i];
        co.dir = dir;
        co.inputs = inputs;
        co.salt = cache_salt(o);
        /* The inputs' identity before they are parsed: the cache checks
         * it again before recording them (a feed rewritten meanwhile). */
        if (iocs_dbcache_inputs_key(&co, &co.inputs_key) < 0)
            co.inputs_key = 0;
        err = iocs_dbcache_find(&co, out, res);
        if (err == 0)
            goto out;
    }
    err = iocs_iocset_new(&set);
    if (err) {
        fail(e, err, NULL, "out of memory");
        goto out;
    }
    err = iocs_load_set(o, &set, lr, e);
    if (err)
        goto out;
    /* With rejected lines, record no inputs index: the next start parses
     * the feeds again and reports them again (the set is still cached). */
    if (lr->rejected) {
        co.ninputs = 0;
        co.salt = 0;
    }
    co.on_compile = o->compiling;
    co.compile_ctx = o->compiling_ctx;
    err = iocs_dbcache_get(&co, set, out, res, e->msg, sizeof(e->msg));
    if (err)
        goto out;
    set = NULL; /* the database owns it now */
out:
    iocs_iocset_free(set);
    free(inputs);
    return err;
}
