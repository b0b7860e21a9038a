/*
 * decode.c - msgpack stream -> JSON lines (see decode.h).
 *
 * Input is untrusted: any bytes, from a file or a pipe, read in chunks
 * that cut objects anywhere. Before msgpack_unpacker sees an object,
 * frame() walks its bytes without allocating and checks that it is whole,
 * well formed and at most IOCS_DECODE_DEPTH deep. That keeps promises
 * the unpacker alone does not: an array header claiming 4 billion
 * elements cannot make it allocate 100 GB up front (its counts are now
 * backed by bytes that are really there), nesting stays inside both
 * msgpack-c's fixed parse stack and our recursion in put_obj(), and keys
 * within keys cannot make the output grow exponentially. The
 * unpacker is then only ever given whole objects, so it never fails on
 * a frame() has accepted.
 *
 * Output goes through json.c, the writer encode.c's --format json uses,
 * so decoding our msgpack events gives the encoder's JSON byte for byte.
 */
#include "pipeline/decode.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "matchers/util.h"
#include "pipeline/json.h"
#include "pipeline/status.h"

/* Deepest nesting of non-empty arrays and maps accepted. msgpack-c's C
 * unpacker has a fixed stack of MSGPACK_EMBED_STACK_SIZE (32) open
 * containers and fails on any container header past it, so this is the
 * most it can parse; frame() rejects deeper input first, as -EBADMSG. */
#define IOCS_DECODE_DEPTH 32
/* A map key that is a map or an array is written as its JSON text in a
 * string, and a key inside that key is escaped once more: every level
 * doubles the backslashes. Containers may sit in key position at most this
 * many levels deep, so the output stays within a constant factor of the
 * input instead of growing as 2^depth. */
#define IOCS_DECODE_KEY_DEPTH 4
#define DECODE_READ (64u << 10)
#define DECODE_OUT (64u << 10)

enum frame_result {
    FRAME_OK,
    FRAME_SHORT, /* the bytes end inside the object */
    FRAME_BAD,   /* not msgpack, or nested too deep */
};

static uint64_t load_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Bytes still due for the objects counted in left[0..top], at least one
 * each. */
static uint64_t still_due(const uint64_t *left, int top)
{
    uint64_t sum = 0;

    for (int i = 0; i <= top; i++)
        sum += left[i];
    return sum;
}

/*
 * Find where the msgpack object at p[0..n) ends. Returns FRAME_OK with
 * *len its size; FRAME_SHORT when n bytes do not finish it, with *len a
 * lower bound of the size it needs (so a reader knows when trying again
 * can help); or FRAME_BAD with *len the offset of the offending byte: not
 * msgpack, or containers nested over IOCS_DECODE_DEPTH deep, or over
 * IOCS_DECODE_KEY_DEPTH deep in key position.
 */
static enum frame_result frame(const unsigned char *p, size_t n, size_t *len)
{
    uint64_t left[IOCS_DECODE_DEPTH + 1]; /* objects still due per level */
    bool is_map[IOCS_DECODE_DEPTH + 1];   /* left[] counts keys and values */
    int keys[IOCS_DECODE_DEPTH + 1];      /* key positions around the level */
    int top = 0;
    size_t off = 0;

    left[0] = 1;
    is_map[0] = false;
    keys[0] = 0;
    while (top >= 0) {
        unsigned char c;
        size_t hdr = 1;     /* bytes of type and length */
        uint64_t body = 0;  /* bytes after hdr */
        uint64_t items = 0; /* objects inside, for arrays and maps */
        bool container = false, map = false, is_key;

        if (left[top] == 0) {
            top--;
            continue;
        }
        left[top]--;
        /* Keys come first: an odd count left means a key is next. */
        is_key = is_map[top] && left[top] % 2 == 1;
        if (off >= n) {
            *len = off + 1 + still_due(left, top);
            return FRAME_SHORT;
        }
        c = p[off];
        if (c <= 0x7f || c >= 0xe0 || (c >= 0xc2 && c <= 0xc3) || c == 0xc0) {
            /* fixint, nil, false, true: the byte is the object. */
        } else if (c >= 0xa0 && c <= 0xbf) {
            body = c & 0x1f;
        } else if (c >= 0x90 && c <= 0x9f) {
            items = c & 0x0f;
            container = true;
        } else if (c >= 0x80 && c <= 0x8f) {
            items = 2u * (c & 0x0f);
            container = map = true;
        } else {
            /* The rest carry a length or a fixed-size body after c. */
            static const unsigned char lenbytes[0xdf - 0xc4 + 1] = {
                [0xc4 - 0xc4] = 1, [0xc5 - 0xc4] = 2, [0xc6 - 0xc4] = 4,
                [0xc7 - 0xc4] = 1, [0xc8 - 0xc4] = 2, [0xc9 - 0xc4] = 4,
                [0xd9 - 0xc4] = 1, [0xda - 0xc4] = 2, [0xdb - 0xc4] = 4,
                [0xdc - 0xc4] = 2, [0xdd - 0xc4] = 4, [0xde - 0xc4] = 2,
                [0xdf - 0xc4] = 4,
            };
            static const unsigned char fixed[0xdf - 0xc4 + 1] = {
                [0xca - 0xc4] = 4, [0xcb - 0xc4] = 8, [0xcc - 0xc4] = 1,
                [0xcd - 0xc4] = 2, [0xce - 0xc4] = 4, [0xcf - 0xc4] = 8,
                [0xd0 - 0xc4] = 1, [0xd1 - 0xc4] = 2, [0xd2 - 0xc4] = 4,
                [0xd3 - 0xc4] = 8, [0xd4 - 0xc4] = 2, [0xd5 - 0xc4] = 3,
                [0xd6 - 0xc4] = 5, [0xd7 - 0xc4] = 9, [0xd8 - 0xc4] = 17,
            };
            unsigned lb;
            uint64_t v;

            if (c == 0xc1) {
                *len = off; /* the one byte msgpack never uses */
                return FRAME_BAD;
            }
            lb = lenbytes[c - 0xc4];
            body = fixed[c - 0xc4];
            if (lb) {
                if (n - off < 1 + (size_t)lb) {
                    *len = off + 1 + lb + still_due(left, top);
                    return FRAME_SHORT;
                }
                v = load_be(p + off + 1, lb);
                hdr += lb;
                if (c >= 0xdc && c <= 0xdd) {
                    items = v;
                    container = true;
                } else if (c >= 0xde) {
                    items = 2 * v;
                    container = map = true;
                } else {
                    /* bin, str, or ext (whose type byte is one more). */
                    body = v + (c >= 0xc7 && c <= 0xc9);
                }
            }
        }
        if (container && (top == IOCS_DECODE_DEPTH ||
                          keys[top] + is_key > IOCS_DECODE_KEY_DEPTH)) {
            *len = off;
            return FRAME_BAD;
        }
        if (body > n - off - hdr) {
            *len = off + hdr + body + still_due(left, top);
            return FRAME_SHORT;
        }
        off += hdr + (size_t)body;
        if (container && items > 0) {
            top++;
            left[top] = items;
            is_map[top] = map;
            keys[top] = keys[top - 1] + is_key;
        }
    }
    *len = off;
    return FRAME_OK;
}

static void put_obj(struct iocs__jbuf *b, const msgpack_object *o);

/* A timestamp extension with a valid body, as RFC 3339; false for any
 * other ext, which then prints as {"ext":..,"data":..}. */
static bool put_time(struct iocs__jbuf *b, const msgpack_object *o)
{
    msgpack_timestamp ts;

    if (!msgpack_object_to_timestamp(o, &ts) || ts.tv_nsec > 999999999u)
        return false;
    iocs__json_time(b, ts.tv_sec, ts.tv_nsec);
    return true;
}

static void put_ext(struct iocs__jbuf *b, const msgpack_object_ext *x)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *d = (const unsigned char *)x->ptr;

    IOCS__JBUF_LIT(b, "{\"ext\":");
    iocs__json_i64(b, x->type);
    IOCS__JBUF_LIT(b, ",\"data\":\"");
    for (uint32_t i = 0; i < x->size; i++) {
        char h[2] = {hex[d[i] >> 4], hex[d[i] & 15]};

        iocs__jbuf_put(b, h, 2);
    }
    IOCS__JBUF_LIT(b, "\"}");
}

/* A map key: strings (and bin) as they are, anything else as its JSON
 * text inside a string, so the object stays valid JSON. That text is made
 * apart first, in a buffer allowed to grow as far as b may (or without a
 * set limit when b spills): frame() bounded how much it can grow. */
static void put_key(struct iocs__jbuf *b, const msgpack_object *k)
{
    struct iocs__jbuf t;
    size_t max;
    int err;

    if (k->type == MSGPACK_OBJECT_STR) {
        iocs__json_str(b, k->via.str.ptr, k->via.str.size);
        return;
    }
    if (k->type == MSGPACK_OBJECT_BIN) {
        iocs__json_str(b, k->via.bin.ptr, k->via.bin.size);
        return;
    }
    if (b->err)
        return;
    max = b->spill ? SIZE_MAX / 4 : b->max - b->len;
    err = iocs__jbuf_init(&t, max < 256 ? max : 256, max);
    if (err == -EINVAL)
        err = -ENOBUFS; /* b could not hold even one byte more */
    if (err) {
        b->err = err;
        return;
    }
    put_obj(&t, k);
    if (t.err)
        b->err = t.err;
    else
        iocs__json_str(b, t.p, t.len);
    iocs__jbuf_fini(&t);
}

/* One object as JSON. Recursion is bounded: frame() limited the depth. */
static void put_obj(struct iocs__jbuf *b, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        IOCS__JBUF_LIT(b, "null");
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        if (o->via.boolean)
            IOCS__JBUF_LIT(b, "true");
        else
            IOCS__JBUF_LIT(b, "false");
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        iocs__json_u64(b, o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        iocs__json_i64(b, o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
        iocs__json_double(b, o->via.f64, true);
        break;
    case MSGPACK_OBJECT_FLOAT64:
        iocs__json_double(b, o->via.f64, false);
        break;
    case MSGPACK_OBJECT_STR:
        iocs__json_str(b, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        iocs__json_str(b, o->via.bin.ptr, o->via.bin.size);
        break;
    case MSGPACK_OBJECT_EXT:
        if (!put_time(b, o))
            put_ext(b, &o->via.ext);
        break;
    case MSGPACK_OBJECT_ARRAY:
        IOCS__JBUF_LIT(b, "[");
        for (uint32_t i = 0; i < o->via.array.size && !b->err; i++) {
            if (i)
                IOCS__JBUF_LIT(b, ",");
            put_obj(b, &o->via.array.ptr[i]);
        }
        IOCS__JBUF_LIT(b, "]");
        break;
    case MSGPACK_OBJECT_MAP:
        IOCS__JBUF_LIT(b, "{");
        for (uint32_t i = 0; i < o->via.map.size && !b->err; i++) {
            if (i)
                IOCS__JBUF_LIT(b, ",");
            put_key(b, &o->via.map.ptr[i].key);
            IOCS__JBUF_LIT(b, ":");
            put_obj(b, &o->via.map.ptr[i].val);
        }
        IOCS__JBUF_LIT(b, "}");
        break;
    default:
        /* msgpack-c has no other types; keep the output valid anyway. */
        IOCS__JBUF_LIT(b, "null");
        break;
    }
}

long iocs_decode_one(const char *buf, size_t n, char *out, size_t cap)
{
    msgpack_unpacked u;
    struct iocs__jbuf b;
    size_t len = 0, off = 0;
    long ret;

    if (cap == 0)
        return -E2BIG;
    if (frame((const unsigned char *)buf, n, &len) != FRAME_OK || len != n)
        return -EBADMSG;
    msgpack_unpacked_init(&u);
    switch (msgpack_unpack_next(&u, buf, n, &off)) {
    case MSGPACK_UNPACK_SUCCESS:
        break;
    case MSGPACK_UNPACK_NOMEM_ERROR:
        ret = -ENOMEM;
        goto out;
    default:
        ret = -EBADMSG;
        goto out;
    }
    iocs__jbuf_init_fixed(&b, out, cap - 1); /* keep one byte for the NUL */
    put_obj(&b, &u.data);
    if (b.err) {
        ret = b.err == -ENOBUFS ? -E2BIG : b.err;
        goto out;
    }
    out[b.len] = '\0';
    ret = (long)b.len;

out:
    msgpack_unpacked_destroy(&u);
    return ret;
}

/* json.c's spill callback for iocs_decode_stream(): into the FILE. */
static int to_file(void *ctx, const char *p, size_t n)
{
    FILE *f = ctx;

    if (fwrite(p, 1, n, f) != n)
        return errno ? -errno : -EIO;
    return 0;
}

/* read(2) that retries on EINTR. */
static ssize_t read_some(int fd, void *p, size_t n)
{
    ssize_t r;

    do {
        r = read(fd, p, n);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

/* Whether c starts a msgpack map: a fixmap, map16 or map32. */
static bool is_map_byte(unsigned char c)
{
    return (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf;
}

/* The stream of iocs_decode_stream(); with events, its first object must
 * be a map (iocs_decode_events()). */
static long decode(int in_fd, FILE *out, bool events, char *errbuf,
                   size_t errlen)
{
    msgpack_unpacker mpac;
    msgpack_unpacked u;
    struct iocs__jbuf b;
    uint64_t base = 0; /* stream offset of the first unparsed byte */
    size_t need = 1;   /* unparsed bytes the next object needs, at least */
    bool at_eof = false;
    long count = 0;
    int err = 0;

    if (errbuf && errlen)
        errbuf[0] = '\0';
    memset(&b, 0, sizeof(b));
    msgpack_unpacked_init(&u);
    if (!msgpack_unpacker_init(&mpac, DECODE_READ))
        return -ENOMEM;
    err = iocs__jbuf_init(&b, DECODE_OUT, DECODE_OUT);
    if (err)
        goto out;
    b.spill = to_file;
    b.spill_ctx = out;

    for (;;) {
        const unsigned char *p = (const unsigned char *)mpac.buffer + mpac.off;
        size_t avail = mpac.used - mpac.off, len = 0;
        enum frame_result fr = FRAME_SHORT;
        msgpack_unpack_return ur;
        ssize_t r;

        /* A big object arrives over many reads: frame() it again only once
         * enough bytes are there to possibly finish it, so a pipe's small
         * reads do not rescan it from the start each time. */
        if (events && base == 0 && count == 0 && avail > 0 &&
            !is_map_byte(p[0])) {
            /* JSON text reads as small integers and strings: say what
             * it is rather than print numbers. */
            if (p[0] >= 0x20 && p[0] < 0x7f)
                err = iocs_seterr(errbuf, errlen, -ENOMSG,
                                  "not a msgpack event stream (first byte "
                                  "0x%02x '%c'); JSON lines need no decode",
                                  p[0], p[0]);
            else
                err = iocs_seterr(errbuf, errlen, -ENOMSG,
                                  "not a msgpack event stream (first byte "
                                  "0x%02x); JSON lines need no decode",
                                  p[0]);
            goto out;
        }
        if (avail >= need)
            fr = frame(p, avail, &len);
        if (fr == FRAME_BAD) {
            err = iocs_seterr(errbuf, errlen, -EBADMSG,
                              "not msgpack, or nested over %d deep (%d in "
                              "map keys), at byte offset %" PRIu64,
                              IOCS_DECODE_DEPTH, IOCS_DECODE_KEY_DEPTH,
                              base + len);
            goto out;
        }
        if (fr == FRAME_OK) {
            ur = msgpack_unpacker_next(&mpac, &u);
            if (ur != MSGPACK_UNPACK_SUCCESS) {
                err = ur == MSGPACK_UNPACK_NOMEM_ERROR
                          ? -ENOMEM
                          : iocs_seterr(errbuf, errlen, -EBADMSG,
                                        "bad msgpack object at byte offset "
                                        "%" PRIu64,
                                        base);
                goto out;
            }
            put_obj(&b, &u.data);
            IOCS__JBUF_LIT(&b, "\n");
            if (iocs__jbuf_spill(&b)) {
                err = b.err;
                goto out;
            }
            count++;
            base += len;
            need = 1;
            continue;
        }
        if (avail >= need)
            need = len; /* frame() said how much it needs at least */
        if (at_eof) {
            if (avail > 0)
                err = iocs_seterr(errbuf, errlen, -EBADMSG,
                                  "stream ends inside the object at byte "
                                  "offset %" PRIu64 " (%zu of at least %zu "
                                  "bytes read)",
                                  base, avail, need);
            goto out;
        }
        if (!msgpack_unpacker_reserve_buffer(&mpac, DECODE_READ)) {
            err = -ENOMEM;
            goto out;
        }
        r = read_some(in_fd, msgpack_unpacker_buffer(&mpac),
                      msgpack_unpacker_buffer_capacity(&mpac));
        if (r < 0) {
            err = (int)r;
            goto out;
        }
        if (r == 0)
            at_eof = true;
        msgpack_unpacker_buffer_consumed(&mpac, (size_t)r);
    }

out:
    if (fflush(out) != 0 && !err)
        err = errno ? -errno : -EIO;
    iocs__jbuf_fini(&b);
    msgpack_unpacked_destroy(&u);
    msgpack_unpacker_destroy(&mpac);
    return err ? err : count;
}

long iocs_decode_stream(int in_fd, FILE *out, char *errbuf, size_t errlen)
{
    return decode(in_fd, out, false, errbuf, errlen);
}

long iocs_decode_events(int in_fd, FILE *out, char *errbuf, size_t errlen)
{
    return decode(in_fd, out, true, errbuf, errlen);
}

int iocs__msgpack_frame(const unsigned char *p, size_t n, size_t *len)
{
    switch (frame(p, n, len)) {
    case FRAME_OK:
        return 1;
    case FRAME_SHORT:
        return 0;
    default:
        return -EBADMSG;
    }
}
