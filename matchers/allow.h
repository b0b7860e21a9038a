/*
 * allow.h - allowlists: values that never alert (a company's own resolvers,
 * microsoft.com, ...), loaded with `--allow FILE`.
 *
 * An allowlist holds IP addresses, CIDR ranges, domains (which also cover
 * their subdomains) and other exact values (hashes, URLs, strings; folded
 * where the type folds). It is applied twice: at load time, an IOC whose
 * value is allowlisted is dropped (and counted); at scan time, an IP token
 * matched by a CIDR IOC is skipped when allowlisted. Files are plain lists
 * (one value per line, '#' comments, refanged, typed like IOCs) or MISP
 * warninglist JSON ({"name", "type": "cidr"|"hostname"|"string"|
 * "substring"|"regex", "list": [...]}; substring and regex lists are
 * rejected with a reason). An entry that would allow everything, 0.0.0.0/0
 * or ::/0, or a single character, is rejected with a reason in both.
 * Built at config time; read-only and thread-safe afterwards.
 */
#ifndef IOCS_ALLOW_H
#define IOCS_ALLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "matchers/ioc.h"
#include "matchers/util.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iocs_allow;

/* Make an empty allowlist. Returns 0 or -ENOMEM. */
int iocs_allow_new(struct iocs_allow **out);

/* Release a. NULL is accepted and ignored. */
void iocs_allow_free(struct iocs_allow *a);

/*
 * Load the file at path (format detected from content). Rejected entries go
 * to reject as (file, line, why). Adds the number of entries taken to
 * *loaded (if non-NULL). Returns 0, a negative errno from open/read,
 * -EINVAL for an unusable file (reject gets why, with line 0), or -ENOMEM.
 */
int iocs_allow_load_file(struct iocs_allow *a, const char *path,
                         iocs_reject_fn reject, void *ctx, size_t *loaded);

/* As iocs_allow_load_file(), from buf[0..n) named name in messages. */
int iocs_allow_load_mem(struct iocs_allow *a, const char *name, const char *buf,
                        size_t n, iocs_reject_fn reject, void *ctx,
                        size_t *loaded);

/* Whether a normalised IOC value of type t is allowlisted (an address in an
 * allowed range, a domain under an allowed domain, an equal value). */
bool iocs_allow_ioc(const struct iocs_allow *a, enum iocs_type t,
                    const char *value, size_t n);

/* Whether an IP address (family 4 or 6, 4 or 16 bytes) is allowlisted.
 * Allocation-free; called on the scan path. */
bool iocs_allow_ip(const struct iocs_allow *a, int family,
                   const unsigned char *addr);

/* Number of entries. */
size_t iocs_allow_count(const struct iocs_allow *a);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_ALLOW_H */
