/*
 * fuzz_feed.c - libFuzzer target for the feed parser: any bytes are loaded
 * into a fresh set, which is then freed. Crashes, leaks and undefined
 * behaviour are the findings; rejected lines are expected.
 */
#include <stddef.h>
#include <stdint.h>

#include "matchers/feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iocs_feed_report rep = {0};
    struct iocs_iocset *set;

    if (iocs_iocset_new(&set))
        return 0;
    (void)iocs_feed_load_mem(set, "fuzz", (const char *)data, size, NULL, NULL,
                             &rep);
    /* Every IOC that went in must read back whole. */
    for (size_t i = 0; i < iocs_iocset_count(set); i++) {
        const struct iocs_ioc *ioc = iocs_iocset_get(set, i);

        if (!ioc || !ioc->value || ioc->len == 0 || ioc->value[ioc->len])
            __builtin_trap();
    }
    iocs_iocset_free(set);
    return 0;
}
