/*
 * feed_plain.c - plain lists (one value per line) and LOKI filename-IOC
 * files (feed_plain.h). Each line becomes one struct iocs__entry handed to
 * iocs__feed_take().
 */
#include "matchers/feed_plain.h"

#include <errno.h>
#include <hs/hs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "matchers/util.h"

/*
 * Split a plain line into its value and an optional trailer: the value
 * ends at the first ';', at the first ',' (unless the value is a URL:
 * a scheme and colon-slash-slash before the comma), or at blanks followed
 * by a '#'. Returns the value's length and sets *rest and *restlen (what
 * follows the separator) and *sep.
 */
static size_t split_plain(const char *l, size_t n, const char **rest,
                          size_t *restlen, char *sep)
{
    const char *scheme = NULL;
    size_t i, end;

    *rest = NULL;
    *restlen = 0;
    *sep = 0;
    for (i = 0; i + 2 < n; i++) {
        if (l[i] == ';' || l[i] == ',')
            break;
        if (l[i] == ':' && l[i + 1] == '/' && l[i + 2] == '/') {
            scheme = l + i;
            break;
        }
    }
    for (i = 0; i < n; i++) {
        if (l[i] == ';' || (l[i] == ',' && !scheme))
            break;
        if (l[i] == '#' && i > 0 && iocs_is_blank(l[i - 1]))
            break;
    }
    end = i;
    if (i < n) {
        *sep = l[i];
        *rest = l + i + 1;
        *restlen = n - i - 1;
    }
    while (end > 0 && iocs_is_blank(l[end - 1]))
        end--;
    return end;
}

/* Whether v[0..n), refanged, is a typed indicator (not a plain string):
 * only then may a ';' or ',' after it start a description. A string IOC
 * such as a user agent keeps its ';' and ','. */
static bool typed_value(const char *v, size_t n)
{
    char buf[IOCS_IOC_MAX + 1];
    int len = iocs_refang(buf, sizeof(buf), v, n);

    return len > 0 && iocs_type_detect(buf, (size_t)len) != IOCS_STRING;
}

/* A growable NUL-terminated copy buffer for the plain parser. */
struct strbuf {
    char *p;
    size_t cap;
};

static const char *strbuf_set(struct strbuf *b, const char *s, size_t n)
{
    if (n + 1 > b->cap) {
        char *p = realloc(b->p, n + 1);

        if (!p)
            return NULL;
        b->p = p;
        b->cap = n + 1;
    }
    memcpy(b->p, s, n);
    b->p[n] = '\0';
    return b->p;
}

/* Trim blanks on both sides of s[0..*n); returns the new start. */
static const char *trim(const char *s, size_t *n)
{
    while (*n > 0 && iocs_is_blank(s[0])) {
        s++;
        (*n)--;
    }
    while (*n > 0 && iocs_is_blank(s[*n - 1]))
        (*n)--;
    return s;
}

/* A plain list: one value per line; blank lines and '#' lines skipped. */
int iocs__feed_plain(struct iocs__loader *ld, const char *buf, size_t n)
{
    struct strbuf desc = {0};
    const char *line;
    size_t pos = 0, len, lineno = 0;
    int err = 0;

    while (iocs__next_line(buf, n, &pos, &line, &len)) {
        struct iocs__entry e = {.confidence = -1};
        const char *rest;
        size_t restlen;
        char sep;

        lineno++;
        ld->rep.lines++;
        line = trim(line, &len);
        if (len == 0 || line[0] == '#')
            continue;
        e.line = lineno;
        e.value = line;
        e.len = split_plain(line, len, &rest, &restlen, &sep);
        if (rest && (sep == ';' || sep == ',') && !typed_value(line, e.len)) {
            /* "value,type,..." keeps its split; a plain string does not. */
            const char *c = sep == ',' ? memchr(rest, ',', restlen) : NULL;
            size_t tl = c ? (size_t)(c - rest) : restlen;
            const char *t = rest;
            enum iocs_type ty;

            t = trim(t, &tl);
            if (sep == ';' || tl == 0 || iocs_type_parse(t, tl, &ty) != 0) {
                e.len = len; /* the whole line is the value */
                rest = NULL;
            }
        }
        if (rest) {
            rest = trim(rest, &restlen);
            if (sep != '#' && restlen > 0 && rest[0] == '#') {
                rest++;
                restlen--;
                rest = trim(rest, &restlen);
            }
            /* "value,type,description" without a header row. */
            if (sep == ',') {
                const char *c = memchr(rest, ',', restlen);
                size_t tl = c ? (size_t)(c - rest) : restlen;

                if (tl > 0 && iocs_type_parse(rest, tl, &e.type) == 0) {
                    e.typed = true;
                    restlen = c ? restlen - tl - 1 : 0;
                    rest = c ? c + 1 : rest + tl;
                    rest = trim(rest, &restlen);
                }
            }
            if (restlen > 0) {
                e.description = strbuf_set(&desc, rest, restlen);
                if (!e.description) {
                    err = -ENOMEM;
                    break;
                }
            }
        }
        if (e.len == 0) {
            err = iocs__feed_reject(ld, lineno, line, len, "empty value");
            if (err)
                break;
            continue;
        }
        err = iocs__feed_take(ld, &e);
        if (err)
            break;
    }
    free(desc.p);
    return err;
}

/* Whether line is "regex;score[;false-positive regex]". */
static bool is_loki_line(const char *l, size_t n)
{
    const char *semi = memchr(l, ';', n);
    size_t i;

    if (!semi || semi == l)
        return false;
    i = (size_t)(semi - l) + 1;
    if (i == n || l[i] < '0' || l[i] > '9')
        return false;
    while (i < n && l[i] >= '0' && l[i] <= '9')
        i++;
    return i == n || l[i] == ';';
}

/* A LOKI filename-IOC file: the first (up to 32) entries are all
 * "regex;score". */
bool iocs__feed_is_loki(const char *buf, size_t n)
{
    const char *line;
    size_t pos = 0, len, seen = 0;

    while (seen < 32 && iocs__next_line(buf, n, &pos, &line, &len)) {
        line = trim(line, &len);
        if (len == 0 || line[0] == '#')
            continue;
        if (!is_loki_line(line, len))
            return false;
        seen++;
    }
    return seen > 0;
}

/* LOKI filename IOCs: case-insensitive regular expressions over file
 * paths, each with a score (kept as the severity). */
int iocs__feed_loki(struct iocs__loader *ld, const char *buf, size_t n)
{
    const char *line;
    size_t pos = 0, len, lineno = 0;
    int err;

    while (iocs__next_line(buf, n, &pos, &line, &len)) {
        struct iocs__entry e = {.confidence = -1};
        const char *semi;
        long long score = 0;

        lineno++;
        ld->rep.lines++;
        line = trim(line, &len);
        if (len == 0 || line[0] == '#')
            continue;
        if (!is_loki_line(line, len)) {
            err = iocs__feed_reject(ld, lineno, line, len,
                                    "expected regex;score");
            if (err)
                return err;
            continue;
        }
        semi = memchr(line, ';', len);
        e.line = lineno;
        e.value = line;
        e.len = (size_t)(semi - line);
        for (size_t i = e.len + 1; i < len && line[i] != ';'; i++)
            score = score * 10 + (line[i] - '0');
        e.severity = score > 100 ? 100 : (int)score;
        e.typed = true;
        e.type = IOCS_REGEX;
        e.hs_flags = HS_FLAG_CASELESS;
        err = iocs__feed_take(ld, &e);
        if (err)
            return err;
    }
    return 0;
}
