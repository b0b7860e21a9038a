/*
 * rules.c - regex rule files into an iocs_iocset (format in rules.h).
 *
 * A line is cut into id, severity, /expression/flags and description; the
 * expression is compiled alone with Hyperscan so that its own error message
 * reaches the user with the rule's file:line. Config-time only.
 */
#include "matchers/rules.h"

#include <errno.h>
#include <hs/hs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matchers/feed.h"
#include "matchers/util.h"

/* The flags the database adds to every rule (see db.c). */
#define RULE_DB_FLAGS (HS_FLAG_SOM_LEFTMOST | HS_FLAG_MULTILINE)

struct loader {
    struct iocs_iocset *set;
    const char *name;
    const char *feed;
    iocs_reject_fn reject;
    void *ctx;
    struct iocs_feed_report *rep;
    char ref[1024];
    char why[512];
};

int iocs_rules_flags(const char *s, size_t n, unsigned *out)
{
    unsigned f = 0, seen = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned bit;

        switch (s[i]) {
        case 'i':
            bit = 1;
            f |= HS_FLAG_CASELESS;
            break;
        case 's':
            bit = 2;
            f |= HS_FLAG_DOTALL;
            break;
        case 'm':
            bit = 4; /* ^ and $ are always line anchors */
            break;
        default:
            return -EINVAL;
        }
        if (seen & bit)
            return -EINVAL;
        seen |= bit;
    }
    *out = f;
    return 0;
}

int iocs_rules_check(const char *expr, unsigned hs_flags, char *errbuf,
                     size_t errlen)
{
    hs_compile_error_t *cerr = NULL;
    hs_database_t *db = NULL;
    hs_error_t rc;
    int err;

    rc = hs_compile(expr, hs_flags | RULE_DB_FLAGS, HS_MODE_BLOCK, NULL, &db,
                    &cerr);
    if (rc == HS_SUCCESS) {
        hs_free_database(db);
        return 0;
    }
    err = rc == HS_NOMEM ? -ENOMEM : -EINVAL;
    iocs_seterr(errbuf, errlen, err, "%s",
                cerr && cerr->message ? cerr->message : "does not compile");
    hs_free_compile_error(cerr);
    return err;
}

static void report(struct loader *ld, size_t line, const char *why)
{
    ld->rep->rejected++;
    if (ld->reject)
        ld->reject(ld->ctx, ld->name, line, why);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_id_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == ':' ||
           c == '-';
}

/* Take the next space-separated word of p[*i..n) into [*w, *w + *wn). */
static void word(const char *p, size_t n, size_t *i, const char **w, size_t *wn)
{
    size_t s;

    while (*i < n && is_space(p[*i]))
        (*i)++;
    s = *i;
    while (*i < n && !is_space(p[*i]))
        (*i)++;
    *w = p + s;
    *wn = *i - s;
}

/* The one severity scale of ioc.h: a number 0-100 or low, medium, high,
 * critical. */
static int parse_severity(const char *w, size_t n, int *out)
{
    return iocs_severity_parse(w, n, out);
}

/* Parse and add one non-comment line. Returns 0 or -ENOMEM; a bad line is
 * reported, not returned. */
static int take_line(struct loader *ld, size_t line, const char *p, size_t n)
{
    const char *id, *sev, *expr, *desc;
    size_t idn, sevn, i = 0, e, fl;
    char *ids = NULL, *exprs = NULL, *descs = NULL;
    char errbuf[400];
    struct iocs_ioc ioc;
    unsigned flags;
    int severity, err = 0;
    bool dup;

    word(p, n, &i, &id, &idn);
    if (idn == 0 || idn > IOCS_RULE_ID_MAX) {
        report(ld, line, "rule id: 1 to 64 bytes expected");
        return 0;
    }
    for (size_t k = 0; k < idn; k++) {
        if (!is_id_char(id[k])) {
            report(ld, line,
                   "rule id: only letters, digits and . _ : - allowed");
            return 0;
        }
    }
    word(p, n, &i, &sev, &sevn);
    if (parse_severity(sev, sevn, &severity) < 0) {
        report(ld, line,
               "severity: 0..100 or low, medium, high, critical expected");
        return 0;
    }
    while (i < n && is_space(p[i]))
        i++;
    if (i == n || p[i] != '/') {
        report(ld, line, "expression: /EXPRESSION/FLAGS expected");
        return 0;
    }
    expr = p + i + 1;
    for (e = i + 1; e < n && p[e] != '/'; e++) {
        if (p[e] == '\\' && e + 1 < n)
            e++;
    }
    if (e >= n) {
        report(ld, line, "expression: no closing '/'");
        return 0;
    }
    if (p + e == expr) {
        report(ld, line, "expression: empty");
        return 0;
    }
    for (fl = e + 1; fl < n && !is_space(p[fl]); fl++)
        ;
    if (iocs_rules_flags(p + e + 1, fl - e - 1, &flags) < 0) {
        snprintf(ld->why, sizeof(ld->why),
                 "flags '%.*s': only i (caseless), s (dotall) and m, once "
                 "each",
                 (int)(fl - e - 1), p + e + 1);
        report(ld, line, ld->why);
        return 0;
    }
    i = fl;
    while (i < n && is_space(p[i]))
        i++;
    desc = p + i;
    while (n > i && is_space(p[n - 1]))
        n--;

    ids = strndup(id, idn);
    exprs = strndup(expr, (size_t)(p + e - expr));
    descs = n > i ? strndup(desc, n - i) : NULL;
    if (!ids || !exprs || (n > i && !descs)) {
        err = -ENOMEM;
        goto out;
    }
    if (strlen(exprs) != (size_t)(p + e - expr) ||
        strlen(exprs) > IOCS_IOC_MAX) {
        report(ld, line, "expression: longer than 2048 bytes or holds a NUL");
        goto out;
    }
    for (const char *c = exprs; *c; c++) {
        if ((unsigned char)*c < 0x20 && *c != '\t') {
            report(ld, line, "expression: contains a control character");
            goto out;
        }
    }
    err = iocs_rules_check(exprs, flags, errbuf, sizeof(errbuf));
    if (err == -EINVAL) {
        snprintf(ld->why, sizeof(ld->why), "rule %s: Hyperscan: %s", ids,
                 errbuf);
        report(ld, line, ld->why);
        err = 0;
        goto out;
    }
    if (err)
        goto out;
    snprintf(ld->ref, sizeof(ld->ref), "%s:%zu", ld->name, line);
    ioc = (struct iocs_ioc){.type = IOCS_REGEX,
                            .severity = severity,
                            .value = exprs,
                            .len = strlen(exprs),
                            .feed = ld->feed,
                            .description = descs,
                            .reference = ld->ref,
                            .confidence = -1,
                            .hs_flags = flags,
                            .rule_id = ids};
    err = iocs_iocset_add(ld->set, &ioc, &dup);
    if (err)
        goto out;
    if (dup)
        ld->rep->duplicates++;
    else
        ld->rep->loaded++;

out:
    free(ids);
    free(exprs);
    free(descs);
    return err;
}

int iocs_rules_load_mem(struct iocs_iocset *set, const char *name,
                        const char *buf, size_t n, iocs_reject_fn reject,
                        void *ctx, struct iocs_feed_report *rep)
{
    struct iocs_feed_report scratch = {0};
    struct loader ld = {0};
    const char *slash;
    size_t line = 0;
    int err;

    if (!name)
        name = "-";
    if (memchr(buf, '\0', n))
        return -EINVAL;
    ld.set = set;
    ld.name = name;
    slash = strrchr(name, '/');
    ld.feed = slash && slash[1] ? slash + 1 : name;
    ld.reject = reject;
    ld.ctx = ctx;
    ld.rep = rep ? rep : &scratch;
    if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        buf += 3;
        n -= 3;
    }
    while (n > 0) {
        const char *nl = memchr(buf, '\n', n);
        size_t len = nl ? (size_t)(nl - buf) : n, s = 0;

        line++;
        ld.rep->lines++;
        if (len > 0 && buf[len - 1] == '\r')
            len--;
        while (s < len && is_space(buf[s]))
            s++;
        if (s < len && buf[s] != '#') {
            err = take_line(&ld, line, buf + s, len - s);
            if (err)
                return err;
        }
        if (!nl)
            break;
        n -= (size_t)(nl - buf) + 1;
        buf = nl + 1;
    }
    return 0;
}

int iocs_rules_load_file(struct iocs_iocset *set, const char *path,
                         iocs_reject_fn reject, void *ctx,
                         struct iocs_feed_report *rep)
{
    char *buf = NULL;
    size_t n = 0;
    int err;

    err = iocs_read_file(path, &buf, &n);
    if (err)
        return err;
    err = iocs_rules_load_mem(set, path, buf, n, reject, ctx, rep);
    free(buf);
    return err;
}
