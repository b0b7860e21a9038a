/*
 * utf8.c - UTF-8 validation with U+FFFD for ill-formed parts (see utf8.h).
 *
 * The validator follows Table 3-7 of the Unicode Standard (the ranges of
 * RFC 3629 section 4): the second byte's range depends on the lead byte,
 * which rules out overlong forms (E0 80-9F, F0 80-8F), surrogates (ED
 * A0-BF) and code points past U+10FFFF (F4 90-BF). The first byte out of
 * range ends the maximal subpart before it.
 */
#include "pipeline/utf8.h"

int iocs__utf8_seq(const unsigned char *s, size_t n)
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

size_t iocs__utf8_fixed_len(const void *str, size_t n)
{
    const unsigned char *s = str;
    size_t i = iocs__utf8_ascii(s, n), out = i;

    while (i < n) {
        int k;

        if (s[i] < 0x80) {
            size_t a = iocs__utf8_ascii(s + i, n - i);

            i += a;
            out += a;
            continue;
        }
        k = iocs__utf8_seq(s + i, n - i);
        if (k > 0) {
            i += (size_t)k;
            out += (size_t)k;
        } else {
            i += (size_t)-k;
            out += IOCS__UTF8_REPL_LEN;
        }
    }
    return out;
}

size_t iocs__utf8_fix(void *dst, const void *str, size_t n)
{
    const unsigned char *s = str;
    unsigned char *d = dst;
    size_t i = 0, run = 0, out = 0;

    /* Valid stretches are copied whole, once an ill-formed part (or the
     * end) closes them. */
    while (i < n) {
        int k;

        if (s[i] < 0x80) {
            i += iocs__utf8_ascii(s + i, n - i);
            continue;
        }
        k = iocs__utf8_seq(s + i, n - i);
        if (k > 0) {
            i += (size_t)k;
            continue;
        }
        memcpy(d + out, s + run, i - run);
        out += i - run;
        memcpy(d + out, IOCS__UTF8_REPL, IOCS__UTF8_REPL_LEN);
        out += IOCS__UTF8_REPL_LEN;
        i += (size_t)-k;
        run = i;
    }
    if (i > run)
        memcpy(d + out, s + run, i - run);
    return out + (i - run);
}
