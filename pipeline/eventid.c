/*
 * eventid.c - event.id (eventid.h).
 *
 * Two 64-bit lanes absorb the input eight bytes at a time (little-endian
 * words, the tail zero-padded, the length last) through murmur3's
 * finaliser, crossing after every word so each lane depends on the whole
 * input. Not cryptographic: ids name hits, they do not authenticate them.
 */
#include "pipeline/eventid.h"

#include <string.h>

#define SEED_A 0x6a09e667f3bcc908ull /* sqrt(2), sqrt(3): any constants */
#define SEED_B 0xbb67ae8584caa73bull
#define GOLDEN 0x9e3779b97f4a7c15ull

struct h128 {
    uint64_t a, b;
};

static uint64_t fmix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static void absorb(struct h128 *h, uint64_t w)
{
    h->a = fmix(h->a ^ w) + h->b;
    h->b = fmix(h->b + w * GOLDEN) ^ h->a;
}

static uint64_t le64(const unsigned char *p, size_t n)
{
    uint64_t w = 0;

    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
}

static void absorb_bytes(struct h128 *h, const void *p, size_t n)
{
    const unsigned char *c = p;
    size_t i = 0;

    for (; i + 8 <= n; i += 8)
        absorb(h, le64(c + i, 8));
    if (i < n)
        absorb(h, le64(c + i, n - i));
    absorb(h, (uint64_t)n);
}

uint64_t iocs_eventid_source(const struct iocs_source *src)
{
    struct h128 h = {SEED_A, SEED_B};

    absorb(&h, src->dev);
    absorb(&h, src->ino);
    absorb(&h, src->fp_len);
    absorb(&h, src->fp_len ? src->fingerprint : 0);
    if (src->dev == 0 && src->ino == 0)
        absorb_bytes(&h, src->path, strlen(src->path));
    return h.a ^ fmix(h.b);
}

void iocs_eventid_make(char out[IOCS_EVENTID_LEN + 1], uint64_t source_key,
                       uint64_t offset, const struct iocs_ioc *ioc)
{
    static const char hex[] = "0123456789abcdef";
    struct h128 h = {SEED_A ^ source_key, SEED_B};
    uint64_t v[2];

    absorb(&h, source_key);
    absorb(&h, offset);
    absorb(&h, (uint64_t)ioc->type);
    absorb_bytes(&h, ioc->value, ioc->len);
    v[0] = fmix(h.a ^ h.b);
    v[1] = fmix(h.b + v[0]);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 16; j++)
            out[16 * i + j] = hex[(v[i] >> (60 - 4 * j)) & 15];
    out[IOCS_EVENTID_LEN] = '\0';
}
