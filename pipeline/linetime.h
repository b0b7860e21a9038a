/*
 * linetime.h - a log line's own time and host.name, read from the line
 * itself (DESIGN.md, "A line's own time and host").
 *
 * The first timestamp in the line is the line's time. Forms: RFC 3164
 * (`Dec  5 03:14:15`, optional `<PRI>` first, no year), RFC 5424 / ISO
 * 8601 (`2024-12-05T03:14:15.123456+01:00`, `T` or a space, a fraction of
 * 1-9 digits after `.` or `,`, `Z`, `+hh:mm`, `+hhmm`, `+hh` or nothing;
 * also `2024/12/05 03:14:15` as Go's log, xrdp and PAN-OS write it),
 * Apache/CLF (`[05/Dec/2024:03:14:15 -0500]`), Cisco (`Dec 05 2024
 * 03:14:15[.mmm]`), ctime as Apache's error log writes it (`Dec 04
 * 04:47:44 2005`), auditd (`audit(1733368455.123:456)`) and FortiGate
 * (`date=2024-12-05 time=03:14:15`, with the zone of a later `tz=`).
 * A time without a zone is in the zone given by --tz (UTC by default).
 *
 * RFC 3164 has no year: it is the latest year that puts the time no more
 * than one day after the reference time (the file's modification time;
 * for stdin, the current time).
 *
 * host.name comes from a syslog header at the start of the line: RFC 3164
 * (`[<PRI>]Mmm dd hh:mm:ss HOST TAG...`, also with the Cisco year), RFC
 * 5424 (`<PRI>1 TIMESTAMP HOST APP ...`, `-` is no host) and rsyslog's
 * high-precision file format (`2024-12-05T03:14:15.123+01:00 HOST tag:`).
 * In a 3164 header, a token that ends with `:` or holds `[` is the tag of
 * a header without host, not a host.
 *
 * Thread safety: iocs_linetime_parse() and iocs_linetime_parse_arg() read
 * only their arguments (and, for an IANA zone, the C library's zone data
 * through localtime_r()): any number of workers may call them at once.
 * iocs_linetime_zone_init() sets the process's TZ and must run at startup,
 * before the workers start. Nothing here allocates.
 */
#ifndef IOCS_LINETIME_H
#define IOCS_LINETIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

enum iocs_linetime_zone_kind {
    IOCS_LINETIME_UTC = 0,
    IOCS_LINETIME_FIXED, /* a fixed offset: "+05:30", "-0800" */
    IOCS_LINETIME_LOCAL, /* an IANA zone, through TZ and localtime_r() */
};

/* The zone of times that carry none (--tz). Zeroed, it is UTC. */
struct iocs_linetime_zone {
    enum iocs_linetime_zone_kind kind;
    int32_t offset; /* seconds east of UTC, for IOCS_LINETIME_FIXED */
};

/*
 * Parse --tz ZONE into *z: "UTC" (or "Z", "GMT", ""), a fixed offset
 * ("+05:30", "-0800", "+05") or an IANA name ("Europe/Paris"). An IANA
 * name must exist under $TZDIR or /usr/share/zoneinfo; it then becomes
 * the process's TZ (setenv + tzset), which is why this is a startup call,
 * made before any thread starts: local times are then resolved with
 * localtime_r(), which is thread-safe while nobody changes TZ. Returns 0,
 * or -EINVAL (unknown zone) with *z untouched.
 */
int iocs_linetime_zone_init(struct iocs_linetime_zone *z, const char *zone);

/* What a worker passes for each source: read-only, shareable. */
struct iocs_linetime_ctx {
    struct iocs_linetime_zone zone;
    time_t ref; /* the file's mtime (stdin: the time of the scan's start) */
};

/* What iocs_linetime_parse() found in one line. */
struct iocs_linetime {
    struct timespec ts; /* UTC; valid when has_time */
    int has_time;
    const char *host; /* into the line; NULL when the line names none */
    size_t host_len;
};

/*
 * Find the first timestamp of line[0..len) and the syslog header's host.
 * Returns 1 when the line has a time, 0 when it has none (out->host may
 * still be set: an RFC 5424 header with a nil timestamp). Never fails;
 * invalid dates (Feb 30, hour 25) are not timestamps. No allocation.
 */
int iocs_linetime_parse(const struct iocs_linetime_ctx *ctx, const char *line,
                        size_t len, struct iocs_linetime *out);

/*
 * Parse a --since/--until argument (NUL-terminated): RFC 3339 (`T` or a
 * space; without a zone it is in zone z), or a date `2024-12-01`, meaning
 * its midnight in zone z. The whole string must be the time. Returns 0
 * with *out set, or -EINVAL with *out untouched.
 */
int iocs_linetime_parse_arg(const struct iocs_linetime_zone *z, const char *s,
                            struct timespec *out);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_LINETIME_H */
