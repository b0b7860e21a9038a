/*
 * fuzz_checkpoint.c - libFuzzer target for the state file parser.
 *
 * The input is taken as a state file. Whatever parses must format back to
 * the very same bytes (the format is canonical: one spelling per state),
 * and that text must parse again to a state that formats the same. Any
 * difference aborts. Half the inputs get a valid checksum line appended,
 * so that the fuzzer reaches the body's rules instead of stopping at the
 * checksum.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const void *p, size_t n)
{
    struct iocs_checkpoint *s = NULL, *s2 = NULL;
    char err[256], *t1 = NULL, *t2 = NULL;
    size_t l1, l2;

    if (iocs_checkpoint_parse(p, n, &s, err, sizeof(err)) != 0)
        return;
    if (iocs_checkpoint_format(s, &t1, &l1) != 0)
        abort();
    if (l1 != n || memcmp(t1, p, n) != 0) {
        fprintf(stderr, "fuzz_checkpoint: re-serialised text differs\n");
        abort();
    }
    if (iocs_checkpoint_parse(t1, l1, &s2, err, sizeof(err)) != 0 ||
        iocs_checkpoint_format(s2, &t2, &l2) != 0 || l2 != l1 ||
        memcmp(t1, t2, l1) != 0) {
        fprintf(stderr, "fuzz_checkpoint: round trip differs: %s\n", err);
        abort();
    }
    free(t1);
    free(t2);
    iocs_checkpoint_free(s);
    iocs_checkpoint_free(s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf;
    int n;

    check(data, size);
    if (size == 0 || size > 1 << 20 || data[size - 1] != '\n')
        return 0;
    buf = malloc(size + 32);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    n = snprintf(buf + size, 32, "end %016llx\n",
                 (unsigned long long)iocs_checkpoint_fingerprint(data, size));
    check(buf, size + (size_t)n);
    free(buf);
    return 0;
}
