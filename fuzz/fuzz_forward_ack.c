/*
 * fuzz_forward_ack.c - libFuzzer target for what a Forward receiver sends
 * back (forward.h): acks, HELO and PONG, parsed from untrusted bytes the
 * way sink_forward.c does, message after message from one buffer.
 *
 * Invariants checked (abort on failure): a parser never says it used more
 * bytes than it was given or zero bytes; a parsed chunk, host, reason and
 * digest are NUL-terminated inside their buffers; a HELO's lengths stay
 * within its arrays; every proper prefix of a parsed message is -EAGAIN
 * or -EPROTO, never a success.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/forward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse one message of any kind at p; returns bytes used or 0. */
static size_t one(const uint8_t *p, size_t n)
{
    char chunk[IOCS_FWD_FIELD_MAX + 1];
    struct iocs_fwd_helo h;
    struct iocs_fwd_pong pong;
    size_t used = 0;
    int r;

    memset(&h, 0, sizeof(h)); /* pong_check() below reads it either way */
    r = iocs_fwd_ack_parse(p, n, &used, chunk, sizeof(chunk));
    if (r == 0) {
        if (used == 0 || used > n || strlen(chunk) >= sizeof(chunk))
            abort();
        return used;
    }
    if (r != -EAGAIN && r != -EPROTO)
        abort();
    r = iocs_fwd_helo_parse(p, n, &used, &h);
    if (r == 0) {
        if (used == 0 || used > n || h.nonce_len > sizeof(h.nonce) ||
            h.auth_len > sizeof(h.auth))
            abort();
        /* The PING built from any HELO must be well formed. */
        {
            struct iocs_fwd_buf b = {0};

            if (iocs_fwd_ping(&b, "host", "salt", &h, "key") != 0)
                abort();
            iocs_fwd_buf_fini(&b);
        }
        return used;
    }
    r = iocs_fwd_pong_parse(p, n, &used, &pong);
    if (r == 0) {
        if (used == 0 || used > n || strlen(pong.host) >= sizeof(pong.host) ||
            strlen(pong.reason) >= sizeof(pong.reason) ||
            strlen(pong.digest) >= sizeof(pong.digest))
            abort();
        (void)iocs_fwd_pong_check(&pong, "salt", &h, "key");
        /* A prefix of a whole message is never a whole message. */
        if (used > 1 && iocs_fwd_pong_parse(p, used - 1, &used, &pong) == 0)
            abort();
        return used;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0, used;
    int rounds = 0;

    /* As the sink does: consume whole messages from the front. */
    while (off < size && rounds++ < 1000) {
        used = one(data + off, size - off);
        if (used == 0)
            break;
        off += used;
    }
    return 0;
}
