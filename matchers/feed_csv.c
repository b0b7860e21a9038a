/*
 * feed_csv.c - CSV and TSV IOC files with a header row, and Zeek intel
 * files (TSV with a "#fields" header).
 *
 * A CSV header names its columns; the value column is required ("value",
 * "indicator", "ioc", ...), the others are used when present: type
 * (entity_type, indicator_type; MISP type names included, composites such
 * as ip-dst|port too), source, provider, severity, confidence, tags,
 * description (comment, notes), expires (valid_until), reference and
 * MISP's to_ids. Fields may be quoted ("a,b" and "" inside quotes) but a
 * quoted field does not span lines. A TAB in the header row makes the file
 * TSV. This covers Volexity (value,entity_type,description), Citizen Lab
 * and MISP CSV exports (uuid,event_id,category,type,value,comment,to_ids,
 * date).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "matchers/feed_csv.h"
#include "matchers/feed_misp.h"
#include "matchers/util.h"

enum col {
    COL_NONE,
    COL_VALUE,
    COL_TYPE,
    COL_SOURCE,
    COL_PROVIDER,
    COL_SEVERITY,
    COL_CONFIDENCE,
    COL_TAGS,
    COL_DESCRIPTION,
    COL_EXPIRES,
    COL_REFERENCE,
    COL_TO_IDS,
    COL_COUNT
};

static const struct {
    const char *name;
    enum col col;
} col_names[] = {
    {"value", COL_VALUE},
    {"indicator", COL_VALUE},
    {"ioc", COL_VALUE},
    {"observable", COL_VALUE},
    {"indicator_value", COL_VALUE},
    {"ioc_value", COL_VALUE},
    {"type", COL_TYPE},
    {"entity_type", COL_TYPE},
    {"indicator_type", COL_TYPE},
    {"ioc_type", COL_TYPE},
    {"source", COL_SOURCE},
    {"meta.source", COL_SOURCE},
    {"provider", COL_PROVIDER},
    {"org", COL_PROVIDER},
    {"severity", COL_SEVERITY},
    {"meta.cif_severity", COL_SEVERITY},
    {"confidence", COL_CONFIDENCE},
    {"tags", COL_TAGS},
    {"tag", COL_TAGS},
    {"labels", COL_TAGS},
    {"meta.cif_tags", COL_TAGS},
    {"description", COL_DESCRIPTION},
    {"comment", COL_DESCRIPTION},
    {"notes", COL_DESCRIPTION},
    {"desc", COL_DESCRIPTION},
    {"meta.desc", COL_DESCRIPTION},
    {"expires", COL_EXPIRES},
    {"expiry", COL_EXPIRES},
    {"expiration", COL_EXPIRES},
    {"valid_until", COL_EXPIRES},
    {"reference", COL_REFERENCE},
    {"meta.url", COL_REFERENCE},
    {"to_ids", COL_TO_IDS},
};

/* Most columns read per row; more are ignored. */
#define MAX_FIELDS 64

struct field {
    const char *p; /* NUL-terminated, in the row buffer */
    size_t len;
};

struct row {
    struct field f[MAX_FIELDS];
    size_t n;
    char *buf; /* unquoted copies of the fields */
    size_t cap;
};

/*
 * Split one line into fields at sep, unquoting "..." fields. Returns 0,
 * -ENOMEM, or -EINVAL with *why for an unterminated quote.
 */
static int split_row(struct row *r, const char *l, size_t n, char sep,
                     const char **why)
{
    size_t i = 0, o = 0;

    if (n + 1 > r->cap) {
        char *b = realloc(r->buf, n + 1);

        if (!b)
            return -ENOMEM;
        r->buf = b;
        r->cap = n + 1;
    }
    r->n = 0;
    for (;;) {
        size_t start = o;

        while (sep != '\t' && i < n && l[i] == ' ')
            i++;
        if (i < n && l[i] == '"') {
            i++;
            for (;;) {
                if (i == n) {
                    *why = "unterminated quoted field";
                    return -EINVAL;
                }
                if (l[i] == '"') {
                    if (i + 1 < n && l[i + 1] == '"') {
                        r->buf[o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                r->buf[o++] = l[i++];
            }
            while (i < n && l[i] != sep)
                i++; /* bytes after the closing quote are dropped */
        } else {
            while (i < n && l[i] != sep)
                r->buf[o++] = l[i++];
            while (o > start && iocs_is_blank(r->buf[o - 1]))
                o--;
        }
        if (r->n < MAX_FIELDS)
            r->f[r->n++] = (struct field){r->buf + start, o - start};
        r->buf[o++] = '\0';
        if (i >= n)
            break;
        i++; /* the separator */
        if (o + (n - i) + 1 > r->cap)
            break; /* cannot happen: output never outgrows the input */
    }
    return 0;
}

static enum col col_of(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(col_names) / sizeof(col_names[0]); i++)
        if (strlen(col_names[i].name) == n &&
            strncasecmp(s, col_names[i].name, n) == 0)
            return col_names[i].col;
    return COL_NONE;
}

/* The first line that is neither blank nor a comment. */
static bool first_line(const char *buf, size_t n, size_t *pos,
                       const char **line, size_t *len, size_t *lineno)
{
    while (iocs__next_line(buf, n, pos, line, len)) {
        size_t i = 0;

        (*lineno)++;
        while (i < *len && iocs_is_blank((*line)[i]))
            i++;
        if (i < *len && (*line)[i] != '#')
            return true;
    }
    return false;
}

bool iocs__feed_is_csv(const char *buf, size_t n)
{
    const char *line, *p;
    size_t pos = 0, len, lineno = 0;
    char sep;

    if (!first_line(buf, n, &pos, &line, &len, &lineno))
        return false;
    sep = memchr(line, '\t', len) ? '\t' : ',';
    for (size_t i = 0; i <= len; i = (size_t)(p - line) + 1) {
        size_t a = i, b;

        p = memchr(line + i, sep, len - i);
        if (!p)
            p = line + len;
        b = (size_t)(p - line);
        while (a < b && (iocs_is_blank(line[a]) || line[a] == '"'))
            a++;
        while (b > a && (iocs_is_blank(line[b - 1]) || line[b - 1] == '"'))
            b--;
        if (col_of(line + a, b - a) == COL_VALUE)
            return true;
        if (p == line + len)
            break;
    }
    return false;
}

/*
 * Load a header-described table. Columns are found from the header row;
 * every following non-comment line is one entry.
 */
static int load_table(struct iocs__loader *ld, const char *buf, size_t n,
                      size_t pos, size_t lineno, char sep, const int *cols,
                      size_t ncols, const char *empty)
{
    struct row r = {0};
    const char *line;
    size_t len;
    int err = 0;

    while (iocs__next_line(buf, n, &pos, &line, &len)) {
        struct iocs__entry e = {.confidence = -1};
        const char *why, *type = NULL;
        const struct field *value = NULL;
        bool ids_false = false;
        size_t i = 0;

        lineno++;
        ld->rep.lines++;
        while (i < len && iocs_is_blank(line[i]))
            i++;
        if (i == len || line[i] == '#')
            continue;
        err = split_row(&r, line, len, sep, &why);
        if (err == -EINVAL) {
            err = iocs__feed_reject(ld, lineno, line, len, why);
            if (err)
                break;
            continue;
        }
        if (err)
            break;
        e.line = lineno;
        for (size_t c = 0; c < r.n && c < ncols; c++) {
            const struct field *f = &r.f[c];

            /* Zeek writes an unset field as "-". */
            if (f->len == 0 || (empty && strcmp(f->p, empty) == 0))
                continue;
            switch ((enum col)cols[c]) {
            case COL_VALUE:
                value = f;
                break;
            case COL_TYPE:
                type = f->p;
                break;
            case COL_SOURCE:
                e.source = f->p;
                break;
            case COL_PROVIDER:
                e.provider = f->p;
                break;
            case COL_SEVERITY:
                e.severity = iocs__feed_severity(f->p, f->len);
                break;
            case COL_CONFIDENCE:
                e.confidence = iocs__feed_confidence(f->p, f->len);
                break;
            case COL_TAGS:
                e.tags = f->p;
                break;
            case COL_DESCRIPTION:
                e.description = f->p;
                break;
            case COL_EXPIRES:
                if (iocs__feed_time(f->p, f->len, &e.expires)) {
                    err = iocs__feed_reject(ld, lineno, line, len,
                                            "expiry is not a date");
                    goto next;
                }
                break;
            case COL_REFERENCE:
                e.reference = f->p;
                break;
            case COL_TO_IDS:
                ids_false = !iocs__feed_truthy(f->p, f->len);
                break;
            case COL_NONE:
            case COL_COUNT:
                break;
            }
        }
        if (!value) {
            err = iocs__feed_reject(ld, lineno, line, len, "no value");
        } else if (ids_false && !ld->opts->all_attributes) {
            iocs__feed_skip(ld, lineno, value->p, value->len, type,
                            "to_ids is false");
        } else if (type) {
            err =
                iocs__feed_misp_value(ld, &e, type, value->p, value->len, true);
        } else {
            e.value = value->p;
            e.len = value->len;
            err = iocs__feed_take(ld, &e);
        }
    next:
        if (err)
            break;
    }
    free(r.buf);
    return err;
}

int iocs__feed_csv(struct iocs__loader *ld, const char *buf, size_t n)
{
    int cols[MAX_FIELDS] = {0};
    struct row r = {0};
    const char *line, *why;
    size_t pos = 0, len, lineno = 0;
    char sep;
    int err;

    /* iocs__feed_is_csv() found the header: it is the first such line. */
    (void)first_line(buf, n, &pos, &line, &len, &lineno);
    ld->rep.lines += lineno;
    sep = memchr(line, '\t', len) ? '\t' : ',';
    err = split_row(&r, line, len, sep, &why);
    if (err == -EINVAL)
        err = iocs__feed_fatal(ld, lineno, "bad header row");
    if (err)
        goto out;
    for (size_t c = 0; c < r.n; c++) {
        enum col col = col_of(r.f[c].p, r.f[c].len);
        bool seen = false;

        /* The first column of a role wins (MISP CSV has "type" and
         * "category"; "value" comes before "comment"). */
        for (size_t k = 0; k < c; k++)
            seen |= cols[k] == (int)col;
        cols[c] = seen ? COL_NONE : (int)col;
    }
    err = load_table(ld, buf, n, pos, lineno, sep, cols, r.n, NULL);

out:
    free(r.buf);
    return err;
}

/* Zeek intel: "#separator \x09", "#fields indicator indicator_type
 * meta.source meta.desc meta.url ...", then one TAB-separated row per
 * indicator; "-" is an unset field. */
int iocs__feed_zeek(struct iocs__loader *ld, const char *buf, size_t n)
{
    int cols[MAX_FIELDS] = {0};
    struct row r = {0};
    const char *line, *why;
    size_t pos = 0, len, lineno = 0;
    bool have_value = false;
    int err = 0;

    while (iocs__next_line(buf, n, &pos, &line, &len)) {
        lineno++;
        ld->rep.lines++;
        if (len >= 7 && memcmp(line, "#fields", 7) == 0)
            break;
        if (len > 0 && line[0] != '#')
            return iocs__feed_fatal(ld, lineno,
                                    "Zeek intel file without #fields");
    }
    if (!(len >= 7 && memcmp(line, "#fields", 7) == 0))
        return iocs__feed_fatal(ld, lineno, "Zeek intel file without #fields");
    line += 7;
    len -= 7;
    while (len > 0 && iocs_is_blank(*line)) {
        line++;
        len--;
    }
    err = split_row(&r, line, len, '\t', &why);
    if (err == -EINVAL)
        err = iocs__feed_fatal(ld, lineno, "bad #fields line");
    if (err)
        goto out;
    for (size_t c = 0; c < r.n; c++) {
        if (strcmp(r.f[c].p, "indicator") == 0) {
            cols[c] = COL_VALUE;
            have_value = true;
        } else if (strcmp(r.f[c].p, "indicator_type") == 0) {
            cols[c] = COL_TYPE;
        } else {
            enum col col = col_of(r.f[c].p, r.f[c].len);

            cols[c] = col == COL_VALUE || col == COL_TYPE ? COL_NONE : col;
        }
    }
    if (!have_value) {
        err = iocs__feed_fatal(ld, lineno, "#fields names no indicator");
        goto out;
    }
    err = load_table(ld, buf, n, pos, lineno, '\t', cols, r.n, "-");

out:
    free(r.buf);
    return err;
}
