/*
 * ioc_type.c - names of IOC types: ours, ECS/STIX, and the MISP/Zeek/feed
 * spellings accepted when a feed states the type.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "matchers/ioc.h"

static const char *const short_names[IOCS_TYPE_COUNT] = {
    [IOCS_IPV4] = "ipv4",     [IOCS_IPV6] = "ipv6",
    [IOCS_CIDR4] = "cidr",    [IOCS_CIDR6] = "cidr",
    [IOCS_DOMAIN] = "domain", [IOCS_URL] = "url",
    [IOCS_EMAIL] = "email",   [IOCS_MD5] = "md5",
    [IOCS_SHA1] = "sha1",     [IOCS_SHA256] = "sha256",
    [IOCS_SHA512] = "sha512", [IOCS_FILENAME] = "filename",
    [IOCS_STRING] = "string", [IOCS_REGEX] = "regex",
};

static const char *const ecs_names[IOCS_TYPE_COUNT] = {
    [IOCS_IPV4] = "ipv4-addr",     [IOCS_IPV6] = "ipv6-addr",
    [IOCS_CIDR4] = "ipv4-addr",    [IOCS_CIDR6] = "ipv6-addr",
    [IOCS_DOMAIN] = "domain-name", [IOCS_URL] = "url",
    [IOCS_EMAIL] = "email-addr",   [IOCS_MD5] = "file",
    [IOCS_SHA1] = "file",          [IOCS_SHA256] = "file",
    [IOCS_SHA512] = "file",        [IOCS_FILENAME] = "file",
    [IOCS_STRING] = "artifact",    [IOCS_REGEX] = "artifact",
};

const char *iocs_type_name(enum iocs_type t)
{
    if ((unsigned)t >= IOCS_TYPE_COUNT)
        return "unknown";
    return short_names[t];
}

const char *iocs_type_ecs(enum iocs_type t)
{
    if ((unsigned)t >= IOCS_TYPE_COUNT)
        return "artifact";
    return ecs_names[t];
}

/* Spellings seen in feeds, mapped to our types. Matched case-insensitively
 * and whole. */
static const struct {
    const char *name;
    enum iocs_type type;
} aliases[] = {
    {"ipv4", IOCS_IPV4},
    {"ip", IOCS_IPV4},
    {"ipv4-addr", IOCS_IPV4},
    {"ip-src", IOCS_IPV4},
    {"ip-dst", IOCS_IPV4},
    {"ipaddress", IOCS_IPV4},
    {"intel::addr", IOCS_IPV4},
    {"ipv6", IOCS_IPV6},
    {"ipv6-addr", IOCS_IPV6},
    {"cidr", IOCS_CIDR4},
    {"ip-range", IOCS_CIDR4},
    {"subnet", IOCS_CIDR4},
    {"intel::subnet", IOCS_CIDR4},
    {"domain", IOCS_DOMAIN},
    {"domain-name", IOCS_DOMAIN},
    {"hostname", IOCS_DOMAIN},
    {"host", IOCS_DOMAIN},
    {"fqdn", IOCS_DOMAIN},
    {"intel::domain", IOCS_DOMAIN},
    {"url", IOCS_URL},
    {"uri", IOCS_URL},
    {"link", IOCS_URL},
    {"intel::url", IOCS_URL},
    {"email", IOCS_EMAIL},
    {"email-addr", IOCS_EMAIL},
    {"email-src", IOCS_EMAIL},
    {"email-dst", IOCS_EMAIL},
    {"intel::email", IOCS_EMAIL},
    {"md5", IOCS_MD5},
    {"filehash-md5", IOCS_MD5},
    {"sha1", IOCS_SHA1},
    {"filehash-sha1", IOCS_SHA1},
    {"sha256", IOCS_SHA256},
    {"filehash-sha256", IOCS_SHA256},
    {"sha512", IOCS_SHA512},
    {"filehash-sha512", IOCS_SHA512},
    {"filename", IOCS_FILENAME},
    {"file", IOCS_FILENAME},
    {"file-name", IOCS_FILENAME},
    {"filepath", IOCS_FILENAME},
    {"intel::file_name", IOCS_FILENAME},
    {"string", IOCS_STRING},
    {"artifact", IOCS_STRING},
    {"text", IOCS_STRING},
    {"regex", IOCS_REGEX},
    {"regexp", IOCS_REGEX},
};

int iocs_type_parse(const char *s, size_t n, enum iocs_type *out)
{
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        const char *a = aliases[i].name;

        if (strlen(a) == n && strncasecmp(s, a, n) == 0) {
            *out = aliases[i].type;
            return 0;
        }
    }
    return -EINVAL;
}
