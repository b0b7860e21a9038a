/*
 * feed_stix.c - STIX 2.0 and 2.1 indicators.
 *
 * Only patterns that are plain value comparisons can become IOCs:
 *   [obj:prop = 'v'], several joined by OR (inside one observation or
 *   between observations), and the MISP-export idiom
 *   [X:dst_ref.type = 'ipv4-addr' AND X:dst_ref.value = 'v'].
 * Anything else (other operators, AND of different properties, FOLLOWEDBY,
 * qualifiers, properties with no IOC type) is skipped, counted and
 * explained; the expressible comparisons of an OR are still taken. The
 * indicator's description (else its name) becomes the description, its
 * labels the tags, its valid_until the expiry, created_by_ref's identity
 * name the provider, and a 2.1 confidence the confidence. Revoked
 * indicators and patterns in other languages are skipped.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "matchers/feed_stix.h"

/* Most comparisons read from one pattern. */
#define MAX_COMPS 256

struct comp {
    const char *path; /* "ipv4-addr:value", in the pattern */
    size_t plen;
    char *value; /* unescaped, malloc'd; NULL when not a string */
    size_t vlen;
    const char *why; /* set when the comparison cannot be used */
    int obs;         /* which observation ([...]) it belongs to */
};

struct pattern {
    struct comp c[MAX_COMPS];
    size_t n;
    int nobs;
    bool and_in[MAX_COMPS]; /* observation i joins comparisons with AND */
    const char *why;        /* the whole pattern cannot be used */
};

static void pattern_free(struct pattern *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->c[i].value);
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && is_ws(s[i]))
        i++;
    return i;
}

/* Whether s[i..] starts with keyword kw followed by a non-word byte. */
static bool keyword(const char *s, size_t n, size_t i, const char *kw)
{
    size_t k = strlen(kw);

    return n - i >= k && strncmp(s + i, kw, k) == 0 &&
           (i + k == n || is_ws(s[i + k]) || s[i + k] == '[' ||
            s[i + k] == '(');
}

/* Read a '...' string at s[*i] (which is the opening quote). */
static int read_string(const char *s, size_t n, size_t *i, char **out,
                       size_t *outlen)
{
    size_t j = *i + 1, o = 0;
    char *v = malloc(n - *i);

    if (!v)
        return -ENOMEM;
    for (; j < n && s[j] != '\''; j++) {
        if (s[j] == '\\' && j + 1 < n)
            j++;
        v[o++] = s[j];
    }
    if (j == n) {
        free(v);
        return -EINVAL;
    }
    v[o] = '\0';
    *i = j + 1;
    *out = v;
    *outlen = o;
    return 0;
}

/* Parse the pattern into p. Returns 0 (p->why may say why it is unusable)
 * or -ENOMEM. */
static int parse_pattern(struct pattern *p, const char *s, size_t n)
{
    size_t i = skip_ws(s, n, 0);
    int err;

    for (;;) {
        bool saw_and = false, saw_or = false;

        if (i == n || s[i] != '[') {
            p->why = "not a comparison in [ ]";
            return 0;
        }
        i++;
        for (;;) {
            struct comp *c;
            size_t start;

            i = skip_ws(s, n, i);
            if (p->n == MAX_COMPS) {
                p->why = "more than 256 comparisons";
                return 0;
            }
            c = &p->c[p->n];
            memset(c, 0, sizeof(*c));
            c->obs = p->nobs;
            start = i;
            while (i < n && !is_ws(s[i]) && !strchr("=!<>]", s[i])) {
                if (s[i] == '\'') {
                    const char *q = memchr(s + i + 1, '\'', n - i - 1);

                    if (!q) {
                        p->why = "unterminated quote";
                        return 0;
                    }
                    i = (size_t)(q - s);
                }
                i++;
            }
            c->path = s + start;
            c->plen = i - start;
            p->n++;
            i = skip_ws(s, n, i);
            if (c->plen == 0 || memchr(s + start, ':', c->plen) == NULL) {
                p->why = "not an object path";
                return 0;
            }
            if (i < n && s[i] == '=' && (i + 1 == n || s[i + 1] != '=')) {
                i = skip_ws(s, n, i + 1);
            } else {
                c->why = "operator other than =";
                /* Skip the operator and read on to the value. */
                while (i < n && !is_ws(s[i]) && s[i] != '\'' && s[i] != ']')
                    i++;
                i = skip_ws(s, n, i);
            }
            if (i < n && s[i] == '\'') {
                err = read_string(s, n, &i, &c->value, &c->vlen);
                if (err == -EINVAL) {
                    p->why = "unterminated string";
                    return 0;
                }
                if (err)
                    return err;
            } else {
                if (!c->why)
                    c->why = "value is not a string";
                while (i < n && !is_ws(s[i]) && s[i] != ']')
                    i++;
            }
            i = skip_ws(s, n, i);
            if (i < n && s[i] == ']') {
                i++;
                break;
            }
            if (keyword(s, n, i, "AND")) {
                saw_and = true;
                i += 3;
            } else if (keyword(s, n, i, "OR")) {
                saw_or = true;
                i += 2;
            } else {
                p->why = "unexpected text in a comparison";
                return 0;
            }
        }
        if (saw_and && saw_or) {
            p->why = "AND and OR in one observation";
            return 0;
        }
        p->and_in[p->nobs++] = saw_and;
        i = skip_ws(s, n, i);
        if (i == n)
            return 0;
        if (!keyword(s, n, i, "OR")) {
            p->why = "observations joined by something other than OR, or a "
                     "qualifier";
            return 0;
        }
        i = skip_ws(s, n, i + 2);
        if (p->nobs == MAX_COMPS) {
            p->why = "more than 256 observations";
            return 0;
        }
    }
}

static bool path_is(const struct comp *c, const char *path)
{
    return strlen(path) == c->plen && strncmp(c->path, path, c->plen) == 0;
}

static bool path_ends(const struct comp *c, const char *suffix)
{
    size_t k = strlen(suffix);

    return c->plen > k && strncmp(c->path + c->plen - k, suffix, k) == 0;
}

/* The IOC type of an object path; NULL, or why not. */
static const char *path_type(const struct comp *c, bool *typed,
                             enum iocs_type *t)
{
    static const struct {
        const char *path;
        bool typed;
        enum iocs_type type;
    } paths[] = {
        {"ipv4-addr:value", true, IOCS_IPV4},
        {"ipv6-addr:value", true, IOCS_IPV6},
        {"domain-name:value", true, IOCS_DOMAIN},
        {"url:value", true, IOCS_URL},
        {"email-addr:value", true, IOCS_EMAIL},
        {"email-message:from_ref.value", true, IOCS_EMAIL},
        {"email-message:sender_ref.value", true, IOCS_EMAIL},
        {"file:name", true, IOCS_FILENAME},
        {"windows-registry-key:key", true, IOCS_STRING},
        {"mutex:name", true, IOCS_STRING},
        {"network-traffic:dst_ref.value", false, 0},
        {"network-traffic:src_ref.value", false, 0},
        {"network-traffic:extensions.'http-request-ext'.request_header.'User-"
         "Agent'",
         true, IOCS_STRING},
    };
    const char *h;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (path_is(c, paths[i].path)) {
            *typed = paths[i].typed;
            *t = paths[i].type;
            return NULL;
        }
    }
    h = memmem(c->path, c->plen, ":hashes.", 8);
    if (h) {
        static const struct {
            const char *name;
            enum iocs_type type;
        } algos[] = {
            {"MD5", IOCS_MD5},       {"SHA-1", IOCS_SHA1},
            {"SHA1", IOCS_SHA1},     {"SHA-256", IOCS_SHA256},
            {"SHA256", IOCS_SHA256}, {"SHA-512", IOCS_SHA512},
            {"SHA512", IOCS_SHA512},
        };
        size_t a = (size_t)(h - c->path) + 8, b = c->plen;

        if (a < b && c->path[a] == '\'' && c->path[b - 1] == '\'') {
            a++;
            b--;
        }
        for (size_t i = 0; i < sizeof(algos) / sizeof(algos[0]); i++) {
            if (strlen(algos[i].name) == b - a &&
                strncasecmp(c->path + a, algos[i].name, b - a) == 0) {
                *typed = true;
                *t = algos[i].type;
                return NULL;
            }
        }
        return "hash algorithm with no IOC type";
    }
    return "property with no IOC type";
}

struct indicator {
    struct iocs__entry e; /* the metadata */
    const char *pattern;
};

static int take_comp(struct iocs__loader *ld, struct indicator *ind,
                     const struct comp *c, const char *why)
{
    char msg[256];
    bool typed = false;
    enum iocs_type t = IOCS_STRING;

    if (!why)
        why = c->why;
    if (!why && !c->value)
        why = "value is not a string";
    if (!why)
        why = path_type(c, &typed, &t);
    if (why) {
        snprintf(msg, sizeof(msg), "unsupported STIX pattern (%s): %.*s", why,
                 (int)c->plen, c->path);
        iocs__feed_skip(ld, ind->e.line, ind->pattern, strlen(ind->pattern),
                        NULL, msg);
        return 0;
    }
    ind->e.value = c->value;
    ind->e.len = c->vlen;
    ind->e.typed = typed;
    ind->e.type = t;
    return iocs__feed_take(ld, &ind->e);
}

/* The "X:dst_ref.type = 'T' AND X:dst_ref.value = 'V'" idiom: *val is the
 * value comparison and *type its stated type. */
static bool ref_idiom(const struct comp *a, const struct comp *b,
                      const struct comp **val, enum iocs_type *type)
{
    const struct comp *tc;

    if (path_ends(a, "_ref.type") && path_ends(b, "_ref.value")) {
        tc = a;
        *val = b;
    } else if (path_ends(b, "_ref.type") && path_ends(a, "_ref.value")) {
        tc = b;
        *val = a;
    } else {
        return false;
    }
    /* Same object and reference on both sides. */
    if (tc->plen - 4 != (*val)->plen - 5 ||
        strncmp(tc->path, (*val)->path, tc->plen - 4) != 0)
        return false;
    return tc->value && !tc->why && !(*val)->why && (*val)->value &&
           iocs_type_parse(tc->value, tc->vlen, type) == 0;
}

static int take_pattern(struct iocs__loader *ld, struct indicator *ind,
                        const struct pattern *p)
{
    char msg[256];
    size_t i = 0;
    int err;

    if (p->why) {
        snprintf(msg, sizeof(msg), "unsupported STIX pattern (%s)", p->why);
        iocs__feed_skip(ld, ind->e.line, ind->pattern, strlen(ind->pattern),
                        NULL, msg);
        return 0;
    }
    for (int o = 0; o < p->nobs; o++) {
        size_t start = i;

        while (i < p->n && p->c[i].obs == o)
            i++;
        if (!p->and_in[o]) {
            for (size_t k = start; k < i; k++) {
                err = take_comp(ld, ind, &p->c[k], NULL);
                if (err)
                    return err;
            }
            continue;
        }
        {
            const struct comp *val;
            enum iocs_type type;

            if (i - start == 2 &&
                ref_idiom(&p->c[start], &p->c[start + 1], &val, &type)) {
                ind->e.value = val->value;
                ind->e.len = val->vlen;
                ind->e.typed = true;
                ind->e.type = type;
                err = iocs__feed_take(ld, &ind->e);
            } else {
                err = take_comp(ld, ind, &p->c[start],
                                "AND of different properties");
            }
            if (err)
                return err;
        }
    }
    return 0;
}

/* A growable string for joined labels. */
static char *join_labels(json_t *labels)
{
    size_t len = 0, n = json_array_size(labels);
    char *s;

    for (size_t i = 0; i < n; i++)
        len += json_string_length(json_array_get(labels, i)) + 1;
    if (len == 0)
        return NULL;
    s = malloc(len);
    if (!s)
        return NULL;
    len = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(labels, i);

        if (!json_is_string(l) || json_string_length(l) == 0)
            continue;
        if (len)
            s[len++] = ',';
        memcpy(s + len, json_string_value(l), json_string_length(l));
        len += json_string_length(l);
    }
    s[len] = '\0';
    return s;
}

/* The bundle being read, and the last identity looked up: bundles name one
 * or two identities for thousands of indicators. */
struct bundle {
    json_t *objects;
    const char *last_ref, *last_name;
};

/* The name of the identity with id ref, or NULL. */
static const char *identity_name(struct bundle *b, const char *ref)
{
    if (!ref)
        return NULL;
    if (b->last_ref && strcmp(b->last_ref, ref) == 0)
        return b->last_name;
    b->last_ref = ref;
    b->last_name = NULL;
    for (size_t i = 0; i < json_array_size(b->objects); i++) {
        json_t *o = json_array_get(b->objects, i);
        const char *id = json_string_value(json_object_get(o, "id"));

        if (id && strcmp(id, ref) == 0) {
            b->last_name = json_string_value(json_object_get(o, "name"));
            break;
        }
    }
    return b->last_name;
}

static int indicator(struct iocs__loader *ld, struct bundle *b, json_t *o,
                     size_t idx)
{
    struct indicator ind = {.e = {.line = idx, .confidence = -1}};
    struct pattern *p = NULL;
    json_t *pattern = json_object_get(o, "pattern");
    const char *ptype = json_string_value(json_object_get(o, "pattern_type"));
    const char *until = json_string_value(json_object_get(o, "valid_until"));
    json_t *conf = json_object_get(o, "confidence");
    char *tags = NULL;
    int err = 0;

    if (!json_is_string(pattern))
        return iocs__feed_reject(ld, idx, "", 0,
                                 "indicator pattern is not a string");
    ind.pattern = json_string_value(pattern);
    if (ptype && strcmp(ptype, "stix") != 0) {
        iocs__feed_skip(ld, idx, ind.pattern, strlen(ind.pattern), NULL,
                        "pattern_type is not stix");
        return 0;
    }
    if (json_is_true(json_object_get(o, "revoked"))) {
        iocs__feed_skip(ld, idx, ind.pattern, strlen(ind.pattern), NULL,
                        "revoked");
        return 0;
    }
    if (until && iocs__feed_time(until, strlen(until), &ind.e.expires))
        return iocs__feed_reject(ld, idx, ind.pattern, strlen(ind.pattern),
                                 "valid_until is not a timestamp");
    if (json_is_integer(conf) && json_integer_value(conf) >= 0 &&
        json_integer_value(conf) <= 100)
        ind.e.confidence = (int)json_integer_value(conf);
    ind.e.description = json_string_value(json_object_get(o, "description"));
    if (!ind.e.description || !*ind.e.description)
        ind.e.description = json_string_value(json_object_get(o, "name"));
    ind.e.provider = identity_name(
        b, json_string_value(json_object_get(o, "created_by_ref")));
    if (json_is_array(json_object_get(o, "labels"))) {
        tags = join_labels(json_object_get(o, "labels"));
        ind.e.tags = tags;
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        err = -ENOMEM;
        goto out;
    }
    err = parse_pattern(p, ind.pattern, strlen(ind.pattern));
    if (!err)
        err = take_pattern(ld, &ind, p);

out:
    if (p)
        pattern_free(p);
    free(p);
    free(tags);
    return err;
}

int iocs__feed_stix(struct iocs__loader *ld, json_t *objects)
{
    struct bundle b = {.objects = objects};

    for (size_t i = 0; i < json_array_size(objects); i++) {
        json_t *o = json_array_get(objects, i);
        const char *type = json_string_value(json_object_get(o, "type"));
        int err;

        ld->rep.lines++;
        if (!json_is_object(o) || !type) {
            err = iocs__feed_reject(ld, i + 1, "", 0,
                                    "STIX object without a type");
            if (err)
                return err;
            continue;
        }
        if (strcmp(type, "indicator") != 0)
            continue;
        err = indicator(ld, &b, o, i + 1);
        if (err)
            return err;
    }
    return 0;
}
