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

/* Every event is a msgpack map: a file whose first byte is not a map's
 * (JSON text reads as small integers) is not an event stream. Only a file
 * that can be read at an offset is looked at; an empty one passes. */
static bool starts_with_map(int fd)
{
    unsigned char c;
    ssize_t n = pread(fd, &c, 1, 0);

    if (n != 1)
        return true; /* a pipe (ESPIPE) or empty: the decoder decides */
    return (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf;
}

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
    if (!starts_with_map(fd)) {
        fprintf(stderr,
                "iocstream: decode %s: not msgpack events (the first "
                "object is not a map)\n",
                path ? path : "stdin");
        if (fd != STDIN_FILENO)
            close(fd);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    n = iocs_decode_stream(fd, stdout, errbuf, sizeof(errbuf));
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
