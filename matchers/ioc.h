/*
 * ioc.h - the indicator model: types, refanging, type detection,
 * normalisation, and the IOC set that every feed parser fills.
 *
 * Sits between the feed parsers (matchers/feed*.c: plain lists, LOKI,
 * CSV/TSV, Zeek, MISP, STIX 2; matchers/rules.c) and the database compiler
 * (matchers/db.c). A set is built single-threaded at
 * config time and is read-only afterwards: scanning threads may read it
 * concurrently without locks. Strings handed to iocs_iocset_add() are
 * copied; pointers returned by iocs_iocset_get() stay valid until the set
 * is freed. A set loaded from a database file borrows its strings from the
 * file's mapping instead (iocs__iocset_new_borrowed()) and is read-only.
 *
 * What a hit means for each type is in ../shared/DESIGN.md ("What a hit
 * means, per IOC type"); this module only decides what an IOC *is*.
 */
#ifndef IOCS_IOC_H
#define IOCS_IOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest IOC value accepted, in bytes, after refanging. */
#define IOCS_IOC_MAX 2048
/* Shortest plain string IOC: shorter ones would alert on almost every line. */
#define IOCS_STRING_MIN 4
/* Shortest text IOC from a --strings file: such a list is free text, with
 * none of a typed feed's context, so it needs a longer floor. */
#define IOCS_TEXT_MIN 6

/* The one severity scale (ECS event.severity, 0-100) and its words. */
#define IOCS_SEV_LOW 25
#define IOCS_SEV_MEDIUM 50
#define IOCS_SEV_HIGH 75
#define IOCS_SEV_CRITICAL 100

enum iocs_type {
    IOCS_IPV4,
    IOCS_IPV6,
    IOCS_CIDR4,
    IOCS_CIDR6,
    IOCS_DOMAIN,
    IOCS_URL,
    IOCS_EMAIL,
    IOCS_MD5,
    IOCS_SHA1,
    IOCS_SHA256,
    IOCS_SHA512,
    IOCS_FILENAME,
    IOCS_STRING,
    IOCS_REGEX,
    IOCS_TYPE_COUNT
};

/* Short name as used on the command line and in feeds: "ipv4", "ipv6",
 * "cidr" (both families), "domain", "url", "email", "md5", "sha1", "sha256",
 * "sha512", "filename", "string", "regex". Never NULL. */
const char *iocs_type_name(enum iocs_type t);

/* ECS/STIX name for threat.indicator.type: ipv4-addr, ipv6-addr (also for
 * both CIDR families... cidr4 is ipv4-addr), domain-name, url, email-addr,
 * file (hashes and file names), artifact (strings and regex). Never NULL. */
const char *iocs_type_ecs(enum iocs_type t);

/*
 * Parse a type name written in a feed: our short names, the ECS/STIX names
 * above, and the common MISP/Zeek spellings (ip-src, ip-dst, hostname,
 * domain, Intel::ADDR, Intel::DOMAIN, ...). Case-insensitive. Returns 0 and
 * sets *out, or -EINVAL when the name is unknown. "cidr" yields IOCS_CIDR4;
 * callers fix the family from the value with iocs_ioc_normalise().
 */
int iocs_type_parse(const char *s, size_t n, enum iocs_type *out);

/*
 * Refang a defanged value: hxxp -> http, hxxps -> https, [.] (.) {.} [dot]
 * (dot) {dot} -> ".", [:] -> ":", [://] -> "://", [@] [at] (at) -> "@"
 * (case-insensitive). "hxxp" is refanged only where a scheme can be: when
 * followed (after an optional 's') by ':', '[', whitespace or the end.
 * Also trims surrounding ASCII whitespace. Writes at most cap - 1 bytes
 * plus a NUL to out; out and in may not overlap. Returns the refanged
 * length, or -E2BIG if it does not fit in cap.
 */
int iocs_refang(char *out, size_t cap, const char *in, size_t n);

/*
 * Detect the type of a refanged value, first rule that fits (DESIGN.md):
 * cidr (v4 or v6); ipv4 (no octet with a leading zero); ipv6; url
 * (scheme://..., or host/path with no scheme where the host is a domain or
 * an IPv4 address, with an optional :port); email; md5/sha1/sha256/sha512
 * by hex length; filename (contains '\', starts with '/', or ends in a
 * known executable, script, document or archive extension); domain
 * (dot-separated labels whose last label is a top-level domain of the
 * public suffix list); otherwise string. An address with a port is not
 * typed here (see iocs_addr_port()). Never returns IOCS_REGEX.
 */
enum iocs_type iocs_type_detect(const char *v, size_t n);

/*
 * Normalise a refanged value of type *t in place of its canonical form:
 *   ipv4     dotted quad as given (validated: 4 octets, <= 255, no leading 0)
 *   ipv6     RFC 5952 canonical text (lower case, longest zero run as ::)
 *   cidr4/6  network address and prefix, host bits cleared ("10.0.0.0/8");
 *            *t is set to the family actually found; a bare address is a
 *            host route ("1.2.3.4" -> "1.2.3.4/32")
 *   domain, email, hashes    ASCII lower case; a trailing '.' removed;
 *            hashes must be hex of their type's length, domains must have
 *            no empty label, emails need local@domain
 *   url      scheme and host lower case (the host ends at the first '/',
 *            '?', '#' or the end; a port stays, userinfo is not folded),
 *            the rest unchanged; a URL without a scheme is accepted
 *   filename, string, regex  unchanged
 * Every type: not empty, at most IOCS_IOC_MAX bytes, no control character
 * (a TAB is allowed in strings and regex); strings at least
 * IOCS_STRING_MIN bytes. Writes out (NUL-terminated, at most cap bytes;
 * out may be the same buffer as in) and *outlen, and updates *t only on
 * success. Returns 0, or -EINVAL with *why set to a static reason ("octet
 * over 255", "prefix length over 32", "shorter than 4 bytes", "contains a
 * control character", ...), or -E2BIG when out is too small.
 */
int iocs_ioc_normalise(enum iocs_type *t, const char *in, size_t n, char *out,
                       size_t cap, size_t *outlen, const char **why);

/*
 * Whether v[0..n) is an address with a port: "a.b.c.d:port" or
 * "[v6]:port" (port 1-65535, decimal, no sign). Returns 0 and sets *aoff
 * and *alen (the address inside v) and *port; -EINVAL otherwise. The
 * address is an IOC of its own type; the port only describes it.
 */
int iocs_addr_port(const char *v, size_t n, size_t *aoff, size_t *alen,
                   unsigned *port);

/*
 * Whether the name v[0..n) (a trailing '.' ignored) ends in a top-level
 * domain of the public suffix list: its last one, two or three labels are
 * a rule of the list ("com", "co.za": "za" alone is none) (libpsl: the
 * newest of the
 * system's /usr/share/publicsuffix list and the library's built-in one;
 * an unlisted label is not one, whatever libpsl's "*" rule says).
 * Thread-safe: the list is loaded once.
 */
bool iocs_tld_known(const char *v, size_t n);

/*
 * Parse a severity: a number 0-100, or a word of the one scale (case
 * insensitive): info 10, low 25, medium (moderate) 50, high 75, critical
 * 100, none 0. Returns 0 and sets *out, or -EINVAL when it is neither.
 */
int iocs_severity_parse(const char *s, size_t n, int *out);

/* One indicator, as the database and the events see it. */
struct iocs_ioc {
    enum iocs_type type;
    int severity;            /* ECS event.severity; 0 when the feed says none */
    const char *value;       /* normalised value, NUL-terminated */
    size_t len;              /* strlen(value) */
    const char *feed;        /* feed name: file base name, or "builtin" */
    const char *provider;    /* who published it, or NULL */
    const char *description; /* free text, or NULL */
    const char *reference;   /* "file:line" or a source URL, or NULL */
    const char *source;      /* the feed's own source column, or NULL */
    const char *tags;        /* comma-separated tags, or NULL */
    int confidence;          /* 0..100, or -1 when the feed says none */
    int64_t expires;         /* Unix seconds after which it is ignored; 0:
                                never */
    unsigned hs_flags;       /* IOCS_REGEX: Hyperscan flags (HS_FLAG_*) */
    const char *rule_id;     /* IOCS_REGEX: the rule's id, or NULL */
    unsigned port;           /* ipv4/ipv6 read as "address:port": the port
                                (threat.indicator.port); 0 when none. Each
                                port of one address is one `also` record */
    bool word;               /* IOCS_STRING from --strings "word:": the
                                neighbours must not be letters, digits, '-'
                                or '_' (the domain boundaries) */
    /* The same (type, value) as read from other feeds or lines, each with
     * its own metadata, in the order they were added; NULL when none.
     * Set by iocs_iocset_add(); ignored on input. */
    const struct iocs_ioc *also;
};

struct iocs_iocset;

/* Make an empty set. Returns 0 or -ENOMEM. */
int iocs_iocset_new(struct iocs_iocset **out);

/* Release s and every string it holds. NULL is accepted and ignored. */
void iocs_iocset_free(struct iocs_iocset *s);

/*
 * Add one IOC, copying every string. ioc->value must already be normalised
 * (iocs_ioc_normalise()). A second IOC with the same type and value is not
 * added again: its metadata is appended to the first one's `also` chain
 * (unless an identical record is already there) and 0 is returned with
 * *dup (if non-NULL) set to true. Returns 0, or -ENOMEM, or -EINVAL for an
 * empty value.
 */
int iocs_iocset_add(struct iocs_iocset *s, const struct iocs_ioc *ioc,
                    bool *dup);

/* Number of IOCs in s. */
size_t iocs_iocset_count(const struct iocs_iocset *s);

/* The i-th IOC (0 <= i < count), in the order they were first added. */
const struct iocs_ioc *iocs_iocset_get(const struct iocs_iocset *s, size_t i);

/* ---- internal to matchers/ (dbcache.c) ---- */

/*
 * A set whose strings are borrowed, for a database file loaded in place:
 * nioc IOCs and nrec >= nioc records in all (each IOC's own record and
 * its `also` chain), in one array of nrec records that
 * iocs__iocset_records() returns for the caller to fill before the set is
 * used: records 0..nioc-1 are the IOCs in order, the others are linked
 * from their `also` fields. Their strings are not copied: they must stay
 * valid while the set is used (see iocs__iocset_borrow()). Such a set is
 * read-only: iocs_iocset_add() refuses it with -EPERM. Returns 0, or
 * -ENOMEM.
 */
int iocs__iocset_new_borrowed(struct iocs_iocset **out, size_t nioc,
                              size_t nrec);

/* From now on s owns what its strings point into: iocs_iocset_free()
 * calls release(backing) last. For a set of iocs__iocset_new_borrowed(). */
void iocs__iocset_borrow(struct iocs_iocset *s, void (*release)(void *),
                         void *backing);

/* The nrec records of a set made by iocs__iocset_new_borrowed(); NULL for
 * any other set. */
struct iocs_ioc *iocs__iocset_records(struct iocs_iocset *s);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_IOC_H */
