/*
 * tokens.h - typed exact-token lookups: the IOC types that are whole
 * tokens (IPv4 and IPv6 addresses, CIDR ranges, MD5/SHA-1/SHA-256/SHA-512
 * hashes, domains, e-mail addresses) found without Hyperscan.
 *
 * Status: exact (tests/test_tokens.c, fuzz/fuzz_tokens.c). The scanner
 * uses it on the token path (db.h: --tokens, chosen per set), where it
 * beats Hyperscan per byte only for large sets; its other win is build
 * time and memory (bench/LIMITS.md, bench/DB.md).
 *
 * Built once at load time from an iocs_iocset, beside the Hyperscan
 * database (db.h), then read-only: any number of threads may scan with one
 * index at once, without locks or scratch. A scan classifies the bytes of a
 * buffer of whole lines with SIMD (SSE2, the x86-64 baseline, or AVX2 when
 * the CPU has it; plain C elsewhere), cuts the candidate tokens out of each
 * run of token bytes that holds a trigger ('.', ':', '@', or 16 hex digits
 * in a row), and looks each one up in one open-addressing table of
 * (hash tag, IOC index) slots, 8 bytes each, at most 70% full. Each
 * candidate is cut exactly as DESIGN.md ("What a hit means, per IOC type")
 * bounds a hit, so a hit here is one the Hyperscan literal plus
 * iocs_verify_edges() would give, at the same [start, end):
 *
 *   ipv4    a run of digits and '.' from a byte that is neither, extended
 *           while a digit or a '.' followed by a digit comes next
 *   ipv6    a maximal run of hex digits and ':' with two ':' or more, parsed
 *           in any spelling (iocs_ip6_parse()); the address is the key
 *   cidr    IPv4: the run of digits and '.' from a byte that is neither, at
 *           most IOCS_TOKEN_MAX bytes, trailing dots dropped, one address
 *           (as iocs_token4_at()); IPv6: the ipv6 token above, any
 *           spelling; looked up in a prefix set (cidr.h) of the CIDR IOCs,
 *           at most 64 ranges per token, widest first. The allowlist
 *           (allow.h) is the caller's: a CIDR hit's token is p[start, end)
 *   hashes  a maximal run of 32, 40, 64 or 128 hex digits, folded
 *   domain  every label start of a dotted name (a subdomain matches its
 *           parent), up to the first byte that is not a letter, digit, '-'
 *           or '_', nor a '.' followed by a letter or digit; folded
 *   email   the maximal run of letters, digits and ._%+- before an '@',
 *           the '@', and the domain cut as above; folded
 *
 * Not every IOC of those types can be found this way: an IPv6 address with
 * an embedded dotted quad, a domain without a '.', values with bytes the
 * token rules do not cover, or longer than IOCS_TOKENS_MAXLEN stay with
 * Hyperscan (iocs_tokens_takes() says which).
 *
 * IPv6 ranges differ from the Hyperscan path on purpose: Hyperscan finds
 * a range's addresses through literals of its leading groups, written
 * unpadded or zero-padded throughout (db.c, add_cidr6()), so an address
 * written with mixed padding ("2001:db8:0001::5" for 2001:db8:1::/48) is
 * found only when the set also needs the generic IPv6 trigger (a range
 * shorter than /16, or an IPv6 IOC whose first group is zero); the token
 * pass parses every IPv6 token and finds every spelling DESIGN.md asks
 * for, a superset (tests/e2e_tokens.sh tests exactly that difference).
 * IPv6 addresses themselves are found in any spelling by both. Everything
 * else is the same hit at the same [start, end).
 */
#ifndef IOCS_TOKENS_H
#define IOCS_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "matchers/ioc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest IOC value the token index takes; longer ones stay in Hyperscan. */
#define IOCS_TOKENS_MAXLEN 255

/* The types the token index can take, as a mask of (1u << enum iocs_type). */
#define IOCS_TOKENS_ALL                                                        \
    ((1u << IOCS_IPV4) | (1u << IOCS_IPV6) | (1u << IOCS_CIDR4) |              \
     (1u << IOCS_CIDR6) | (1u << IOCS_DOMAIN) | (1u << IOCS_EMAIL) |           \
     (1u << IOCS_MD5) | (1u << IOCS_SHA1) | (1u << IOCS_SHA256) |              \
     (1u << IOCS_SHA512))

/*
 * Whether an index built with type mask `types` takes ioc (and the
 * Hyperscan database must then leave it out): its type is in types and
 * IOCS_TOKENS_ALL, and its normalised value has a token's shape.
 */
bool iocs_tokens_takes(unsigned types, const struct iocs_ioc *ioc);

struct iocs_tokens;

/*
 * Build the index of every IOC of set that iocs_tokens_takes(types, ...)
 * accepts, in one pass (O(n)). The set must outlive the index (hits are
 * checked against its values). Returns 0 with *out set, or -ENOMEM with
 * *out untouched. An index with no IOC is valid and finds nothing.
 */
int iocs_tokens_new(struct iocs_tokens **out, const struct iocs_iocset *set,
                    unsigned types);

/* Release t. NULL is accepted and ignored. */
void iocs_tokens_free(struct iocs_tokens *t);

/* Number of IOCs in t; bytes of its table, filters and prefix maps (the
 * prefix set of its CIDR IOCs not counted); the longest token it can report
 * (IOCS_TOKEN_MAX when it holds a CIDR range). */
size_t iocs_tokens_count(const struct iocs_tokens *t);
size_t iocs_tokens_bytes(const struct iocs_tokens *t);
size_t iocs_tokens_maxlen(const struct iocs_tokens *t);

/*
 * Receives one hit: IOC index ioc (in the set) at p[start, end). Runs
 * inside iocs_tokens_scan(): no allocation, locks or I/O. Returns 0 to go
 * on; anything else stops the scan, and iocs_tokens_scan() returns it.
 */
typedef int (*iocs_token_fn)(void *ctx, uint32_t ioc, size_t start, size_t end);

/*
 * Find every token hit in p[0, n), a buffer of whole lines: the bytes
 * before p and from p + n on are line edges, which no rule forbids ('\n'
 * and '\r' are no token's bytes, so line ends need no special case). Hits
 * come in increasing end order (ties by IOC index), each (ioc, start) once,
 * as the Hyperscan path gives them after iocs_verify_edges(). For a piece
 * of a long line, judge only the hits ending at least
 * iocs_tokens_maxlen(t) + 2 bytes after p and at most n - 2: those have
 * their whole context inside. Allocation-free; reads nothing outside
 * [p, p + n). Returns 0, or what fn returned to stop.
 */
int iocs_tokens_scan(const struct iocs_tokens *t, const unsigned char *p,
                     size_t n, iocs_token_fn fn, void *ctx);

/* ---- internal to matchers/ and its tests ---- */

/*
 * iocs_tokens_scan() with the classifier chosen: 0 plain C, 1 the x86-64
 * baseline (SSE2; plain C elsewhere), 2 AVX2. Returns -ENOTSUP for AVX2 on
 * a CPU without it, else as iocs_tokens_scan().
 */
int iocs__tokens_scan_isa(const struct iocs_tokens *t, const unsigned char *p,
                          size_t n, iocs_token_fn fn, void *ctx, int isa);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_TOKENS_H */
