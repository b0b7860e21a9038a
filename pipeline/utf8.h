/*
 * utf8.h - UTF-8 validation and repair for every string an event carries
 * (../shared/DESIGN.md, "Events": strings are valid UTF-8).
 *
 * Log lines are bytes: any of them may be invalid UTF-8. Where a string
 * must be UTF-8 (a msgpack str, JSON text), each ill-formed part becomes
 * U+FFFD (EF BF BD), following the Unicode Standard's "U+FFFD
 * substitution of maximal subparts" (chapter 3.9, the practice of the
 * W3C/WHATWG Encoding Standard and of Python's errors="replace"): one
 * U+FFFD for each maximal subpart, that is the longest prefix of a
 * well-formed sequence that is followed by a byte that cannot continue it
 * (or by the end of the string), or else one byte. So "\xe2\x82" cut at
 * the end is one U+FFFD, "\xc0\xaf" (overlong) is two, "\xed\xa0\x80" (a
 * surrogate) is three, "\xf4\x90\x80\x80" (past U+10FFFF) is four, and
 * each of 80-BF, C0, C1, F5-FF alone is one. Well-formed sequences (RFC
 * 3629 section 4) pass through unchanged; NUL is a valid character here.
 *
 * Plain ASCII, the usual log, takes a fast path that tests 16 bytes at a
 * time; the validator only runs from the first byte >= 0x80 on.
 *
 * Nothing here allocates; all functions are thread-safe.
 */
#ifndef IOCS_UTF8_H
#define IOCS_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
#define IOCS__UTF8_REPL "\xef\xbf\xbd"
#define IOCS__UTF8_REPL_LEN 3

/* Length of the leading run of ASCII bytes (< 0x80) of s[0..n). */
static inline size_t iocs__utf8_ascii(const void *s, size_t n)
{
    const unsigned char *p = s;
    size_t i = 0;

    for (; n - i >= 16; i += 16) {
        uint64_t a, b;

        memcpy(&a, p + i, 8);
        memcpy(&b, p + i + 8, 8);
        if ((a | b) & UINT64_C(0x8080808080808080))
            break;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

/*
 * The sequence at s[0..n) (n >= 1): returns its length (1 to 4) when it
 * is well-formed UTF-8, or minus the length (-1 to -3) of its maximal
 * subpart when it is not: those bytes stand for one U+FFFD.
 */
int iocs__utf8_seq(const unsigned char *s, size_t n);

/* Bytes s[0..n) take once every ill-formed part is U+FFFD: n when s is
 * valid UTF-8, at most 3n. */
size_t iocs__utf8_fixed_len(const void *s, size_t n);

/* Write s[0..n) to dst with every ill-formed part as U+FFFD; dst has room
 * for iocs__utf8_fixed_len(s, n) bytes and does not overlap s. Returns
 * the bytes written (that length). */
size_t iocs__utf8_fix(void *dst, const void *s, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_UTF8_H */
