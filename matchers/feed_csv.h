/*
 * feed_csv.h - the parsers of CSV/TSV files with a header and of Zeek intel
 * files. Each takes a buffer with no NUL byte and no BOM, hands every entry
 * to iocs__feed_take() and returns 0, -ENOMEM, or -EINVAL (--strict, or
 * the whole file unusable: reported through the loader's reject callback).
 * Not a public header: only matchers/feed*.c include it.
 */
#ifndef IOCS_FEED_CSV_H
#define IOCS_FEED_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "matchers/feed_util.h"

/* Whether the first non-comment line of buf is a CSV/TSV header naming a
 * value column. */
bool iocs__feed_is_csv(const char *buf, size_t n);

int iocs__feed_csv(struct iocs__loader *ld, const char *buf, size_t n);
int iocs__feed_zeek(struct iocs__loader *ld, const char *buf, size_t n);

#endif /* IOCS_FEED_CSV_H */
