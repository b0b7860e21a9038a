/*
 * db.h - the compiled set of indicators of compromise. Built once at
 * startup from an iocs_iocset, then read-only: workers share it, each with
 * its own Hyperscan scratch.
 *
 * Every IOC family goes into ONE Hyperscan block-mode database. Each IOC
 * becomes one or more literal patterns (its spellings: an IPv6 address in
 * canonical, fully expanded and unpadded expanded form; a Windows path also
 * JSON-escaped; a URL without its scheme, host folded), each escaped byte by
 * byte so any value compiles. Pattern ids index a table that gives the IOC,
 * the literal's length (a match starts at end - len: no SOM flags) and the
 * boundary rule to check around it. A CIDR IOC goes into a prefix set, and
 * becomes literals of the leading octets (IPv4) or groups (IPv6, in its
 * common spellings) that its addresses share, where a token may start; the
 * scanner reads the token there and looks it up. IPv6 ranges shorter than
 * /16 share one trigger for IPv6-looking runs instead.
 *
 * Regex rules (IOCS_REGEX) are compiled as written, with their own flags
 * plus HS_FLAG_SOM_LEFTMOST (the scanner needs their start) and
 * HS_FLAG_MULTILINE (^ and $ are line anchors); literals keep no SOM flag.
 * A regex counts for its widest match (hs_expression_info), capped at 8 KiB,
 * when the long-line overlap is sized: a regex match wider than the cap
 * can be missed where a line longer than a slab is cut into pieces.
 *
 * The IOCs that are whole tokens (IPv4, IPv6, CIDR, hashes, domains,
 * e-mail; tokens.h) may instead go to a typed token index that the
 * database builds and owns beside a Hyperscan database of the rest (URLs,
 * file names, strings, regex rules, and what the index cannot take): the
 * "token path". Both paths give the same hits, except that the token path
 * also finds IPv6 ranges in the spellings the range literals do not cover
 * (tokens.h). Which path a database uses is chosen per set when it is
 * compiled (enum iocs_db_tokens) and recorded in its pattern table: the
 * last entry is a marker (kind IOCS_PAT_TOKEN6, both edges IOCS_EDGE_FILE,
 * len 0, ioc = the mask of types the index takes) bound to a Hyperscan
 * literal that no scan reports. A database file carries the table, so a
 * database loaded from one (iocs__db_load()) rebuilds its index from the
 * set it carries; the file format is unchanged.
 *
 * The database keeps a pointer to the set; the set must outlive it, unless
 * the database owns it (one loaded from a file, see dbcache.h).
 */
#ifndef IOCS_DB_H
#define IOCS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "matchers/cidr.h"
#include "matchers/ioc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which bytes may not stand next to a match, by class (DESIGN.md table). */
enum iocs_edge {
    IOCS_EDGE_NONE,   /* anything */
    IOCS_EDGE_IPV4,   /* left: digit or '.'; right: digit, or '.' + digit */
    IOCS_EDGE_IPV6,   /* hex digit or ':' */
    IOCS_EDGE_DOMAIN, /* left: alnum - _; right: alnum - _, or '.' + alnum */
    IOCS_EDGE_EMAIL,  /* left: alnum . _ % + -; right: as domain */
    IOCS_EDGE_HEX,    /* hex digit */
    IOCS_EDGE_FILE,   /* left: alnum . - _; right: as domain */
};

enum iocs_pat_kind {
    IOCS_PAT_LITERAL, /* a spelling of IOC `ioc` */
    IOCS_PAT_CIDR4,   /* leading octets of IPv4 ranges: a token starts here */
    IOCS_PAT_CIDR6,   /* leading groups of IPv6 ranges: a token starts here */
    IOCS_PAT_TOKEN6,  /* IPv6 token trigger, for ranges shorter than /16 */
    IOCS_PAT_REGEX,   /* a regex rule; Hyperscan reports its start */
};

/* One Hyperscan pattern id. */
struct iocs_pat {
    uint32_t ioc;  /* index in the set (literal and regex kinds) */
    uint16_t len;  /* literal length; regex: widest match, capped */
    uint8_t kind;  /* enum iocs_pat_kind */
    uint8_t left;  /* enum iocs_edge */
    uint8_t right; /* enum iocs_edge */
};

struct iocs_db;
struct iocs_tokens;
struct hs_scratch;

/* How a compile matches the IOCs that are whole tokens. */
enum iocs_db_tokens {
    IOCS_DB_TOKENS_AUTO, /* the token path when the index would take at
                            least IOCS_DB_TOKENS_AUTO_MIN IOCs */
    IOCS_DB_TOKENS_OFF,  /* every IOC in Hyperscan */
    IOCS_DB_TOKENS_ON,   /* the token path whenever it takes an IOC */
};

/* Where auto switches to the token path: the number of IOCs the index
 * takes. Measured (bench/LIMITS.md, "Typed token lookups"): below it the
 * all-Hyperscan scan is faster (2x at 10k IOCs, about even at 100k); from
 * it the token path scans as fast or faster (1.2x at 200k, 1.14x at 1M)
 * and compiles in a third of the time and less than half the memory. */
#define IOCS_DB_TOKENS_AUTO_MIN 100000

/*
 * The mode iocs_db_compile() uses, for the whole process (the --tokens
 * option): set it once at startup, before any compile; not thread-safe.
 * Default IOCS_DB_TOKENS_AUTO.
 */
void iocs_db_set_tokens_mode(enum iocs_db_tokens mode);
enum iocs_db_tokens iocs_db_tokens_mode(void);

/* Parse "auto", "on" or "off" into *mode. Returns 0 or -EINVAL. */
int iocs_db_tokens_parse(const char *s, enum iocs_db_tokens *mode);

/*
 * Compile every IOC of set into a new database stored in *out, matching
 * tokens as iocs_db_tokens_mode() says. The caller owns it and releases it
 * with iocs_db_free(). Returns 0, or a negative errno with *out untouched:
 *   -EINVAL  an IOC did not compile; errbuf says which one and why
 *   -ENOMEM  out of memory
 */
int iocs_db_compile(struct iocs_db **out, const struct iocs_iocset *set,
                    char *errbuf, size_t errlen);

/* iocs_db_compile() with the token mode given. */
int iocs_db_compile_mode(struct iocs_db **out, const struct iocs_iocset *set,
                         enum iocs_db_tokens mode, char *errbuf, size_t errlen);

/*
 * Whether db follows mode: IOCS_DB_TOKENS_ON or _OFF say which path it
 * must use; IOCS_DB_TOKENS_AUTO accepts either (a database keeps the
 * choice it was made with).
 */
bool iocs_db_tokens_match(const struct iocs_db *db, enum iocs_db_tokens mode);

/*
 * Compile the set of *db again with mode, into a database that takes over
 * *db's set when *db owns it; on success *db is freed and replaced. For a
 * cached or --db database made with the other path. Returns 0, or what
 * iocs_db_compile() returns with *db untouched.
 */
int iocs_db_recompile(struct iocs_db **db, enum iocs_db_tokens mode,
                      char *errbuf, size_t errlen);

/* The token index of db, or NULL when every IOC is in Hyperscan. */
const struct iocs_tokens *iocs_db_tokens(const struct iocs_db *db);

/* Release db. NULL is accepted and ignored. */
void iocs_db_free(struct iocs_db *db);

/* Allocate a scratch for one scanning thread. Returns 0 or -ENOMEM. */
int iocs_db_scratch_new(const struct iocs_db *db, struct hs_scratch **out);

/* Release a scratch. NULL is accepted and ignored. */
void iocs_db_scratch_free(struct hs_scratch *s);

/*
 * Scan len bytes as one block with the database; on_match is called for
 * each match as in hs_scan(). Returns 0, 1 when on_match stopped the scan,
 * or -EIO for a Hyperscan failure.
 */
int iocs_db_scan(const struct iocs_db *db, struct hs_scratch *scratch,
                 const unsigned char *p, size_t len,
                 int (*on_match)(unsigned int id, unsigned long long from,
                                 unsigned long long to, unsigned int flags,
                                 void *ctx),
                 void *ctx);

/* The pattern table entry for a Hyperscan id reported by iocs_db_scan(). */
const struct iocs_pat *iocs_db_pat(const struct iocs_db *db, unsigned int id);

/* The set the database was compiled from. */
const struct iocs_iocset *iocs_db_set(const struct iocs_db *db);

/* The CIDR prefix set, or NULL when no CIDR IOC is loaded. */
const struct iocs_cidrset *iocs_db_cidrs(const struct iocs_db *db);

/* 16 hex digits naming the IOC set (its normalised values and types) and
 * the Hyperscan version: "iocstream.db" in every event. */
const char *iocs_db_id(const struct iocs_db *db);

/*
 * Bytes of a long line that must be scanned again at the start of the next
 * piece so that no match is lost at a piece boundary: the longest pattern
 * (or token of the token index) plus the scanner's right-context margin
 * and a few bytes: at least 160.
 */
size_t iocs_db_overlap(const struct iocs_db *db);

/* Number of Hyperscan patterns (the token path's marker included) and the
 * database size in bytes (Hyperscan's; the token index's added). */
size_t iocs_db_patterns(const struct iocs_db *db);
size_t iocs_db_size(const struct iocs_db *db);

/* ---- internal to matchers/ (dbcache.c) ---- */

/* From now on db owns its set and frees it with itself. */
void iocs__db_own_set(struct iocs_db *db);

/* Hyperscan's serialized bytes of db (malloc'd into *bytes). Returns 0,
 * -ENOMEM or -EIO. */
int iocs__db_serialize(const struct iocs_db *db, char **bytes, size_t *len);

/*
 * Assemble a database from its parts, as read from a file: set (taken on
 * success: the database owns it), the pattern table (copied), the overlap,
 * Hyperscan's serialized bytes (checked by hs_deserialize_database()), id,
 * the iocs_db_id() the file's writer stored (16 hex digits; NULL: computed
 * from the set, a pass over every value), and cidrs, the prefix set the
 * file brought (*cidrs taken on success, and set to NULL; *cidrs NULL:
 * none) or NULL (rebuilt from the set's CIDR and IPv6 IOCs that are in
 * Hyperscan). A table that ends with the token path's marker gets its
 * token index rebuilt from set here. Returns 0, -EINVAL (errbuf says why)
 * or -ENOMEM.
 */
int iocs__db_load(struct iocs_db **out, struct iocs_iocset *set,
                  const struct iocs_pat *pats, size_t npats, size_t overlap,
                  const char *hsbytes, size_t hslen, const char *id,
                  struct iocs_cidrset **cidrs, char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_DB_H */
