/*
 * ioc.c - the indicator model: refanging, type detection, normalisation,
 * and the de-duplicating IOC set.
 *
 * Everything here runs at config time. The set keeps its IOCs in fixed-size
 * pages that never move, so a pointer from iocs_iocset_get() stays valid
 * while more IOCs are added, and its strings in an arena of chunks freed
 * all at once. Duplicates are found through an open-addressing hash table
 * on (type, value) that doubles when half full.
 */
#include "matchers/ioc.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpsl.h>
#include <pthread.h>

#include "matchers/cidr.h"
#include "matchers/util.h"

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Defanged spellings and what they stand for, matched case-insensitively. */
static const struct {
    const char *from;
    const char *to;
} fangs[] = {
    {"[://]", "://"}, {"[dot]", "."}, {"(dot)", "."}, {"{dot}", "."},
    {"[.]", "."},     {"(.)", "."},   {"{.}", "."},   {"[:]", ":"},
    {"[at]", "@"},    {"(at)", "@"},  {"[@]", "@"},
};

/*
 * Whether "hxxp" at in[i] is a defanged scheme: followed, after an optional
 * 's', by ':' or '[' ("hxxp://", "hxxps[:]//", "hxxp[://]"), by whitespace
 * or by the end of the value. "hxxpd.example" is left alone.
 */
static bool is_hxxp(const char *in, size_t n, size_t i)
{
    size_t j = i + 4;

    if (n - i < 4 || strncasecmp(in + i, "hxxp", 4) != 0)
        return false;
    if (j < n && (in[j] == 's' || in[j] == 'S'))
        j++;
    return j == n || in[j] == ':' || in[j] == '[' ||
           is_space((unsigned char)in[j]);
}

int iocs_refang(char *out, size_t cap, const char *in, size_t n)
{
    size_t len = 0, i = 0;

    if (cap == 0)
        return -E2BIG;
    while (n > 0 && is_space((unsigned char)in[n - 1]))
        n--;
    while (i < n && is_space((unsigned char)in[i]))
        i++;

    while (i < n) {
        const char *to = NULL;
        size_t from = 1, tolen;

        if ((in[i] == 'h' || in[i] == 'H') && is_hxxp(in, n, i)) {
            /* Keep the writer's case: "HXXP" becomes "HTTP". */
            if (len + 4 >= cap)
                return -E2BIG;
            out[len++] = in[i];
            out[len++] = in[i + 1] == 'X' ? 'T' : 't';
            out[len++] = in[i + 2] == 'X' ? 'T' : 't';
            out[len++] = in[i + 3];
            i += 4;
            continue;
        }
        if (in[i] == '[' || in[i] == '(' || in[i] == '{') {
            for (size_t k = 0; k < sizeof(fangs) / sizeof(fangs[0]); k++) {
                size_t fl = strlen(fangs[k].from);

                if (n - i >= fl &&
                    strncasecmp(in + i, fangs[k].from, fl) == 0) {
                    to = fangs[k].to;
                    from = fl;
                    break;
                }
            }
        }
        tolen = to ? strlen(to) : 1;
        if (len + tolen >= cap)
            return -E2BIG;
        if (to)
            memcpy(out + len, to, tolen);
        else
            out[len] = in[i];
        len += tolen;
        i += from;
    }
    if (len > INT_MAX)
        return -E2BIG;
    out[len] = '\0';
    return (int)len;
}

/* The public suffix list, loaded once: the newest of the system's file and
 * libpsl's built-in copy. NULL when libpsl has neither; then no label is
 * a top-level domain and nothing untyped is a domain. */
static const psl_ctx_t *psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void psl_load(void)
{
    psl = psl_latest(NULL);
    if (!psl)
        psl = psl_builtin();
}

bool iocs_tld_known(const char *v, size_t n)
{
    static const char *const special[] = {"example", "test", "invalid",
                                          "localhost"};
    char name[254];
    size_t start;

    if (n > 0 && v[n - 1] == '.')
        n--;
    if (n == 0 || n >= sizeof(name))
        return false;
    for (size_t i = 0; i < n; i++)
        name[i] = lower(v[i]);
    name[n] = '\0';
    /* The special-use TLDs of RFC 2606/6761 are real in documentation,
     * tests and labs, though no registry lists them. */
    for (size_t k = 0; k < sizeof(special) / sizeof(special[0]); k++) {
        size_t sl = strlen(special[k]);

        if (n >= sl && memcmp(name + n - sl, special[k], sl) == 0 &&
            (n == sl || name[n - sl - 1] == '.'))
            return true;
    }
    pthread_once(&psl_once, psl_load);
    if (!psl)
        return false;
    /* The last label, then the last two and three: "za" is no rule of the
     * list, but "co.za" is. Without NO_STAR_RULE every unknown label would
     * be a suffix (the list's implicit "*" rule). */
    start = n;
    for (int labels = 0; labels < 3 && start > 0; labels++) {
        while (start > 0 && name[start - 1] != '.')
            start--;
        if (psl_is_public_suffix2(psl, name + start,
                                  PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE))
            return true;
        if (start > 0)
            start--; /* step over the '.' */
    }
    return false;
}

/*
 * Whether v[0..n) is a domain name: at least two dot-separated labels of
 * letters, digits, '-' and '_', each 1-63 bytes, the last one a top-level
 * domain of the public suffix list (`test.user` is not a domain). One
 * trailing dot (a rooted name) is allowed.
 */
static bool is_domain(const char *v, size_t n)
{
    size_t labels = 0, start = 0;

    if (n > 0 && v[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = i < n ? (unsigned char)v[i] : '.';

        if (c == '.') {
            if (i == start || i - start > 63)
                return false;
            labels++;
            /* The last label is letters, or an IDN TLD in punycode. */
            if (i == n &&
                !(n - start > 4 && strncasecmp(v + start, "xn--", 4) == 0)) {
                if (i - start < 2)
                    return false;
                for (size_t k = start; k < n; k++)
                    if (!is_alpha((unsigned char)v[k]))
                        return false;
            }
            start = i + 1;
        } else if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_') {
            return false;
        }
    }
    return labels >= 2 && iocs_tld_known(v, n);
}

/* Length of a URL scheme followed by "://" at v, or 0 if there is none. */
static size_t scheme_len(const char *v, size_t n)
{
    size_t i = 0;

    if (n == 0 || !is_alpha((unsigned char)v[0]))
        return 0;
    while (i < n &&
           (is_alpha((unsigned char)v[i]) || is_digit((unsigned char)v[i]) ||
            v[i] == '+' || v[i] == '-' || v[i] == '.'))
        i++;
    if (n - i < 3 || memcmp(v + i, "://", 3) != 0)
        return 0;
    return i;
}

static bool is_email(const char *v, size_t n)
{
    const char *at = memrchr(v, '@', n);
    size_t local;

    if (!at || at == v)
        return false;
    local = (size_t)(at - v);
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)v[i];

        /* strchr() finds the terminator too: a NUL is never allowed. */
        if (!is_alpha(c) && !is_digit(c) &&
            (!c || !strchr(".!#$%&'*+/=?^_`{|}~-", c)))
            return false;
    }
    return is_domain(at + 1, n - local - 1);
}

static bool is_hexstr(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_hex((unsigned char)v[i]))
            return false;
    return true;
}

/*
 * File extensions that make a value a file name. Deliberately absent: "com"
 * (every .com domain would be a file), "dat" and "txt" (too generic).
 */
static const char *const extensions[] = {
    "exe", "dll", "sys", "ps1", "psm1", "bat",  "cmd", "vbs",  "vbe",  "js",
    "jse", "wsf", "hta", "scr", "msi",  "lnk",  "jar", "sh",   "so",   "elf",
    "py",  "cpl", "ocx", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "pdf",
    "zip", "rar", "7z",  "iso", "tar",  "gz",   "tgz", "bin",
};

static bool has_file_extension(const char *v, size_t n)
{
    const char *dot = memrchr(v, '.', n);
    size_t el;

    if (!dot || dot == v)
        return false;
    el = n - (size_t)(dot - v) - 1;
    for (size_t k = 0; k < sizeof(extensions) / sizeof(extensions[0]); k++)
        if (strlen(extensions[k]) == el &&
            strncasecmp(dot + 1, extensions[k], el) == 0)
            return true;
    return false;
}

/*
 * Whether v looks like "address/digits": then it is a CIDR even when the
 * prefix is out of range, so that normalisation can say what is wrong.
 */
static bool looks_cidr(const char *v, size_t n)
{
    const char *slash = memrchr(v, '/', n);
    size_t alen, plen;
    uint8_t a[16];

    if (!slash)
        return false;
    alen = (size_t)(slash - v);
    plen = n - alen - 1;
    if (plen == 0 || plen > 3)
        return false;
    for (size_t i = 1; i <= plen; i++)
        if (!is_digit((unsigned char)slash[i]))
            return false;
    return iocs_ip4_parse(v, alen, a) == 0 || iocs_ip6_parse(v, alen, a) == 0;
}

/* Parse a port: 1-65535, decimal digits only. */
static int parse_port(const char *p, size_t n, unsigned *port)
{
    unsigned v = 0;

    if (n == 0 || n > 5 || p[0] == '0')
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)p[i]))
            return -EINVAL;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v > 65535)
        return -EINVAL;
    *port = v;
    return 0;
}

int iocs_addr_port(const char *v, size_t n, size_t *aoff, size_t *alen,
                   unsigned *port)
{
    const char *colon;
    uint8_t a[16];
    size_t al;

    if (n > 0 && v[0] == '[') {
        const char *close = memchr(v, ']', n);

        if (!close || (size_t)(close - v) + 1 >= n || close[1] != ':')
            return -EINVAL;
        al = (size_t)(close - v) - 1;
        if (iocs_ip6_parse(v + 1, al, a) ||
            parse_port(close + 2, n - al - 3, port))
            return -EINVAL;
        *aoff = 1;
        *alen = al;
        return 0;
    }
    colon = memchr(v, ':', n);
    if (!colon)
        return -EINVAL;
    al = (size_t)(colon - v);
    if (iocs_ip4_parse(v, al, a) || parse_port(colon + 1, n - al - 1, port))
        return -EINVAL;
    *aoff = 0;
    *alen = al;
    return 0;
}

/*
 * Whether v[0..n) is host[:port]/path with no scheme, the host a domain
 * or an IPv4 address: Maltrail's "unwomen.org/jquery-3.3.1.min.js" is a
 * URL, not a file name. A backslash anywhere makes it a path instead.
 */
static bool is_host_path(const char *v, size_t n)
{
    const char *slash = memchr(v, '/', n), *colon;
    size_t hl, aoff, alen;
    unsigned port;
    uint8_t a[4];

    if (!slash || slash == v || memchr(v, '\\', n) || memchr(v, ' ', n))
        return false;
    hl = (size_t)(slash - v);
    if (iocs_addr_port(v, hl, &aoff, &alen, &port) == 0)
        return aoff == 0; /* an IPv4 address and a port */
    colon = memchr(v, ':', hl);
    if (colon && parse_port(colon + 1, hl - (size_t)(colon - v) - 1, &port))
        return false;
    if (colon)
        hl = (size_t)(colon - v);
    return iocs_ip4_parse(v, hl, a) == 0 || is_domain(v, hl);
}

enum iocs_type iocs_type_detect(const char *v, size_t n)
{
    uint8_t a[16];

    if (looks_cidr(v, n))
        return memchr(v, ':', n) ? IOCS_CIDR6 : IOCS_CIDR4;
    if (iocs_ip4_parse(v, n, a) == 0)
        return IOCS_IPV4;
    if (iocs_ip6_parse(v, n, a) == 0)
        return IOCS_IPV6;
    if (scheme_len(v, n) > 0 && n > scheme_len(v, n) + 3)
        return IOCS_URL;
    if (is_email(v, n))
        return IOCS_EMAIL;
    if (is_host_path(v, n))
        return IOCS_URL;
    if (is_hexstr(v, n)) {
        switch (n) {
        case 32:
            return IOCS_MD5;
        case 40:
            return IOCS_SHA1;
        case 64:
            return IOCS_SHA256;
        case 128:
            return IOCS_SHA512;
        default:
            break;
        }
    }
    if (memchr(v, '\\', n) || (n > 0 && v[0] == '/') ||
        has_file_extension(v, n))
        return IOCS_FILENAME;
    if (is_domain(v, n))
        return IOCS_DOMAIN;
    return IOCS_STRING;
}

/* Why v[0..n) is not a strict dotted quad, or NULL when it is one. */
static const char *ip4_why(const char *v, size_t n)
{
    size_t octets = 0, start = 0;
    uint8_t a[4];

    if (iocs_ip4_parse(v, n, a) == 0)
        return NULL;
    for (size_t i = 0; i <= n; i++) {
        unsigned val = 0;

        if (i < n && v[i] != '.') {
            if (!is_digit((unsigned char)v[i]))
                return "not a dotted quad";
            continue;
        }
        if (i == start || i - start > 3)
            return "not a dotted quad";
        for (size_t k = start; k < i; k++)
            val = val * 10 + (unsigned)(v[k] - '0');
        if (val > 255)
            return "octet over 255";
        if (v[start] == '0' && i - start > 1)
            return "octet with a leading zero";
        octets++;
        start = i + 1;
    }
    return octets == 4 ? "not a dotted quad" : "not four octets";
}

/* Copy the normalised form of a CIDR into out; see iocs_ioc_normalise(). */
static int norm_cidr(enum iocs_type *t, const char *in, size_t n, char *tmp,
                     size_t *len, const char **why)
{
    const char *slash = memrchr(in, '/', n);
    size_t alen = slash ? (size_t)(slash - in) : n;
    unsigned prefix = 0, max;
    uint8_t a[16] = {0};
    int family;

    if (iocs_ip4_parse(in, alen, a) == 0) {
        family = 4;
        max = 32;
    } else if (iocs_ip6_parse(in, alen, a) == 0) {
        family = 6;
        max = 128;
    } else {
        const char *r = ip4_why(in, alen);

        /* Name the IPv4 problem only when it looks like IPv4 at all. */
        *why = memchr(in, ':', alen) || strcmp(r, "not a dotted quad") == 0
                   ? "not an IP address"
                   : r;
        return -EINVAL;
    }
    if (slash) {
        size_t plen = n - alen - 1;

        if (plen == 0 || plen > 3 || (slash[1] == '0' && plen > 1)) {
            *why = "bad prefix length";
            return -EINVAL;
        }
        for (size_t i = 1; i <= plen; i++) {
            if (!is_digit((unsigned char)slash[i])) {
                *why = "bad prefix length";
                return -EINVAL;
            }
            prefix = prefix * 10 + (unsigned)(slash[i] - '0');
        }
        if (prefix > max) {
            *why = family == 4 ? "prefix length over 32"
                               : "prefix length over 128";
            return -EINVAL;
        }
    } else {
        prefix = max; /* A bare address in a CIDR column is a host route. */
    }

    /* The value is valid now: let the parser clear the host bits. */
    if (slash && iocs_cidr_parse(in, n, &family, a, &prefix)) {
        *why = "not a CIDR range";
        return -EINVAL;
    }
    if (family == 4) {
        *len = (size_t)snprintf(tmp, IOCS_IP6_TEXT_MAX + 8, "%u.%u.%u.%u/%u",
                                a[0], a[1], a[2], a[3], prefix);
    } else {
        int fl = iocs_ip6_format(a, tmp);

        *len = (size_t)fl + (size_t)snprintf(tmp + fl, 8, "/%u", prefix);
    }
    *t = family == 4 ? IOCS_CIDR4 : IOCS_CIDR6;
    return 0;
}

/* Lower-case the scheme and the host of a URL in place. */
static const char *norm_url(char *v, size_t n)
{
    size_t sl = scheme_len(v, n), start = sl ? sl + 3 : 0, end = start;
    size_t host = start;

    for (size_t i = 0; i < sl; i++)
        v[i] = lower(v[i]);
    while (end < n && v[end] != '/' && v[end] != '?' && v[end] != '#')
        end++;
    /* Credentials before an '@' are not part of the host. */
    for (size_t i = start; i < end; i++)
        if (v[i] == '@')
            host = i + 1;
    if (host == end)
        return "URL without a host";
    for (size_t i = host; i < end; i++)
        v[i] = lower(v[i]);
    return NULL;
}

static const char *hash_why(enum iocs_type t)
{
    switch (t) {
    case IOCS_MD5:
        return "md5 is not 32 hex digits";
    case IOCS_SHA1:
        return "sha1 is not 40 hex digits";
    case IOCS_SHA256:
        return "sha256 is not 64 hex digits";
    default:
        return "sha512 is not 128 hex digits";
    }
}

/* Lower-case a domain, email or hash in place and check its shape. */
static const char *norm_folded(enum iocs_type t, char *v, size_t *n)
{
    static const size_t hexlen[] = {[IOCS_MD5] = 32,
                                    [IOCS_SHA1] = 40,
                                    [IOCS_SHA256] = 64,
                                    [IOCS_SHA512] = 128};

    for (size_t i = 0; i < *n; i++)
        v[i] = lower(v[i]);
    if (*n > 0 && v[*n - 1] == '.')
        (*n)--;
    if (t == IOCS_MD5 || t == IOCS_SHA1 || t == IOCS_SHA256 || t == IOCS_SHA512)
        return *n == hexlen[t] && is_hexstr(v, *n) ? NULL : hash_why(t);
    if (t == IOCS_EMAIL) {
        const char *at = memrchr(v, '@', *n);

        if (!at || at == v || at == v + *n - 1 || memchr(v, ' ', *n))
            return "not an email address";
        return NULL;
    }
    /* A stated domain may be a bare host name or IDN bytes, but it must
     * have no empty label and nothing that cannot be in a name. */
    if (*n == 0 || v[0] == '.' || memmem(v, *n, "..", 2))
        return "empty label in a domain name";
    for (size_t i = 0; i < *n; i++)
        if (strchr(" /\\@:?#[](){}<>\"'", v[i]))
            return "not a domain name";
    return NULL;
}

int iocs_ioc_normalise(enum iocs_type *t, const char *in, size_t n, char *out,
                       size_t cap, size_t *outlen, const char **why)
{
    char tmp[IOCS_IP6_TEXT_MAX + 8];
    enum iocs_type type = *t;
    const char *r = NULL;
    size_t len = n;
    uint8_t a[16];

    *why = "empty value";
    if (n == 0)
        return -EINVAL;
    if (n > IOCS_IOC_MAX) {
        *why = "longer than 2048 bytes";
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        bool tab_ok = type == IOCS_STRING || type == IOCS_REGEX;

        if ((c < 0x20 && !(c == '\t' && tab_ok)) || c == 0x7f) {
            *why = "contains a control character";
            return -EINVAL;
        }
    }

    switch (type) {
    case IOCS_IPV4:
        r = ip4_why(in, n);
        break;
    case IOCS_IPV6:
        if (iocs_ip6_parse(in, n, a)) {
            r = "not an IPv6 address";
            break;
        }
        len = (size_t)iocs_ip6_format(a, tmp);
        in = tmp;
        break;
    case IOCS_CIDR4:
    case IOCS_CIDR6:
        if (norm_cidr(&type, in, n, tmp, &len, &r))
            break;
        in = tmp;
        break;
    case IOCS_STRING:
        if (n < IOCS_STRING_MIN)
            r = "shorter than 4 bytes";
        break;
    case IOCS_DOMAIN:
    case IOCS_URL:
    case IOCS_EMAIL:
    case IOCS_MD5:
    case IOCS_SHA1:
    case IOCS_SHA256:
    case IOCS_SHA512:
    case IOCS_FILENAME:
    case IOCS_REGEX:
        break;
    default:
        r = "unknown type";
        break;
    }
    if (r) {
        *why = r;
        return -EINVAL;
    }
    if (len + 1 > cap)
        return -E2BIG;
    memmove(out, in, len);
    out[len] = '\0';

    /* Case folding works in out, which now holds the value. */
    if (type == IOCS_URL)
        r = norm_url(out, len);
    else if (type == IOCS_DOMAIN || type == IOCS_EMAIL || type == IOCS_MD5 ||
             type == IOCS_SHA1 || type == IOCS_SHA256 || type == IOCS_SHA512)
        r = norm_folded(type, out, &len);
    if (r) {
        *why = r;
        return -EINVAL;
    }
    out[len] = '\0';
    *outlen = len;
    *t = type;
    return 0;
}

/* IOCs live in pages of this many, which never move once allocated. */
#define PAGE_SHIFT 12
#define PAGE_IOCS ((size_t)1 << PAGE_SHIFT)
/* Strings are copied into chunks of at least this many bytes. */
#define CHUNK_BYTES ((size_t)64 * 1024)

struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
};

/* One hash table slot: index + 1 of the IOC (0 = empty) and its hash. */
struct slot {
    uint32_t idx;
    uint32_t hash;
};

struct iocs_iocset {
    struct iocs_ioc **pages;
    size_t npages, count;
    struct slot *slots;
    size_t nslots; /* a power of two */
    struct chunk *chunks;
    const char *last_feed; /* feeds repeat: the previous copy is reused */
    /* A borrowed set: pages point into recs (npages 0: none are freed one
     * by one), slots is NULL, and release(backing) owns the strings. */
    struct iocs_ioc *recs;
    void (*release)(void *);
    void *backing;
};

int iocs_iocset_new(struct iocs_iocset **out)
{
    struct iocs_iocset *s = calloc(1, sizeof(*s));

    if (!s)
        return -ENOMEM;
    s->nslots = 1024;
    s->slots = calloc(s->nslots, sizeof(*s->slots));
    if (!s->slots) {
        free(s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

void iocs_iocset_free(struct iocs_iocset *s)
{
    struct chunk *c, *next;

    if (!s)
        return;
    for (size_t i = 0; i < s->npages; i++)
        free(s->pages[i]);
    free(s->pages);
    free(s->slots);
    for (c = s->chunks; c; c = next) {
        next = c->next;
        free(c);
    }
    free(s->recs);
    if (s->release)
        s->release(s->backing);
    free(s);
}

int iocs__iocset_new_borrowed(struct iocs_iocset **out, size_t nioc,
                              size_t nrec)
{
    size_t np = (nioc + PAGE_IOCS - 1) / PAGE_IOCS;
    struct iocs_iocset *s;

    if (nrec < nioc || nioc >= UINT32_MAX - 1 ||
        nrec > SIZE_MAX / sizeof(struct iocs_ioc))
        return -ENOMEM;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->recs = malloc((nrec ? nrec : 1) * sizeof(*s->recs));
    s->pages = malloc((np ? np : 1) * sizeof(*s->pages));
    if (!s->recs || !s->pages) {
        free(s->recs);
        free(s->pages);
        free(s);
        return -ENOMEM;
    }
    /* at() finds IOC i in its page as for any set. */
    for (size_t i = 0; i < np; i++)
        s->pages[i] = s->recs + i * PAGE_IOCS;
    s->count = nioc;
    *out = s;
    return 0;
}

void iocs__iocset_borrow(struct iocs_iocset *s, void (*release)(void *),
                         void *backing)
{
    s->release = release;
    s->backing = backing;
}

struct iocs_ioc *iocs__iocset_records(struct iocs_iocset *s)
{
    return s->recs;
}

/* FNV-1a over the type and the value, folded to 32 bits. */
static uint32_t hash_ioc(enum iocs_type t, const char *v, size_t n)
{
    return iocs_fnv1a32(IOCS_FNV1A_BASIS ^ (uint64_t)t, v, n);
}

static struct iocs_ioc *at(const struct iocs_iocset *s, size_t i)
{
    return &s->pages[i >> PAGE_SHIFT][i & (PAGE_IOCS - 1)];
}

/* Take n bytes from the arena, aligned for any object when align is set.
 * NULL on allocation failure. */
static void *arena_take(struct iocs_iocset *s, size_t n, bool align)
{
    const size_t a = _Alignof(max_align_t);
    struct chunk *c = s->chunks;
    size_t pad = 0;
    char *p;

    if (c && align)
        pad = (a - ((uintptr_t)(c->data + c->used) % a)) % a;
    if (!c || c->cap - c->used < n + pad) {
        size_t cap = n + a > CHUNK_BYTES ? n + a : CHUNK_BYTES;

        c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        /* A big string gets a chunk of its own, behind the current one, so
         * the current one's free space is not lost. */
        if (s->chunks && cap > CHUNK_BYTES) {
            c->next = s->chunks->next;
            s->chunks->next = c;
        } else {
            c->next = s->chunks;
            s->chunks = c;
        }
    }
    if (align)
        pad = (a - ((uintptr_t)(c->data + c->used) % a)) % a;
    else
        pad = 0;
    p = c->data + c->used + pad;
    c->used += pad + n;
    return p;
}

/* Copy n bytes of v and a NUL into the arena. NULL on allocation failure. */
static char *arena_copy(struct iocs_iocset *s, const char *v, size_t n)
{
    char *p = arena_take(s, n + 1, false);

    if (!p)
        return NULL;
    memcpy(p, v, n);
    p[n] = '\0';
    return p;
}

/* Room for one object of n bytes in the arena, zeroed. */
static void *arena_alloc(struct iocs_iocset *s, size_t n)
{
    void *p = arena_take(s, n, true);

    if (p)
        memset(p, 0, n);
    return p;
}

/* Copy an optional string. Returns 0, or -ENOMEM. */
static int copy_opt(struct iocs_iocset *s, const char *v, const char **out)
{
    *out = NULL;
    if (!v)
        return 0;
    *out = arena_copy(s, v, strlen(v));
    return *out ? 0 : -ENOMEM;
}

/* Copy the feed name, reusing the previous copy when the feed repeats. */
static int copy_feed(struct iocs_iocset *s, const char *feed, const char **out)
{
    int err;

    if (feed && s->last_feed && strcmp(feed, s->last_feed) == 0) {
        *out = s->last_feed;
        return 0;
    }
    err = copy_opt(s, feed, out);
    if (err)
        return err;
    if (*out)
        s->last_feed = *out;
    return 0;
}

/* Copy every string of ioc's metadata into the arena, for dst. Returns 0 or
 * -ENOMEM; on failure the arena keeps what was copied, which is harmless. */
static int copy_meta(struct iocs_iocset *s, const struct iocs_ioc *ioc,
                     struct iocs_ioc *dst)
{
    int err;

    err = copy_feed(s, ioc->feed, &dst->feed);
    if (!err)
        err = copy_opt(s, ioc->provider, &dst->provider);
    if (!err)
        err = copy_opt(s, ioc->description, &dst->description);
    if (!err)
        err = copy_opt(s, ioc->reference, &dst->reference);
    if (!err)
        err = copy_opt(s, ioc->source, &dst->source);
    if (!err)
        err = copy_opt(s, ioc->tags, &dst->tags);
    if (!err)
        err = copy_opt(s, ioc->rule_id, &dst->rule_id);
    dst->also = NULL;
    return err;
}

static bool same_str(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Whether two records of one value say the same thing. The reference is
 * left out: the same value on two lines of one feed is one record. */
static bool same_meta(const struct iocs_ioc *a, const struct iocs_ioc *b)
{
    return a->severity == b->severity && a->confidence == b->confidence &&
           a->expires == b->expires && a->hs_flags == b->hs_flags &&
           same_str(a->feed, b->feed) && same_str(a->provider, b->provider) &&
           same_str(a->description, b->description) &&
           same_str(a->source, b->source) && same_str(a->tags, b->tags) &&
           same_str(a->rule_id, b->rule_id) && a->port == b->port &&
           a->word == b->word;
}

/* Append ioc's metadata to first's `also` chain, unless first or a record
 * of the chain already says the same. Returns 0 or -ENOMEM. */
static int add_also(struct iocs_iocset *s, struct iocs_ioc *first,
                    const struct iocs_ioc *ioc)
{
    struct iocs_ioc *last = first, *rec;
    int err;

    if (same_meta(first, ioc))
        return 0;
    /* Records of the chain live in this set's arena: they are ours to
     * link, though the public field is const. */
    while (last->also) {
        last = (struct iocs_ioc *)last->also;
        if (same_meta(last, ioc))
            return 0;
    }
    rec = arena_alloc(s, sizeof(*rec));
    if (!rec)
        return -ENOMEM;
    *rec = *ioc;
    rec->type = first->type;
    rec->value = first->value;
    rec->len = first->len;
    err = copy_meta(s, ioc, rec);
    if (err)
        return err;
    last->also = rec;
    return 0;
}

static int rehash(struct iocs_iocset *s)
{
    size_t nslots = s->nslots * 2;
    struct slot *slots = calloc(nslots, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < s->nslots; i++) {
        size_t j;

        if (!s->slots[i].idx)
            continue;
        for (j = s->slots[i].hash & (nslots - 1); slots[j].idx;
             j = (j + 1) & (nslots - 1))
            ;
        slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->nslots = nslots;
    return 0;
}

int iocs_iocset_add(struct iocs_iocset *s, const struct iocs_ioc *ioc,
                    bool *dup)
{
    struct iocs_ioc copy = *ioc;
    uint32_t h;
    size_t j;
    int err;

    if (!ioc->value || ioc->len == 0)
        return -EINVAL;
    if (s->recs)
        return -EPERM; /* borrowed: read-only */
    if (s->count >= UINT32_MAX - 1)
        return -ENOMEM;

    h = hash_ioc(ioc->type, ioc->value, ioc->len);
    for (j = h & (s->nslots - 1); s->slots[j].idx;
         j = (j + 1) & (s->nslots - 1)) {
        const struct iocs_ioc *o = at(s, s->slots[j].idx - 1);

        if (s->slots[j].hash == h && o->type == ioc->type &&
            o->len == ioc->len && memcmp(o->value, ioc->value, ioc->len) == 0) {
            err = add_also(s, at(s, s->slots[j].idx - 1), ioc);
            if (err)
                return err;
            if (dup)
                *dup = true;
            return 0;
        }
    }

    /* Take every resource before changing anything visible. */
    if (s->count % PAGE_IOCS == 0) {
        size_t np = s->count / PAGE_IOCS;
        struct iocs_ioc **pages = realloc(s->pages, (np + 1) * sizeof(*pages));

        if (!pages)
            return -ENOMEM;
        s->pages = pages;
        if (np == s->npages) {
            pages[np] = malloc(PAGE_IOCS * sizeof(**pages));
            if (!pages[np])
                return -ENOMEM;
            s->npages++;
        }
    }
    copy.value = arena_copy(s, ioc->value, ioc->len);
    if (!copy.value)
        return -ENOMEM;
    err = copy_meta(s, ioc, &copy);
    if (err)
        return err;
    if ((s->count + 1) * 2 > s->nslots) {
        err = rehash(s);
        if (err)
            return err;
        /* The table moved: find the free slot again. */
        for (j = h & (s->nslots - 1); s->slots[j].idx;
             j = (j + 1) & (s->nslots - 1))
            ;
    }

    *at(s, s->count) = copy;
    s->slots[j] = (struct slot){.idx = (uint32_t)(s->count + 1), .hash = h};
    s->count++;
    if (dup)
        *dup = false;
    return 0;
}

size_t iocs_iocset_count(const struct iocs_iocset *s)
{
    return s ? s->count : 0;
}

const struct iocs_ioc *iocs_iocset_get(const struct iocs_iocset *s, size_t i)
{
    if (!s || i >= s->count)
        return NULL;
    return at(s, i);
}

int iocs_severity_parse(const char *s, size_t n, int *out)
{
    static const struct {
        const char *w;
        int v;
    } words[] = {
        {"none", 0},
        {"info", 10},
        {"informational", 10},
        {"low", IOCS_SEV_LOW},
        {"medium", IOCS_SEV_MEDIUM},
        {"moderate", IOCS_SEV_MEDIUM},
        {"high", IOCS_SEV_HIGH},
        {"critical", IOCS_SEV_CRITICAL},
    };
    unsigned v = 0;

    while (n > 0 && is_space((unsigned char)s[0])) {
        s++;
        n--;
    }
    while (n > 0 && is_space((unsigned char)s[n - 1]))
        n--;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strlen(words[i].w) == n && strncasecmp(words[i].w, s, n) == 0) {
            *out = words[i].v;
            return 0;
        }
    }
    if (n == 0 || n > 3)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 100)
        return -EINVAL;
    *out = (int)v;
    return 0;
}
