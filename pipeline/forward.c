/*
 * forward.c - Fluent Forward v1 framing, acks and handshake (forward.h).
 *
 * The writer is a handful of msgpack headers written by hand: the records
 * are already msgpack, so a frame is headers around copied bytes, with no
 * msgpack_packer and no per-event allocation. The readers use msgpack-c's
 * unpacker, which bounds nesting and never reads past the buffer.
 */
#include "pipeline/forward.h"

#include <errno.h>
#include <msgpack.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Frames are bounded by msgpack's 32-bit lengths. */
#define FRAME_MAX ((size_t)UINT32_MAX)

void iocs_fwd_buf_fini(struct iocs_fwd_buf *b)
{
    if (!b)
        return;
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* Make room for need more bytes. */
static int reserve(struct iocs_fwd_buf *b, size_t need)
{
    size_t cap;
    unsigned char *p;

    if (need > FRAME_MAX - b->len)
        return -E2BIG;
    if (b->len + need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 4096;
    while (cap < b->len + need)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Callers reserve first: these only copy. */
static void put(struct iocs_fwd_buf *b, const void *p, size_t n)
{
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_be32(struct iocs_fwd_buf *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};

    put(b, c, 4);
}

/* A str header (fixstr, str8, str16 or str32) for n bytes. */
static void put_strhdr(struct iocs_fwd_buf *b, size_t n)
{
    unsigned char c[5];

    if (n < 32) {
        c[0] = (unsigned char)(0xa0 | n);
        put(b, c, 1);
    } else if (n < 256) {
        c[0] = 0xd9;
        c[1] = (unsigned char)n;
        put(b, c, 2);
    } else if (n < 65536) {
        c[0] = 0xda;
        c[1] = (unsigned char)(n >> 8);
        c[2] = (unsigned char)n;
        put(b, c, 3);
    } else {
        c[0] = 0xdb;
        put(b, c, 1);
        put_be32(b, (uint32_t)n);
    }
}

/* Headers are at most 5 bytes. */
static void put_str(struct iocs_fwd_buf *b, const char *s)
{
    size_t n = strlen(s);

    put_strhdr(b, n);
    put(b, s, n);
}

/* A positive integer, smallest form. */
static void put_uint(struct iocs_fwd_buf *b, uint64_t v)
{
    unsigned char c = 0xcf;

    if (v < 128) {
        c = (unsigned char)v;
        put(b, &c, 1);
    } else if (v <= UINT32_MAX) {
        c = 0xce;
        put(b, &c, 1);
        put_be32(b, (uint32_t)v);
    } else {
        put(b, &c, 1);
        put_be32(b, (uint32_t)(v >> 32));
        put_be32(b, (uint32_t)v);
    }
}

void iocs_fwd_chunk_id(char out[IOCS_FWD_CHUNK_LEN + 1],
                       const unsigned char salt[IOCS_FWD_CHUNK_SALT],
                       uint64_t seq)
{
    unsigned char raw[IOCS_FWD_CHUNK_SALT + 8];
    int i;

    memcpy(raw, salt, IOCS_FWD_CHUNK_SALT);
    for (i = 0; i < 8; i++)
        raw[IOCS_FWD_CHUNK_SALT + i] = (unsigned char)(seq >> (56 - 8 * i));
    /* 18 bytes are a whole number of base64 quanta: no padding. */
    EVP_EncodeBlock((unsigned char *)out, raw, (int)sizeof(raw));
    out[IOCS_FWD_CHUNK_LEN] = '\0';
}

/* Append the [EventTime, record] entries of b to out. */
static int put_entries(struct iocs_fwd_buf *out,
                       const struct iocs_sink_batch *b)
{
    size_t i, start = 0;
    int err;

    for (i = 0; i < b->n; i++) {
        const struct iocs_sink_rec *r = &b->rec[i];
        unsigned char hdr[3] = {0x92, 0xd7, 0x00}; /* array 2, fixext 8 */

        if (r->end < start || r->end > b->len)
            return -EINVAL;
        /* EventTime holds unsigned 32-bit seconds. */
        if (r->timestamp.tv_sec < 0 ||
            (uint64_t)r->timestamp.tv_sec > UINT32_MAX ||
            r->timestamp.tv_nsec < 0 || r->timestamp.tv_nsec >= 1000000000)
            return -EINVAL;
        err = reserve(out, 11 + (r->end - start));
        if (err)
            return err;
        put(out, hdr, 3);
        put_be32(out, (uint32_t)r->timestamp.tv_sec);
        put_be32(out, (uint32_t)r->timestamp.tv_nsec);
        put(out, b->data + start, r->end - start);
        start = r->end;
    }
    return 0;
}

/* gzip in[0..n) into out (appended). */
static int put_gzip(struct iocs_fwd_buf *out, const unsigned char *in, size_t n)
{
    z_stream z;
    int err = 0, zr;

    memset(&z, 0, sizeof(z));
    /* 15 + 16: a gzip wrapper, as "compressed": "gzip" promises. Level 1:
     * batches are text-like and the link is rarely slower than level 1. */
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    err = reserve(out, deflateBound(&z, (uLong)n));
    if (err)
        goto out;
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)n;
    z.next_out = out->p + out->len;
    z.avail_out = (uInt)(out->cap - out->len);
    zr = deflate(&z, Z_FINISH);
    if (zr != Z_STREAM_END) {
        err = -EIO; /* deflateBound() said it would fit */
        goto out;
    }
    out->len += z.total_out;
out:
    deflateEnd(&z);
    return err;
}

int iocs_fwd_pack(struct iocs_fwd_buf *out, const char *tag,
                  const struct iocs_sink_batch *b, const char *chunk, bool gzip)
{
    struct iocs_fwd_buf ent = {0};
    size_t taglen = strlen(tag), chunklen = strlen(chunk), binpos;
    unsigned char c;
    int err;

    if (taglen > IOCS_FWD_FIELD_MAX || chunklen > IOCS_FWD_FIELD_MAX)
        return -EINVAL;
    out->len = 0;
    err = reserve(out, 1 + 2 + taglen + 5);
    if (err)
        goto out;
    c = 0x93; /* [tag, entries, option] */
    put(out, &c, 1);
    put_str(out, tag);
    c = 0xc6; /* bin 32, its length filled in below */
    put(out, &c, 1);
    binpos = out->len;
    out->len += 4;

    if (gzip) {
        err = put_entries(&ent, b);
        if (err)
            goto out;
        err = put_gzip(out, ent.p, ent.len);
    } else {
        err = put_entries(out, b);
    }
    if (err)
        goto out;
    {
        size_t blen = out->len - binpos - 4;
        size_t end = out->len;

        if (blen > UINT32_MAX) {
            err = -E2BIG;
            goto out;
        }
        out->len = binpos;
        put_be32(out, (uint32_t)blen);
        out->len = end;
    }

    err = reserve(out, 1 + 5 + 9 + 6 + 2 + chunklen + 11 + 5);
    if (err)
        goto out;
    c = (unsigned char)(0x80 | (gzip ? 3 : 2));
    put(out, &c, 1);
    put_str(out, "size");
    put_uint(out, b->n);
    put_str(out, "chunk");
    put_str(out, chunk);
    if (gzip) {
        put_str(out, "compressed");
        put_str(out, "gzip");
    }
out:
    iocs_fwd_buf_fini(&ent);
    return err;
}

static uint64_t be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/*
 * The length of the msgpack object at the start of p[0..n), found by
 * walking it without allocating: -EAGAIN when it runs past n, -EPROTO for
 * the never-used byte 0xc1. msgpack-c's unpacker allocates what a
 * container's count claims before the elements arrive (an array32 header
 * asks for 4G objects), so untrusted bytes go through this first.
 */
static int obj_len(const unsigned char *p, size_t n, size_t *len)
{
    uint64_t want = 1; /* objects still to walk */
    size_t off = 0;

    while (want > 0) {
        uint64_t hdr, body = 0, kids = 0;
        unsigned char c;

        /* Every object takes at least one byte. */
        if (want > n - off)
            return -EAGAIN;
        c = p[off];
        hdr = 1;
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
        } else if (c <= 0x8f) {
            kids = 2 * (uint64_t)(c & 15);
        } else if (c <= 0x9f) {
            kids = c & 15;
        } else if (c <= 0xbf) {
            body = c & 31;
        } else if (c == 0xc1) {
            return -EPROTO;
        } else {
            static const unsigned char fixed[0xdf - 0xc4 + 1] = {
                /* c4..df: header bytes, then fixed body bytes */
                [0xca - 0xc4] = 5, [0xcb - 0xc4] = 9,  [0xcc - 0xc4] = 2,
                [0xcd - 0xc4] = 3, [0xce - 0xc4] = 5,  [0xcf - 0xc4] = 9,
                [0xd0 - 0xc4] = 2, [0xd1 - 0xc4] = 3,  [0xd2 - 0xc4] = 5,
                [0xd3 - 0xc4] = 9, [0xd4 - 0xc4] = 3,  [0xd5 - 0xc4] = 4,
                [0xd6 - 0xc4] = 6, [0xd7 - 0xc4] = 10, [0xd8 - 0xc4] = 18};
            int lb; /* bytes of the length or count field */

            if (fixed[c - 0xc4]) {
                hdr = fixed[c - 0xc4];
            } else {
                switch (c) {
                case 0xc4:
                case 0xc7:
                case 0xd9:
                    lb = 1;
                    break;
                case 0xc5:
                case 0xc8:
                case 0xda:
                case 0xdc:
                case 0xde:
                    lb = 2;
                    break;
                default:
                    lb = 4;
                    break; /* c6 c9 db dd df */
                }
                hdr = 1 + (uint64_t)lb + (c == 0xc7 || c == 0xc8 || c == 0xc9);
                if (hdr > n - off)
                    return -EAGAIN;
                if (c == 0xdc || c == 0xdd)
                    kids = be(p + off + 1, lb);
                else if (c == 0xde || c == 0xdf)
                    kids = 2 * be(p + off + 1, lb);
                else
                    body = be(p + off + 1, lb);
            }
        }
        if (hdr + body > n - off)
            return -EAGAIN;
        off += hdr + body;
        want += kids - 1;
    }
    *len = off;
    return 0;
}

/*
 * Unpack one msgpack object at the start of p[0..n) into u. Returns 0
 * with *used, -EAGAIN or -EPROTO.
 */
static int unpack(msgpack_unpacked *u, const void *p, size_t n, size_t *used)
{
    size_t off = 0;
    int err = obj_len(p, n, &n);

    if (err)
        return err;
    switch (msgpack_unpack_next(u, p, n, &off)) {
    case MSGPACK_UNPACK_SUCCESS:
    case MSGPACK_UNPACK_EXTRA_BYTES:
        *used = off;
        return 0;
    case MSGPACK_UNPACK_CONTINUE:
        return -EAGAIN;
    default:
        return -EPROTO;
    }
}

/* A str or bin's bytes; false for other types. */
static bool raw_of(const msgpack_object *o, const char **p, size_t *n)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.ptr;
        *n = o->via.str.size;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_BIN) {
        *p = o->via.bin.ptr;
        *n = o->via.bin.size;
        return true;
    }
    return false;
}

static bool is_str(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);

    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

/* Copy a str or bin into a NUL-terminated buffer of cap bytes. */
static int copy_raw(const msgpack_object *o, char *dst, size_t cap)
{
    const char *p;
    size_t n;

    if (!raw_of(o, &p, &n) || n >= cap)
        return -EPROTO;
    memcpy(dst, p, n);
    dst[n] = '\0';
    return 0;
}

int iocs_fwd_ack_parse(const void *p, size_t n, size_t *used, char *chunk,
                       size_t cap)
{
    msgpack_unpacked u;
    size_t i, len;
    int err;

    msgpack_unpacked_init(&u);
    err = unpack(&u, p, n, &len);
    if (err)
        goto out;
    err = -EPROTO;
    if (u.data.type != MSGPACK_OBJECT_MAP)
        goto out;
    for (i = 0; i < u.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &u.data.via.map.ptr[i];

        if (is_str(&kv->key, "ack")) {
            err = copy_raw(&kv->val, chunk, cap);
            break;
        }
    }
    if (!err)
        *used = len;
out:
    msgpack_unpacked_destroy(&u);
    return err;
}

int iocs_fwd_helo_parse(const void *p, size_t n, size_t *used,
                        struct iocs_fwd_helo *h)
{
    msgpack_unpacked u;
    const msgpack_object *o;
    bool nonce = false;
    size_t i, len;
    int err;

    msgpack_unpacked_init(&u);
    err = unpack(&u, p, n, &len);
    if (err)
        goto out;
    err = -EPROTO;
    o = &u.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 2 ||
        !is_str(&o->via.array.ptr[0], "HELO") ||
        o->via.array.ptr[1].type != MSGPACK_OBJECT_MAP)
        goto out;
    memset(h, 0, sizeof(*h));
    o = &o->via.array.ptr[1];
    for (i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        const char *v;
        size_t vn;

        if (is_str(&kv->key, "nonce")) {
            if (!raw_of(&kv->val, &v, &vn) || vn > sizeof(h->nonce))
                goto out;
            memcpy(h->nonce, v, vn);
            h->nonce_len = vn;
            nonce = true;
        } else if (is_str(&kv->key, "auth")) {
            if (!raw_of(&kv->val, &v, &vn) || vn > sizeof(h->auth))
                goto out;
            memcpy(h->auth, v, vn);
            h->auth_len = vn;
        } else if (is_str(&kv->key, "keepalive")) {
            h->keepalive =
                kv->val.type == MSGPACK_OBJECT_BOOLEAN && kv->val.via.boolean;
        }
    }
    if (!nonce)
        goto out;
    err = 0;
    *used = len;
out:
    msgpack_unpacked_destroy(&u);
    return err;
}

int iocs_fwd_digest(char out[IOCS_FWD_DIGEST_LEN + 1], const char *salt,
                    const char *host, const void *nonce, size_t nonce_len,
                    const char *key)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[64];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int err = -EIO;
    unsigned int i;

    if (!ctx)
        return -EIO;
    if (EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, salt, strlen(salt)) != 1 ||
        EVP_DigestUpdate(ctx, host, strlen(host)) != 1 ||
        EVP_DigestUpdate(ctx, nonce, nonce_len) != 1 ||
        EVP_DigestUpdate(ctx, key, strlen(key)) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 64)
        goto out;
    for (i = 0; i < 64; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[IOCS_FWD_DIGEST_LEN] = '\0';
    err = 0;
out:
    EVP_MD_CTX_free(ctx);
    return err;
}

int iocs_fwd_ping(struct iocs_fwd_buf *out, const char *host, const char *salt,
                  const struct iocs_fwd_helo *h, const char *key)
{
    char digest[IOCS_FWD_DIGEST_LEN + 1];
    unsigned char c = 0x96; /* array of 6 */
    int err;

    if (strlen(host) > IOCS_FWD_FIELD_MAX || strlen(salt) > IOCS_FWD_FIELD_MAX)
        return -EINVAL;
    err = iocs_fwd_digest(digest, salt, host, h->nonce, h->nonce_len, key);
    if (err)
        return err;
    out->len = 0;
    err = reserve(out, 1 + 5 + 2 * (2 + IOCS_FWD_FIELD_MAX) + 2 + 128 + 2);
    if (err)
        return err;
    put(out, &c, 1);
    put_str(out, "PING");
    put_str(out, host);
    put_str(out, salt);
    put_str(out, digest);
    /* No user authentication: empty user name and password digest. */
    put_str(out, "");
    put_str(out, "");
    return 0;
}

int iocs_fwd_pong_parse(const void *p, size_t n, size_t *used,
                        struct iocs_fwd_pong *pong)
{
    msgpack_unpacked u;
    const msgpack_object *a;
    size_t len;
    int err;

    msgpack_unpacked_init(&u);
    err = unpack(&u, p, n, &len);
    if (err)
        goto out;
    err = -EPROTO;
    if (u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size < 5)
        goto out;
    a = u.data.via.array.ptr;
    if (!is_str(&a[0], "PONG") || a[1].type != MSGPACK_OBJECT_BOOLEAN)
        goto out;
    memset(pong, 0, sizeof(*pong));
    pong->ok = a[1].via.boolean;
    if (copy_raw(&a[2], pong->reason, sizeof(pong->reason)) ||
        copy_raw(&a[3], pong->host, sizeof(pong->host)) ||
        copy_raw(&a[4], pong->digest, sizeof(pong->digest)))
        goto out;
    err = 0;
    *used = len;
out:
    msgpack_unpacked_destroy(&u);
    return err;
}

int iocs_fwd_pong_check(const struct iocs_fwd_pong *pong, const char *salt,
                        const struct iocs_fwd_helo *h, const char *key)
{
    char want[IOCS_FWD_DIGEST_LEN + 1];
    int err;

    if (!pong->ok)
        return -EACCES;
    err = iocs_fwd_digest(want, salt, pong->host, h->nonce, h->nonce_len, key);
    if (err)
        return err;
    /* Not secret-dependent timing worth hiding: the digest is public. */
    return strcmp(want, pong->digest) == 0 ? 0 : -EACCES;
}
