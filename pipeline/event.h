/*
 * event.h - the one event struct every output sees: one hit of one IOC in
 * one line, as the scanner reports it and the encoders (encode.h) write it.
 *
 * Sits between the scanner (which fills it, on its own stack, once per
 * (line, IOC)) and encode.h (which turns it into bytes for a sink). An
 * event borrows everything it points at: the pointers are valid during the
 * callback that receives it only, so nothing is copied or allocated per
 * event. A field added here is written by adding one row to the ECS table
 * in encode.c; no other output changes.
 *
 * @timestamp is the line's own time when it has one (linetime.h; then
 * line_time is set and "iocstream.time" is "line"), else the scan time
 * ("none"); created is always the scan time. host is the line's syslog
 * header's host, when it names one.
 *
 * Planned fields, added with the code that fills them (DESIGN.md,
 * "Events" and "A line's own time and host"):
 *   winlog.*              fields of a Windows event log record
 * threat.indicator.port (an `a.b.c.d:port` IOC) and matched.id's rule id
 * come from the IOC's records (iocs_ioc.port, .rule_id), not from here.
 * event.id is not a field either: the encoder makes it (eventid.h) from
 * source_id, offset and the IOC, once per event.
 */
#ifndef IOCS_EVENT_H
#define IOCS_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "matchers/ioc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ECS winlog.* fields of a Windows event log record (codec_evtx.h).
 * Strings are not NUL-terminated; a length 0 leaves the field out. */
struct iocs_winlog {
    uint64_t record_id;  /* winlog.record_id: EventRecordID */
    uint32_t event_id;   /* winlog.event_id (written as a string, as
                            Winlogbeat writes it) */
    const char *channel; /* winlog.channel */
    size_t channel_len;
    const char *provider; /* winlog.provider_name */
    size_t provider_len;
    const char *computer; /* winlog.computer_name */
    size_t computer_len;
};

/* One hit of one IOC in one line. Pointers are valid during the call. */
struct iocs_event {
    const struct iocs_ioc *ioc;
    uint32_t ioc_id;               /* index in the IOC set */
    const char *path;              /* source name; "-" for stdin */
    size_t path_len;               /* strlen(path), or 0: the encoder
                                      measures it (set it once per source
                                      to spare a strlen per event) */
    uint64_t offset;               /* byte offset of the line start */
    uint64_t line;                 /* 1-based line number */
    const unsigned char *original; /* the line, cut to --max-line */
    size_t original_len;
    uint64_t line_len;           /* full line length ('\r\n' excluded) */
    const unsigned char *atomic; /* leftmost valid match, as in the log */
    size_t atomic_len;
    uint64_t start, end;       /* atomic's byte range in the line */
    uint32_t count;            /* valid occurrences in the line */
    struct timespec timestamp; /* @timestamp: the line's time, else created */
    struct timespec created;   /* scan time */
    uint64_t source_id;        /* the source's key for event.id
                                  (iocs_eventid_source(); the unit's) */
    bool line_time;            /* timestamp is the line's own */
    const char *host;          /* host.name (one field for every input:
                                  a line's header, an .evtx Computer), or
                                  NULL: not written */
    size_t host_len;
    const struct iocs_winlog *winlog; /* the .evtx record the line renders,
                                         or NULL: no winlog.* fields */
};

/* How events are written: the user's --format (or the output's name). */
enum iocs_format {
    IOCS_FORMAT_MSGPACK,
    IOCS_FORMAT_JSON,
};

#ifdef __cplusplus
}
#endif

#endif /* IOCS_EVENT_H */
