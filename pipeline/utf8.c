/*
 * utf8.c - UTF-8 validation with U+FFFD for ill-formed parts (see utf8.h).
 * The validator itself, iocs__utf8_seq(), is inline in utf8.h.
 */
#include "pipeline/utf8.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

int iocs__utf8_is_ascii_long(const void *s, size_t n)
{
    const unsigned char *p = s;
    const uint64_t high = UINT64_C(0x8080808080808080);
    uint64_t acc = 0;
    size_t i = 0;

#ifdef __SSE2__
    /* 64 bytes per test: a long log line is mostly this loop. */
    for (; n - i >= 64; i += 64) {
        const __m128i *q = (const __m128i *)(const void *)(p + i);
        __m128i v = _mm_or_si128(
            _mm_or_si128(_mm_loadu_si128(q), _mm_loadu_si128(q + 1)),
            _mm_or_si128(_mm_loadu_si128(q + 2), _mm_loadu_si128(q + 3)));

        if (_mm_movemask_epi8(v))
            return 0;
    }
#endif
    for (; n - i >= 32; i += 32) {
        acc = iocs__utf8_load64(p + i) | iocs__utf8_load64(p + i + 8) |
              iocs__utf8_load64(p + i + 16) | iocs__utf8_load64(p + i + 24);
        if (acc & high)
            return 0;
    }
    for (; n - i >= 8; i += 8)
        acc |= iocs__utf8_load64(p + i);
    acc |= iocs__utf8_load64(p + n - 8);
    return !(acc & high);
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
    const uint64_t high = UINT64_C(0x8080808080808080);
    const unsigned char *s = str;
    unsigned char *d = dst;
    size_t i = 0, o = 0;

    /* Copied as it is checked, with no call per run: a line with many bad
     * bytes stays a single pass. Whole words are stored while they are
     * ASCII; that fits, because what is left of s never writes fewer bytes
     * than it has (o + n - i <= the fixed length). */
    while (i < n) {
        unsigned char c;
        int k;

        if (n - i >= 8) {
            uint64_t x = iocs__utf8_load64(s + i), h = x & high;
            size_t a;

            memcpy(d + o, &x, 8);
            if (!h) {
                i += 8;
                o += 8;
                continue;
            }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            /* Keep the ASCII bytes before the first high one (the lowest
             * set bit: memory order) and go on from that byte. */
            a = (size_t)__builtin_ctzll(h) / 8;
#else
            a = 0;
#endif
            i += a;
            o += a;
        }
        c = s[i];
        if (c < 0x80) {
            d[o++] = c;
            i++;
            continue;
        }
        k = iocs__utf8_seq(s + i, n - i);
        if (k > 0) {
            for (int j = 0; j < k; j++)
                d[o++] = s[i++];
        } else {
            memcpy(d + o, IOCS__UTF8_REPL, IOCS__UTF8_REPL_LEN);
            o += IOCS__UTF8_REPL_LEN;
            i += (size_t)-k;
        }
    }
    return o;
}
