/*
 * sinkcheck.h - what the sink tests share: synthetic batches of encoded
 * events (msgpack maps or JSON lines) and the bookkeeping of which events
 * arrived how often. Header-only, included after <cmocka.h>.
 *
 * Event k of a run is
 *   {"@timestamp": "...", "event": {"id": "ev-<k>"}, "k": k, "pad": "..."}
 * with pad sized so that the whole event is about pad_to bytes; its
 * EventTime is 1733368455 + k seconds and k nanoseconds. The id is a
 * function of k, so a copy of an event carries the same id.
 */
#ifndef IOCS_TEST_SINKCHECK_H
#define IOCS_TEST_SINKCHECK_H

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/sink.h"

struct sc_batch {
    struct iocs_sink_batch b;
    struct iocs_sink_rec *rec;
    char (*ids)[32];
    msgpack_sbuffer buf;
    size_t cap;
};

static inline void sc_init(struct sc_batch *s, size_t cap)
{
    memset(s, 0, sizeof(*s));
    s->rec = calloc(cap, sizeof(*s->rec));
    s->ids = calloc(cap, sizeof(*s->ids));
    s->cap = cap;
    msgpack_sbuffer_init(&s->buf);
    if (!s->rec || !s->ids)
        abort();
}

static inline void sc_fini(struct sc_batch *s)
{
    free(s->rec);
    free(s->ids);
    msgpack_sbuffer_destroy(&s->buf);
}

static inline void sc_pack_str(msgpack_packer *pk, const char *str)
{
    msgpack_pack_str(pk, strlen(str));
    msgpack_pack_str_body(pk, str, strlen(str));
}

/*
 * Fill s with batch seq: events first .. first + n - 1, each about pad_to
 * bytes, as msgpack maps (json false) or JSON lines (json true).
 */
static inline void sc_make(struct sc_batch *s, uint64_t seq, uint64_t first,
                           size_t n, size_t pad_to, bool json)
{
    static char pad[8192];
    msgpack_packer pk;
    size_t i, padlen = pad_to > 120 ? pad_to - 120 : 1;

    if (n > s->cap || padlen >= sizeof(pad))
        abort();
    if (!pad[0])
        memset(pad, 'x', sizeof(pad) - 1);
    msgpack_sbuffer_clear(&s->buf);
    msgpack_packer_init(&pk, &s->buf, msgpack_sbuffer_write);
    for (i = 0; i < n; i++) {
        uint64_t k = first + i;

        snprintf(s->ids[i], sizeof(s->ids[i]), "ev-%llu",
                 (unsigned long long)k);
        if (json) {
            char line[8400];
            int len =
                snprintf(line, sizeof(line),
                         "{\"@timestamp\":\"2024-12-05T03:14:15Z\","
                         "\"event\":{\"id\":\"%s\"},\"k\":%llu,"
                         "\"pad\":\"%.*s\"}\n",
                         s->ids[i], (unsigned long long)k, (int)padlen, pad);

            msgpack_sbuffer_write(&s->buf, line, (size_t)len);
        } else {
            msgpack_pack_map(&pk, 4);
            sc_pack_str(&pk, "@timestamp");
            sc_pack_str(&pk, "2024-12-05T03:14:15Z");
            sc_pack_str(&pk, "event");
            msgpack_pack_map(&pk, 1);
            sc_pack_str(&pk, "id");
            sc_pack_str(&pk, s->ids[i]);
            sc_pack_str(&pk, "k");
            msgpack_pack_uint64(&pk, k);
            sc_pack_str(&pk, "pad");
            msgpack_pack_str(&pk, padlen);
            msgpack_pack_str_body(&pk, pad, padlen);
        }
        s->rec[i].end = s->buf.size;
        s->rec[i].timestamp.tv_sec = (time_t)(1733368455 + k);
        s->rec[i].timestamp.tv_nsec = (long)(k % 1000000000);
        s->rec[i].id = s->ids[i];
    }
    s->b = (struct iocs_sink_batch){
        .seq = seq,
        .data = (const unsigned char *)s->buf.data,
        .len = s->buf.size,
        .rec = s->rec,
        .n = n,
        .pos = {.source = 0, .offset = first + n, .line = first + n},
    };
}

/* How often each of n events arrived. */
struct sc_seen {
    unsigned *count;
    size_t n;
    size_t total, bad; /* bad: a record whose id or time is not k's */
};

static inline void sc_seen_init(struct sc_seen *s, size_t n)
{
    memset(s, 0, sizeof(*s));
    s->count = calloc(n ? n : 1, sizeof(*s->count));
    s->n = n;
    if (!s->count)
        abort();
}

static inline void sc_seen_fini(struct sc_seen *s)
{
    free(s->count);
}

/* Record event k arriving with this id. */
static inline void sc_seen_add(struct sc_seen *s, uint64_t k, const char *id)
{
    char want[32];

    snprintf(want, sizeof(want), "ev-%llu", (unsigned long long)k);
    s->total++;
    if (k >= s->n || !id || strcmp(id, want) != 0) {
        s->bad++;
        return;
    }
    s->count[k]++;
}

/* Events that never arrived, and events that arrived more than once. */
static inline void sc_seen_sum(const struct sc_seen *s, size_t *missing,
                               size_t *dups)
{
    size_t i;

    *missing = *dups = 0;
    for (i = 0; i < s->n; i++) {
        if (s->count[i] == 0)
            (*missing)++;
        else if (s->count[i] > 1)
            (*dups)++;
    }
}

static inline double sc_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif /* IOCS_TEST_SINKCHECK_H */
