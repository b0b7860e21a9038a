/*
 * sink_forward.c - the Fluent Forward sink's transport (sink_forward.h):
 * sockets, TLS, the shared-key handshake, the queue of unacked batches,
 * reconnects and resends. Framing and parsing are forward.c's.
 *
 * The queue is a ring of batches in seq order. Each holds its whole frame
 * and how much of it went out on the current connection; a new connection
 * sends every unacked frame again from its first byte. The head leaves the
 * ring once acked, which is what makes acked() in order even when a
 * receiver acks out of order.
 *
 * Everything runs in the caller's thread around one loop, pump(): send
 * what can go, read the acks there are, reconnect when the link broke,
 * and poll until the caller's condition holds or its deadline passes.
 */
#include "pipeline/sink_forward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/forward.h"

/* One batch waiting for its ack. */
struct pending {
    uint64_t seq;
    struct iocs_sink_pos pos;
    size_t n;             /* events */
    unsigned char *frame; /* owned; NULL when n == 0 */
    size_t len;
    size_t sent;     /* bytes of frame written on this connection */
    int64_t sent_at; /* when the last byte went out (ms, monotonic) */
    bool sent_once;  /* went out whole on an earlier connection */
    bool acked;
    char chunk[IOCS_FWD_CHUNK_LEN + 1];
};

struct fwd_sink {
    struct iocs_sink base;

    /* Where to, and how. */
    bool is_unix, tls;
    char host[256], port[16], path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char tag[IOCS_FWD_FIELD_MAX + 1];
    bool compress;
    char *shared_key; /* NULL: no handshake */
    char self_host[IOCS_FWD_FIELD_MAX + 1];
    char key_salt[33];
    int ack_timeout_ms, drain_timeout_ms;
    unsigned char chunk_salt[IOCS_FWD_CHUNK_SALT];

    /* The connection; fd < 0 while down. */
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
    int64_t next_try; /* no reconnect before this (ms, monotonic) */
    int backoff_ms;

    /* Unacked batches, a ring in seq order. */
    struct pending q[IOCS_FWD_UNACKED_BATCHES];
    size_t qhead, qlen, qbytes;
    uint64_t last_seq, acked_seq;
    struct iocs_sink_pos acked_pos;

    unsigned char rbuf[16384]; /* replies not parsed yet */
    size_t rlen;
    struct iocs_fwd_buf fb; /* frame being built */

    int fatal; /* a failure that cannot heal, or 0 */
    char err[512];
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct pending *qat(struct fwd_sink *s, size_t i)
{
    return &s->q[(s->qhead + i) % IOCS_FWD_UNACKED_BATCHES];
}

/* Close the connection; every unacked frame goes out again on the next. */
static void drop(struct fwd_sink *s)
{
    size_t i;

    if (s->ssl) {
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    s->rlen = 0;
    for (i = 0; i < s->qlen; i++) {
        struct pending *p = qat(s, i);

        if (p->sent == p->len && p->len)
            p->sent_once = true;
        p->sent = 0;
    }
    s->next_try = now_ms() + s->backoff_ms;
    s->backoff_ms = s->backoff_ms * 2 > IOCS_FWD_BACKOFF_MAX_MS
                        ? IOCS_FWD_BACKOFF_MAX_MS
                        : s->backoff_ms * 2;
}

/* Wait for events on the socket until deadline (ms; < 0: forever).
 * Returns 0 when ready, -ETIMEDOUT, or a negative errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r, ms;

    for (;;) {
        ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();

            if (left <= 0)
                return -ETIMEDOUT;
            ms = left > 1000 ? 1000 : (int)left;
        }
        r = poll(&p, 1, ms);
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r > 0)
            return 0;
    }
}

/* What OpenSSL said last, for err. */
static const char *ssl_why(void)
{
    unsigned long e = ERR_get_error();

    return e ? ERR_reason_error_string(e) : "connection closed";
}

/* Send up to n bytes. Returns the count, -EAGAIN (try after poll), or a
 * negative errno. */
static ssize_t io_send(struct fwd_sink *s, const void *p, size_t n)
{
    if (s->ssl) {
        size_t w = 0;
        int r;

        ERR_clear_error();
        r = SSL_write_ex(s->ssl, p, n, &w);
        if (r > 0)
            return (ssize_t)w;
        r = SSL_get_error(s->ssl, r);
        if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE)
            return -EAGAIN;
        return r == SSL_ERROR_SYSCALL && errno ? -errno : -ECONNRESET;
    } else {
        ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);

        if (w < 0)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        return w;
    }
}

/* Read into rbuf. Returns bytes read (> 0), -EAGAIN, -ECONNRESET at end
 * of stream, or a negative errno. */
static ssize_t io_recv(struct fwd_sink *s)
{
    size_t room = sizeof(s->rbuf) - s->rlen;

    if (room == 0)
        return -EPROTO; /* a reply this long is not an ack */
    if (s->ssl) {
        size_t r = 0;
        int ok;

        ERR_clear_error();
        ok = SSL_read_ex(s->ssl, s->rbuf + s->rlen, room, &r);
        if (ok > 0) {
            s->rlen += r;
            return (ssize_t)r;
        }
        ok = SSL_get_error(s->ssl, ok);
        if (ok == SSL_ERROR_WANT_READ || ok == SSL_ERROR_WANT_WRITE)
            return -EAGAIN;
        return ok == SSL_ERROR_SYSCALL && errno ? -errno : -ECONNRESET;
    } else {
        ssize_t r = recv(s->fd, s->rbuf + s->rlen, room, 0);

        if (r == 0)
            return -ECONNRESET;
        if (r < 0)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        s->rlen += (size_t)r;
        return r;
    }
}

/* Read until rbuf holds something (or deadline). */
static int recv_wait(struct fwd_sink *s, int64_t deadline)
{
    for (;;) {
        ssize_t r = io_recv(s);
        int err;

        if (r > 0)
            return 0;
        if (r != -EAGAIN)
            return (int)r;
        err = wait_fd(s->fd, POLLIN, deadline);
        if (err)
            return err;
    }
}

static void consume(struct fwd_sink *s, size_t n)
{
    memmove(s->rbuf, s->rbuf + n, s->rlen - n);
    s->rlen -= n;
}

/* Send all of p (handshake messages: small, so waiting is fine). */
static int send_all(struct fwd_sink *s, const unsigned char *p, size_t n,
                    int64_t deadline)
{
    while (n > 0) {
        ssize_t w = io_send(s, p, n);
        int err;

        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w != -EAGAIN)
            return (int)w;
        err = wait_fd(s->fd, POLLIN | POLLOUT, deadline);
        if (err)
            return err;
    }
    return 0;
}

/* Forward's shared-key handshake: HELO in, PING out, PONG in. */
static int handshake(struct fwd_sink *s, int64_t deadline)
{
    struct iocs_fwd_helo helo;
    struct iocs_fwd_pong pong;
    size_t used;
    int err;

    for (;;) {
        err = iocs_fwd_helo_parse(s->rbuf, s->rlen, &used, &helo);
        if (err != -EAGAIN)
            break;
        err = recv_wait(s, deadline);
        if (err == -ETIMEDOUT) {
            snprintf(s->err, sizeof(s->err),
                     "no HELO from the receiver: is it set up with a shared "
                     "key?");
            return -EPROTO;
        }
        if (err)
            return err;
    }
    if (err) {
        snprintf(s->err, sizeof(s->err), "malformed HELO from the receiver");
        return err;
    }
    consume(s, used);
    err =
        iocs_fwd_ping(&s->fb, s->self_host, s->key_salt, &helo, s->shared_key);
    if (err)
        return err;
    err = send_all(s, s->fb.p, s->fb.len, deadline);
    if (err)
        return err;
    for (;;) {
        err = iocs_fwd_pong_parse(s->rbuf, s->rlen, &used, &pong);
        if (err != -EAGAIN)
            break;
        err = recv_wait(s, deadline);
        if (err == -ECONNRESET) {
            /* Fluentd closes the connection on a wrong key without a
             * PONG. */
            snprintf(s->err, sizeof(s->err),
                     "receiver closed the connection during the "
                     "shared-key handshake (wrong shared key?)");
            return -EACCES;
        }
        if (err)
            return err;
    }
    if (err) {
        snprintf(s->err, sizeof(s->err), "malformed PONG from the receiver");
        return err;
    }
    consume(s, used);
    err = iocs_fwd_pong_check(&pong, s->key_salt, &helo, s->shared_key);
    if (err == -EACCES)
        snprintf(s->err, sizeof(s->err), "shared key refused: %s",
                 pong.ok ? "the receiver's digest is wrong (not our key)"
                         : pong.reason);
    return err;
}

static int tls_start(struct fwd_sink *s, int64_t deadline)
{
    int r, err;

    s->ssl = SSL_new(s->ctx);
    if (!s->ssl)
        return -ENOMEM;
    SSL_set_mode(s->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_set_fd(s->ssl, s->fd) != 1 ||
        SSL_set_tlsext_host_name(s->ssl, s->host) != 1 ||
        SSL_set1_host(s->ssl, s->host) != 1)
        return -ENOMEM;
    for (;;) {
        ERR_clear_error();
        r = SSL_connect(s->ssl);
        if (r == 1)
            return 0;
        r = SSL_get_error(s->ssl, r);
        if (r != SSL_ERROR_WANT_READ && r != SSL_ERROR_WANT_WRITE)
            break;
        err = wait_fd(s->fd, r == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                      deadline);
        if (err)
            return err;
    }
    if (SSL_get_verify_result(s->ssl) != X509_V_OK) {
        snprintf(s->err, sizeof(s->err),
                 "TLS: the certificate of %s does not verify: %s", s->host,
                 X509_verify_cert_error_string(SSL_get_verify_result(s->ssl)));
        return -EPROTO;
    }
    snprintf(s->err, sizeof(s->err), "TLS handshake with %s failed: %s",
             s->host, ssl_why());
    return -ECONNRESET;
}

/* Non-blocking connect to one address. */
static int connect_to(struct fwd_sink *s, const struct sockaddr *sa,
                      socklen_t salen, int family, int64_t deadline)
{
    int err = 0, one = 1;
    socklen_t elen = sizeof(err);

    s->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        return -errno;
    if (family != AF_UNIX)
        setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(s->fd, sa, salen) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return -errno;
    err = wait_fd(s->fd, POLLOUT, deadline);
    if (err)
        return err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
        return -errno;
    return -err;
}

/* Open the connection: connect, TLS, handshake. On failure the socket is
 * closed and s->err says why. */
static int conn_open(struct fwd_sink *s)
{
    int64_t deadline = now_ms() + IOCS_FWD_CONNECT_TIMEOUT_MS;
    int err;

    s->err[0] = '\0';
    if (s->is_unix) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};

        memcpy(sun.sun_path, s->path, strlen(s->path) + 1);
        err = connect_to(s, (struct sockaddr *)&sun, sizeof(sun), AF_UNIX,
                         deadline);
    } else {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai, *a;
        int r = getaddrinfo(s->host, s->port, &hints, &ai);

        if (r) {
            snprintf(s->err, sizeof(s->err), "%s: %s", s->host,
                     gai_strerror(r));
            return r == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
        }
        err = -EHOSTUNREACH;
        for (a = ai; a; a = a->ai_next) {
            err = connect_to(s, a->ai_addr, a->ai_addrlen, a->ai_family,
                             deadline);
            if (!err)
                break;
            close(s->fd);
            s->fd = -1;
        }
        freeaddrinfo(ai);
    }
    if (!err && s->tls)
        err = tls_start(s, deadline);
    if (!err && s->shared_key)
        err = handshake(s, deadline);
    if (err) {
        if (!s->err[0])
            snprintf(s->err, sizeof(s->err), "connect to %s: %s",
                     s->is_unix ? s->path : s->host, strerror(-err));
        drop(s);
        return err;
    }
    s->backoff_ms = IOCS_FWD_BACKOFF_MIN_MS;
    return 0;
}

/* The head leaves the ring once acked: acked() stays in order. */
static void pop_acked(struct fwd_sink *s)
{
    while (s->qlen && s->q[s->qhead].acked) {
        struct pending *p = &s->q[s->qhead];

        s->acked_seq = p->seq;
        s->acked_pos = p->pos;
        s->base.stats.events_acked += p->n;
        s->qbytes -= p->len;
        free(p->frame);
        memset(p, 0, sizeof(*p));
        s->qhead = (s->qhead + 1) % IOCS_FWD_UNACKED_BATCHES;
        s->qlen--;
    }
}

/* Parse every whole ack in rbuf. */
static int take_acks(struct fwd_sink *s)
{
    char chunk[IOCS_FWD_FIELD_MAX + 1];
    struct iocs_fwd_helo helo;
    size_t used, i;
    int err;

    for (;;) {
        err = iocs_fwd_ack_parse(s->rbuf, s->rlen, &used, chunk, sizeof(chunk));
        if (err == -EAGAIN)
            return 0;
        if (err) {
            if (iocs_fwd_helo_parse(s->rbuf, s->rlen, &used, &helo) == 0) {
                snprintf(s->err, sizeof(s->err),
                         "the receiver wants a shared key "
                         "(--forward-shared-key)");
                s->fatal = -EACCES;
                return -EACCES;
            }
            snprintf(s->err, sizeof(s->err),
                     "the receiver sent something that is not an ack");
            return err;
        }
        consume(s, used);
        /* Usually the head: receivers ack in order. */
        for (i = 0; i < s->qlen; i++) {
            struct pending *p = qat(s, i);

            if (!p->acked && p->len && strcmp(p->chunk, chunk) == 0) {
                p->acked = true;
                break;
            }
        }
        pop_acked(s);
    }
}

/* Write what the socket takes, in seq order. Returns 0 (all out, or the
 * socket is full) or a negative errno. */
static int send_some(struct fwd_sink *s)
{
    size_t i;

    for (i = 0; i < s->qlen; i++) {
        struct pending *p = qat(s, i);

        while (!p->acked && p->sent < p->len) {
            ssize_t w = io_send(s, p->frame + p->sent, p->len - p->sent);

            if (w == -EAGAIN)
                return 0;
            if (w < 0)
                return (int)w;
            p->sent += (size_t)w;
            if (p->sent == p->len) {
                p->sent_at = now_ms();
                if (p->sent_once) {
                    s->base.stats.events_resent += p->n;
                } else {
                    s->base.stats.events_sent += p->n;
                    s->base.stats.bytes_sent += p->len;
                }
            }
        }
    }
    return 0;
}

enum until { UNTIL_ONCE, UNTIL_ROOM, UNTIL_DRAINED };

static bool done(const struct fwd_sink *s, enum until u)
{
    switch (u) {
    case UNTIL_ROOM:
        return s->qlen < IOCS_FWD_UNACKED_BATCHES &&
               s->qbytes < IOCS_FWD_UNACKED_MAX;
    case UNTIL_DRAINED:
        return s->qlen == 0;
    default:
        return false;
    }
}

/*
 * Move data both ways and heal the connection until u holds or deadline
 * (ms, monotonic; < 0: none) passes. UNTIL_ONCE makes one pass without
 * waiting. Returns 0, -ETIMEDOUT, or the fatal error.
 */
static int pump(struct fwd_sink *s, enum until u, int64_t deadline)
{
    for (;;) {
        int64_t now = now_ms(), wake = deadline;
        struct pollfd pf;
        size_t i;
        int err;

        if (s->fatal)
            return s->fatal;
        if (done(s, u))
            return 0;
        if (s->fd < 0 && now >= s->next_try) {
            err = conn_open(s);
            if (err == -EACCES || (err == -EPROTO && s->tls)) {
                s->fatal = err;
                return err;
            }
        }
        if (s->fd >= 0) {
            err = send_some(s);
            /* Parse as we read: many acks may wait in the socket. */
            while (!err) {
                ssize_t r = io_recv(s);

                if (r <= 0) {
                    err = r == -EAGAIN ? 0 : (int)r;
                    break;
                }
                err = take_acks(s);
            }
            if (s->fatal)
                return s->fatal;
            if (err) {
                drop(s);
                continue;
            }
            pop_acked(s);
            if (done(s, u))
                return 0;
            /* The oldest batch out whole and not acked in time: the
             * receiver or the path is stuck; start over. */
            for (i = 0; i < s->qlen; i++) {
                struct pending *p = qat(s, i);

                if (p->acked || p->sent < p->len)
                    continue;
                if (now - p->sent_at >= s->ack_timeout_ms) {
                    snprintf(s->err, sizeof(s->err),
                             "no ack for chunk %s in %d ms", p->chunk,
                             s->ack_timeout_ms);
                    drop(s);
                    break;
                }
                if (wake < 0 || p->sent_at + s->ack_timeout_ms < wake)
                    wake = p->sent_at + s->ack_timeout_ms;
                break;
            }
            if (s->fd < 0)
                continue;
        } else if (wake < 0 || s->next_try < wake) {
            wake = s->next_try;
        }
        if (u == UNTIL_ONCE)
            return 0;
        if (deadline >= 0 && now >= deadline)
            return -ETIMEDOUT;
        now = now_ms();
        pf.fd = s->fd;
        pf.events = POLLIN;
        for (i = 0; i < s->qlen; i++)
            if (qat(s, i)->sent < qat(s, i)->len)
                pf.events |= POLLOUT;
        /* TLS may hold decrypted bytes the socket no longer shows. */
        if (s->ssl && SSL_pending(s->ssl) > 0)
            continue;
        if (poll(&pf, s->fd >= 0 ? 1 : 0,
                 wake < 0 ? 1000
                 : wake - now > 1000
                     ? 1000
                     : (int)(wake - now > 0 ? wake - now : 0)) < 0 &&
            errno != EINTR)
            return -errno;
    }
}

static double elapsed(int64_t since)
{
    return (double)(now_ms() - since) / 1000.0;
}

static int fwd_write(struct iocs_sink *base, const struct iocs_sink_batch *b)
{
    struct fwd_sink *s = (struct fwd_sink *)base;
    struct pending *p;
    int64_t t0 = now_ms();
    int err;

    if (s->fatal)
        return s->fatal;
    if (b->seq != s->last_seq + 1)
        return -EINVAL;
    if (!done(s, UNTIL_ROOM)) {
        err = pump(s, UNTIL_ROOM, -1);
        base->stats.wait_seconds += elapsed(t0);
        if (err)
            return err;
    }
    p = qat(s, s->qlen);
    memset(p, 0, sizeof(*p));
    if (b->n) {
        iocs_fwd_chunk_id(p->chunk, s->chunk_salt, b->seq);
        err = iocs_fwd_pack(&s->fb, s->tag, b, p->chunk, s->compress);
        if (err)
            return err;
        /* The frame becomes the batch's: the next one gets a new buffer. */
        p->frame = s->fb.p;
        p->len = s->fb.len;
        memset(&s->fb, 0, sizeof(s->fb));
    } else {
        p->acked = true; /* nothing to send: acked with those before it */
    }
    p->seq = b->seq;
    p->pos = b->pos;
    p->n = b->n;
    s->qlen++;
    s->qbytes += p->len;
    s->last_seq = b->seq;
    pop_acked(s);
    return pump(s, UNTIL_ONCE, -1);
}

static int fwd_flush(struct iocs_sink *base, int timeout_ms)
{
    struct fwd_sink *s = (struct fwd_sink *)base;
    int64_t t0 = now_ms();
    int err;

    err = pump(s, UNTIL_DRAINED, timeout_ms < 0 ? -1 : t0 + timeout_ms);
    base->stats.wait_seconds += elapsed(t0);
    return err;
}

static uint64_t fwd_acked(const struct iocs_sink *base,
                          struct iocs_sink_pos *pos)
{
    const struct fwd_sink *s = (const struct fwd_sink *)base;

    if (pos && s->acked_seq)
        *pos = s->acked_pos;
    return s->acked_seq;
}

static void fwd_close(struct iocs_sink *base)
{
    struct fwd_sink *s = (struct fwd_sink *)base;

    while (s->qlen) {
        free(s->q[s->qhead].frame);
        s->qhead = (s->qhead + 1) % IOCS_FWD_UNACKED_BATCHES;
        s->qlen--;
    }
    if (s->ssl)
        SSL_free(s->ssl);
    if (s->fd >= 0)
        close(s->fd);
    SSL_CTX_free(s->ctx);
    iocs_fwd_buf_fini(&s->fb);
    free(s->shared_key);
    free(s);
}

const char *iocs__sink_forward_error(const struct iocs_sink *s)
{
    return ((const struct fwd_sink *)s)->err;
}

static const struct iocs_sink_ops fwd_ops = {
    .name = "forward",
    .write = fwd_write,
    .flush = fwd_flush,
    .acked = fwd_acked,
    .close = fwd_close,
    .error = iocs__sink_forward_error,
};

/* Split dest into the sink's address fields. */
static int parse_dest(struct fwd_sink *s, const char *dest)
{
    const char *hp, *colon, *end;
    size_t hl;

    if (strncmp(dest, "unix://", 7) == 0) {
        const char *path = dest + 7;

        if (path[0] != '/' || strlen(path) >= sizeof(s->path))
            return -EINVAL;
        s->is_unix = true;
        memcpy(s->path, path, strlen(path) + 1);
        return 0;
    }
    if (strncmp(dest, "forward://", 10) == 0) {
        hp = dest + 10;
    } else if (strncmp(dest, "forward+tls://", 14) == 0) {
        hp = dest + 14;
        s->tls = true;
    } else {
        return -EINVAL;
    }
    end = hp + strlen(hp);
    if (end > hp && end[-1] == '/')
        end--; /* forward://host:port/ */
    if (*hp == '[') {
        const char *rb = memchr(hp, ']', (size_t)(end - hp));

        if (!rb)
            return -EINVAL;
        hl = (size_t)(rb - hp - 1);
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        if (rb + 1 < end && !colon)
            return -EINVAL;
        hp++;
    } else {
        colon = memchr(hp, ':', (size_t)(end - hp));
        hl = (size_t)((colon ? colon : end) - hp);
    }
    if (hl == 0 || hl >= sizeof(s->host))
        return -EINVAL;
    memcpy(s->host, hp, hl);
    s->host[hl] = '\0';
    if (colon) {
        size_t pl = (size_t)(end - colon - 1);
        char *e;
        long port;

        if (pl == 0 || pl >= sizeof(s->port))
            return -EINVAL;
        memcpy(s->port, colon + 1, pl);
        s->port[pl] = '\0';
        port = strtol(s->port, &e, 10);
        if (*e || port < 1 || port > 65535)
            return -EINVAL;
    } else {
        strcpy(s->port, "24224");
    }
    return 0;
}

static int tls_setup(struct fwd_sink *s, const struct iocs_sink_opts *o)
{
    s->ctx = SSL_CTX_new(TLS_client_method());
    if (!s->ctx)
        return -ENOMEM;
    SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
    if (o->tls_ca ? SSL_CTX_load_verify_locations(s->ctx, o->tls_ca, NULL) != 1
                  : SSL_CTX_set_default_verify_paths(s->ctx) != 1) {
        snprintf(s->err, sizeof(s->err), "TLS CA %s: %s",
                 o->tls_ca ? o->tls_ca : "(system)", ssl_why());
        return -EINVAL;
    }
    if (o->tls_cert &&
        SSL_CTX_use_certificate_chain_file(s->ctx, o->tls_cert) != 1) {
        snprintf(s->err, sizeof(s->err), "TLS certificate %s: %s", o->tls_cert,
                 ssl_why());
        return -EINVAL;
    }
    if (o->tls_key || o->tls_cert) {
        const char *key = o->tls_key ? o->tls_key : o->tls_cert;

        if (SSL_CTX_use_PrivateKey_file(s->ctx, key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(s->ctx) != 1) {
            snprintf(s->err, sizeof(s->err), "TLS key %s: %s", key, ssl_why());
            return -EINVAL;
        }
    }
    return 0;
}

int iocs__sink_forward_open(struct iocs_sink **out, const char *dest,
                            const struct iocs_sink_opts *o, char *errbuf,
                            size_t errlen)
{
    unsigned char rnd[IOCS_FWD_CHUNK_SALT + 16];
    const char *tag = o->tag ? o->tag : "iocstream.hit";
    struct fwd_sink *s;
    size_t i;
    int err;

    s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errbuf, errlen, "out of memory");
        return -ENOMEM;
    }
    s->fd = -1; /* from here on, fwd_close() is safe */
    s->base.ops = &fwd_ops;
    s->base.format = IOCS_FORMAT_MSGPACK;
    s->base.str_times = true;
    s->backoff_ms = IOCS_FWD_BACKOFF_MIN_MS;
    s->compress = o->compress;
    s->ack_timeout_ms =
        o->ack_timeout_ms > 0 ? o->ack_timeout_ms : IOCS_FWD_ACK_TIMEOUT_MS;
    s->drain_timeout_ms = o->drain_timeout_ms > 0 ? o->drain_timeout_ms
                                                  : IOCS_FWD_DRAIN_TIMEOUT_MS;

    err = parse_dest(s, dest);
    if (err) {
        snprintf(s->err, sizeof(s->err),
                 "%s: want forward://HOST:PORT, forward+tls://HOST:PORT or "
                 "unix:///PATH",
                 dest);
        goto fail;
    }
    err = -EINVAL;
    if (strlen(tag) >= sizeof(s->tag)) {
        snprintf(s->err, sizeof(s->err), "tag over %d bytes",
                 IOCS_FWD_FIELD_MAX);
        goto fail;
    }
    memcpy(s->tag, tag, strlen(tag) + 1);
    if ((o->tls_ca || o->tls_cert || o->tls_key) && !s->tls) {
        snprintf(s->err, sizeof(s->err),
                 "TLS options need a forward+tls:// destination");
        goto fail;
    }
    /* Chunk ids and the handshake salt must not repeat across runs. */
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        err = -errno;
        snprintf(s->err, sizeof(s->err), "getrandom: %s", strerror(errno));
        goto fail;
    }
    memcpy(s->chunk_salt, rnd, IOCS_FWD_CHUNK_SALT);
    for (i = 0; i < 16; i++)
        snprintf(s->key_salt + 2 * i, 3, "%02x", rnd[IOCS_FWD_CHUNK_SALT + i]);
    if (o->shared_key) {
        s->shared_key = strdup(o->shared_key);
        if (!s->shared_key) {
            err = -ENOMEM;
            goto fail;
        }
        if (gethostname(s->self_host, sizeof(s->self_host) - 1) < 0)
            strcpy(s->self_host, "iocstream");
    }
    if (s->tls) {
        err = tls_setup(s, o);
        if (err)
            goto fail;
    }
    err = conn_open(s);
    if (err)
        goto fail;
    *out = &s->base;
    return 0;

fail:
    snprintf(errbuf, errlen, "%s", s->err[0] ? s->err : strerror(-err));
    fwd_close(&s->base);
    return err;
}
