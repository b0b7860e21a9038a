/*
 * sink_forward.h - the Fluent Forward sink: forward://HOST:PORT,
 * forward+tls://HOST:PORT and unix:///PATH (sink.h's contract).
 *
 * Each batch is one PackedForward message (CompressedPackedForward with
 * o->compress) whose chunk id is unique per batch; a batch is
 * acknowledged when the receiver answers {"ack": chunk}. Unacked batches
 * are kept (at most IOCS_FWD_UNACKED_MAX bytes and IOCS_FWD_UNACKED_BATCHES
 * batches: write() blocks past that) and sent again, with the same chunk
 * id, after a reconnect: delivery is at least once and a receiver or
 * consumer drops copies by chunk or by event.id. A connection that fails,
 * or whose oldest batch waits over ack_timeout_ms for its ack, is closed
 * and reopened with exponential backoff (IOCS_FWD_BACKOFF_MIN_MS doubling
 * to IOCS_FWD_BACKOFF_MAX_MS) inside write() and flush().
 *
 * Failures that cannot heal, returned by write() and flush() from then on:
 * -EACCES (the shared key was refused, or the receiver wants one and none
 * is set), -EPROTO (the TLS server certificate does not verify).
 *
 * Single-threaded: acks are read inside write() and flush() (never in the
 * background), so acked() reports what the last of those calls saw. The
 * process must ignore SIGPIPE (TLS writes use write(2)).
 */
#ifndef IOCS_SINK_FORWARD_H
#define IOCS_SINK_FORWARD_H

#include <stddef.h>

#include "pipeline/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOCS_FWD_UNACKED_MAX ((size_t)64 << 20)
#define IOCS_FWD_UNACKED_BATCHES 1024
#define IOCS_FWD_ACK_TIMEOUT_MS 10000
#define IOCS_FWD_DRAIN_TIMEOUT_MS 30000
#define IOCS_FWD_CONNECT_TIMEOUT_MS 5000
#define IOCS_FWD_BACKOFF_MIN_MS 100
#define IOCS_FWD_BACKOFF_MAX_MS 5000

/*
 * Open a Forward sink for dest ("forward://HOST:PORT", HOST a name, an
 * IPv4 address or [IPv6]; "forward+tls://HOST:PORT"; "unix:///PATH"; PORT
 * defaults to 24224) and connect it (TLS handshake and shared-key
 * handshake included). Sets (*out)->format = IOCS_FORMAT_MSGPACK and
 * str_times = true: write() takes msgpack maps with string times. Uses
 * o->tag, tls_ca/cert/key, shared_key, compress, ack_timeout_ms,
 * drain_timeout_ms. Returns 0, or a negative errno with errbuf saying
 * why: -EINVAL (malformed dest or options), -ENOMEM, connect(2)'s errors
 * as they are, -ETIMEDOUT, -EACCES, -EPROTO (TLS).
 */
int iocs__sink_forward_open(struct iocs_sink **out, const char *dest,
                            const struct iocs_sink_opts *o, char *errbuf,
                            size_t errlen);

/* What the last failure of s was, in words ("" when none). For a caller
 * that got a negative errno from write() or flush(). */
const char *iocs__sink_forward_error(const struct iocs_sink *s);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_SINK_FORWARD_H */
