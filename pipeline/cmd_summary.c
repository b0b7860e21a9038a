/*
 * cmd_summary.c - `iocstream summary [--format json] [EVENTS...]`: the
 * per-IOC hunt summary (summary.h) of msgpack or JSON event files, or of
 * stdin.
 */
#include "pipeline/cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/status.h"
#include "pipeline/summary.h"

/* Add one event file (or stdin) to s. Returns 0, or 2 after saying why. */
static int add_file(struct iocs_summary *s, const char *path)
{
    bool is_stdin = !path || strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    char buf[1 << 16], errbuf[256] = "";
    uint64_t events = iocs_summary_events(s), bytes = 0;
    int err = 0;

    if (fd < 0) {
        fprintf(stderr, "iocstream: %s: %s\n", path, strerror(errno));
        return 2;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = -errno;
            break;
        }
        if (n == 0) {
            err = iocs_summary_end(s, errbuf, sizeof(errbuf));
            break;
        }
        bytes += (uint64_t)n;
        err = iocs_summary_add(s, buf, (size_t)n, errbuf, sizeof(errbuf));
        if (err)
            break;
    }
    if (!is_stdin)
        close(fd);
    /* Bytes but not one event: not an event stream (a log, say). */
    if (!err && bytes > 0 && iocs_summary_events(s) == events) {
        snprintf(errbuf, sizeof(errbuf), "no events in %llu bytes",
                 (unsigned long long)bytes);
        err = -EBADMSG;
    }
    if (err) {
        /* Leave s ready for the next file whatever this one held. */
        char ignored[8];

        (void)iocs_summary_end(s, ignored, sizeof(ignored));
        fprintf(stderr, "iocstream: summary %s: %s\n",
                is_stdin ? "stdin" : path,
                errbuf[0] ? errbuf : iocs_strerror(err));
        return 2;
    }
    return 0;
}

int iocs_cmd_summary(const char *const *paths, size_t npaths, bool json)
{
    struct iocs_summary *s = NULL;
    int status = 0, err;

    signal(SIGPIPE, SIG_IGN);
    err = iocs_summary_new(&s);
    if (err) {
        fprintf(stderr, "iocstream: %s\n", iocs_strerror(err));
        return 2;
    }
    if (npaths == 0)
        status = add_file(s, NULL);
    for (size_t i = 0; i < npaths; i++)
        if (add_file(s, paths[i]))
            status = 2;
    err = iocs_summary_print(s, stdout, json);
    if (err && err != -EPIPE) {
        fprintf(stderr, "iocstream: summary: %s\n", iocs_strerror(err));
        status = 2;
    }
    iocs_summary_free(s);
    return status;
}
