/*
 * decode.h - msgpack event stream -> JSON lines (`iocstream decode`).
 *
 * Reads a stream of msgpack objects (any shape, not only our events) and
 * writes one JSON object per line. The output is valid UTF-8 JSON for any
 * input bytes: strings are escaped per RFC 8259; control characters (NUL
 * included) become \u00XX; bytes of a str that are not valid UTF-8
 * (overlong forms, surrogates, past U+10FFFF, truncated sequences) become
 * U+FFFD, one per maximal subpart (utf8.h), exactly as the encoder writes
 * its str values, so `| jq` always works and the text is what the
 * encoder's JSON format prints. bin objects (event.original of `scan
 * --raw`) are written as strings the same way: their exact bytes are only
 * in the msgpack. Timestamp
 * extensions (type -1) become RFC 3339 strings in UTC with nanoseconds
 * ("2026-11-22T03:56:57.123456789Z"); other extensions become
 * {"ext": type, "data": "<hex>"} (so does a type -1 ext whose body is not
 * a valid timestamp). Map keys that are not strings are written as their
 * JSON text in a string ({1: 2} -> {"1":2}); such a key may take at most
 * 1 MiB as JSON. Integers are exact; floats are printed with the fewest
 * digits that read back to the same value (at most %.17g, %.9g for
 * float32), NaN and infinities as null. Arrays and maps may nest 32 deep
 * (msgpack-c's parse stack; an empty one counts as a level too); deeper
 * input is -EBADMSG, never a stack overflow. Counts in headers are checked
 * against the bytes present before anything is allocated for them.
 * Output is compact (no spaces), the same bytes as the encoder's
 * IOCS_FORMAT_JSON for our events. Assumes the "C" numeric locale.
 */
#ifndef IOCS_DECODE_H
#define IOCS_DECODE_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Decode everything readable from in_fd to out, one line per object.
 * Returns the number of objects written (>= 0), or a negative errno:
 * -EBADMSG when the stream is malformed or ends inside an object (errbuf
 * then names the byte offset; the objects before it are written), -ENOMEM,
 * or an errno from read/write. in_fd is read until end of file (a pipe is
 * fine; objects may span reads); an object is printed as soon as its last
 * byte has been read. out is flushed before returning.
 */
long iocs_decode_stream(int in_fd, FILE *out, char *errbuf, size_t errlen);

/*
 * iocs_decode_stream() for an event stream (`iocstream decode`): every
 * event is a msgpack map, so input whose first byte does not start a map
 * (JSON lines read as small integers, say) is refused before anything is
 * written: -ENOMSG, with errbuf "not a msgpack event stream (first byte
 * 0x7b '{'); JSON lines need no decode". Works on pipes too: the byte is
 * looked at in the decoder's own buffer, nothing is read twice. Empty
 * input is 0 events. Other returns as iocs_decode_stream().
 */
long iocs_decode_events(int in_fd, FILE *out, char *errbuf, size_t errlen);

/*
 * Decode exactly one msgpack object from buf[0..n) into a NUL-terminated
 * JSON text in out (cap bytes). Returns the JSON length, -EBADMSG when buf
 * does not hold exactly one object, or -E2BIG when out is too small. For
 * tests and the fuzz target.
 */
long iocs_decode_one(const char *buf, size_t n, char *out, size_t cap);

/*
 * Check, without allocating, whether p[0..n) starts with one whole,
 * well-formed msgpack object no deeper than decode accepts (see above), so
 * that msgpack_unpacker can be given it without allocating for counts the
 * bytes do not back. Returns 1 with *len its size, 0 when the bytes end
 * inside it (*len a lower bound of its size), or -EBADMSG with *len the
 * offset of the offending byte. For other readers of event streams
 * (summary.c).
 */
int iocs__msgpack_frame(const unsigned char *p, size_t n, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_DECODE_H */
