/*
 * status.c - error text for iocstream's negative-errno codes.
 */
#include "pipeline/status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *iocs_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case -E2BIG:
        return "line longer than the framer cap";
    case -EAGAIN:
        return "more input needed";
    case -ENOSYS:
        return "io_uring is not available";
    case -EBADMSG:
        return "malformed input";
    case -ENOSPC:
        return "fixed capacity exceeded";
    default:
        break;
    }
    if (err < 0)
        return strerror(
            -err); /* glibc's strerror is thread-safe for known codes */
    return "unknown error";
}

int iocs_seterr(char *errbuf, size_t errlen, int err, const char *fmt, ...)
{
    va_list ap;

    if (errbuf && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return err;
}
