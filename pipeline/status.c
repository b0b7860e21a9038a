/*
 * status.c - error text for iocstream's negative-errno codes.
 */
#include "pipeline/status.h"

#include <errno.h>
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
