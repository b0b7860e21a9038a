/*
 * fuzz_feed_json.c - libFuzzer target for the JSON feed parsers (MISP and
 * STIX 2): the input is loaded as a feed (a leading '{' is added when the
 * input starts with neither '{' nor '[', so that most runs reach the JSON
 * parsers), once with the defaults and once taking every attribute under
 * --strict. Crashes, leaks and undefined behaviour are the findings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "matchers/feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void noop_explain(void *ctx, const char *file, size_t line,
                         const char *raw, const char *type, const char *value,
                         const char *why)
{
    (void)ctx;
    (void)file;
    (void)line;
    (void)type;
    if (!raw || (value && why))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iocs_feed_opts opts = {
        .all_attributes = true, .strict = true, .explain = noop_explain};
    struct iocs_iocset *set;
    char *buf = malloc(size + 1);
    size_t n = size;

    if (!buf)
        return 0;
    if (size == 0 || (data[0] != '{' && data[0] != '[')) {
        buf[0] = '{';
        if (size)
            memcpy(buf + 1, data, size);
        n = size + 1;
    } else {
        memcpy(buf, data, size);
    }
    if (iocs_iocset_new(&set) == 0) {
        (void)iocs_feed_load_mem(set, "fuzz", buf, n, NULL, NULL, NULL);
        (void)iocs_feed_load_mem_opts(set, "fuzz", buf, n, &opts, NULL, NULL,
                                      NULL);
        for (size_t i = 0; i < iocs_iocset_count(set); i++) {
            const struct iocs_ioc *ioc = iocs_iocset_get(set, i);

            if (!ioc || !ioc->value || ioc->len == 0 || ioc->value[ioc->len])
                __builtin_trap();
        }
        iocs_iocset_free(set);
    }
    free(buf);
    return 0;
}
