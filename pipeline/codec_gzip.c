/*
 * codec_gzip.c - gzip (RFC 1952) with ISA-L's igzip inflate.
 *
 * isal_inflate() with crc_flag ISAL_GZIP parses each member's header and
 * checks its CRC-32 and ISIZE trailer; this file only strings members
 * together. A member may end anywhere in an input piece, and the next one
 * may start in the same piece or a later one.
 *
 * After the last member: end of input is a clean end; zero bytes are
 * accepted to the end (block or tape padding, which gzip(1) also skips
 * silently); anything else (gzip(1)'s "trailing garbage") is damage. A
 * source with no member at all is damage too.
 *
 * Memory: one struct inflate_state (about 40 KB, the 32 KB window
 * included), allocated once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/igzip_lib.h>

#include "pipeline/codec_impl.h"

enum gz_phase {
    GZ_MEMBER,  /* inside a member (or at its first byte) */
    GZ_BETWEEN, /* a member ended; another, padding or the end may follow */
    GZ_PADDING, /* zero bytes after the last member */
};

/*
 * At a member's end, isal_inflate() hands back the bytes it had read ahead
 * into its bit buffer (up to 8) by moving next_in backwards: past the
 * start of this call's input when those bytes came in an earlier, small
 * piece. So the last bytes fed are kept (tail), and bytes handed back
 * from before the piece are read again from pend, before the caller's
 * input.
 */
#define GZ_TAIL 16

struct gz {
    struct inflate_state st;
    enum gz_phase phase;
    int members; /* members that ended cleanly */
    unsigned char tail[GZ_TAIL];
    size_t tail_len;
    unsigned char pend[2 * GZ_TAIL];
    size_t pend_len, pend_pos;
};

static int gz_reset(void *impl)
{
    struct gz *g = impl;

    isal_inflate_init(&g->st);
    g->st.crc_flag = ISAL_GZIP;
    g->phase = GZ_MEMBER;
    g->members = 0;
    g->tail_len = 0;
    g->pend_len = g->pend_pos = 0;
    return 0;
}

static int gz_init(void **impl)
{
    struct gz *g = malloc(sizeof(*g));

    if (!g)
        return -ENOMEM;
    gz_reset(g);
    *impl = g;
    return 0;
}

static void gz_fini(void *impl)
{
    free(impl);
}

/* The input to read next: what was handed back first, then the caller's. */
static const unsigned char *cur(struct gz *g, struct iocs__codec_io *io,
                                size_t *n)
{
    if (g->pend_pos < g->pend_len) {
        *n = g->pend_len - g->pend_pos;
        return g->pend + g->pend_pos;
    }
    *n = io->in_len;
    return io->in;
}

/* Input bytes not yet read: handed back ones and the caller's. */
static size_t left(const struct gz *g, const struct iocs__codec_io *io)
{
    return g->pend_len - g->pend_pos + io->in_len;
}

/* Consume n bytes of cur(), remembering the last GZ_TAIL of them. */
static void eat(struct gz *g, struct iocs__codec_io *io, size_t n)
{
    size_t avail;
    const unsigned char *p = cur(g, io, &avail);
    size_t keep = n < GZ_TAIL ? n : GZ_TAIL;

    if (g->tail_len + keep > GZ_TAIL) {
        size_t drop = g->tail_len + keep - GZ_TAIL;

        memmove(g->tail, g->tail + drop, g->tail_len - drop);
        g->tail_len -= drop;
    }
    memcpy(g->tail + g->tail_len, p + n - keep, keep);
    g->tail_len += keep;
    if (g->pend_pos < g->pend_len) {
        g->pend_pos += n;
    } else {
        io->in += n;
        io->in_len -= n;
    }
}

/* One isal_inflate() call over at most IOCS__CODEC_CHUNK of each side. */
static int inflate_some(struct gz *g, struct iocs__codec_io *io)
{
    size_t in_n, room = io->out_cap - io->out_len;
    size_t out_n = room < IOCS__CODEC_CHUNK ? room : IOCS__CODEC_CHUNK;
    const unsigned char *in = cur(g, io, &in_n);
    int ret;

    if (in_n > IOCS__CODEC_CHUNK)
        in_n = IOCS__CODEC_CHUNK;
    /* ISA-L takes a non-const pointer but never writes the input. */
    g->st.next_in = (uint8_t *)(uintptr_t)in;
    g->st.avail_in = (uint32_t)in_n;
    g->st.next_out = io->out + io->out_len;
    g->st.avail_out = (uint32_t)out_n;
    ret = isal_inflate(&g->st);
    io->out_len += out_n - g->st.avail_out;
    if (g->st.avail_in <= in_n) {
        eat(g, io, in_n - g->st.avail_in);
        return ret;
    }
    /* Handed back k bytes from before this piece: they are the last k of
     * the tail; read them again, then what is left of this input. */
    {
        size_t k = g->st.avail_in - in_n, rest = 0;
        unsigned char tmp[2 * GZ_TAIL];

        if (k > g->tail_len || k > GZ_TAIL)
            return ISAL_INVALID_BLOCK; /* cannot happen: ISA-L reads 8 */
        memcpy(tmp, g->tail + g->tail_len - k, k);
        if (g->pend_pos < g->pend_len) {
            rest = g->pend_len - g->pend_pos;
            memcpy(tmp + k, g->pend + g->pend_pos, rest);
        }
        memcpy(g->pend, tmp, k + rest);
        g->pend_pos = 0;
        g->pend_len = k + rest;
        g->tail_len -= k;
    }
    return ret;
}

static int gz_run(void *impl, struct iocs__codec_io *io)
{
    struct gz *g = impl;
    const unsigned char *p;
    size_t n;

    for (;;) {
        switch (g->phase) {
        case GZ_MEMBER: {
            size_t out_before = io->out_len, in_before;

            if (io->out_len == io->out_cap)
                return 0; /* more room */
            in_before = left(g, io);
            if (inflate_some(g, io) < 0)
                return -EBADMSG;
            if (g->st.block_state == ISAL_BLOCK_FINISH) {
                g->members++;
                g->phase = GZ_BETWEEN;
                continue;
            }
            n = left(g, io);
            if (n == 0 && io->out_len < io->out_cap)
                return io->eof ? -EBADMSG : 0; /* wants input, or cut */
            if (n == in_before && io->out_len == out_before)
                return -EBADMSG; /* no progress with input and room */
            continue;
        }
        case GZ_BETWEEN:
            p = cur(g, io, &n);
            if (n == 0)
                return io->eof ? 1 : 0;
            if (p[0] == 0x1f) {
                /* The next member: ISA-L checks the rest of its magic. */
                isal_inflate_reset(&g->st);
                g->st.crc_flag = ISAL_GZIP;
                g->phase = GZ_MEMBER;
                continue;
            }
            if (p[0] != 0)
                return -EBADMSG; /* trailing garbage */
            g->phase = GZ_PADDING;
            continue;
        case GZ_PADDING:
            p = cur(g, io, &n);
            if (n == 0)
                return io->eof ? 1 : 0;
            if (p[0] != 0)
                return -EBADMSG; /* padding, then something else */
            eat(g, io, 1);
            continue;
        }
    }
}

const struct iocs__codec_ops iocs__codec_gzip = {
    .init = gz_init,
    .fini = gz_fini,
    .reset = gz_reset,
    .run = gz_run,
};
