/*
 * feed.h - IOC feed loading into an iocs_iocset.
 *
 * The format is detected from the content, never from the file name, after
 * a UTF-8 BOM and leading whitespace:
 *   1. '{' or '[': JSON. A STIX 2.x bundle ("type": "bundle", or an array
 *      of STIX objects), a MISP event ({"Event": ...}, {"response": [...]},
 *      an array of events, or a bare event with "Attribute"/"Object"), or
 *      a STIX 1.x package serialised as JSON, which is rejected whole.
 *   2. '<': XML. STIX 1.x and OpenIOC are recognised and rejected whole
 *      ("STIX 1.x XML is not supported"); any other XML too.
 *   3. a first line starting "#separator" or "#fields": a Zeek intel file.
 *   4. a first non-comment line naming a value column ("value",
 *      "indicator", "ioc", ...), split by TABs or commas: CSV/TSV with a
 *      header (Volexity, MISP CSV exports, Citizen Lab).
 *   5. lines "regex;score": a LOKI filename-IOC file (regex rules).
 *   6. anything else: a plain list, one value per line, '#' comments, an
 *      optional description after the value ("value;description",
 *      "value,description", "value  # comment"); a header-less
 *      "value,type,description" line states its type.
 * Values are refanged, typed (a type the feed states wins over detection,
 * except that a detected hash, IPv6 address or CIDR refines a generic
 * "file" or "ip") and normalised.
 *
 * Every entry ends in exactly one of: loaded (or merged into an equal
 * value as one more record of its `also` chain), rejected (malformed: the
 * reject callback gets file:line: why), skipped (not an indicator we can
 * express: unsupported STIX patterns, MISP attributes with to_ids false,
 * attribute types that are not indicators), expired, or allowlisted. The
 * explain callback, when given, sees every entry with its fate.
 *
 * A file is loaded as a whole or not at all: it is parsed into a private
 * set first and merged into the caller's set only when nothing fatal
 * happened (bad JSON, an unsupported format, a NUL byte, --strict and a
 * rejected entry). Nothing is printed here. Config-time only; not
 * thread-safe for one set.
 */
#ifndef IOCS_FEED_H
#define IOCS_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "matchers/ioc.h"
#include "matchers/util.h" /* iocs_reject_fn */

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Called once per entry with how it was read: file, line (1-based; for
 * JSON formats the 1-based index of the attribute or STIX object), the raw
 * value as the feed wrote it, the type name (ours, or the feed's own name
 * when it is not one we know; NULL when none), the normalised value (NULL
 * when the entry was not taken), and why it was not taken (NULL when it
 * was: loaded, or merged into an equal value). Every string is valid during
 * the call only.
 */
typedef void (*iocs_explain_fn)(void *ctx, const char *file, size_t line,
                                const char *raw, const char *type,
                                const char *value, const char *why);

struct iocs_feed_report {
    size_t lines;      /* lines read, comments included (JSON: objects) */
    size_t loaded;     /* IOCs added to the set */
    size_t duplicates; /* values already in the set */
    size_t rejected;   /* lines passed to the reject callback */
    size_t skipped;    /* valid entries that are not IOCs we can express */
    size_t expired;    /* entries whose expiry has passed */
    size_t allowed;    /* entries dropped by the allowlist */
    size_t by_type[IOCS_TYPE_COUNT]; /* loaded, by type */
    /* Of skipped (and rejected, for regex): per reason, for the hygiene
     * summary of `iocs --explain` and `compile`. */
    size_t untyped;   /* plain values that are no indicator type */
    size_t wide;      /* CIDRs wider than /8 or /32 (no --allow-wide) */
    size_t bad_regex; /* expressions Hyperscan cannot compile */
    size_t not_ids;   /* MISP attributes with to_ids false */
    /* The widest CIDR loaded per family (prefix; 0 when none), as text. */
    unsigned widest4, widest6;
    char widest4_text[48], widest6_text[48];
};

struct iocs_allow;

/* How to load. Zero-initialised means the defaults. */
struct iocs_feed_opts {
    bool all_attributes; /* MISP: take attributes with to_ids false too */
    bool strict;         /* the first rejected entry fails the whole file */
    bool allow_wide;     /* CIDRs wider than /8 (IPv4) or /32 (IPv6) too */
    /* A --strings file: each line is a text IOC (IOCS_STRING, at least
     * IOCS_TEXT_MIN bytes), "word:TEXT" with word boundaries, "text:TEXT"
     * or TEXT without; '#' lines are comments (feed_plain.h). */
    bool strings;
    int64_t now; /* Unix seconds for expiry; 0: the current time */
    const struct iocs_allow *allow; /* drop allowlisted values, or NULL */
    iocs_explain_fn explain;        /* every entry's fate, or NULL */
    void *explain_ctx;
};

/*
 * Load buf[0..n) as the feed named name (used in messages, in references
 * "name:line", and, without its directories, as iocs_ioc.feed; NULL reads
 * as "-"), with the default options. Adds what parses to set and adds the
 * counts to *rep (rep and reject may be NULL). Returns 0 when the buffer
 * was read (even if lines were rejected: see rep->rejected), -ENOMEM, or
 * -EINVAL when the whole feed is unusable (binary data, malformed JSON, an
 * unsupported format: the reject callback gets the reason with line 0, or
 * the line of a JSON syntax error; nothing is added and *rep is untouched).
 */
int iocs_feed_load_mem(struct iocs_iocset *set, const char *name,
                       const char *buf, size_t n, iocs_reject_fn reject,
                       void *ctx, struct iocs_feed_report *rep);

/*
 * As iocs_feed_load_mem(), with options (NULL: the defaults). With
 * opts->strict, the first rejected entry makes it return -EINVAL with
 * nothing added (the callback has seen that entry).
 */
int iocs_feed_load_mem_opts(struct iocs_iocset *set, const char *name,
                            const char *buf, size_t n,
                            const struct iocs_feed_opts *opts,
                            iocs_reject_fn reject, void *ctx,
                            struct iocs_feed_report *rep);

/*
 * Read the file at path and load it as above, named by its path. Returns 0,
 * a negative errno from open/read, or what iocs_feed_load_mem() returns.
 */
int iocs_feed_load_file(struct iocs_iocset *set, const char *path,
                        iocs_reject_fn reject, void *ctx,
                        struct iocs_feed_report *rep);

/* As iocs_feed_load_file(), with options (NULL: the defaults). */
int iocs_feed_load_file_opts(struct iocs_iocset *set, const char *path,
                             const struct iocs_feed_opts *opts,
                             iocs_reject_fn reject, void *ctx,
                             struct iocs_feed_report *rep);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_FEED_H */
