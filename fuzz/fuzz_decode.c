/*
 * fuzz_decode.c - libFuzzer target for pipeline/decode.h.
 *
 * Any bytes go to iocs_decode_one() and, through a pipe, to
 * iocs_decode_stream(). Whatever they print must be strict RFC 8259 JSON
 * in valid UTF-8 (checked by the small validator below, written apart
 * from json.c so it does not share its bugs) with \u escapes only for
 * control characters and DEL (invalid bytes are U+FFFD), and the two
 * entry points must agree when the input is exactly one object.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct cur {
    const unsigned char *p;
    const unsigned char *end;
};

static bool value(struct cur *c, int depth);

static void ws(struct cur *c)
{
    while (c->p < c->end &&
           (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool lit(struct cur *c, const char *s)
{
    size_t n = strlen(s);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return false;
    c->p += n;
    return true;
}

static bool is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_hex(int ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static bool digits(struct cur *c)
{
    const unsigned char *s = c->p;

    while (c->p < c->end && is_digit(*c->p))
        c->p++;
    return c->p > s;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number(struct cur *c)
{
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p >= c->end)
        return false;
    if (*c->p == '0')
        c->p++;
    else if (!digits(c))
        return false;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!digits(c))
            return false;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (!digits(c))
            return false;
    }
    return true;
}

/* Valid UTF-8 per RFC 3629: no overlongs, surrogates or past U+10FFFF. */
static bool utf8(struct cur *c)
{
    const unsigned char *s = c->p;
    size_t left = (size_t)(c->end - s), n;
    uint32_t cp;

    if (s[0] >= 0xc0 && s[0] <= 0xdf) {
        n = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf7) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return false;
    }
    if (left < n)
        return false;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return false;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
        (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return false;
    c->p += n;
    return true;
}

static bool string(struct cur *c)
{
    if (!lit(c, "\""))
        return false;
    while (c->p < c->end) {
        unsigned char ch = *c->p;

        if (ch == '"') {
            c->p++;
            return true;
        }
        if (ch < 0x20)
            return false;
        if (ch == '\\') {
            c->p++;
            if (c->p >= c->end)
                return false;
            ch = *c->p++;
            if (ch == 'u') {
                char hex[5] = "";
                unsigned long u;

                for (int i = 0; i < 4; i++) {
                    if (c->p >= c->end || !is_hex(*c->p))
                        return false;
                    hex[i] = (char)*c->p++;
                }
                /* Only control characters and DEL are \u escapes: an
                 * invalid byte is U+FFFD, never its Latin-1 \u00XX. */
                u = strtoul(hex, NULL, 16);
                if (u >= 0x20 && u != 0x7f)
                    return false;
            } else if (!strchr("\"\\/bfnrt", ch) || ch == 0) {
                return false;
            }
            continue;
        }
        if (ch >= 0x80) {
            if (!utf8(c))
                return false;
            continue;
        }
        c->p++;
    }
    return false;
}

static bool value(struct cur *c, int depth)
{
    if (depth > 100)
        return false;
    ws(c);
    if (c->p >= c->end)
        return false;
    switch (*c->p) {
    case '{':
        c->p++;
        ws(c);
        if (lit(c, "}"))
            return true;
        for (;;) {
            ws(c);
            if (!string(c))
                return false;
            ws(c);
            if (!lit(c, ":") || !value(c, depth + 1))
                return false;
            ws(c);
            if (lit(c, "}"))
                return true;
            if (!lit(c, ","))
                return false;
        }
    case '[':
        c->p++;
        ws(c);
        if (lit(c, "]"))
            return true;
        for (;;) {
            if (!value(c, depth + 1))
                return false;
            ws(c);
            if (lit(c, "]"))
                return true;
            if (!lit(c, ","))
                return false;
        }
    case '"':
        return string(c);
    case 't':
        return lit(c, "true");
    case 'f':
        return lit(c, "false");
    case 'n':
        return lit(c, "null");
    default:
        return number(c);
    }
}

/* One complete JSON text, nothing after it. */
static bool valid_json(const char *s, size_t n)
{
    struct cur c = {(const unsigned char *)s, (const unsigned char *)s + n};

    if (!value(&c, 0))
        return false;
    ws(&c);
    return c.p == c.end;
}

/* The stream decoder over a pipe: every line valid JSON. Returns the
 * number of objects, or the error, and the text in *out (caller frees). */
static long via_stream(const uint8_t *data, size_t size, char **out,
                       size_t *outlen)
{
    char err[256];
    int fds[2];
    FILE *f;
    long n;

    *out = NULL;
    *outlen = 0;
    if (pipe(fds) != 0)
        abort();
    /* A pipe holds 64 KiB: the fuzzer's inputs fit, so no writer thread. */
    if (write(fds[1], data, size) != (ssize_t)size)
        abort();
    close(fds[1]);
    f = open_memstream(out, outlen);
    if (!f)
        abort();
    n = iocs_decode_stream(fds[0], f, err, sizeof(err));
    fclose(f);
    close(fds[0]);
    if (n < 0 && n != -EBADMSG && n != -ENOMEM)
        abort();
    if (n == -EBADMSG && !strstr(err, "offset"))
        abort();
    if (n == -ENOMEM)
        return n; /* the last line may be cut short */
    for (char *line = *out, *nl; line < *out + *outlen; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(*out + *outlen - line));
        if (!nl || !valid_json(line, (size_t)(nl - line)))
            abort();
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[1 << 20];
    char *text;
    size_t textlen;
    long n, ns;

    n = iocs_decode_one((const char *)data, size, out, sizeof(out));
    if (n >= 0) {
        if ((size_t)n != strlen(out) || !valid_json(out, (size_t)n))
            abort();
    } else if (n != -EBADMSG && n != -E2BIG && n != -ENOMEM) {
        abort();
    }
    if (size > 60000)
        return 0;
    ns = via_stream(data, size, &text, &textlen);
    /* Exactly one object: the stream prints the same text plus '\n'. */
    if (n >= 0 && (ns != 1 || textlen != (size_t)n + 1 ||
                   memcmp(text, out, (size_t)n) != 0))
        abort();
    free(text);
    return 0;
}
