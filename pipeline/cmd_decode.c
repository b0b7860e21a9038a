/*
 * cmd_decode.c - `iocstream decode [FILE]`: a msgpack event stream (FILE
 * or stdin) to JSON lines on stdout (decode.h).
 */
#include "pipeline/cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/decode.h"
#include "pipeline/status.h"

int iocs_cmd_decode(const char *path)
{
    char errbuf[256] = "";
    int fd = STDIN_FILENO;
    long n;

    if (path && strcmp(path, "-") != 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "iocstream: %s: %s\n", path, strerror(errno));
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    /* Files, pipes and terminals alike: the first object must be a map. */
    n = iocs_decode_events(fd, stdout, errbuf, sizeof(errbuf));
    if (fd != STDIN_FILENO)
        close(fd);
    if (fflush(stdout) != 0 && n >= 0)
        n = -errno;
    if (n < 0) {
        if (n != -EPIPE)
            fprintf(stderr, "iocstream: decode %s: %s\n", path ? path : "stdin",
                    errbuf[0] ? errbuf : iocs_strerror((int)n));
        return 2;
    }
    return 0;
}
