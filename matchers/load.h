/*
 * load.h - the IOC set a scan uses, from its inputs: the feeds (-i), the
 * rule files (--rules), the built-in pack, less what the allowlists
 * (--allow) cover; or the compiled database for them, from --db, from the
 * cache (parsing nothing when the inputs are unchanged), or compiled.
 *
 * Nothing is printed here. Every rejected line of an input goes to the
 * reject callback of the options as (file, line, why) and is counted;
 * failures come back as a negative errno with a struct iocs_load_err that
 * says which input failed and why, for the caller to print (as Hyperscan's
 * hs_compile_error_t). Config-time only; not thread-safe for one set.
 */
#ifndef IOCS_LOAD_H
#define IOCS_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "matchers/allow.h"
#include "matchers/db.h"
#include "matchers/dbcache.h"
#include "matchers/feed.h"
#include "matchers/ioc.h"
#include "matchers/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The counts of one feed or rule file. */
struct iocs_load_input {
    const char *path; /* as given in the options */
    struct iocs_feed_report rep;
};

/* What a load read. */
struct iocs_load_report {
    /* The caller's array of nfeeds + nrules + nstrings entries (feeds,
     * rule files, then --strings files) that the load fills, or NULL. */
    struct iocs_load_input *inputs;
    size_t rejected; /* lines passed to the reject callback, allowlists too */
    size_t allowed;  /* IOCs dropped by the allowlists */
    size_t skipped;  /* feed entries not expressible or not for detection */
    size_t expired;  /* feed entries past their expiry */
    size_t not_ids;  /* MISP attributes skipped for to_ids false */
    bool builtin;    /* the built-in pack was loaded */
};

/*
 * Called once the feeds and rule files are read and before the
 * allowlists are, with the counts so far: the place to summarise what the
 * feeds rejected before the allowlists report their own lines.
 */
typedef void (*iocs_load_read_fn)(void *ctx, const struct iocs_load_report *lr);

/* What to load. Zero-initialised: the built-in pack alone, no cache. */
struct iocs_load_opts {
    const char *const *feeds; /* IOC feeds */
    size_t nfeeds;
    const char *const *rules; /* regex rule files */
    size_t nrules;
    const char *const *allows; /* allowlists */
    size_t nallows;
    /* --strings files: text IOCs loaded on purpose (feed.h, opts.strings) */
    const char *const *strings;
    size_t nstrings;
    const char *db;        /* a compiled database file: nothing is parsed */
    bool builtin;          /* the built-in pack even with feeds or rules */
    bool strict;           /* a rejected line is an error */
    bool use_cache;        /* read and write the database cache */
    bool all_attributes;   /* MISP: attributes with to_ids false too */
    bool allow_wide;       /* CIDRs wider than /8 or /32 too */
    int64_t now;           /* Unix seconds for feed expiry; 0: now */
    iocs_reject_fn reject; /* every rejected line, or NULL */
    void *reject_ctx;
    iocs_load_read_fn read; /* after the feeds are read, or NULL */
    void *read_ctx;
    iocs_compile_fn compiling; /* around the compile (dbcache.h), or NULL */
    void *compiling_ctx;
};

/* Why a load failed. */
struct iocs_load_err {
    const char *path; /* the input it is about (from the options), or NULL */
    char msg[512];    /* what went wrong; "" when the errno says it all */
    bool reported;    /* the reject callback already said why: nothing more */
};

/* Whether the built-in pack is loaded: without feeds, rule files and
 * --strings files, or asked for. */
bool iocs_load_builtin_used(const struct iocs_load_opts *o);

/*
 * Load the IOC set into *set (an empty set the caller owns; the load may
 * replace it by another, still the caller's): the built-in pack when
 * used, the feeds and rule files, then (after o->read) the allowlists,
 * whose IOCs are dropped (regex rules never are). Fills lr. Returns 0 or a
 * negative errno with e filled:
 *   an input's open/read errno  e->path names it
 *   -EINVAL  a file unusable whole (e->path); a rejected line under
 *            o->strict (e->msg counts them, or e->reported for an
 *            allowlist); the built-in pack did not load (e->msg)
 *   -ENODATA the inputs hold no indicators
 *   -ENOMEM  out of memory
 */
int iocs_load_set(const struct iocs_load_opts *o, struct iocs_iocset **set,
                  struct iocs_load_report *lr, struct iocs_load_err *e);

/*
 * Load every allowlist of o into *out (NULL when there is none; the caller
 * frees it with iocs_allow_free()). Rejected lines go to o->reject and are
 * counted in *rejected; with strict, a file with a rejected line stops the
 * load (-EINVAL, e->reported). Returns 0 or a negative errno with e
 * filled (e->path: the allowlist that could not be read).
 */
int iocs_load_allow(const struct iocs_load_opts *o, bool strict,
                    struct iocs_allow **out, size_t *rejected,
                    struct iocs_load_err *e);

/*
 * Copy every IOC of *set (with its `also` records) that a does not cover
 * into a new set that replaces *set (the old one is freed); count the
 * others in *dropped. Regex rules are never allowlisted. Returns 0 or
 * -ENOMEM with *set untouched.
 */
int iocs_load_drop_allowed(struct iocs_iocset **set, const struct iocs_allow *a,
                           size_t *dropped);

/*
 * The database for o: read from o->db (rebuilt without the IOCs that o's
 * allowlists cover, counted in lr->allowed; -ENODATA when they cover
 * all); else, with o->use_cache, from the
 * cache when the inputs are unchanged; else loaded as iocs_load_set() does
 * and then taken from the cache by set hash or compiled (and cached). The
 * database owns its set; *res says how it was found. A set with rejected
 * lines is cached but not indexed by its inputs, so the next load parses
 * and reports them again. Returns 0 or a negative errno with e filled, as
 * iocs_load_set() does, or with e->path = o->db and e->msg saying why the
 * file was refused (-ESTALE: built by another version or for another CPU;
 * -EINVAL: damaged), or with e->msg saying why the set did not compile.
 */
int iocs_load_db(const struct iocs_load_opts *o, struct iocs_db **out,
                 struct iocs_dbcache_result *res, struct iocs_load_report *lr,
                 struct iocs_load_err *e);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_LOAD_H */
