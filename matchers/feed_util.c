/*
 * feed_util.c - the per-entry step every feed parser ends in, and the
 * numbers, words, times and lines the formats share (feed_util.h).
 *
 * iocs__feed_take() refangs, types, normalises, filters (expiry,
 * allowlist) and adds one entry to the load's private set, or reports it
 * with the reason. Nothing here knows a format or prints.
 */
#include "matchers/feed_util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "matchers/allow.h"
#include "matchers/rules.h"
#include "matchers/util.h"

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

/* Report an entry that is skipped with a reason worth seeing in the log
 * (the reject callback), without failing --strict: the feed is fine. */
static void skip_loud(struct iocs__loader *ld, const struct iocs__entry *e,
                      const char *type, const char *why)
{
    if (ld->reject)
        ld->reject(ld->ctx, ld->name, e->line, why);
    iocs__feed_skip(ld, e->line, e->value, e->len, type, why);
}

/* Keep the widest CIDR of its family for the hygiene summary. */
static void note_width(struct iocs__loader *ld, enum iocs_type t, const char *v,
                       unsigned prefix)
{
    unsigned *w = t == IOCS_CIDR4 ? &ld->rep.widest4 : &ld->rep.widest6;
    char *text = t == IOCS_CIDR4 ? ld->rep.widest4_text : ld->rep.widest6_text;

    if (*w == 0 || prefix < *w) {
        *w = prefix;
        /* A normalised CIDR is at most 43 bytes: nothing is cut. */
        snprintf(text, sizeof(ld->rep.widest4_text), "%.47s", v);
    }
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

        while (a < b && iocs_is_blank(v[a]))
            a++;
        while (b > a && iocs_is_blank(v[b - 1]))
            b--;
        if (!is_hash_type(iocs_type_detect(v + a, b - a)))
            return false;
        parts++;
        i = end + 1;
    }
    return parts > 1;
}

/* Add the text ld->raw[0..n) under its metadata; shared by typed values
 * and --strings lines. */
static int add_taken(struct iocs__loader *ld, const struct iocs__entry *e,
                     enum iocs_type type, size_t len, unsigned port, bool word)
{
    struct iocs_ioc ioc;
    bool dup;
    int err;

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
        /* A feed's own source column (CSV source, Zeek meta.source) names
         * who published it when no provider column does. */
        .provider = e->provider ? e->provider : e->source,
        .description = e->description,
        .reference = ld->ref,
        .source = e->source,
        .tags = e->tags,
        .confidence = e->confidence,
        .expires = e->expires,
        .hs_flags = e->hs_flags,
        .rule_id = e->rule_id,
        .port = port,
        .word = word,
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

/*
 * A line of a --strings file, refanged into ld->raw[0..n): "word:TEXT"
 * (whole word), "text:TEXT" or TEXT (anywhere). Text IOCs are loaded on
 * purpose here, so nothing is typed, but they must be IOCS_TEXT_MIN long.
 */
static int take_text(struct iocs__loader *ld, const struct iocs__entry *e,
                     int n)
{
    enum iocs_type type = IOCS_STRING;
    const char *v = ld->raw, *why;
    size_t vn = (size_t)n, len;
    bool word = false;

    if (vn >= 5 && strncmp(v, "word:", 5) == 0) {
        word = true;
        v += 5;
        vn -= 5;
    } else if (vn >= 5 && strncmp(v, "text:", 5) == 0) {
        v += 5;
        vn -= 5;
    }
    if (vn < IOCS_TEXT_MIN)
        return iocs__feed_reject(ld, e->line, e->value, e->len,
                                 "text IOC shorter than 6 bytes");
    if (iocs_ioc_normalise(&type, v, vn, ld->norm, sizeof(ld->norm), &len,
                           &why))
        return iocs__feed_reject(ld, e->line, e->value, e->len, why);
    return add_taken(ld, e, type, len, 0, word);
}

static int take_one(struct iocs__loader *ld, const struct iocs__entry *e)
{
    size_t len, aoff, alen;
    enum iocs_type type;
    unsigned port = 0;
    const char *why;
    int n, err;

    if (e->typed && e->type == IOCS_REGEX) {
        /* A rule is taken as written: refanging would change it. */
        size_t a = 0, b = e->len;

        while (a < b && iocs_is_blank(e->value[a]))
            a++;
        while (b > a && iocs_is_blank(e->value[b - 1]))
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
    if (ld->opts->strings)
        return take_text(ld, e, n);
    /* "a.b.c.d:port" and "[v6]:port": the address is the IOC, matched
     * wherever the log writes the port; the port describes it. */
    if ((!e->typed || e->type == IOCS_IPV4 || e->type == IOCS_IPV6) &&
        iocs_addr_port(ld->raw, (size_t)n, &aoff, &alen, &port) == 0) {
        memmove(ld->raw, ld->raw + aoff, alen);
        ld->raw[alen] = '\0';
        n = (int)alen;
    }
    type = pick_type(e, ld->raw, (size_t)n);
    if (!e->typed && type == IOCS_STRING) {
        /* A control byte is a broken line, not free text: say so. */
        for (int i = 0; i < n; i++)
            if ((unsigned char)ld->raw[i] < 0x20 || ld->raw[i] == 0x7f)
                return iocs__feed_reject(ld, e->line, e->value, e->len,
                                         "contains a control character");
        ld->rep.untyped++;
        skip_loud(ld, e, NULL,
                  "not an indicator; load text IOCs with --strings FILE");
        return 0;
    }
    err = iocs_ioc_normalise(&type, ld->raw, (size_t)n, ld->norm,
                             sizeof(ld->norm), &len, &why);
    if (err == -E2BIG)
        return iocs__feed_reject(ld, e->line, e->value, e->len,
                                 "longer than 2048 bytes");
    if (err)
        return iocs__feed_reject(ld, e->line, e->value, e->len, why);
    if (len < 2 && type != IOCS_REGEX)
        return iocs__feed_reject(ld, e->line, e->value, e->len,
                                 "a single character matches almost anything");
    if (type == IOCS_CIDR4 || type == IOCS_CIDR6) {
        const char *slash = strrchr(ld->norm, '/');
        unsigned prefix = (unsigned)atoi(slash + 1);

        if (prefix == 0)
            return iocs__feed_reject(ld, e->line, e->value, e->len,
                                     "covers every address");
        if (!ld->opts->allow_wide && prefix < (type == IOCS_CIDR4 ? 8u : 32u)) {
            ld->rep.wide++;
            skip_loud(ld, e, iocs_type_name(type),
                      type == IOCS_CIDR4
                          ? "CIDR wider than /8; load it with --allow-wide"
                          : "CIDR wider than /32; load it with --allow-wide");
            return 0;
        }
        note_width(ld, type, ld->norm, prefix);
    }
    if (type == IOCS_REGEX) {
        char msg[256];

        /* One expression Hyperscan refuses must not stop the others:
         * check it alone, as the database will compile it. */
        if (iocs_rules_check(ld->norm, e->hs_flags, msg, sizeof(msg))) {
            char why2[320];

            ld->rep.bad_regex++;
            snprintf(why2, sizeof(why2), "Hyperscan: %s", msg);
            return iocs__feed_reject(ld, e->line, e->value, e->len, why2);
        }
    }

    return add_taken(ld, e, type, len, port, false);
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
    int v;

    return iocs_severity_parse(s, n, &v) == 0 ? v : 0;
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

    while (n > 0 && iocs_is_blank(s[n - 1]))
        n--;
    while (i < n && iocs_is_blank(s[i]))
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
