/*
 * fuzz_allow.c - libFuzzer target for allowlist parsing (plain lists and
 * MISP warninglists): any bytes are loaded into a fresh allowlist, which
 * is then queried and freed. Crashes, leaks and undefined behaviour are
 * the findings; rejected lines are expected. An allowlist never covers
 * every address: 0.0.0.0/0 and ::/0 are refused, whatever the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "matchers/allow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iocs_allow *a;
    size_t loaded = 0;

    if (iocs_allow_new(&a))
        return 0;
    (void)iocs_allow_load_mem(a, "fuzz", (const char *)data, size, NULL, NULL,
                              &loaded);
    if (loaded > size)
        __builtin_trap(); /* an entry takes at least a byte */
    /* A range is allowed only inside an entry at least as wide: /0 only
     * inside a /0 entry, which is never taken. */
    if (iocs_allow_ioc(a, IOCS_CIDR4, "0.0.0.0/0", 9) ||
        iocs_allow_ioc(a, IOCS_CIDR6, "::/0", 4))
        __builtin_trap();
    (void)iocs_allow_ioc(a, IOCS_DOMAIN, "a.evil.example", 14);
    (void)iocs_allow_count(a);
    iocs_allow_free(a);
    return 0;
}
