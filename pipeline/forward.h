/*
 * forward.h - the Fluent Forward protocol v1, without a transport: frames
 * a batch as one PackedForward (or gzip CompressedPackedForward) message,
 * parses the receiver's {"ack": chunk} replies, and does the shared-key
 * handshake's HELO / PING / PONG messages and SHA-512 digests.
 *
 * Encoding apart from transport, as fluent-bit's out_forward keeps
 * forward_format.c apart from forward.c: sink_forward.c owns sockets, TLS,
 * reconnects and resends; this module only turns bytes into bytes, so it is
 * tested byte for byte and fuzzed on its own.
 *
 * Everything read from the peer is untrusted: the parsers take any bytes,
 * never read past n, and say -EAGAIN (a whole message is not there yet) or
 * -EPROTO (not the message the protocol wants here).
 */
#ifndef IOCS_FORWARD_H
#define IOCS_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A chunk id: 18 bytes in base64 (24 characters, no padding). */
#define IOCS_FWD_CHUNK_LEN 24
/* Random bytes of a chunk id; the batch seq fills the rest. */
#define IOCS_FWD_CHUNK_SALT 10
/* Hex SHA-512. */
#define IOCS_FWD_DIGEST_LEN 128
/* Nonce, auth salt, host names and reasons longer than this are refused. */
#define IOCS_FWD_FIELD_MAX 255

/* A growable byte buffer with a hard cap (curl's dynbuf): zero it to
 * init; iocs_fwd_buf_fini() releases it. */
struct iocs_fwd_buf {
    unsigned char *p;
    size_t len, cap;
};

/* Release b's memory and zero it. NULL is accepted and ignored. */
void iocs_fwd_buf_fini(struct iocs_fwd_buf *b);

/*
 * Write the chunk id of batch seq into out (NUL-terminated): base64 of
 * salt (IOCS_FWD_CHUNK_SALT random bytes, one set per connection or
 * process) then seq big-endian. Unique per batch and stable across a
 * resend of that batch.
 */
void iocs_fwd_chunk_id(char out[IOCS_FWD_CHUNK_LEN + 1],
                       const unsigned char salt[IOCS_FWD_CHUNK_SALT],
                       uint64_t seq);

/*
 * Frame batch b (its events: msgpack maps back to back, rec[i].end and
 * rec[i].timestamp per event) as one Forward message into out, replacing
 * its content:
 *   [tag, entries, {"size": n, "chunk": chunk}]                 gzip false
 *   [tag, gzip(entries), {"size": n, "chunk": chunk,
 *                         "compressed": "gzip"}]               gzip true
 * where entries (msgpack bin) are the concatenated [EventTime, record]
 * arrays and EventTime is ext type 0: seconds and nanoseconds as two
 * big-endian uint32. Returns 0, -EINVAL (a record end out of order or
 * past b->len, a time before 1970 or past 2106, a tag over 255 bytes),
 * -E2BIG (the frame would be over 4 GiB) or -ENOMEM.
 */
int iocs_fwd_pack(struct iocs_fwd_buf *out, const char *tag,
                  const struct iocs_sink_batch *b, const char *chunk,
                  bool gzip);

/*
 * Parse one {"ack": chunk} reply at the start of p[0..n). Returns 0 with
 * *used = its length and the chunk copied into chunk (NUL-terminated,
 * at most cap - 1 bytes), -EAGAIN when the message is not complete yet,
 * or -EPROTO when the bytes are not msgpack or not an ack map (a map
 * with other keys beside "ack" is accepted, as receivers may add some).
 */
int iocs_fwd_ack_parse(const void *p, size_t n, size_t *used, char *chunk,
                       size_t cap);

/* What a receiver's HELO says. */
struct iocs_fwd_helo {
    unsigned char nonce[IOCS_FWD_FIELD_MAX];
    size_t nonce_len;
    unsigned char auth[IOCS_FWD_FIELD_MAX]; /* user-auth salt; empty when
                                                the receiver wants none */
    size_t auth_len;
    bool keepalive;
};

/*
 * Parse ["HELO", {"nonce": n, "auth": salt, "keepalive": b}] at the start
 * of p[0..n). Returns 0 with *used set, -EAGAIN or -EPROTO (as
 * iocs_fwd_ack_parse(); also a nonce missing or over IOCS_FWD_FIELD_MAX).
 */
int iocs_fwd_helo_parse(const void *p, size_t n, size_t *used,
                        struct iocs_fwd_helo *h);

/*
 * The handshake digest: hex SHA-512 of salt, host, nonce and key
 * concatenated (the PING's and the PONG's shared_key_hexdigest). Returns 0
 * or -EIO (OpenSSL failed).
 */
int iocs_fwd_digest(char out[IOCS_FWD_DIGEST_LEN + 1], const char *salt,
                    const char *host, const void *nonce, size_t nonce_len,
                    const char *key);

/*
 * Write the PING answering h into out, replacing its content:
 * ["PING", host, salt, digest(salt, host, nonce, key), "", ""] (no user
 * authentication: empty user name and password digest). Returns 0,
 * -EINVAL (a field over IOCS_FWD_FIELD_MAX), -EIO or -ENOMEM.
 */
int iocs_fwd_ping(struct iocs_fwd_buf *out, const char *host, const char *salt,
                  const struct iocs_fwd_helo *h, const char *key);

/* What a receiver's PONG says. */
struct iocs_fwd_pong {
    bool ok;
    char reason[IOCS_FWD_FIELD_MAX + 1];
    char host[IOCS_FWD_FIELD_MAX + 1];
    char digest[IOCS_FWD_DIGEST_LEN + 1];
};

/*
 * Parse ["PONG", ok, reason, host, digest] at the start of p[0..n).
 * Returns 0 with *used set, -EAGAIN or -EPROTO.
 */
int iocs_fwd_pong_parse(const void *p, size_t n, size_t *used,
                        struct iocs_fwd_pong *pong);

/*
 * Check a parsed PONG against our salt, the HELO's nonce and the key: 0
 * when the receiver accepted us and proves it knows the key, -EACCES when
 * it refused us (pong->reason says why) or its digest is wrong, -EIO.
 */
int iocs_fwd_pong_check(const struct iocs_fwd_pong *pong, const char *salt,
                        const struct iocs_fwd_helo *h, const char *key);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_FORWARD_H */
