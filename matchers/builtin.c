/*
 * builtin.c - the built-in IOC pack: the indicators BeyondTrust published
 * for the Remote Support SaaS incident behind the Dec 2024 US Treasury
 * breach (IP addresses only; no hashes, names or domains were published).
 */
#include "matchers/builtin.h"

#include <errno.h>
#include <string.h>

#include "pipeline/status.h"

#define BT_REF                                                                 \
    "https://www.beyondtrust.com/"                                             \
    "remote-support-saas-service-security-investigation"
#define BT_DESC "BeyondTrust Remote Support SaaS incident (Treasury breach)"

static const struct iocs_builtin pack[] = {
    {IOCS_IPV4, "24.144.114.85", 8, BT_DESC, BT_REF},
    {IOCS_IPV4, "142.93.119.175", 8, BT_DESC, BT_REF},
    {IOCS_IPV4, "157.230.183.1", 8, BT_DESC, BT_REF},
    {IOCS_IPV4, "192.81.209.168", 8, BT_DESC, BT_REF},
    {IOCS_IPV6, "2604:a880:400:d1::7293:c001", 8, BT_DESC, BT_REF},
    {IOCS_IPV6, "2604:a880:400:d1::72ad:3001", 8, BT_DESC, BT_REF},
    {IOCS_IPV6, "2604:a880:400:d1::7716:1", 8, BT_DESC, BT_REF},
    {IOCS_IPV6, "2604:a880:400:d1::7df0:7001", 8, BT_DESC, BT_REF},
    {IOCS_IPV6, "2604:a880:400:d1::8622:f001", 8, BT_DESC, BT_REF},
};

const struct iocs_builtin *iocs_builtin_pack(size_t *n)
{
    *n = sizeof(pack) / sizeof(pack[0]);
    return pack;
}

int iocs_builtin_load(struct iocs_iocset *set, char *errbuf, size_t errlen)
{
    char norm[IOCS_IOC_MAX + 1];

    for (size_t i = 0; i < sizeof(pack) / sizeof(pack[0]); i++) {
        const struct iocs_builtin *b = &pack[i];
        enum iocs_type t = b->type;
        struct iocs_ioc ioc;
        const char *why = NULL;
        size_t len;
        int err;

        err = iocs_ioc_normalise(&t, b->value, strlen(b->value), norm,
                                 sizeof(norm), &len, &why);
        if (err)
            return iocs_seterr(errbuf, errlen, err, "builtin '%s': %s",
                               b->value, why ? why : iocs_strerror(err));
        ioc = (struct iocs_ioc){.type = t,
                                .severity = b->severity,
                                .value = norm,
                                .len = len,
                                .feed = "builtin",
                                .provider = "BeyondTrust",
                                .description = b->description,
                                .reference = b->reference};
        err = iocs_iocset_add(set, &ioc, NULL);
        if (err)
            return err;
    }
    return 0;
}
