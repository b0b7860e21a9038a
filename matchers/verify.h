/*
 * verify.h - what makes a literal match a hit: the bytes next to it.
 *
 * Hyperscan finds every occurrence of every IOC's text; this module decides
 * whether the neighbouring bytes say it is the whole token (DESIGN.md, "What
 * a hit means, per IOC type"), and cuts IP tokens out of a line for CIDR
 * lookups. Pure functions over a line's bytes: no allocation, no state,
 * safe from any thread. Case folding is ASCII; bytes >= 0x80 are never
 * letters or digits.
 *
 * Positions are indexes into p; [lb, hb) is the line (its '\n' and a '\r'
 * before it excluded). A neighbour outside [lb, hb) is the line's edge,
 * which no rule forbids.
 */
#ifndef IOCS_VERIFY_H
#define IOCS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "matchers/db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest run of token characters considered around a trigger. */
#define IOCS_TOKEN_MAX 64

/* Whether the match p[start..end) has allowed neighbours on both sides. */
bool iocs_verify_edges(const unsigned char *p, size_t lb, size_t hb,
                       size_t start, size_t end, enum iocs_edge left,
                       enum iocs_edge right);

/*
 * Read an IPv4 token starting at s (where a range literal matched): the
 * byte before s must not be a digit or '.', and the maximal run of digits
 * and '.' from s (at most IOCS_TOKEN_MAX bytes), trailing dots dropped,
 * must be exactly one address. Returns 0 with *te and addr filled, else
 * -EINVAL.
 */
int iocs_token4_at(const unsigned char *p, size_t lb, size_t hb, size_t s,
                   size_t *te, uint8_t addr[4]);

/*
 * Read an IPv6 token starting at s (where a range literal matched): the
 * byte before s must not be a hex digit or ':', and the maximal run of hex
 * digits and ':' from s (at most IOCS_TOKEN_MAX bytes) must parse as an
 * address. Returns 0 with *te and addr filled, else -EINVAL.
 */
int iocs_token6_at(const unsigned char *p, size_t lb, size_t hb, size_t s,
                   size_t *te, uint8_t addr[16]);

/*
 * Widen an IPv6 trigger ending at e to the maximal run of hex digits and
 * ':' around it (at most IOCS_TOKEN_MAX bytes each way) and parse it as an
 * address in any spelling. Returns 0 with [*ts, *te) and addr filled, else
 * -EINVAL.
 */
int iocs_token6(const unsigned char *p, size_t lb, size_t hb, size_t e,
                size_t *ts, size_t *te, uint8_t addr[16]);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_VERIFY_H */
