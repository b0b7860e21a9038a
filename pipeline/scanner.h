/*
 * scanner.h - one worker's scan of the framer's units: hs_scan per unit,
 * boundary verification, CIDR token lookups, one event per (line, IOC).
 *
 * Third stage. One hs_scan covers a block of whole lines of about 256 KiB
 * (a smaller unit whole), never one line.
 * Hyperscan's callback only records (pattern, start, end offset) into a
 * fixed hit array; afterwards the hits are walked in end order, lines are
 * found only around them (memchr/memrchr from the match), each hit is
 * checked against its IOC type's boundary rule, and valid hits are grouped
 * per line and IOC into events: count of valid occurrences, the leftmost one
 * as `atomic`. A line with events is parsed once for its own time and
 * host (linetime.h; within its first max_line bytes): a line whose time
 * lies outside the --since/--until window gives no event, and nothing is
 * parsed for a line without hits, so neither costs anything per line. A
 * literal's start is its end minus its length; a regex rule's start is
 * Hyperscan's leftmost start of match, and a regex match that crosses a '\n'
 * (or takes the '\r' of a CRLF) is dropped. Hyperscan reports one (leftmost)
 * start per end, so a rule whose classes can match
 * '\n' ([^x], \s) may lose an in-line match to a longer one that starts on
 * an earlier line: write [^x\n] or [ \t] in such rules.
 * Newlines between hits are counted (vectorised) to number the lines.
 *
 * On the token path (db.h) the token index scans each block after
 * hs_scan, into the same hit array: its hits, already cut as whole tokens,
 * are merged in end order with Hyperscan's and walked with them (lines,
 * allowlist for address ranges, grouping), so the events are those of the
 * all-Hyperscan path, in the same order, with the same fields (IPv6
 * ranges: tokens.h).
 *
 * Exactly-once across units: a unit that does not end its line (a piece of
 * a long line) leaves the hits ending in its last IOCS_SCAN_RIGHT_CTX bytes
 * to the next unit, which rescans the overlap and skips the hits that end
 * inside the overlap minus that margin. A hit array that fills up splits
 * the unit at a line end (or, inside one line, with the same overlap rule)
 * and scans the halves, so hits are never dropped.
 *
 * A line still open at the end of a unit (a long line) is handed over in a
 * struct iocs_linestate the caller keeps: the unit that continues it may
 * go to any scanner, as long as the previous unit is done. Other units are
 * independent: the caller says which line number a unit starts at, and
 * learns how many newlines it held, so units of many sources may be spread
 * over many scanners. Sources are read one after another, so one linestate
 * serves a whole run. Nothing is allocated per
 * line or event: the hit arrays, the line buffers and the prefix of a long
 * line are made in iocs_scanner_new() and grow only up to fixed caps.
 *
 * A scanner is used by one thread at a time; the database may be shared.
 */
#ifndef IOCS_SCANNER_H
#define IOCS_SCANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "matchers/db.h"
#include "pipeline/event.h"
#include "pipeline/framer.h"
#include "pipeline/linetime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of right context a hit needs before it can be judged; also the
 * deferral margin at the end of a long-line piece. 2 for the literal rules,
 * 66 for an IP token (up to 64 bytes of token beyond the trigger). */
#define IOCS_SCAN_RIGHT_CTX 66

/* Default cap on event.original. */
#define IOCS_MAX_LINE_DEFAULT 4096

struct iocs_allow;

/* A line's own time (linetime.h) and the window of --since/--until.
 * Zeroed: UTC, the scanner's creation as the start, no window. */
struct iocs_scan_time {
    struct iocs_linetime_zone zone; /* of times without one (--tz) */
    time_t start; /* the scan's start: the reference of a year-less time
                     in a source with no mtime (stdin); 0: the time the
                     scanner was made */
    bool has_since, has_until;
    struct timespec since; /* lines before it give no events */
    struct timespec until; /* lines at or after it give no events */
};

struct iocs_scanner_opts {
    size_t max_line;                /* event.original cap in bytes, >= 1 */
    const struct iocs_allow *allow; /* addresses a CIDR IOC never alerts
                                       on, or NULL; must outlive the scan */
    size_t max_hits; /* raw hits per hs_scan before splitting; 0: default */
    struct iocs_scan_time time; /* the lines' own times and the window */
};

/* Receives each event; returns 0 to go on or a negative errno to stop the
 * scan (iocs_scanner_unit() then returns it). */
typedef int (*iocs_event_fn)(void *ctx, const struct iocs_event *ev);

struct iocs_scan_stats {
    uint64_t bytes;   /* new bytes scanned (rescanned overlap excluded) */
    uint64_t lines;   /* lines seen, a final unterminated one included */
    uint64_t matches; /* raw matches: Hyperscan's and the token index's */
    uint64_t events;  /* events handed to the callback */
    uint64_t splits;  /* scans split because the hit array filled */
    uint64_t lost;    /* hits dropped: a split could not go smaller */
};

struct iocs_scanner;
struct iocs_linestate;

/* Make the state of a line that spans units (one per run). Returns 0,
 * -EINVAL or -ENOMEM. */
int iocs_linestate_new(struct iocs_linestate **out, size_t max_line);

/* Release l. NULL is accepted and ignored. */
void iocs_linestate_free(struct iocs_linestate *l);

/*
 * Make a scanner over db (which must outlive it). Returns 0, -EINVAL (bad
 * opts) or -ENOMEM.
 */
int iocs_scanner_new(struct iocs_scanner **out, const struct iocs_db *db,
                     const struct iocs_scanner_opts *opts);

/* Release s. NULL is accepted and ignored. */
void iocs_scanner_free(struct iocs_scanner *s);

/*
 * Scan one unit of the source named path, whose first byte lies in line
 * number line0 (1 for a source's first unit; then the previous unit's line0
 * plus its *newlines), and hand each event to fn, in line order, and within
 * a line in order of the leftmost match. ls carries a line that the
 * previous unit left open into this one, and this unit's open last line
 * into the next (made with the same max_line). Sets *newlines to the number
 * of '\n' in the unit; a caller that counts them itself passes NULL (the
 * scanner's `lines` total then leaves this unit out). Returns 0, -EIO for a
 * Hyperscan failure, or what fn returned.
 */
int iocs_scanner_unit(struct iocs_scanner *s, const struct iocs_unit *u,
                      const char *path, uint64_t line0,
                      struct iocs_linestate *ls, iocs_event_fn fn, void *ctx,
                      uint64_t *newlines);

/* Totals since the scanner was made. */
void iocs_scanner_stats(const struct iocs_scanner *s,
                        struct iocs_scan_stats *out);

/* Count '\n' bytes in p[0..n), vectorised where the CPU allows. */
size_t iocs_count_newlines(const unsigned char *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_SCANNER_H */
