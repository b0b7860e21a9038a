/*
 * sink_nats.h - the NATS JetStream sink: nats://[USER:PASS@]HOST:PORT/SUBJECT
 * and nats+tls://... (sink.h's contract).
 *
 * One message per event (the event's bytes; a JSON event without its
 * final newline), header Nats-Msg-Id = the event's id, published
 * asynchronously with at most IOCS_NATS_MAX_PENDING awaiting their
 * publish ack (write() blocks past that). A batch is acknowledged when
 * JetStream has acked every event of it. A publish that fails or whose ack
 * does not come within ack_timeout_ms (a server gone away, a leader
 * change) is published again with the same Nats-Msg-Id, so the stream's
 * duplicate window keeps one copy: effectively once. libnats reconnects
 * with backoff on its own; write() and flush() wait meanwhile.
 *
 * Failures that cannot heal (returned by open, then by write and flush):
 * -EACCES (credentials refused), -ENOENT (no JetStream stream captures the
 * subject, or JetStream is off), -EINVAL (a malformed destination).
 *
 * libnats runs the ack callbacks on its own thread; the sink's state is
 * behind a mutex. One thread drives the sink.
 */
#ifndef IOCS_SINK_NATS_H
#define IOCS_SINK_NATS_H

#include <stddef.h>

#include "pipeline/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOCS_NATS_MAX_PENDING 4096
#define IOCS_NATS_BATCHES 4096
#define IOCS_NATS_ACK_TIMEOUT_MS 10000
#define IOCS_NATS_CONNECT_TIMEOUT_MS 5000
#define IOCS_NATS_RECONNECT_WAIT_MS 250

/*
 * Open a JetStream sink for dest, connect, and check that a stream
 * captures the subject. (*out)->format is o->format (msgpack or JSON).
 * Uses o->format, tls_ca/cert/key, nats_creds, ack_timeout_ms. Returns 0,
 * or a negative errno with errbuf saying why: -EINVAL, -ENOMEM,
 * -ECONNREFUSED (no server), -EACCES, -ENOENT, -EIO (anything else
 * libnats says).
 */
int iocs__sink_nats_open(struct iocs_sink **out, const char *dest,
                         const struct iocs_sink_opts *o, char *errbuf,
                         size_t errlen);

/* What the last failure of s was, in words ("" when none). */
const char *iocs__sink_nats_error(const struct iocs_sink *s);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_SINK_NATS_H */
