/*
 * fuzz_linetime.c - libFuzzer target for the line time and host parser.
 *
 * The first byte picks the reference time (the mtime of the RFC 3164
 * year rule) and a fixed --tz offset; the rest is one line, copied to a
 * buffer of exactly its size so that ASan sees any read past its end. A
 * host found must lie inside the line, a time's nanoseconds below 10^9.
 * The same bytes, NUL-terminated, also go to the --since parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/linetime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iocs_linetime_ctx ctx = {0};
    struct iocs_linetime lt;
    struct timespec ts;
    char *line, *arg;
    int ret;

    if (size < 1)
        return 0;
    /* 2000-01-01 + up to 255 * 50 days: New Years and leap days. */
    ctx.ref = 946684800 + (time_t)data[0] * 50 * 86400 + data[0] * 3607;
    if (data[0] & 1) {
        ctx.zone.kind = IOCS_LINETIME_FIXED;
        ctx.zone.offset = ((int32_t)data[0] - 128) * 900;
    }
    data++;
    size--;
    line = malloc(size ? size : 1);
    arg = malloc(size + 1);
    if (!line || !arg)
        abort();
    memcpy(line, data, size);
    ret = iocs_linetime_parse(&ctx, line, size, &lt);
    if (ret != 0 && ret != 1)
        abort();
    if (ret != lt.has_time)
        abort();
    if (ret && (lt.ts.tv_nsec < 0 || lt.ts.tv_nsec >= 1000000000))
        abort();
    if (lt.host && (lt.host < line || lt.host_len == 0 ||
                    lt.host + lt.host_len > line + size))
        abort();
    memcpy(arg, data, size);
    arg[size] = '\0';
    if (iocs_linetime_parse_arg(&ctx.zone, arg, &ts) == 0 &&
        (ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000))
        abort();
    free(arg);
    free(line);
    return 0;
}
