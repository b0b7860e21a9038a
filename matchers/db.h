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
 * The database keeps a pointer to the set; the set must outlive it, unless
 * the database owns it (one loaded from a file, see dbcache.h).
 */
#ifndef IOCS_DB_H
#define IOCS_DB_H

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
struct hs_scratch;

/*
 * Compile every IOC of set into a new database stored in *out. The caller
 * owns it and releases it with iocs_db_free(). Returns 0, or a negative
 * errno with *out untouched:
 *   -EINVAL  an IOC did not compile; errbuf says which one and why
 *   -ENOMEM  out of memory
 */
int iocs_db_compile(struct iocs_db **out, const struct iocs_iocset *set,
                    char *errbuf, size_t errlen);

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
 * plus the scanner's right-context margin and a few bytes: at least 160.
 */
size_t iocs_db_overlap(const struct iocs_db *db);

/* Number of Hyperscan patterns and the database size in bytes. */
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
 * none) or NULL (rebuilt from the set's CIDR and IPv6 IOCs). Returns 0,
 * -EINVAL (errbuf says why) or -ENOMEM.
 */
int iocs__db_load(struct iocs_db **out, struct iocs_iocset *set,
                  const struct iocs_pat *pats, size_t npats, size_t overlap,
                  const char *hsbytes, size_t hslen, const char *id,
                  struct iocs_cidrset **cidrs, char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_DB_H */
