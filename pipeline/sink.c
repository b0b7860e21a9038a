/*
 * sink.c - iocs_sink_open(): which sink serves a destination (sink.h).
 *
 * One table of URL schemes; anything that matches none is a file path, and
 * NULL or "-" is stdout. A scheme whose sink this build does not have yet
 * has a NULL open and is refused with -EPROTONOSUPPORT, so a typo such as
 * "nats:/x" is not silently created as a file named like a URL.
 */
#include "pipeline/sink.h"
#include "pipeline/sink_forward.h"
#include "pipeline/sink_nats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef int (*sink_open_fn)(struct iocs_sink **out, const char *dest,
                            const struct iocs_sink_opts *o, char *errbuf,
                            size_t errlen);

static const struct scheme {
    const char *prefix; /* up to and including "://" */
    const char *what;   /* for the error message */
    sink_open_fn open;  /* NULL: not in this build yet */
} schemes[] = {
    {"forward://", "Fluent Forward (TCP)", iocs__sink_forward_open},
    {"forward+tls://", "Fluent Forward over TLS", iocs__sink_forward_open},
    {"unix://", "Fluent Forward over a Unix socket", iocs__sink_forward_open},
    {"nats://", "NATS JetStream", iocs__sink_nats_open},
    {"nats+tls://", "NATS JetStream over TLS", iocs__sink_nats_open},
};

int iocs_sink_open(struct iocs_sink **out, const char *dest,
                   const struct iocs_sink_opts *o, char *errbuf, size_t errlen)
{
    if (errlen)
        errbuf[0] = '\0';
    if (!dest || strcmp(dest, "-") == 0)
        return iocs__sink_file_open(out, NULL, o, errbuf, errlen);
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        const struct scheme *sc = &schemes[i];
        size_t n = strlen(sc->prefix);

        if (strncmp(dest, sc->prefix, n) != 0)
            continue;
        if (!sc->open) {
            snprintf(errbuf, errlen, "%s: %s output is not supported yet", dest,
                     sc->what);
            return -EPROTONOSUPPORT;
        }
        return sc->open(out, dest, o, errbuf, errlen); /* whole URL */
    }
    return iocs__sink_file_open(out, dest, o, errbuf, errlen);
}
