/*
 * sink_nats.c - the NATS JetStream sink (sink_nats.h).
 *
 * Each event becomes one natsMsg handed to js_PublishMsgAsync(). libnats
 * then owns it until our ack callback (on libnats's thread) gets it back
 * with a publish ack or an error. Two structures link a message to its
 * batch: a ring of batches in seq order, each counting the events still
 * unacked, and a small open-addressing map from the natsMsg pointer to
 * the batch's seq (the pointer is the message's identity while libnats
 * holds it, including across a resend of the same message). A failed or
 * timed-out publish goes to a retry list the collector's thread publishes
 * again: the callback never publishes, as a resend could stall on
 * MaxPending inside the very thread that would release it.
 */
#include "pipeline/sink_nats.h"

#include <errno.h>
#include <jansson.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Map slots: a power of two, well over the messages libnats may hold. */
#define MAP_CAP (4 * IOCS_NATS_MAX_PENDING)

struct nbatch {
    uint64_t seq;
    struct iocs_sink_pos pos;
    size_t n, left; /* events, and those not acked yet */
};

struct slot {
    natsMsg *msg; /* NULL: free */
    uint64_t seq;
};

struct nats_sink {
    struct iocs_sink base;
    char url[1024], subject[256];
    int ack_timeout_ms;
    unsigned char run_id[8]; /* for ids made here when rec.id is NULL */

    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    jsPubOptions popts;

    /* Shared with the ack callback. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct nbatch ring[IOCS_NATS_BATCHES];
    size_t head, len;
    struct slot map[MAP_CAP];
    size_t mapped;
    natsMsg **retry; /* failed publishes, ours again */
    size_t nretry;
    uint64_t last_seq, acked_seq;
    struct iocs_sink_pos acked_pos;
    int64_t noresp_since; /* first "no responders" since the last ack */
    int fatal;
    char err[512];
};

static size_t slot_of(const natsMsg *m)
{
    uintptr_t h = (uintptr_t)m;

    h ^= h >> 17;
    h *= (uintptr_t)0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 7) & (MAP_CAP - 1);
}

/* Callers hold mu. */
static void map_put(struct nats_sink *s, natsMsg *m, uint64_t seq)
{
    size_t i = slot_of(m);

    while (s->map[i].msg)
        i = (i + 1) & (MAP_CAP - 1);
    s->map[i] = (struct slot){m, seq};
    s->mapped++;
}

/* Remove m; returns its seq, 0 when it is not there. Linear probing
 * needs the entries after a hole shifted back. */
static uint64_t map_take(struct nats_sink *s, const natsMsg *m)
{
    size_t i = slot_of(m), j;
    uint64_t seq;

    while (s->map[i].msg && s->map[i].msg != m)
        i = (i + 1) & (MAP_CAP - 1);
    if (!s->map[i].msg)
        return 0;
    seq = s->map[i].seq;
    s->map[i].msg = NULL;
    s->mapped--;
    for (j = (i + 1) & (MAP_CAP - 1); s->map[j].msg;
         j = (j + 1) & (MAP_CAP - 1)) {
        size_t home = slot_of(s->map[j].msg);

        /* Move j back into the hole unless its home lies in (i, j]. */
        if ((j > i && (home <= i || home > j)) ||
            (j < i && (home <= i && home > j))) {
            s->map[i] = s->map[j];
            s->map[j].msg = NULL;
            i = j;
        }
    }
    return seq;
}

/* Batches leave the ring in order once all their events are acked. */
static void pop_acked(struct nats_sink *s)
{
    while (s->len && s->ring[s->head].left == 0) {
        s->acked_seq = s->ring[s->head].seq;
        s->acked_pos = s->ring[s->head].pos;
        s->head = (s->head + 1) % IOCS_NATS_BATCHES;
        s->len--;
    }
}

static void set_fatal(struct nats_sink *s, int err, const char *why)
{
    if (!s->fatal) {
        s->fatal = err;
        snprintf(s->err, sizeof(s->err), "%s", why);
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libnats's thread: a publish ack or a publish error for msg. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
                   void *closure)
{
    struct nats_sink *s = closure;

    (void)js;
    pthread_mutex_lock(&s->mu);
    if (pa) {
        uint64_t seq = map_take(s, msg);

        if (seq && seq > s->acked_seq) {
            struct nbatch *b =
                &s->ring[(s->head + (seq - s->ring[s->head].seq)) %
                         IOCS_NATS_BATCHES];

            b->left--;
            s->base.stats.events_acked++;
            pop_acked(s);
        }
        s->noresp_since = 0;
        natsMsg_Destroy(msg);
    } else {
        /* No responders: no stream for the subject, or JetStream still
         * starting after a server restart. Only lasting is fatal. */
        if (pae && pae->Err == NATS_NO_RESPONDERS) {
            int64_t now = now_ms();

            if (!s->noresp_since) {
                s->noresp_since = now;
            } else if (now - s->noresp_since > s->ack_timeout_ms) {
                char why[400];

                snprintf(why, sizeof(why),
                         "no JetStream stream captures subject %s", s->subject);
                set_fatal(s, -ENOENT, why);
            }
        }
        /* Ours again: the collector publishes it anew (same id). */
        s->retry[s->nretry++] = msg;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Wait on cv for up to ms; mu held. */
static void wait_ms(struct nats_sink *s, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

static int from_status(natsStatus st);

/*
 * Publish m (already in the map) until libnats takes it. Stalls on
 * MaxPending and a full reconnect buffer are waited out, resending failed
 * messages meanwhile. Returns 0 or the fatal error.
 */
static int publish(struct nats_sink *s, natsMsg **m);

/* Publish everything in the retry list again. Called without mu. */
static int resend(struct nats_sink *s)
{
    for (;;) {
        natsMsg *m;
        int err;

        pthread_mutex_lock(&s->mu);
        if (s->fatal || s->nretry == 0) {
            err = s->fatal;
            pthread_mutex_unlock(&s->mu);
            return err;
        }
        if (s->noresp_since)
            wait_ms(s, 50); /* do not spin while JetStream starts */
        m = s->retry[--s->nretry];
        pthread_mutex_unlock(&s->mu);
        s->base.stats.events_resent++;
        err = publish(s, &m);
        if (err) {
            natsMsg_Destroy(m);
            return err;
        }
    }
}

static int publish(struct nats_sink *s, natsMsg **m)
{
    int64_t t0 = 0;
    int err = 0;

    for (;;) {
        natsStatus st = js_PublishMsgAsync(s->js, m, &s->popts);
        bool nretry;

        if (st == NATS_OK)
            break;
        if (!t0)
            t0 = now_ms();
        /* A write to a socket the server just dropped says NATS_IO_ERROR
         * before libnats starts reconnecting: as transient as a
         * disconnect. Only a closed connection is final. */
        if (st != NATS_TIMEOUT && st != NATS_INSUFFICIENT_BUFFER &&
            st != NATS_CONNECTION_DISCONNECTED &&
            st != NATS_NOT_YET_CONNECTED && st != NATS_IO_ERROR &&
            st != NATS_STALE_CONNECTION) {
            snprintf(s->err, sizeof(s->err), "publish: %s",
                     natsStatus_GetText(st));
            err = st == NATS_CONNECTION_CLOSED ? -EPIPE : from_status(st);
            break;
        }
        pthread_mutex_lock(&s->mu);
        err = s->fatal;
        /* NATS_TIMEOUT: MaxPending in flight, libnats already waited
         * StallWait. Otherwise libnats is reconnecting: wait a little. */
        if (!err && st != NATS_TIMEOUT)
            wait_ms(s, 50);
        nretry = s->nretry > 0;
        pthread_mutex_unlock(&s->mu);
        if (err)
            break;
        /* Room may come from messages that failed meanwhile. */
        if (nretry) {
            err = resend(s);
            if (err)
                break;
        }
    }
    if (t0)
        s->base.stats.wait_seconds += (double)(now_ms() - t0) / 1000.0;
    return err;
}

static int nats_write(struct iocs_sink *base, const struct iocs_sink_batch *b)
{
    struct nats_sink *s = (struct nats_sink *)base;
    size_t i, start = 0;
    int err = 0;

    if (b->seq != s->last_seq + 1)
        return -EINVAL;
    /* Room for one more batch in the ring. */
    pthread_mutex_lock(&s->mu);
    while (!s->fatal && s->len == IOCS_NATS_BATCHES)
        wait_ms(s, 100);
    err = s->fatal;
    if (!err) {
        struct nbatch *nb = &s->ring[(s->head + s->len) % IOCS_NATS_BATCHES];

        *nb = (struct nbatch){b->seq, b->pos, b->n, b->n};
        s->len++;
        s->last_seq = b->seq;
        pop_acked(s); /* an empty batch is acked with those before it */
    }
    pthread_mutex_unlock(&s->mu);
    if (err)
        return err;

    for (i = 0; i < b->n && !err; i++) {
        const struct iocs_sink_rec *r = &b->rec[i];
        size_t end = r->end, len;
        natsMsg *m = NULL;
        char idbuf[64];
        const char *id = r->id;

        if (end < start || end > b->len) {
            err = -EINVAL;
            break;
        }
        len = end - start;
        /* A JSON line goes without its newline: a message is one event. */
        if (base->format == IOCS_FORMAT_JSON && len && b->data[end - 1] == '\n')
            len--;
        if (!id) {
            /* No event.id in this build: an id unique to this run, batch
             * and index. Dedupe then covers resends within the run only. */
            snprintf(idbuf, sizeof(idbuf),
                     "iocs-%02x%02x%02x%02x%02x%02x-%llu-%zu", s->run_id[0],
                     s->run_id[1], s->run_id[2], s->run_id[3], s->run_id[4],
                     s->run_id[5], (unsigned long long)b->seq, i);
            id = idbuf;
        }
        if (natsMsg_Create(&m, s->subject, NULL, (const char *)b->data + start,
                           (int)len) != NATS_OK ||
            natsMsgHeader_Set(m, "Nats-Msg-Id", id) != NATS_OK) {
            natsMsg_Destroy(m);
            err = -ENOMEM;
            break;
        }
        start = end;
        pthread_mutex_lock(&s->mu);
        map_put(s, m, b->seq);
        pthread_mutex_unlock(&s->mu);
        base->stats.events_sent++;
        base->stats.bytes_sent += len;
        err = publish(s, &m);
        if (err) {
            pthread_mutex_lock(&s->mu);
            map_take(s, m);
            pthread_mutex_unlock(&s->mu);
            natsMsg_Destroy(m);
        }
    }
    if (!err)
        err = resend(s);
    return err;
}

static int nats_flush(struct iocs_sink *base, int timeout_ms)
{
    struct nats_sink *s = (struct nats_sink *)base;
    int64_t t0 = now_ms(), deadline = timeout_ms < 0 ? -1 : t0 + timeout_ms;
    int err;

    for (;;) {
        bool done;

        err = resend(s);
        if (err)
            break;
        pthread_mutex_lock(&s->mu);
        done = s->len == 0 && s->nretry == 0;
        err = s->fatal;
        if (!done && !err) {
            if (deadline >= 0 && now_ms() >= deadline)
                err = -ETIMEDOUT;
            else
                wait_ms(s, 100);
        }
        pthread_mutex_unlock(&s->mu);
        if (done || err)
            break;
    }
    base->stats.wait_seconds += (double)(now_ms() - t0) / 1000.0;
    return err;
}

static uint64_t nats_acked(const struct iocs_sink *base,
                           struct iocs_sink_pos *pos)
{
    /* The lock is not part of what acked() reads: cast it away. */
    struct nats_sink *s = (struct nats_sink *)(uintptr_t)base;
    uint64_t seq;

    pthread_mutex_lock(&s->mu);
    seq = s->acked_seq;
    if (pos && seq)
        *pos = s->acked_pos;
    pthread_mutex_unlock(&s->mu);
    return seq;
}

static void nats_close(struct iocs_sink *base)
{
    struct nats_sink *s = (struct nats_sink *)base;
    size_t i;

    /* Stop the callbacks before freeing what they touch: destroying the
     * context releases the messages libnats still holds. */
    if (s->nc)
        natsConnection_Close(s->nc);
    jsCtx_Destroy(s->js);
    natsConnection_Destroy(s->nc);
    natsOptions_Destroy(s->opts);
    for (i = 0; i < s->nretry; i++)
        natsMsg_Destroy(s->retry[i]);
    free(s->retry);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const char *iocs__sink_nats_error(const struct iocs_sink *s)
{
    return ((const struct nats_sink *)s)->err;
}

static const struct iocs_sink_ops nats_ops = {
    .name = "nats",
    .write = nats_write,
    .flush = nats_flush,
    .acked = nats_acked,
    .close = nats_close,
    .error = iocs__sink_nats_error,
};

/* nats[+tls]://[USER:PASS@]HOST[:PORT]/SUBJECT into url and subject. */
static int parse_dest(struct nats_sink *s, const char *dest, bool *tls)
{
    const char *hp, *slash, *subj;
    size_t i, hl;

    if (strncmp(dest, "nats://", 7) == 0) {
        hp = dest + 7;
        *tls = false;
    } else if (strncmp(dest, "nats+tls://", 11) == 0) {
        hp = dest + 11;
        *tls = true;
    } else {
        return -EINVAL;
    }
    slash = strchr(hp, '/');
    if (!slash || slash == hp)
        return -EINVAL;
    subj = slash + 1;
    hl = (size_t)(slash - hp);
    if (!*subj || strlen(subj) >= sizeof(s->subject))
        return -EINVAL;
    /* A subject to publish to: tokens, no wildcards, no spaces. */
    for (i = 0; subj[i]; i++)
        if (subj[i] == '*' || subj[i] == '>' || subj[i] <= ' ' ||
            (subj[i] == '.' &&
             (i == 0 || subj[i + 1] == '.' || subj[i + 1] == '\0')))
            return -EINVAL;
    if (hl + 16 >= sizeof(s->url))
        return -EINVAL;
    snprintf(s->url, sizeof(s->url), "%s://%.*s", *tls ? "tls" : "nats",
             (int)hl, hp);
    memcpy(s->subject, subj, strlen(subj) + 1);
    return 0;
}

static int from_status(natsStatus st)
{
    switch (st) {
    case NATS_OK:
        return 0;
    case NATS_NO_MEMORY:
        return -ENOMEM;
    case NATS_NO_SERVER:
        return -ECONNREFUSED;
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_NOT_PERMITTED:
        return -EACCES;
    case NATS_TIMEOUT:
        return -ETIMEDOUT;
    case NATS_INVALID_ARG:
        return -EINVAL;
    default:
        return -EIO;
    }
}

/* Does a stream capture the subject? Asks the JetStream API directly. */
static int check_stream(struct nats_sink *s)
{
    natsMsg *reply = NULL;
    json_t *j = NULL, *streams;
    char req[400];
    natsStatus st;
    int err = 0;

    snprintf(req, sizeof(req), "{\"subject\":\"%s\"}", s->subject);
    st = natsConnection_RequestString(&reply, s->nc, "$JS.API.STREAM.NAMES",
                                      req, IOCS_NATS_CONNECT_TIMEOUT_MS);
    if (st == NATS_NO_RESPONDERS) {
        snprintf(s->err, sizeof(s->err),
                 "JetStream is not enabled on the server (no stream can "
                 "capture subject %s)",
                 s->subject);
        return -ENOENT;
    }
    if (st != NATS_OK) {
        snprintf(s->err, sizeof(s->err), "JetStream stream lookup: %s",
                 natsStatus_GetText(st));
        return from_status(st);
    }
    j = json_loadb(natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply),
                   0, NULL);
    streams = json_object_get(j, "streams");
    if (!json_is_array(streams) || json_array_size(streams) == 0) {
        snprintf(s->err, sizeof(s->err),
                 "no JetStream stream captures subject %s", s->subject);
        err = -ENOENT;
    }
    json_decref(j);
    natsMsg_Destroy(reply);
    return err;
}

int iocs__sink_nats_open(struct iocs_sink **out, const char *dest,
                         const struct iocs_sink_opts *o, char *errbuf,
                         size_t errlen)
{
    struct nats_sink *s;
    jsOptions jo;
    natsStatus st = NATS_OK;
    bool tls = false;
    int err;

    s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errbuf, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    /* from here on, nats_close() is safe */
    s->base.ops = &nats_ops;
    s->base.format = o->format;
    s->base.str_times = false;
    s->ack_timeout_ms =
        o->ack_timeout_ms > 0 ? o->ack_timeout_ms : IOCS_NATS_ACK_TIMEOUT_MS;
    /* Every message the map can hold may come back at once. */
    s->retry = calloc(MAP_CAP, sizeof(*s->retry));
    if (!s->retry) {
        err = -ENOMEM;
        goto fail;
    }
    if (getrandom(s->run_id, sizeof(s->run_id), 0) < 0)
        memset(s->run_id, 0, sizeof(s->run_id));

    err = parse_dest(s, dest, &tls);
    if (err) {
        snprintf(s->err, sizeof(s->err),
                 "%s: want nats://HOST:PORT/SUBJECT (a subject without "
                 "wildcards)",
                 dest);
        goto fail;
    }
    if (nats_Open(-1) != NATS_OK) {
        err = -ENOMEM;
        goto fail;
    }
    st = natsOptions_Create(&s->opts);
    if (st == NATS_OK)
        st = natsOptions_SetURL(s->opts, s->url);
    if (st == NATS_OK)
        st = natsOptions_SetTimeout(s->opts, IOCS_NATS_CONNECT_TIMEOUT_MS);
    /* A server that goes away is retried forever; the scan waits. */
    if (st == NATS_OK)
        st = natsOptions_SetMaxReconnect(s->opts, -1);
    if (st == NATS_OK)
        st = natsOptions_SetReconnectWait(s->opts, IOCS_NATS_RECONNECT_WAIT_MS);
    if (st == NATS_OK)
        st = natsOptions_SetReconnectBufSize(s->opts, 32 << 20);
    if (st == NATS_OK && (tls || o->tls_ca))
        st = natsOptions_SetSecure(s->opts, true);
    if (st == NATS_OK && o->tls_ca)
        st = natsOptions_LoadCATrustedCertificates(s->opts, o->tls_ca);
    if (st == NATS_OK && o->tls_cert)
        st = natsOptions_LoadCertificatesChain(
            s->opts, o->tls_cert, o->tls_key ? o->tls_key : o->tls_cert);
    if (st == NATS_OK && o->nats_creds)
        st = natsOptions_SetUserCredentialsFromFiles(s->opts, o->nats_creds,
                                                     NULL);
    if (st != NATS_OK) {
        err = st == NATS_NO_MEMORY ? -ENOMEM : -EINVAL;
        snprintf(s->err, sizeof(s->err), "NATS options: %s",
                 nats_GetLastError(NULL));
        goto fail;
    }
    /* The first connect is not retried: a wrong address or credentials
     * are the user's to fix, and open() says so now. */
    st = natsConnection_Connect(&s->nc, s->opts);
    if (st != NATS_OK) {
        err = from_status(st);
        /* Never print the password of nats://user:pass@host. */
        snprintf(s->err, sizeof(s->err), "connect to %.200s: %.250s",
                 strchr(s->url, '@') ? strchr(s->url, '@') + 1 : s->url,
                 nats_GetLastError(NULL) ? nats_GetLastError(NULL)
                                         : natsStatus_GetText(st));
        if (err == -EIO && strstr(s->err, "uthoriz"))
            err = -EACCES;
        goto fail;
    }
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = IOCS_NATS_MAX_PENDING;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = s;
    jo.PublishAsync.StallWait = 100;
    st = natsConnection_JetStream(&s->js, s->nc, &jo);
    if (st != NATS_OK) {
        err = from_status(st);
        snprintf(s->err, sizeof(s->err), "JetStream: %s",
                 natsStatus_GetText(st));
        goto fail;
    }
    /* An ack that does not come in time comes back as an error: resent. */
    jsPubOptions_Init(&s->popts);
    s->popts.MaxWait = s->ack_timeout_ms;
    err = check_stream(s);
    if (err)
        goto fail;
    *out = &s->base;
    return 0;

fail:
    snprintf(errbuf, errlen, "%s", s->err[0] ? s->err : strerror(-err));
    nats_close(&s->base);
    return err;
}
