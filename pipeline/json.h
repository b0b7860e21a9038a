/*
 * json.h - internal JSON text writer shared by encode.c (--format json) and
 * decode.c (`iocstream decode`), so both print byte for byte the same text.
 *
 * Text goes into a struct iocs__jbuf: a buffer that is either fixed (the
 * caller's memory), growable up to a hard cap, or spilled to a callback
 * whenever it fills. Writers do not return errors one by one: the first
 * failure is kept in b->err (sticky, like ferror()) and every later write
 * is a no-op, so a caller checks b->err once after a whole object. Nothing
 * here allocates except growing an owned buffer.
 *
 * Strings are escaped per RFC 8259 so the output is valid UTF-8 JSON for
 * any input bytes: '"' and '\\' are escaped, control characters (NUL
 * included) and DEL become \b \f \n \r \t or \u00XX, bytes that are not
 * valid UTF-8 (overlong forms, surrogates, code points over U+10FFFF,
 * truncated sequences) become U+FFFD, written as its three UTF-8 bytes, one
 * per maximal subpart (utf8.h), as the msgpack encoder writes them, and
 * valid UTF-8 passes through unchanged. Plain text is checked 8 bytes at a
 * time.
 *
 * Not thread-safe: one iocs__jbuf per thread.
 */
#ifndef IOCS_JSON_H
#define IOCS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Called with everything buffered when the buffer is full; returns 0 or a
 * negative errno (kept in err). */
typedef int (*iocs__jbuf_spill_fn)(void *ctx, const char *p, size_t n);

struct iocs__jbuf {
    char *p;
    size_t len;
    size_t cap;
    size_t max; /* growth limit; owned buffers only */
    bool owned; /* p is ours: grown with realloc, freed in fini */
    iocs__jbuf_spill_fn spill; /* or NULL */
    void *spill_ctx;
    int err; /* first error: -ENOBUFS past max, -ENOMEM, or spill's */
};

/* Start an owned buffer of cap bytes that may grow to max. Returns 0,
 * -EINVAL (cap > max or cap == 0) or -ENOMEM. */
int iocs__jbuf_init(struct iocs__jbuf *b, size_t cap, size_t max);

/* Use the caller's memory p[0..cap) as a fixed buffer: writing past it
 * sets -ENOBUFS. */
void iocs__jbuf_init_fixed(struct iocs__jbuf *b, char *p, size_t cap);

/* Release an owned buffer. Safe on a zeroed or fixed struct. */
void iocs__jbuf_fini(struct iocs__jbuf *b);

/* Make room for n more bytes (spill, then grow). Returns 0 or b->err. */
int iocs__jbuf_reserve(struct iocs__jbuf *b, size_t n);

/* Hand everything buffered to the spill callback (when there is one).
 * Returns 0 or b->err. */
int iocs__jbuf_spill(struct iocs__jbuf *b);

/* Append n raw bytes: the slow path (spill, grow, errors) of
 * iocs__jbuf_put(). */
void iocs__jbuf_put_slow(struct iocs__jbuf *b, const void *s, size_t n);

/* Append n raw bytes. Inline because the JSON encoder calls it for
 * every key and value: the common case is one bounds check and memcpy. */
static inline void iocs__jbuf_put(struct iocs__jbuf *b, const void *s, size_t n)
{
    if (n <= b->cap - b->len && !b->err && n > 0) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        return;
    }
    iocs__jbuf_put_slow(b, s, n);
}

/* Append a string literal without counting it by hand. */
#define IOCS__JBUF_LIT(b, lit) iocs__jbuf_put((b), (lit), sizeof(lit) - 1)

/* Append s[0..n) as a quoted, escaped JSON string (see the file comment). */
void iocs__json_str(struct iocs__jbuf *b, const void *s, size_t n);

/* Append a NUL-terminated C string as a quoted, escaped JSON string. */
void iocs__json_cstr(struct iocs__jbuf *b, const char *s);

/* Append an integer in decimal. */
void iocs__json_u64(struct iocs__jbuf *b, uint64_t v);
void iocs__json_i64(struct iocs__jbuf *b, int64_t v);

/* Append a double so that it reads back to the same value (%.17g; %.9g
 * for a value that came from a float32 when is_float32); NaN and
 * infinities, which JSON cannot hold, become null. Assumes the "C"
 * locale (a '.' decimal point). */
void iocs__json_double(struct iocs__jbuf *b, double v, bool is_float32);

/*
 * Append a quoted RFC 3339 timestamp in UTC with nanoseconds,
 * "2026-11-22T03:56:57.123456789Z". sec may be any int64 (before 1970
 * too); years outside 0000-9999 are written in ISO 8601 expanded form
 * ("+12345-..." or "-0001-..."). nsec must be below 1000000000.
 */
void iocs__json_time(struct iocs__jbuf *b, int64_t sec, uint32_t nsec);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_JSON_H */
