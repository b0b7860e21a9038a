/*
 * feed_stix.h - STIX 2.x objects (indicators with patterns, observables)
 * into entries. Returns as the other parsers: 0, -ENOMEM, or -EINVAL.
 * Not a public header: only matchers/feed*.c include it.
 */
#ifndef IOCS_FEED_STIX_H
#define IOCS_FEED_STIX_H

#include <stdbool.h>
#include <stddef.h>

#include "matchers/feed_util.h"

/* The STIX objects of a bundle, as a parsed JSON array (jansson's
 * json_t). */
struct json_t;
int iocs__feed_stix(struct iocs__loader *ld, struct json_t *objects);

#endif /* IOCS_FEED_STIX_H */
