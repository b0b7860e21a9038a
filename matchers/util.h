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

/* The most iocs_read_file() reads: feeds, rule files and allowlists. */
#define IOCS_READ_MAX (UINT64_C(1) << 30) /* 1 GiB */

/*
 * Read the whole regular file at path into *out (malloc'd, NUL-terminated;
 * the NUL is not counted in *len), at most max bytes. The caller frees
 * *out. Only a regular file is read: a FIFO, device, socket or directory
 * is refused without blocking on it. Returns 0 or a negative errno, with
 * *out untouched:
 *   -EINVAL  not a regular file
 *   -EFBIG   larger than max (also one that grows past it while read)
 *   -ENOMEM, or what open(2)/read(2) return
 */
int iocs_read_file_max(const char *path, uint64_t max, char **out, size_t *len);

/* iocs_read_file_max() with max IOCS_READ_MAX. */
int iocs_read_file(const char *path, char **out, size_t *len);

/*
 * Whether path may be created or replaced by a file iocstream writes (a
 * database, a cache entry, a state file): it must not exist, or be a
 * regular file. A symbolic link, FIFO, device, socket or directory is
 * refused, so `compile -o /dev/null` never renames over a device. what
 * names the file in the message ("output", "cache file"). Returns 0, or
 * with errbuf saying why:
 *   -ELOOP   a symbolic link
 *   -EINVAL  not a regular file
 *   or what lstat(2) returns other than -ENOENT
 * The caller still writes a temporary file and renames it over path, which
 * replaces whatever appeared since rather than writing through it.
 */
int iocs_check_replace(const char *path, const char *what, char *errbuf,
                       size_t errlen);

/*
 * Write n bytes at p to path atomically: a temporary file path.XXXXXX in
 * the same directory (mode 0600 changed to mode), written, flushed, then
 * renamed over path after iocs_check_replace(). Returns 0 or a negative
 * errno (errbuf says what failed); on failure the temporary file is gone.
 */
int iocs_write_replace(const char *path, const void *p, size_t n, unsigned mode,
                       const char *what, char *errbuf, size_t errlen);

/* Write all n bytes at p to fd, retrying short writes and EINTR. Returns 0
 * or a negative errno from write(2). */
int iocs_write_all(int fd, const void *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_UTIL_H */
