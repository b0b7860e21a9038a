/*
 * cidr.h - IP address parsing and a prefix set for CIDR indicators.
 *
 * Parsing is strict and allocation-free so the scanner can call it on IP
 * tokens cut out of log lines. The set is built at config time and is
 * read-only afterwards; lookups are lock-free and allocation-free, safe from
 * any number of threads.
 */
#ifndef IOCS_CIDR_H
#define IOCS_CIDR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest textual IPv6 address, "ffff:...:255.255.255.255", plus NUL. */
#define IOCS_IP6_TEXT_MAX 46

/*
 * Parse exactly n bytes as a dotted-quad IPv4 address: four decimal octets
 * of 1-3 digits, each <= 255, none with a leading zero ("010" is rejected;
 * "0" is fine). Returns 0 and fills out[4] (network order), or -EINVAL.
 */
int iocs_ip4_parse(const char *s, size_t n, uint8_t out[4]);

/*
 * Parse exactly n bytes as an IPv6 address in any RFC 4291 spelling (hex
 * case-insensitive, leading zeros allowed, one "::", an embedded dotted quad
 * in the last 32 bits). No zone ("%eth0") and no brackets. Returns 0 and
 * fills out[16], or -EINVAL.
 */
int iocs_ip6_parse(const char *s, size_t n, uint8_t out[16]);

/*
 * Write the RFC 5952 canonical text of a (lower case, no leading zeros,
 * longest run of two or more zero groups as "::", first such run on a tie;
 * ::ffff:a.b.c.d for IPv4-mapped). out must hold IOCS_IP6_TEXT_MAX bytes.
 * Returns the length written (without the NUL).
 */
int iocs_ip6_format(const uint8_t a[16], char *out);

/*
 * Parse "addr/len" (IPv4 or IPv6, as the parsers above; len 0..32 or
 * 0..128). Host bits set in addr are cleared. Returns 0 and fills *family
 * (4 or 6), addr[16] (IPv4 in the first 4 bytes) and *prefix; or -EINVAL.
 */
int iocs_cidr_parse(const char *s, size_t n, int *family, uint8_t addr[16],
                    unsigned *prefix);

struct iocs_cidrset;

/* Make an empty set. Returns 0 or -ENOMEM. */
int iocs_cidrset_new(struct iocs_cidrset **out);

/* Release s. NULL is accepted and ignored. */
void iocs_cidrset_free(struct iocs_cidrset *s);

/*
 * Add the range addr/prefix of family 4 or 6 with identifier id (bits of
 * addr past prefix are ignored). The same range may be added with several
 * ids; adding the same range with the same id again changes nothing.
 * Returns 0, -EINVAL (bad family or prefix) or -ENOMEM.
 */
int iocs_cidrset_add(struct iocs_cidrset *s, int family, const uint8_t *addr,
                     unsigned prefix, uint32_t id);

/* Whether any range of that family was added (the scanner skips token
 * extraction for a family with none). */
int iocs_cidrset_has(const struct iocs_cidrset *s, int family);

/*
 * Find every range containing addr (4 or 16 bytes by family). Writes up to
 * cap ids, shortest prefix first (ids of one range in the order they were
 * added), to ids and returns how many ids matched in all (which may exceed
 * cap; ids may be NULL when cap is 0). Allocation-free; at most 33 or 129
 * trie nodes are visited.
 */
size_t iocs_cidrset_lookup(const struct iocs_cidrset *s, int family,
                           const uint8_t *addr, uint32_t *ids, size_t cap);

/* ---- internal to matchers/ (database files, dbcache.c) ---- */

/* Bytes iocs__cidrset_save() writes for s. */
size_t iocs__cidrset_size(const struct iocs_cidrset *s);

/* Write s as it is (its arrays, little-endian 32-bit words) to out,
 * iocs__cidrset_size(s) bytes. */
void iocs__cidrset_save(const struct iocs_cidrset *s, unsigned char *out);

/*
 * A set from n bytes that iocs__cidrset_save() wrote, into *out, every
 * index checked (node children and id lists inside their arrays, id lists
 * strictly forward so they end, ids below nids, a hash table of whole
 * addresses with free slots), so that lookups in it stay in bounds and
 * end whatever the bytes. Returns 0, -EINVAL or -ENOMEM.
 */
int iocs__cidrset_load(struct iocs_cidrset **out, const unsigned char *p,
                       size_t n, uint32_t nids);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_CIDR_H */
