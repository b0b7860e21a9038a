/*
 * status.c - error text for iocstream's negative-errno codes. A kernel
 * error prints as the kernel names it (strerror): only codes that iocstream
 * gives a meaning of its own, and that no system call returns to it, have
 * their own text here.
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
    case -ENOSYS:
        return "io_uring is not available";
    case -EBADMSG:
        return "malformed input";
    default:
        break;
    }
    if (err < 0)
        return strerror(
            -err); /* glibc's strerror is thread-safe for known codes */
    return "unknown error";
}
