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
 * Plain ASCII, the usual log, takes a fast path that tests 8 to 32 bytes
 * at a time; the validator only runs from the first byte >= 0x80 on.
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

/* Load 8 (4) bytes from p, any alignment. */
static inline uint64_t iocs__utf8_load64(const unsigned char *p)
{
    uint64_t x;

    memcpy(&x, p, 8);
    return x;
}

static inline uint32_t iocs__utf8_load32(const unsigned char *p)
{
    uint32_t x;

    memcpy(&x, p, 4);
    return x;
}

/* iocs__utf8_is_ascii() for n >= 16: whole words, 64 bytes at a time
 * with SSE2. */
int iocs__utf8_is_ascii_long(const void *s, size_t n);

/* Whether s[0..n) is all ASCII (< 0x80), so valid UTF-8 as it is. Short
 * strings, most of an event's, are two loads that may overlap: no loop. */
static inline int iocs__utf8_is_ascii(const void *s, size_t n)
{
    const unsigned char *p = s;
    unsigned acc = 0;

    if (n >= 16)
        return iocs__utf8_is_ascii_long(s, n);
    if (n >= 8)
        return !((iocs__utf8_load64(p) | iocs__utf8_load64(p + n - 8)) &
                 UINT64_C(0x8080808080808080));
    if (n >= 4)
        return !((iocs__utf8_load32(p) | iocs__utf8_load32(p + n - 4)) &
                 0x80808080u);
    for (size_t i = 0; i < n; i++) /* 0 to 3 bytes */
        acc |= p[i];
    return !(acc & 0x80);
}

/* Length of the leading run of ASCII bytes (< 0x80) of s[0..n). */
static inline size_t iocs__utf8_ascii(const void *s, size_t n)
{
    const unsigned char *p = s;
    size_t i = 0;

    for (; n - i >= 16; i += 16) {
        if ((iocs__utf8_load64(p + i) | iocs__utf8_load64(p + i + 8)) &
            UINT64_C(0x8080808080808080))
            break;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

/*
 * The sequence at s[0..n) (n >= 1): returns its length (1 to 4) when it
 * is well-formed UTF-8, or minus the length (-1 to -3) of its maximal
 * subpart when it is not: those bytes stand for one U+FFFD. Follows Table
 * 3-7 of the Unicode Standard (RFC 3629 section 4): the second byte's
 * range depends on the lead byte, which rules out overlong forms (E0
 * 80-9F, F0 80-8F), surrogates (ED A0-BF) and code points past U+10FFFF
 * (F4 90-BF); the first byte out of range ends the maximal subpart.
 * Inline: the JSON writer calls it for every non-ASCII character.
 */
static inline int iocs__utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    int len;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong below U+0800 */
        else if (c == 0xed)
            hi = 0x9f; /* UTF-16 surrogates U+D800-U+DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    } else {
        return -1; /* a continuation byte, C0, C1, F5-FF: never a lead */
    }
    /* Only the second byte has a range of its own; the rest are 80-BF. */
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n || s[i] < lo || s[i] > hi)
            return -i;
        lo = 0x80;
        hi = 0xbf;
    }
    return len;
}

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
