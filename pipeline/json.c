/*
 * json.c - the JSON text writer behind encode.c and decode.c (see json.h).
 *
 * Hot path for --format json: every event goes through iocs__json_str()
 * and iocs__json_u64(), so both avoid stdio and run over plain ASCII in
 * one tight loop. The buffer only grows when an owned one is too small;
 * after that, writing is memcpy into memory that is already there.
 */
#include "pipeline/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/utf8.h"

static const char hex[] = "0123456789abcdef";

int iocs__jbuf_init(struct iocs__jbuf *b, size_t cap, size_t max)
{
    memset(b, 0, sizeof(*b));
    if (cap == 0 || cap > max)
        return -EINVAL;
    b->p = malloc(cap);
    if (!b->p)
        return -ENOMEM;
    b->cap = cap;
    b->max = max;
    b->owned = true;
    return 0;
}

void iocs__jbuf_init_fixed(struct iocs__jbuf *b, char *p, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->p = p;
    b->cap = cap;
    b->max = cap;
}

void iocs__jbuf_fini(struct iocs__jbuf *b)
{
    if (b->owned)
        free(b->p);
    memset(b, 0, sizeof(*b));
}

int iocs__jbuf_spill(struct iocs__jbuf *b)
{
    int err;

    if (b->err || !b->spill || b->len == 0)
        return b->err;
    err = b->spill(b->spill_ctx, b->p, b->len);
    if (err) {
        b->err = err;
        return err;
    }
    b->len = 0;
    return 0;
}

int iocs__jbuf_reserve(struct iocs__jbuf *b, size_t n)
{
    size_t need, cap;
    char *p;

    if (b->err)
        return b->err;
    if (n <= b->cap - b->len)
        return 0;
    if (b->spill && iocs__jbuf_spill(b))
        return b->err;
    if (n <= b->cap - b->len)
        return 0;
    if (!b->owned || n > b->max - b->len) {
        b->err = -ENOBUFS;
        return b->err;
    }
    need = b->len + n;
    cap = b->cap;
    while (cap < need)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    p = realloc(b->p, cap);
    if (!p) {
        b->err = -ENOMEM;
        return b->err;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void iocs__jbuf_put_slow(struct iocs__jbuf *b, const void *s, size_t n)
{
    if (b->err || n == 0)
        return;
    if (n > b->cap - b->len) {
        /* Too big to ever buffer: pass it straight to the spill callback
         * after what is already queued, so the order is kept. */
        if (b->spill && n > b->cap) {
            int err;

            if (iocs__jbuf_spill(b))
                return;
            err = b->spill(b->spill_ctx, s, n);
            if (err)
                b->err = err;
            return;
        }
        if (iocs__jbuf_reserve(b, n))
            return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* Write the escape sequence for one byte that may not appear raw. */
static void put_escape(struct iocs__jbuf *b, unsigned char c)
{
    char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

    switch (c) {
    case '"':
        IOCS__JBUF_LIT(b, "\\\"");
        return;
    case '\\':
        IOCS__JBUF_LIT(b, "\\\\");
        return;
    case '\b':
        IOCS__JBUF_LIT(b, "\\b");
        return;
    case '\f':
        IOCS__JBUF_LIT(b, "\\f");
        return;
    case '\n':
        IOCS__JBUF_LIT(b, "\\n");
        return;
    case '\r':
        IOCS__JBUF_LIT(b, "\\r");
        return;
    case '\t':
        IOCS__JBUF_LIT(b, "\\t");
        return;
    default:
        iocs__jbuf_put(b, e, sizeof(e));
        return;
    }
}

/* Whether any of the 8 bytes in x needs more than a copy: a control
 * character, '"', '\\', DEL or a byte >= 0x80 (then the validator looks).
 * Hacker's Delight 6-1's "has a zero byte" and "has a byte below n" tests
 * (x ^ c has a zero byte where x has c): exact in whether such a byte is
 * there, which is all that is asked. */
static inline bool needs_care(uint64_t x)
{
    const uint64_t ones = UINT64_C(0x0101010101010101);
    const uint64_t high = UINT64_C(0x8080808080808080);
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\'),
             del = x ^ (ones * 0x7f);

    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs) |
            ((del - ones) & ~del) | x) &
           high;
}

void iocs__json_str(struct iocs__jbuf *b, const void *str, size_t n)
{
    const unsigned char *s = str;
    size_t i = 0, run = 0;

    IOCS__JBUF_LIT(b, "\"");
    while (i < n) {
        size_t end;

        /* Plain text, 8 bytes at a time. */
        if (n - i >= 8 && !needs_care(iocs__utf8_load64(s + i))) {
            i += 8;
            continue;
        }
        /* Something in the next 8 bytes: look at them one by one, without
         * testing words again (escape-heavy text stays as fast as it was). */
        end = n - i >= 8 ? i + 8 : n;
        while (i < end) {
            unsigned char c = s[i];
            int k;

            if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
                i++;
                continue;
            }
            if (c >= 0x80) {
                k = iocs__utf8_seq(s + i, n - i);
                if (k > 0) {
                    i += (size_t)k;
                    continue;
                }
                /* An ill-formed part: one U+FFFD for it (utf8.h). */
                iocs__jbuf_put(b, s + run, i - run);
                iocs__jbuf_put(b, IOCS__UTF8_REPL, IOCS__UTF8_REPL_LEN);
                i += (size_t)-k;
                run = i;
                continue;
            }
            /* Copy the clean run before this byte in one go, then escape
             * it. */
            iocs__jbuf_put(b, s + run, i - run);
            put_escape(b, c);
            run = ++i;
        }
    }
    if (i > run) /* s may be NULL for an empty msgpack str */
        iocs__jbuf_put(b, s + run, i - run);
    IOCS__JBUF_LIT(b, "\"");
}

void iocs__json_cstr(struct iocs__jbuf *b, const char *s)
{
    iocs__json_str(b, s, strlen(s));
}

/* Decimal digits of v, right-aligned in d[20]; returns where they start. */
static char *u64_digits(char d[20], uint64_t v)
{
    char *p = d + 20;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

void iocs__json_u64(struct iocs__jbuf *b, uint64_t v)
{
    char d[20];
    char *p = u64_digits(d, v);

    iocs__jbuf_put(b, p, (size_t)(d + 20 - p));
}

void iocs__json_i64(struct iocs__jbuf *b, int64_t v)
{
    if (v < 0) {
        IOCS__JBUF_LIT(b, "-");
        /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
        iocs__json_u64(b, 0 - (uint64_t)v);
        return;
    }
    iocs__json_u64(b, (uint64_t)v);
}

void iocs__json_double(struct iocs__jbuf *b, double v, bool is_float32)
{
    char d[40];
    int n = 0;

    if (!isfinite(v)) {
        IOCS__JBUF_LIT(b, "null");
        return;
    }
    /* The shortest of %.15g..%.17g (%.6g..%.9g for a float32) that reads
     * back to the same value: 0.1 stays "0.1", and %.17g (%.9g) always
     * round-trips, so the loop ends with an exact text. */
    for (int prec = is_float32 ? 6 : 15; prec <= (is_float32 ? 9 : 17);
         prec++) {
        double back;

        n = snprintf(d, sizeof(d), "%.*g", prec, v);
        if (n < 0 || (size_t)n >= sizeof(d)) {
            b->err = b->err ? b->err : -EINVAL;
            return;
        }
        back = strtod(d, NULL);
        if (is_float32 ? (float)back == (float)v : back == v)
            break;
    }
    iocs__jbuf_put(b, d, (size_t)n);
}

/* Two decimal digits of v (0..99) at p. */
static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void iocs__json_time(struct iocs__jbuf *b, int64_t sec, uint32_t nsec)
{
    int64_t days = sec / 86400, sod = sec % 86400, z, era, y;
    int64_t doe, yoe, doy, mp;
    unsigned m, d;
    char t[64], *p;
    int n;

    if (sod < 0) {
        sod += 86400;
        days--;
    }
    /* Days since 1970-01-01 to a proleptic Gregorian date, after Howard
     * Hinnant's civil_from_days(): exact for every int64 day count here. */
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    y = yoe + era * 400 + (m <= 2);

    t[0] = '"';
    if (y >= 0 && y <= 9999) {
        put2(t + 1, (unsigned)(y / 100));
        put2(t + 3, (unsigned)(y % 100));
        n = 5;
    } else {
        n = 1 + snprintf(t + 1, 24, "%+05" PRId64, y);
    }
    p = t + n;
    p[0] = '-';
    put2(p + 1, m);
    p[3] = '-';
    put2(p + 4, d);
    p[6] = 'T';
    put2(p + 7, (unsigned)(sod / 3600));
    p[9] = ':';
    put2(p + 10, (unsigned)(sod / 60 % 60));
    p[12] = ':';
    put2(p + 13, (unsigned)(sod % 60));
    p[15] = '.';
    for (int i = 24; i >= 16; i--) {
        p[i] = (char)('0' + nsec % 10);
        nsec /= 10;
    }
    p[25] = 'Z';
    p[26] = '"';
    iocs__jbuf_put(b, t, (size_t)n + 27);
}
