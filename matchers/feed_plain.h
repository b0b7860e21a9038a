/*
 * feed_plain.h - the parsers of plain lists and LOKI filename-IOC files.
 * Each takes a buffer with no NUL byte and no BOM, hands every entry to
 * iocs__feed_take() and returns 0, -ENOMEM, or -EINVAL (--strict, or the
 * whole file unusable: reported through the loader's reject callback).
 * Not a public header: only matchers/feed*.c include it.
 */
#ifndef IOCS_FEED_PLAIN_H
#define IOCS_FEED_PLAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "matchers/feed_util.h"

/* A plain list: one value per line, '#' comments, an optional
 * description after the value. */
int iocs__feed_plain(struct iocs__loader *ld, const char *buf, size_t n);

/* Whether buf looks like a LOKI filename-IOC file ("regex;score" lines). */
bool iocs__feed_is_loki(const char *buf, size_t n);

/* A LOKI filename-IOC file: case-insensitive regular expressions. */
int iocs__feed_loki(struct iocs__loader *ld, const char *buf, size_t n);

#endif /* IOCS_FEED_PLAIN_H */
