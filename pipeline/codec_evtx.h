/*
 * codec_evtx.h - a Windows event log (.evtx) read as its records, each
 * rendered as one line of JSON that the scanner matches like any log line.
 *
 * Beside the stream codecs of codec.h (IOCS_CODEC_EVTX): an .evtx file is
 * not a byte stream but 64 KiB chunks of binary XML, so a worker takes the
 * whole file as one job and scans the lines this reader hands out. A file is
 * an .evtx by its magic ("ElfFile\0" at offset 0), whatever its name.
 *
 * Each record (libevtx decodes the binary XML) becomes one line, shaped as
 * evtx_dump and Winlogbeat shape it:
 *
 *   {"Event":{"System":{"Provider":{"Name":"...","Guid":"..."},
 *    "EventID":4624,...,"TimeCreated":{"SystemTime":"..."},
 *    "EventRecordID":12,...,"Channel":"Security","Computer":"..."},
 *    "EventData":{"SubjectUserName":"...",...}}}
 *
 * - An element with only text is a string; an empty one without
 *   attributes is null. Attributes are members of the element's object; its
 *   text beside attributes or children is "#text". Repeated children with
 *   the same name are one array, in order. xmlns attributes are dropped.
 * - <Data Name="N">v</Data> is "N":"v" ("" when empty); a <Data> without Name
 * is "param1", "param2"... in order (Winlogbeat's names). EventData and
 *   UserData values are always strings, as Windows wrote them.
 * - Under System, EventID, Version, Level, Task, Opcode, EventRecordID and
 *   the attributes ProcessID, ThreadID and Qualifiers are JSON numbers
 *   when they are plain decimal; everything else is a string.
 * - Strings are JSON-escaped (a path C:\Windows\x.exe is written
 *   C:\\Windows\\x.exe, a newline inside a value is \n) and valid UTF-8
 *   (a byte that is not is written \ufffd), so a line never holds a raw
 *   newline.
 * - A record whose XML this reader cannot parse (it never happened on real
 *   files) is still handed out: {"Event":{"System":{...what libevtx says
 *   ...},"xml":"<the XML, escaped>"}}, so nothing in it escapes the scan.
 *
 * Records come in file order: first the records libevtx reads from the
 * chunks (its "items"), then the ones it recovers (from a damaged chunk or
 * the slack of a chunk; recovered is set). Damage never stops the reader:
 * every record that can be read is handed out, and each damaged chunk
 * (bad signature, header or record data checksum that does not match, cut
 * short) and each record that libevtx cannot decode is reported once
 * through the warning callback.
 *
 * Memory: libevtx keeps the file's chunk index and decodes one record at a
 * time; the line, the XML and the parse tree are buffers of the reader,
 * reused from record to record, each with a hard cap (IOCS_EVTX_XML_MAX): a
 * record over it is skipped with a warning.
 *
 * Thread safety: one reader per thread; readers share nothing.
 */
#ifndef IOCS_CODEC_EVTX_H
#define IOCS_CODEC_EVTX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The magic of an .evtx file header, 8 bytes with its NUL. */
#define IOCS_EVTX_MAGIC "ElfFile"
#define IOCS_EVTX_MAGIC_LEN 8

/* The largest record XML (UTF-8) rendered; a bigger one is skipped. */
#define IOCS_EVTX_XML_MAX (4u << 20)

/* Whether the first n bytes of a file p hold the .evtx magic. */
int iocs_evtx_is_evtx(const unsigned char *p, size_t n);

/*
 * Called for each damaged part of the file, as it is found: chunk is the
 * 0-based number of the 64 KiB chunk (chunk 0 starts at byte 4096), or -1
 * for the file header or the file as a whole; msg is one line without a
 * newline, valid only during the call. The caller prints it, e.g. as
 * "path: chunk 3: record data checksum mismatch". It must not call back
 * into the reader.
 */
typedef void (*iocs_evtx_warn_fn)(void *ctx, int64_t chunk, const char *msg);

/* One record, as iocs_evtx_next() hands it out. Every pointer is owned by
 * the reader and valid until the next call to iocs_evtx_next() or
 * iocs_evtx_free(). */
struct iocs_evtx_record {
    const char *line;    /* the rendered JSON, no newline, NUL after it */
    size_t len;          /* bytes of line, without the NUL */
    uint64_t record_id;  /* EventRecordID (libevtx's record number when the
                            XML has none) */
    uint64_t ordinal;    /* 1-based position of the record in this file, as
                            handed out (recovered records follow the others) */
    uint64_t offset;     /* byte offset of the record header in the file */
    int64_t chunk;       /* 0-based chunk that holds it, -1 if unknown */
    uint32_t event_id;   /* System/EventID (0 when absent) */
    const char *channel; /* System/Channel, "" when absent */
    const char *provider_name;    /* System/Provider@Name, "" when absent */
    const char *computer_name;    /* System/Computer, "" when absent */
    struct timespec time_created; /* System/TimeCreated@SystemTime, UTC;
                                     else the record's written time */
    int has_time;                 /* 0 when neither exists */
    int recovered;                /* 1 for a record libevtx recovered */
};

/* What a reader has done so far. */
struct iocs_evtx_stats {
    uint64_t records;   /* handed out, recovered ones included */
    uint64_t recovered; /* of which recovered */
    uint64_t skipped;   /* records libevtx could not decode, or too big */
    uint64_t warnings;  /* calls to the warning callback */
};

struct iocs_evtx;

/*
 * Open the .evtx file at path into a new reader stored in *out; the caller
 * owns it and releases it with iocs_evtx_free(). warn (may be NULL) gets
 * ctx and each warning; the damage in chunk headers and checksums is
 * reported here, before the first record. An fd is read through its path
 * /proc/self/fd/N (libevtx opens files by name only). Returns 0, or a
 * negative errno with *out untouched and errbuf (may be NULL) saying why:
 *   -ENOENT, -EACCES, ...  the file could not be opened
 *   -EINVAL   not an .evtx file (no magic)
 *   -EBADMSG  libevtx could not read it at all (file header damaged)
 *   -ENOMEM   out of memory
 */
int iocs_evtx_open(struct iocs_evtx **out, const char *path,
                   iocs_evtx_warn_fn warn, void *ctx, char *errbuf,
                   size_t errlen);

/*
 * The next record into *rec. Returns 1 with a record, 0 at the end (and
 * from then on), or -ENOMEM; a record that cannot be decoded is skipped,
 * counted and warned about, never an error. *rec is written only when 1 is
 * returned.
 */
int iocs_evtx_next(struct iocs_evtx *r, struct iocs_evtx_record *rec);

/* Counts so far into *st. */
void iocs_evtx_get_stats(const struct iocs_evtx *r, struct iocs_evtx_stats *st);

/* Close the file and release r. NULL is accepted and ignored. */
void iocs_evtx_free(struct iocs_evtx *r);

/*
 * Render the restricted XML that libevtx writes for one record, xml[0..len)
 * (changed in place: entities are decoded where they stand), as the JSON
 * line above, into the reader's line buffer; *line and *len are set.
 * The XML ends at its first NUL byte, if any, as libevtx's C string does.
 * Exposed for the fuzzer and the tests. Returns 0, -EBADMSG (not XML this
 * renderer accepts), -E2BIG (over a cap) or -ENOMEM.
 */
int iocs__evtx_render(struct iocs_evtx *r, char *xml, size_t len,
                      const char **line, size_t *line_len);

/* A reader with no file, for iocs__evtx_render() alone (fuzzer, tests). */
int iocs__evtx_new_renderer(struct iocs_evtx **out);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_CODEC_EVTX_H */
