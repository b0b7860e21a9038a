/*
 * pipeline.h - wires the stages (feeds -> database; reader -> framer ->
 * scanner -> encode -> sink) for the subcommands. The only thing main() calls,
 * and the only module that prints diagnostics: library modules return codes.
 */
#ifndef IOCS_PIPELINE_H
#define IOCS_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline/event.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iocs_scan_opts {
    const char *const *feeds; /* -i files; none (and no rules): built-in */
    size_t nfeeds;
    const char *const *rules; /* --rules files */
    size_t nrules;
    const char *const *allows; /* --allow files */
    size_t nallows;
    const char *db;      /* --db FILE: a compiled database, nothing parsed */
    bool builtin;        /* --builtin: the pack even with -i or --rules */
    bool strict;         /* --strict: a rejected IOC line is an error */
    bool no_cache;       /* --no-cache: neither read nor write the cache */
    bool all_attributes; /* --all-attributes: MISP to_ids=false too */
    bool allow_wide;     /* --allow-wide: CIDRs wider than /8 or /32 */
    const char *const *strings; /* --strings files: text IOCs */
    size_t nstrings;
    const char *const *paths; /* PATH arguments; none: stdin */
    size_t npaths;
    const char *output; /* -o FILE, or NULL for stdout */
    enum iocs_format format;
    size_t max_line;  /* --max-line */
    size_t slab_size; /* --slab-size */
    size_t pack_max;  /* --pack-max: files up to this size share slabs;
                         (size_t)-1: a quarter of the slab size */
    unsigned depth;   /* reads in flight */
    unsigned threads; /* scanning threads (-j) besides the reading one;
                         0: scan on the reading thread */
    bool no_uring;
    bool direct; /* --direct: O_DIRECT reads */
    bool follow_symlinks;
    bool stats;
};

/* Run `iocstream scan`. Returns the exit status: 0 no hits, 1 hits, 2 an
 * error (reported on stderr). */
int iocs_pipeline_scan(const struct iocs_scan_opts *o);

/* Run `iocstream compile`: the IOC options of o (feeds, rules, allows,
 * builtin, strict, all_attributes) into the database file out; prints
 * counts per type and per feed to stdout. Returns 0, or 2 on error. */
int iocs_pipeline_compile(const struct iocs_scan_opts *o, const char *out);

/* Run `iocstream iocs`: with explain, how every entry of the feeds and
 * rule files of o was read (type, normalised value, feed, or why it was
 * skipped); with builtin, the built-in pack. Returns 0, 1 when an entry was
 * skipped (explain), or 2 on error. */
int iocs_pipeline_iocs(const struct iocs_scan_opts *o, bool explain,
                       bool builtin);

/* Run `iocstream decode [FILE]` (NULL or "-": stdin) to stdout. Returns the
 * exit status: 0, or 2 on error. */
int iocs_pipeline_decode(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_PIPELINE_H */
