/*
 * fuzz_rules.c - libFuzzer target for the regex rule parser: any bytes are
 * loaded as a rule file into a fresh set. Every rule taken must compile
 * into a database; crashes, leaks and undefined behaviour are the findings.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "matchers/db.h"
#include "matchers/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iocs_feed_report rep = {0};
    struct iocs_iocset *set;
    struct iocs_db *db = NULL;
    char errbuf[256];

    if (size > 4096 || iocs_iocset_new(&set))
        return 0;
    (void)iocs_rules_load_mem(set, "fuzz", (const char *)data, size, NULL, NULL,
                              &rep);
    for (size_t i = 0; i < iocs_iocset_count(set); i++) {
        const struct iocs_ioc *ioc = iocs_iocset_get(set, i);

        if (ioc->type != IOCS_REGEX || !ioc->rule_id || ioc->len == 0 ||
            ioc->value[ioc->len])
            __builtin_trap();
    }
    /* A rule that passed the check must compile with the others. */
    if (iocs_iocset_count(set) &&
        iocs_db_compile(&db, set, errbuf, sizeof(errbuf)) == -EINVAL)
        __builtin_trap();
    iocs_db_free(db);
    iocs_iocset_free(set);
    return 0;
}
