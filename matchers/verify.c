/*
 * verify.c - boundary rules per IOC type, and IP token extraction.
 */
#include "matchers/verify.h"

#include <errno.h>

#include "matchers/cidr.h"

/* Character classes as a table: one load per neighbour on the hot path. */
enum {
    C_DIGIT = 1,
    C_HEX = 2,   /* 0-9 a-f A-F */
    C_ALPHA = 4, /* a-z A-Z */
    C_WORD = 8,  /* '-' '_' */
    C_EMAIL = 16 /* '.' '_' '%' '+' '-' */
};

static const unsigned char cls[256] = {
    ['0'] = C_DIGIT | C_HEX,  ['1'] = C_DIGIT | C_HEX, ['2'] = C_DIGIT | C_HEX,
    ['3'] = C_DIGIT | C_HEX,  ['4'] = C_DIGIT | C_HEX, ['5'] = C_DIGIT | C_HEX,
    ['6'] = C_DIGIT | C_HEX,  ['7'] = C_DIGIT | C_HEX, ['8'] = C_DIGIT | C_HEX,
    ['9'] = C_DIGIT | C_HEX,  ['a'] = C_ALPHA | C_HEX, ['b'] = C_ALPHA | C_HEX,
    ['c'] = C_ALPHA | C_HEX,  ['d'] = C_ALPHA | C_HEX, ['e'] = C_ALPHA | C_HEX,
    ['f'] = C_ALPHA | C_HEX,  ['A'] = C_ALPHA | C_HEX, ['B'] = C_ALPHA | C_HEX,
    ['C'] = C_ALPHA | C_HEX,  ['D'] = C_ALPHA | C_HEX, ['E'] = C_ALPHA | C_HEX,
    ['F'] = C_ALPHA | C_HEX,  ['g'] = C_ALPHA,         ['h'] = C_ALPHA,
    ['i'] = C_ALPHA,          ['j'] = C_ALPHA,         ['k'] = C_ALPHA,
    ['l'] = C_ALPHA,          ['m'] = C_ALPHA,         ['n'] = C_ALPHA,
    ['o'] = C_ALPHA,          ['p'] = C_ALPHA,         ['q'] = C_ALPHA,
    ['r'] = C_ALPHA,          ['s'] = C_ALPHA,         ['t'] = C_ALPHA,
    ['u'] = C_ALPHA,          ['v'] = C_ALPHA,         ['w'] = C_ALPHA,
    ['x'] = C_ALPHA,          ['y'] = C_ALPHA,         ['z'] = C_ALPHA,
    ['G'] = C_ALPHA,          ['H'] = C_ALPHA,         ['I'] = C_ALPHA,
    ['J'] = C_ALPHA,          ['K'] = C_ALPHA,         ['L'] = C_ALPHA,
    ['M'] = C_ALPHA,          ['N'] = C_ALPHA,         ['O'] = C_ALPHA,
    ['P'] = C_ALPHA,          ['Q'] = C_ALPHA,         ['R'] = C_ALPHA,
    ['S'] = C_ALPHA,          ['T'] = C_ALPHA,         ['U'] = C_ALPHA,
    ['V'] = C_ALPHA,          ['W'] = C_ALPHA,         ['X'] = C_ALPHA,
    ['Y'] = C_ALPHA,          ['Z'] = C_ALPHA,         ['-'] = C_WORD | C_EMAIL,
    ['_'] = C_WORD | C_EMAIL, ['.'] = C_EMAIL,         ['%'] = C_EMAIL,
    ['+'] = C_EMAIL,
};

#define NONE (-1) /* the line's edge */

static int at(const unsigned char *p, size_t lb, size_t hb, size_t i)
{
    return i >= lb && i < hb ? p[i] : NONE;
}

static bool is_alnum(int c)
{
    return c != NONE && (cls[c] & (C_DIGIT | C_ALPHA));
}

static bool left_ok(int c, enum iocs_edge e)
{
    if (c == NONE)
        return true;
    switch (e) {
    case IOCS_EDGE_NONE:
        return true;
    case IOCS_EDGE_IPV4:
        return !(cls[c] & C_DIGIT) && c != '.';
    case IOCS_EDGE_IPV6:
        return !(cls[c] & C_HEX) && c != ':';
    case IOCS_EDGE_DOMAIN:
        return !(cls[c] & (C_DIGIT | C_ALPHA | C_WORD));
    case IOCS_EDGE_EMAIL:
        return !(cls[c] & (C_DIGIT | C_ALPHA | C_EMAIL));
    case IOCS_EDGE_HEX:
        return !(cls[c] & C_HEX);
    case IOCS_EDGE_FILE:
        return !(cls[c] & (C_DIGIT | C_ALPHA | C_WORD)) && c != '.';
    }
    return true;
}

static bool right_ok(int c, int next, enum iocs_edge e)
{
    if (c == NONE)
        return true;
    switch (e) {
    case IOCS_EDGE_NONE:
        return true;
    case IOCS_EDGE_IPV4:
        return !(cls[c] & C_DIGIT) &&
               !(c == '.' && next != NONE && (cls[next] & C_DIGIT));
    case IOCS_EDGE_IPV6:
        return !(cls[c] & C_HEX) && c != ':';
    case IOCS_EDGE_HEX:
        return !(cls[c] & C_HEX);
    case IOCS_EDGE_DOMAIN:
    case IOCS_EDGE_EMAIL:
    case IOCS_EDGE_FILE:
        return !(cls[c] & (C_DIGIT | C_ALPHA | C_WORD)) &&
               !(c == '.' && is_alnum(next));
    }
    return true;
}

bool iocs_verify_edges(const unsigned char *p, size_t lb, size_t hb,
                       size_t start, size_t end, enum iocs_edge left,
                       enum iocs_edge right)
{
    int l = start > lb ? at(p, lb, hb, start - 1) : NONE;

    if (!left_ok(l, left))
        return false;
    return right_ok(at(p, lb, hb, end), at(p, lb, hb, end + 1), right);
}

/* Whether byte c belongs to a token run: class mask, or the extra byte. */
static bool in_run(unsigned char c, unsigned mask, int extra)
{
    return (cls[c] & mask) || c == extra;
}

/* The end of the run of token bytes from s rightwards; false when it is
 * longer than IOCS_TOKEN_MAX (no address is). */
static bool run_right(const unsigned char *p, size_t hb, size_t s,
                      unsigned mask, int extra, size_t *te)
{
    size_t t = s, lim = hb - s > IOCS_TOKEN_MAX ? s + IOCS_TOKEN_MAX : hb;

    while (t < lim && in_run(p[t], mask, extra))
        t++;
    if (t == lim && t < hb && in_run(p[t], mask, extra))
        return false;
    *te = t;
    return true;
}

/* Widen [e-1, e) to the maximal run of token bytes. Returns false when the
 * run is longer than IOCS_TOKEN_MAX either way. */
static bool widen(const unsigned char *p, size_t lb, size_t hb, size_t e,
                  unsigned mask, int extra, size_t *ts, size_t *te)
{
    size_t s = e, lim = s - lb > IOCS_TOKEN_MAX ? s - IOCS_TOKEN_MAX : lb;

    while (s > lim && in_run(p[s - 1], mask, extra))
        s--;
    if (s == lim && s > lb && in_run(p[s - 1], mask, extra))
        return false;
    *ts = s;
    return run_right(p, hb, e, mask, extra, te);
}

/* The run that starts at s (its left neighbour must not continue it). */
static bool run_at(const unsigned char *p, size_t lb, size_t hb, size_t s,
                   unsigned mask, int extra, size_t *te)
{
    if (s > lb && in_run(p[s - 1], mask, extra))
        return false;
    return run_right(p, hb, s, mask, extra, te);
}

int iocs_token4_at(const unsigned char *p, size_t lb, size_t hb, size_t s,
                   size_t *te, uint8_t addr[4])
{
    size_t t;

    if (!run_at(p, lb, hb, s, C_DIGIT, '.', &t))
        return -EINVAL;
    while (t > s && p[t - 1] == '.')
        t--;
    if (iocs_ip4_parse((const char *)p + s, t - s, addr) < 0)
        return -EINVAL;
    *te = t;
    return 0;
}

int iocs_token6_at(const unsigned char *p, size_t lb, size_t hb, size_t s,
                   size_t *te, uint8_t addr[16])
{
    size_t t;

    if (!run_at(p, lb, hb, s, C_HEX, ':', &t))
        return -EINVAL;
    if (iocs_ip6_parse((const char *)p + s, t - s, addr) < 0)
        return -EINVAL;
    *te = t;
    return 0;
}

int iocs_token6(const unsigned char *p, size_t lb, size_t hb, size_t e,
                size_t *ts, size_t *te, uint8_t addr[16])
{
    size_t s, t;

    if (!widen(p, lb, hb, e, C_HEX, ':', &s, &t))
        return -EINVAL;
    if (iocs_ip6_parse((const char *)p + s, t - s, addr) < 0)
        return -EINVAL;
    *ts = s;
    *te = t;
    return 0;
}
