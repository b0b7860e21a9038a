/*
 * feed_misp.h - JSON feeds (told apart into MISP events and STIX 2 objects)
 * and MISP's attribute type vocabulary, which CSV and Zeek files share.
 * Returns as the other parsers: 0, -ENOMEM, or -EINVAL.
 * Not a public header: only matchers/feed*.c include it.
 */
#ifndef IOCS_FEED_MISP_H
#define IOCS_FEED_MISP_H

#include <stdbool.h>
#include <stddef.h>

#include "matchers/feed_util.h"

/* A JSON feed, buf with no NUL byte and no BOM: MISP goes to
 * iocs__feed_misp(), STIX 2 to iocs__feed_stix(), anything else is fatal. */
int iocs__feed_json(struct iocs__loader *ld, const char *buf, size_t n);

/* A parsed MISP document (jansson's json_t): an event, a REST response or
 * an array of events. */
struct json_t;
int iocs__feed_misp(struct iocs__loader *ld, struct json_t *root);

/*
 * Take one value whose type the feed names with its own vocabulary (MISP
 * attribute types including composites such as "ip-dst|port" and
 * "filename|sha256", Volexity and Zeek Intel:: names, ours). Attribute
 * types that are not indicators ("text", "link", "comment", ...) are
 * skipped with the reason; an unknown type is detected from the value when
 * detect_unknown is set and skipped otherwise. base carries the metadata;
 * its value, len and type fields are overwritten.
 */
int iocs__feed_misp_value(struct iocs__loader *ld, struct iocs__entry *base,
                          const char *type, const char *value, size_t vlen,
                          bool detect_unknown);

#endif /* IOCS_FEED_MISP_H */
