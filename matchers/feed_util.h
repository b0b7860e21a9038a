/*
 * feed_util.h - what the feed parsers share (matchers/feed*.c).
 *
 * Each format's parser cuts its input into struct iocs__entry records and
 * hands each to iocs__feed_take(), which refangs, types, normalises,
 * filters (expiry, allowlist) and adds it to the load's private set, or
 * reports why not. Also the numbers, words, times and lines the formats
 * read alike. It knows no format: the dispatcher (feed.c) and the parsers
 * include it, never the other way round. Not a public header: only
 * matchers/feed*.c include it. Config-time only; not thread-safe for one
 * loader.
 */
#ifndef IOCS_FEED_UTIL_H
#define IOCS_FEED_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "matchers/feed.h"
#include "matchers/ioc.h"

/* One IOC as a parser found it, before refanging and normalisation. All
 * strings are NUL-terminated or NULL, and valid during iocs__feed_take(). */
struct iocs__entry {
    size_t line;       /* line, or 1-based object index for JSON */
    const char *value; /* as written: may be defanged; len bytes */
    size_t len;
    bool typed; /* the feed stated the type: it wins over detection */
    enum iocs_type type;
    const char *type_name; /* the feed's type text, for explain; or NULL */
    int severity;
    int confidence; /* 0..100, or -1 */
    int64_t expires;
    unsigned hs_flags;
    const char *description;
    const char *provider;
    const char *source;
    const char *tags;
    const char *reference; /* NULL: "name:line" */
    const char *rule_id;
};

/* State of one load. */
struct iocs__loader {
    struct iocs_iocset *set; /* private: merged into the caller's at the end */
    const char *name;        /* as given: in messages and references */
    const char *feed;        /* base name of name: iocs_ioc.feed */
    const struct iocs_feed_opts *opts;
    int64_t now;
    iocs_reject_fn reject;
    void *ctx;
    struct iocs_feed_report rep; /* this file's counts */
    char *ref;                   /* "name:line", rebuilt per IOC */
    size_t refcap;
    char raw[IOCS_IOC_MAX + 1];   /* refanged value */
    char norm[IOCS_IOC_MAX + 64]; /* normalised: may grow ("/32") */
};

/* Refang, type, normalise, filter and add one entry. Returns 0, -ENOMEM,
 * or -EINVAL when a rejection must stop the load (--strict). A bad value
 * is reported and counted, not returned. */
int iocs__feed_take(struct iocs__loader *ld, const struct iocs__entry *e);

/* Report a rejected entry. Returns -EINVAL under --strict, else 0. */
int iocs__feed_reject(struct iocs__loader *ld, size_t line, const char *raw,
                      size_t rawlen, const char *why);

/* Count a valid entry that is not taken (why says why) and explain it. */
void iocs__feed_skip(struct iocs__loader *ld, size_t line, const char *raw,
                     size_t rawlen, const char *type, const char *why);

/* Report why a whole file cannot be used; returns -EINVAL. */
int iocs__feed_fatal(struct iocs__loader *ld, size_t line, const char *why);

/* Parse a timestamp: Unix seconds, or RFC 3339 / ISO 8601
 * ("2024-04-17", "2024-04-17T11:24:53.852Z", "...+02:00"). Returns 0 and
 * sets *out, or -EINVAL. */
int iocs__feed_time(const char *s, size_t n, int64_t *out);

/* Severity as a number 0-100 or a word of the one scale
 * (iocs_severity_parse(): low 25, medium 50, high 75, critical 100).
 * Returns the value, or 0 when unknown. */
int iocs__feed_severity(const char *s, size_t n);

/* Confidence 0..100 as a number or a word (high 85, medium 50, low 15,
 * none 0); -1 when unknown. */
int iocs__feed_confidence(const char *s, size_t n);

/* Whether a MISP to_ids text means true ("1", "true", "yes"). */
bool iocs__feed_truthy(const char *s, size_t n);

/*
 * Cut the next line out of buf[*pos..n): sets *line and *len (without the
 * '\n' and a '\r' before it) and advances *pos. Returns false at the end.
 */
bool iocs__next_line(const char *buf, size_t n, size_t *pos, const char **line,
                     size_t *len);

#endif /* IOCS_FEED_UTIL_H */
