/*
 * util.h - small helpers every matchers/ module (and pipeline/) shares:
 * error text into a caller's buffer, FNV-1a, whole-file reads, whole
 * writes, and the callback through which loaders report rejected lines.
 *
 * Nothing here prints or keeps state; every function is thread-safe.
 * Errors are negative errno values, as everywhere in iocstream.
 */
#ifndef IOCS_UTIL_H
#define IOCS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Called once per rejected line of an input file (a feed, a rule file, an
 * allowlist): file as the caller named it, the 1-based line (0: the whole
 * file), and why. why is valid during the call only.
 */
typedef void (*iocs_reject_fn)(void *ctx, const char *file, size_t line,
                               const char *why);

/* Whether c is a blank inside a line: space, tab, CR, VT or FF. */
static inline bool iocs_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Format into errbuf (always NUL-terminated when errlen > 0), printf-style.
 * Used by config-time calls that explain what was wrong; errbuf may be
 * NULL. Returns err, so a caller can write
 * `return iocs_seterr(errbuf, errlen, -EINVAL, ...)`.
 */
int iocs_seterr(char *errbuf, size_t errlen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* FNV-1a, 64 bits: the offset basis, and one step over n bytes at p from
 * h. Names sets and buckets hash tables; not a security boundary. */
#define IOCS_FNV1A_BASIS UINT64_C(0xcbf29ce484222325)
uint64_t iocs_fnv1a(uint64_t h, const void *p, size_t n);

/* FNV-1a over n bytes at p from h, folded to 32 bits (hash table slots). */
uint32_t iocs_fnv1a32(uint64_t h, const void *p, size_t n);

/*
 * Read the whole file at path into *out (malloc'd, NUL-terminated; the
 * NUL is not counted in *len). The caller frees *out. Returns 0 or a
 * negative errno from open/read (-ENOMEM), with *out untouched.
 */
int iocs_read_file(const char *path, char **out, size_t *len);

/* Write all n bytes at p to fd, retrying short writes and EINTR. Returns 0
 * or a negative errno from write(2). */
int iocs_write_all(int fd, const void *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_UTIL_H */
