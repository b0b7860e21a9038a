/*
 * feed.c - IOC feeds into an iocs_iocset: format detection, the shared
 * per-entry step, plain lists and LOKI filename-IOC files.
 *
 * A feed is read in three layers, so that a new format only adds the
 * middle one:
 *   1. load() checks the buffer (no NUL byte), skips a UTF-8 BOM, picks a
 *      format from the content (feed.h lists the rules) and runs its
 *      parser into a private set;
 *   2. the format's parser (here: plain lists and LOKI files; CSV/TSV in
 *      feed_csv.c, Zeek in feed_zeek.c, MISP in feed_misp.c, STIX in
 *      feed_stix.c) cuts its input into struct iocs__entry records;
 *   3. iocs__feed_take() refangs, types, normalises, filters and adds one
 *      entry, or reports it with the reason.
 * When the parser succeeds the private set is merged into the caller's, so
 * that a fatal error leaves the caller's set as it was. Nothing is
 * printed; everything runs at config time.
 */
#include "matchers/feed.h"

#include <errno.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "matchers/allow.h"
#include "matchers/feed_internal.h"

static void explain(struct iocs__loader *ld, size_t line, const char *raw,
                    size_t rawlen, const char *type, const char *value,
                    const char *why)
{
    char *copy;

    if (!ld->opts->explain)
        return;
    /* The raw value is not NUL-terminated in the feed's buffer. */
    copy = strndup(raw ? raw : "", raw ? rawlen : 0);
    ld->opts->explain(ld->opts->explain_ctx, ld->name, line, copy ? copy : "",
                      type, value, why);
    free(copy);
}

int iocs__feed_reject(struct iocs__loader *ld, size_t line, const char *raw,
                      size_t rawlen, const char *why)
{
    ld->rep.rejected++;
    if (ld->reject)
        ld->reject(ld->ctx, ld->name, line, why);
    explain(ld, line, raw, rawlen, NULL, NULL, why);
    return ld->opts->strict ? -EINVAL : 0;
}

void iocs__feed_skip(struct iocs__loader *ld, size_t line, const char *raw,
                     size_t rawlen, const char *type, const char *why)
{
    ld->rep.skipped++;
    explain(ld, line, raw, rawlen, type, NULL, why);
}

int iocs__feed_fatal(struct iocs__loader *ld, size_t line, const char *why)
{
    if (ld->reject)
        ld->reject(ld->ctx, ld->name, line, why);
    return -EINVAL;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_hash_type(enum iocs_type t)
{
    return t == IOCS_MD5 || t == IOCS_SHA1 || t == IOCS_SHA256 ||
           t == IOCS_SHA512;
}

/*
 * The type of a refanged value: the feed's when it states one, refined
 * where the feed's name is generic ("file" holding a hash, "ip" holding an
 * IPv6 address or a range, "hostname" holding an address).
 */
static enum iocs_type pick_type(const struct iocs__entry *e, const char *v,
                                size_t n)
{
    enum iocs_type d;

    if (!e->typed)
        return iocs_type_detect(v, n);
    if (e->type == IOCS_REGEX || e->type == IOCS_STRING)
        return e->type;
    d = iocs_type_detect(v, n);
    switch (e->type) {
    case IOCS_FILENAME:
        return is_hash_type(d) ? d : e->type;
    case IOCS_IPV4:
    case IOCS_IPV6:
        return d == IOCS_IPV4 || d == IOCS_IPV6 || d == IOCS_CIDR4 ||
                       d == IOCS_CIDR6
                   ? d
                   : e->type;
    case IOCS_DOMAIN:
        return d == IOCS_IPV4 || d == IOCS_IPV6 ? d : e->type;
    default:
        return e->type;
    }
}

/* Whether value is a comma-separated list of hashes ("md5,sha1,sha256" as
 * Volexity writes one file): each is then its own IOC. */
static bool is_hash_list(const char *v, size_t n)
{
    size_t i = 0, parts = 0;

    if (!memchr(v, ',', n))
        return false;
    while (i <= n) {
        const char *c = memchr(v + i, ',', n - i);
        size_t end = c ? (size_t)(c - v) : n, a = i, b = end;

        while (a < b && is_blank(v[a]))
            a++;
        while (b > a && is_blank(v[b - 1]))
            b--;
        if (!is_hash_type(iocs_type_detect(v + a, b - a)))
            return false;
        parts++;
        i = end + 1;
    }
    return parts > 1;
}

static int take_one(struct iocs__loader *ld, const struct iocs__entry *e)
{
    enum iocs_type type;
    struct iocs_ioc ioc;
    const char *why;
    size_t len;
    bool dup;
    int n, err;

    if (e->typed && e->type == IOCS_REGEX) {
        /* A rule is taken as written: refanging would change it. */
        size_t a = 0, b = e->len;

        while (a < b && is_blank(e->value[a]))
            a++;
        while (b > a && is_blank(e->value[b - 1]))
            b--;
        n = b - a > IOCS_IOC_MAX ? -E2BIG : (int)(b - a);
        if (n > 0) {
            memcpy(ld->raw, e->value + a, (size_t)n);
            ld->raw[n] = '\0';
        }
    } else {
        n = iocs_refang(ld->raw, sizeof(ld->raw), e->value, e->len);
    }
    if (n == -E2BIG)
        return iocs__feed_reject(ld, e->line, e->value, e->len,
                                 "longer than 2048 bytes");
    if (n <= 0)
        return iocs__feed_reject(ld, e->line, e->value, e->len, "empty value");
    type = pick_type(e, ld->raw, (size_t)n);
    err = iocs_ioc_normalise(&type, ld->raw, (size_t)n, ld->norm,
                             sizeof(ld->norm), &len, &why);
    if (err == -E2BIG)
        return iocs__feed_reject(ld, e->line, e->value, e->len,
                                 "longer than 2048 bytes");
    if (err)
        return iocs__feed_reject(ld, e->line, e->value, e->len, why);

    if (e->expires && e->expires <= ld->now) {
        ld->rep.expired++;
        explain(ld, e->line, e->value, e->len, iocs_type_name(type), NULL,
                "expired");
        return 0;
    }
    if (ld->opts->allow &&
        iocs_allow_ioc(ld->opts->allow, type, ld->norm, len)) {
        ld->rep.allowed++;
        explain(ld, e->line, e->value, e->len, iocs_type_name(type), NULL,
                "allowlisted");
        return 0;
    }

    if (e->reference)
        snprintf(ld->ref, ld->refcap, "%s", e->reference);
    else
        snprintf(ld->ref, ld->refcap, "%s:%zu", ld->name, e->line);
    ioc = (struct iocs_ioc){
        .type = type,
        .severity = e->severity,
        .value = ld->norm,
        .len = len,
        .feed = ld->feed,
        .provider = e->provider,
        .description = e->description,
        .reference = ld->ref,
        .source = e->source,
        .tags = e->tags,
        .confidence = e->confidence,
        .expires = e->expires,
        .hs_flags = e->hs_flags,
        .rule_id = e->rule_id,
    };
    err = iocs_iocset_add(ld->set, &ioc, &dup);
    if (err)
        return err;
    if (dup)
        ld->rep.duplicates++;
    explain(ld, e->line, e->value, e->len, iocs_type_name(type), ld->norm,
            NULL);
    return 0;
}

int iocs__feed_take(struct iocs__loader *ld, const struct iocs__entry *e)
{
    struct iocs__entry part;
    size_t i = 0;
    int err;

    if (e->reference && strlen(e->reference) + 1 > ld->refcap) {
        size_t cap = strlen(e->reference) + 1;
        char *r = realloc(ld->ref, cap);

        if (!r)
            return -ENOMEM;
        ld->ref = r;
        ld->refcap = cap;
    }
    if ((!e->typed || e->type != IOCS_REGEX) &&
        is_hash_list(e->value, e->len)) {
        part = *e;
        part.typed = false;
        while (i <= e->len) {
            const char *c = memchr(e->value + i, ',', e->len - i);
            size_t end = c ? (size_t)(c - e->value) : e->len;

            part.value = e->value + i;
            part.len = end - i;
            err = take_one(ld, &part);
            if (err)
                return err;
            i = end + 1;
        }
        return 0;
    }
    return take_one(ld, e);
}

bool iocs__next_line(const char *buf, size_t n, size_t *pos, const char **line,
                     size_t *len)
{
    const char *start = buf + *pos, *nl;
    size_t l;

    if (*pos >= n)
        return false;
    nl = memchr(start, '\n', n - *pos);
    l = nl ? (size_t)(nl - start) : n - *pos;
    *pos += nl ? l + 1 : l;
    if (l > 0 && start[l - 1] == '\r')
        l--;
    *line = start;
    *len = l;
    return true;
}

/* Numbers and words shared by the formats. */

static bool word_is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

static bool parse_int(const char *s, size_t n, long long *out)
{
    long long v = 0;
    bool neg = false;
    size_t i = 0;

    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i++;
    }
    if (i == n || n - i > 18)
        return false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

int iocs__feed_severity(const char *s, size_t n)
{
    static const struct {
        const char *w;
        int v;
    } words[] = {{"info", 1},     {"informational", 1}, {"low", 3},
                 {"medium", 5},   {"moderate", 5},      {"high", 7},
                 {"critical", 9}, {"none", 0}};
    long long v;

    if (parse_int(s, n, &v))
        return v < 0 ? 0 : v > 100 ? 100 : (int)v;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (word_is(s, n, words[i].w))
            return words[i].v;
    return 0;
}

int iocs__feed_confidence(const char *s, size_t n)
{
    long long v;

    if (parse_int(s, n, &v))
        return v < 0 ? -1 : v > 100 ? 100 : (int)v;
    if (word_is(s, n, "high"))
        return 85;
    if (word_is(s, n, "medium"))
        return 50;
    if (word_is(s, n, "low"))
        return 15;
    if (word_is(s, n, "none"))
        return 0;
    return -1;
}

bool iocs__feed_truthy(const char *s, size_t n)
{
    return word_is(s, n, "1") || word_is(s, n, "true") ||
           word_is(s, n, "yes") || word_is(s, n, "y");
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Read exactly k digits at s[*i]. */
static bool digits(const char *s, size_t n, size_t *i, size_t k, unsigned *out)
{
    unsigned v = 0;

    if (n - *i < k)
        return false;
    for (size_t j = 0; j < k; j++) {
        char c = s[*i + j];

        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *i += k;
    *out = v;
    return true;
}

int iocs__feed_time(const char *s, size_t n, int64_t *out)
{
    unsigned y, mo, d, h = 0, mi = 0, sec = 0, oh, om;
    int64_t t, off = 0;
    long long v;
    size_t i = 0;

    while (n > 0 && is_blank(s[n - 1]))
        n--;
    while (i < n && is_blank(s[i]))
        i++;
    s += i;
    n -= i;
    i = 0;
    if (n >= 9 && parse_int(s, n, &v)) {
        *out = v;
        return 0;
    }
    if (!digits(s, n, &i, 4, &y) || i == n || s[i++] != '-' ||
        !digits(s, n, &i, 2, &mo) || i == n || s[i++] != '-' ||
        !digits(s, n, &i, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -EINVAL;
    if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        if (!digits(s, n, &i, 2, &h) || i == n || s[i++] != ':' ||
            !digits(s, n, &i, 2, &mi))
            return -EINVAL;
        if (i < n && s[i] == ':') {
            i++;
            if (!digits(s, n, &i, 2, &sec))
                return -EINVAL;
        }
        if (i < n && (s[i] == '.' || s[i] == ',')) {
            i++;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
        }
        if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i++] == '-' ? -1 : 1;

            if (!digits(s, n, &i, 2, &oh))
                return -EINVAL;
            if (i < n && s[i] == ':')
                i++;
            if (!digits(s, n, &i, 2, &om))
                return -EINVAL;
            off = sign * ((int64_t)oh * 3600 + (int64_t)om * 60);
        }
        if (h > 23 || mi > 59 || sec > 60)
            return -EINVAL;
    }
    if (i != n)
        return -EINVAL;
    t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    *out = t - off;
    return 0;
}

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
        if (l[i] == '#' && i > 0 && is_blank(l[i - 1]))
            break;
    }
    end = i;
    if (i < n) {
        *sep = l[i];
        *rest = l + i + 1;
        *restlen = n - i - 1;
    }
    while (end > 0 && is_blank(l[end - 1]))
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
    while (*n > 0 && is_blank(s[0])) {
        s++;
        (*n)--;
    }
    while (*n > 0 && is_blank(s[*n - 1]))
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
static bool is_loki(const char *buf, size_t n)
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

/* Skip whitespace; returns the first other byte's index. */
static size_t skip_ws(const char *buf, size_t n, size_t i)
{
    while (i < n && (is_blank(buf[i]) || buf[i] == '\n'))
        i++;
    return i;
}

static bool contains(const char *buf, size_t n, const char *needle)
{
    return memmem(buf, n, needle, strlen(needle)) != NULL;
}

/* Pick the format from the content, never from the file name, and run it. */
static int parse(struct iocs__loader *ld, const char *buf, size_t n)
{
    size_t i = skip_ws(buf, n, 0);
    size_t head = n - i < 4096 ? n - i : 4096;

    if (i < n && (buf[i] == '{' || buf[i] == '['))
        return iocs__feed_json(ld, buf, n);
    if (i < n && buf[i] == '<') {
        if (contains(buf + i, head, "STIX_Package") ||
            contains(buf + i, head, "stix.mitre.org"))
            return iocs__feed_fatal(ld, 0, "STIX 1.x XML is not supported");
        if (contains(buf + i, head, "schemas.mandiant.com") ||
            contains(buf + i, head, "<ioc "))
            return iocs__feed_fatal(ld, 0, "OpenIOC XML is not supported");
        return iocs__feed_fatal(ld, 0, "XML feeds are not supported");
    }
    if (n - i >= 10 && (memcmp(buf + i, "#separator", 10) == 0 ||
                        memcmp(buf + i, "#fields", 7) == 0))
        return iocs__feed_zeek(ld, buf, n);
    if (iocs__feed_is_csv(buf, n))
        return iocs__feed_csv(ld, buf, n);
    if (is_loki(buf, n))
        return iocs__feed_loki(ld, buf, n);
    return iocs__feed_plain(ld, buf, n);
}

/* Move what the private set holds into the caller's and count it. */
static int merge(struct iocs_iocset *dst, const struct iocs__loader *ld,
                 struct iocs_feed_report *rep)
{
    const struct iocs_feed_report *r = &ld->rep;
    size_t loaded = 0, dups = 0;
    size_t by_type[IOCS_TYPE_COUNT] = {0};
    int err;

    for (size_t i = 0; i < iocs_iocset_count(ld->set); i++) {
        const struct iocs_ioc *x = iocs_iocset_get(ld->set, i), *a;
        bool dup;

        err = iocs_iocset_add(dst, x, &dup);
        if (err)
            return err;
        if (dup) {
            dups++;
        } else {
            loaded++;
            by_type[x->type]++;
        }
        for (a = x->also; a; a = a->also) {
            err = iocs_iocset_add(dst, a, NULL);
            if (err)
                return err;
        }
    }
    rep->lines += r->lines;
    rep->loaded += loaded;
    rep->duplicates += r->duplicates + dups;
    rep->rejected += r->rejected;
    rep->skipped += r->skipped;
    rep->expired += r->expired;
    rep->allowed += r->allowed;
    for (size_t t = 0; t < IOCS_TYPE_COUNT; t++)
        rep->by_type[t] += by_type[t];
    return 0;
}

static int load(struct iocs_iocset *set, const char *name, const char *buf,
                size_t n, const struct iocs_feed_opts *opts,
                iocs_reject_fn rejectfn, void *ctx,
                struct iocs_feed_report *rep)
{
    static const struct iocs_feed_opts defaults;
    struct iocs_feed_report scratch = {0};
    struct iocs__loader *ld;
    const char *slash;
    int err;

    if (!name)
        name = "-";
    /* The buffers for one value live on the heap, not on the stack. */
    ld = calloc(1, sizeof(*ld));
    if (!ld)
        return -ENOMEM;
    ld->name = name;
    slash = strrchr(name, '/');
    ld->feed = slash && slash[1] ? slash + 1 : name;
    ld->opts = opts ? opts : &defaults;
    ld->now = ld->opts->now ? ld->opts->now : (int64_t)time(NULL);
    ld->reject = rejectfn;
    ld->ctx = ctx;
    ld->refcap = strlen(name) + 24; /* ":" and a 64-bit line number */
    ld->ref = malloc(ld->refcap);
    err = ld->ref ? iocs_iocset_new(&ld->set) : -ENOMEM;
    if (err)
        goto out;

    if (n > 0 && memchr(buf, '\0', n)) {
        err = iocs__feed_fatal(ld, 0, "binary data (a NUL byte)");
        goto out;
    }
    if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        buf += 3;
        n -= 3;
    }
    err = parse(ld, buf, n);
    if (!err)
        err = merge(set, ld, rep ? rep : &scratch);

out:
    iocs_iocset_free(ld->set);
    free(ld->ref);
    free(ld);
    return err;
}

int iocs_feed_load_mem(struct iocs_iocset *set, const char *name,
                       const char *buf, size_t n, iocs_reject_fn reject,
                       void *ctx, struct iocs_feed_report *rep)
{
    return load(set, name, buf, n, NULL, reject, ctx, rep);
}

int iocs_feed_load_mem_opts(struct iocs_iocset *set, const char *name,
                            const char *buf, size_t n,
                            const struct iocs_feed_opts *opts,
                            iocs_reject_fn reject, void *ctx,
                            struct iocs_feed_report *rep)
{
    return load(set, name, buf, n, opts, reject, ctx, rep);
}

/* Read all of fd into *out (malloc'd, NUL-terminated) and *len. Returns 0
 * or -errno. */
static int read_all(int fd, char **out, size_t *len)
{
    struct stat st;
    size_t cap = 64 * 1024, n = 0;
    char *buf = NULL, *nb;
    int err;

    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    for (;;) {
        ssize_t r;

        if (n + 1 >= cap || !buf) {
            if (buf)
                cap *= 2;
            nb = realloc(buf, cap);
            if (!nb) {
                err = -ENOMEM;
                goto fail;
            }
            buf = nb;
        }
        r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;

fail:
    free(buf);
    return err;
}

int iocs__read_file(const char *path, char **out, size_t *len)
{
    int fd, err;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    err = read_all(fd, out, len);
    close(fd);
    return err;
}

int iocs_feed_load_file_opts(struct iocs_iocset *set, const char *path,
                             const struct iocs_feed_opts *opts,
                             iocs_reject_fn reject, void *ctx,
                             struct iocs_feed_report *rep)
{
    char *buf = NULL;
    size_t n = 0;
    int err;

    err = iocs__read_file(path, &buf, &n);
    if (err)
        return err;
    err = load(set, path, buf, n, opts, reject, ctx, rep);
    free(buf);
    return err;
}

int iocs_feed_load_file(struct iocs_iocset *set, const char *path,
                        iocs_reject_fn reject, void *ctx,
                        struct iocs_feed_report *rep)
{
    return iocs_feed_load_file_opts(set, path, NULL, reject, ctx, rep);
}
