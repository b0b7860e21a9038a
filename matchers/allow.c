/*
 * allow.c - allowlists (allow.h): addresses and ranges in a cidrset, every
 * other value in a hash set keyed by (type, normalised value). A domain
 * covers its subdomains: a lookup walks the value's parent domains.
 * Built at config time; lookups are read-only, lock- and allocation-free.
 */
#include "matchers/allow.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matchers/cidr.h"
#include "matchers/util.h"

struct value {
    uint32_t hash;
    unsigned char type; /* enum iocs_type; 0 with value NULL: empty */
    char *value;
    size_t len;
};

struct iocs_allow {
    struct iocs_cidrset *cidrs;
    unsigned char *prefixes; /* prefix of range id i */
    size_t nranges, rangecap;
    struct value *slots;
    size_t nslots, nvalues; /* nslots is a power of two */
};

int iocs_allow_new(struct iocs_allow **out)
{
    struct iocs_allow *a = calloc(1, sizeof(*a));
    int err;

    if (!a)
        return -ENOMEM;
    err = iocs_cidrset_new(&a->cidrs);
    if (err)
        goto fail;
    a->nslots = 256;
    a->slots = calloc(a->nslots, sizeof(*a->slots));
    if (!a->slots) {
        err = -ENOMEM;
        goto fail;
    }
    *out = a;
    return 0;

fail:
    iocs_allow_free(a);
    return err;
}

void iocs_allow_free(struct iocs_allow *a)
{
    if (!a)
        return;
    iocs_cidrset_free(a->cidrs);
    for (size_t i = 0; a->slots && i < a->nslots; i++)
        free(a->slots[i].value);
    free(a->slots);
    free(a->prefixes);
    free(a);
}

size_t iocs_allow_count(const struct iocs_allow *a)
{
    return a ? a->nranges + a->nvalues : 0;
}

static uint32_t hash_value(enum iocs_type t, const char *v, size_t n)
{
    return iocs_fnv1a32(IOCS_FNV1A_BASIS ^ (uint64_t)t, v, n);
}

/* Where (t, v) is, or the empty slot where it would go. */
static struct value *find(const struct iocs_allow *a, enum iocs_type t,
                          const char *v, size_t n, uint32_t h)
{
    size_t j = h & (a->nslots - 1);

    for (; a->slots[j].value; j = (j + 1) & (a->nslots - 1)) {
        const struct value *s = &a->slots[j];

        if (s->hash == h && s->type == t && s->len == n &&
            memcmp(s->value, v, n) == 0)
            break;
    }
    return &a->slots[j];
}

static int grow(struct iocs_allow *a)
{
    struct value *old = a->slots;
    size_t oldn = a->nslots;

    a->slots = calloc(oldn * 2, sizeof(*a->slots));
    if (!a->slots) {
        a->slots = old;
        return -ENOMEM;
    }
    a->nslots = oldn * 2;
    for (size_t i = 0; i < oldn; i++) {
        if (old[i].value) {
            struct value *s = find(a, (enum iocs_type)old[i].type, old[i].value,
                                   old[i].len, old[i].hash);

            *s = old[i];
        }
    }
    free(old);
    return 0;
}

static int add_value(struct iocs_allow *a, enum iocs_type t, const char *v,
                     size_t n)
{
    uint32_t h = hash_value(t, v, n);
    struct value *s;
    int err;

    if ((a->nvalues + 1) * 2 > a->nslots) {
        err = grow(a);
        if (err)
            return err;
    }
    s = find(a, t, v, n, h);
    if (s->value)
        return 0;
    s->value = strndup(v, n);
    if (!s->value)
        return -ENOMEM;
    s->hash = h;
    s->type = (unsigned char)t;
    s->len = n;
    a->nvalues++;
    return 0;
}

static int add_range(struct iocs_allow *a, int family, const uint8_t *addr,
                     unsigned prefix)
{
    int err;

    if (a->nranges == a->rangecap) {
        size_t cap = a->rangecap ? a->rangecap * 2 : 64;
        unsigned char *p = realloc(a->prefixes, cap);

        if (!p)
            return -ENOMEM;
        a->prefixes = p;
        a->rangecap = cap;
    }
    err =
        iocs_cidrset_add(a->cidrs, family, addr, prefix, (uint32_t)a->nranges);
    if (err)
        return err;
    a->prefixes[a->nranges++] = (unsigned char)prefix;
    return 0;
}

/* Whether addr/prefix lies inside an allowed range. */
static bool range_allowed(const struct iocs_allow *a, int family,
                          const uint8_t *addr, unsigned prefix)
{
    uint32_t id;

    /* The shortest containing range comes first. */
    if (iocs_cidrset_lookup(a->cidrs, family, addr, &id, 1) == 0)
        return false;
    return a->prefixes[id] <= prefix;
}

bool iocs_allow_ip(const struct iocs_allow *a, int family,
                   const unsigned char *addr)
{
    if (!a || a->nranges == 0)
        return false;
    return iocs_cidrset_lookup(a->cidrs, family, addr, NULL, 0) > 0;
}

bool iocs_allow_ioc(const struct iocs_allow *a, enum iocs_type t,
                    const char *value, size_t n)
{
    uint8_t addr[16];
    unsigned prefix;
    int family;

    if (!a)
        return false;
    switch (t) {
    case IOCS_IPV4:
        return iocs_ip4_parse(value, n, addr) == 0 &&
               range_allowed(a, 4, addr, 32);
    case IOCS_IPV6:
        return iocs_ip6_parse(value, n, addr) == 0 &&
               range_allowed(a, 6, addr, 128);
    case IOCS_CIDR4:
    case IOCS_CIDR6:
        return iocs_cidr_parse(value, n, &family, addr, &prefix) == 0 &&
               range_allowed(a, family, addr, prefix);
    case IOCS_DOMAIN:
        /* evil.example.com is covered by example.com and by itself. */
        for (;;) {
            const char *dot;

            if (find(a, t, value, n, hash_value(t, value, n))->value)
                return true;
            dot = memchr(value, '.', n);
            if (!dot)
                return false;
            n -= (size_t)(dot - value) + 1;
            value = dot + 1;
        }
    default:
        return find(a, t, value, n, hash_value(t, value, n))->value != NULL;
    }
}

/* Take one value of a plain list or a warninglist. forced: the type a
 * warninglist states (-1: detect). Returns 0, -ENOMEM, or -EINVAL with
 * *why. */
static int add_text(struct iocs_allow *a, const char *v, size_t n, int forced,
                    const char **why)
{
    char raw[IOCS_IOC_MAX + 1], norm[IOCS_IOC_MAX + 64];
    enum iocs_type t;
    uint8_t addr[16];
    unsigned prefix;
    size_t len;
    int family, r, err;

    r = iocs_refang(raw, sizeof(raw), v, n);
    if (r == -E2BIG) {
        *why = "longer than 2048 bytes";
        return -EINVAL;
    }
    if (r <= 0) {
        *why = "empty value";
        return -EINVAL;
    }
    v = raw;
    n = (size_t)r;
    /* "*.example.com" and ".example.com" mean the domain and below. */
    if (n > 2 && v[0] == '*' && v[1] == '.') {
        v += 2;
        n -= 2;
    } else if (n > 1 && v[0] == '.') {
        v++;
        n--;
    }
    if (n == 1) {
        /* As in the feeds: it would allow almost anything. */
        *why = "a single character matches almost anything";
        return -EINVAL;
    }
    t = forced >= 0 ? (enum iocs_type)forced : iocs_type_detect(v, n);
    if (forced == IOCS_DOMAIN) {
        enum iocs_type d = iocs_type_detect(v, n);

        if (d == IOCS_IPV4 || d == IOCS_IPV6 || d == IOCS_CIDR4 ||
            d == IOCS_CIDR6)
            t = d;
    }
    err = iocs_ioc_normalise(&t, v, n, norm, sizeof(norm), &len, why);
    if (err == -E2BIG)
        *why = "longer than 2048 bytes";
    if (err)
        return -EINVAL;
    switch (t) {
    case IOCS_IPV4:
    case IOCS_IPV6:
    case IOCS_CIDR4:
    case IOCS_CIDR6:
        if (t == IOCS_IPV4 || t == IOCS_IPV6) {
            family = t == IOCS_IPV4 ? 4 : 6;
            prefix = t == IOCS_IPV4 ? 32 : 128;
            err = family == 4 ? iocs_ip4_parse(norm, len, addr)
                              : iocs_ip6_parse(norm, len, addr);
        } else {
            err = iocs_cidr_parse(norm, len, &family, addr, &prefix);
        }
        if (err) {
            *why = "not an address";
            return -EINVAL;
        }
        if (prefix == 0) {
            /* 0.0.0.0/0 or ::/0 would silence every address IOC. */
            *why = "covers every address";
            return -EINVAL;
        }
        return add_range(a, family, addr, prefix);
    default:
        return add_value(a, t, norm, len);
    }
}

static int load_plain(struct iocs_allow *a, const char *path, const char *buf,
                      size_t n, iocs_reject_fn reject, void *ctx,
                      size_t *loaded)
{
    size_t pos = 0, lineno = 0;

    while (pos < n) {
        const char *line = buf + pos, *nl = memchr(line, '\n', n - pos), *why;
        size_t len = nl ? (size_t)(nl - line) : n - pos, i = 0, end;
        int err;

        pos += nl ? len + 1 : len;
        lineno++;
        while (i < len && iocs_is_blank(line[i]))
            i++;
        if (i == len || line[i] == '#')
            continue;
        /* The value ends at a blank-preceded '#' comment. */
        for (end = i; end < len; end++)
            if (line[end] == '#' && iocs_is_blank(line[end - 1]))
                break;
        err = add_text(a, line + i, end - i, -1, &why);
        if (err == -EINVAL) {
            if (reject)
                reject(ctx, path, lineno, why);
            continue;
        }
        if (err)
            return err;
        (*loaded)++;
    }
    return 0;
}

/* A MISP warninglist: {"name": ..., "type": ..., "list": [...]}. */
static int load_warninglist(struct iocs_allow *a, const char *path,
                            const char *buf, size_t n, iocs_reject_fn reject,
                            void *ctx, size_t *loaded)
{
    json_error_t jerr;
    json_t *root, *list;
    const char *type, *why;
    char msg[256];
    int forced = -1, err = 0;

    root = json_loadb(buf, n, 0, &jerr);
    if (!root) {
        snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s",
                 jerr.line, jerr.column, jerr.text);
        if (reject)
            reject(ctx, path, jerr.line > 0 ? (size_t)jerr.line : 0, msg);
        return -EINVAL;
    }
    list = json_object_get(root, "list");
    type = json_string_value(json_object_get(root, "type"));
    if (!json_is_array(list)) {
        why = "not a MISP warninglist (no \"list\" array)";
        err = -EINVAL;
    } else if (!type || strcmp(type, "string") == 0) {
        forced = -1;
    } else if (strcmp(type, "cidr") == 0) {
        forced = IOCS_CIDR4;
    } else if (strcmp(type, "hostname") == 0) {
        forced = IOCS_DOMAIN;
    } else {
        why = "warninglist type is not cidr, hostname or string";
        err = -EINVAL;
    }
    if (err) {
        if (reject)
            reject(ctx, path, 0, why);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *v = json_array_get(list, i);

        if (!json_is_string(v)) {
            if (reject)
                reject(ctx, path, i + 1, "list entry is not a string");
            continue;
        }
        err = add_text(a, json_string_value(v), json_string_length(v), forced,
                       &why);
        if (err == -EINVAL) {
            if (reject)
                reject(ctx, path, i + 1, why);
            err = 0;
            continue;
        }
        if (err)
            goto out;
        (*loaded)++;
    }

out:
    json_decref(root);
    return err;
}

int iocs_allow_load_mem(struct iocs_allow *a, const char *name, const char *buf,
                        size_t n, iocs_reject_fn reject, void *ctx,
                        size_t *loaded)
{
    size_t count = 0, i = 0;
    int err;

    if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    if (memchr(buf, '\0', n)) {
        if (reject)
            reject(ctx, name, 0, "binary data (a NUL byte)");
        return -EINVAL;
    }
    while (i < n && (iocs_is_blank(buf[i]) || buf[i] == '\n'))
        i++;
    if (i < n && buf[i] == '{')
        err = load_warninglist(a, name, buf + i, n - i, reject, ctx, &count);
    else
        err = load_plain(a, name, buf, n, reject, ctx, &count);
    if (loaded)
        *loaded += count;
    return err;
}

int iocs_allow_load_file(struct iocs_allow *a, const char *path,
                         iocs_reject_fn reject, void *ctx, size_t *loaded)
{
    size_t n = 0;
    char *buf = NULL;
    int err;

    err = iocs_read_file(path, &buf, &n);
    if (err)
        return err;
    err = iocs_allow_load_mem(a, path, buf, n, reject, ctx, loaded);
    free(buf);
    return err;
}
