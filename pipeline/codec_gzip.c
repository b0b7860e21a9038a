/*
 * codec_gzip.c - gzip (RFC 1952) with ISA-L's igzip inflate.
 *
 * Each member's header is parsed here, byte by byte (it may be cut
 * anywhere: ISA-L's own header parser gets FHCRC wrong when the header
 * comes in several pieces), then isal_inflate() with crc_flag
 * ISAL_GZIP_NO_HDR_VER inflates the deflate data and checks the CRC-32
 * and ISIZE trailer. A member may end anywhere in an input piece, and the
 * next one may start in the same piece or a later one.
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

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>

#include "pipeline/codec_impl.h"

/* RFC 1952 header flags. */
#define GZ_FHCRC 0x02
#define GZ_FEXTRA 0x04
#define GZ_FNAME 0x08
#define GZ_FCOMMENT 0x10
#define GZ_FRESERVED 0xe0

enum gz_phase {
    GZ_HEADER,  /* in a member's header (or at its first byte) */
    GZ_MEMBER,  /* in a member's deflate data or trailer */
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

/* Where the header parser is: the fixed 10 bytes, then each field. */
enum gz_field { H_FIXED, H_XLEN, H_EXTRA, H_NAME, H_COMMENT, H_HCRC };

struct gz {
    struct inflate_state st;
    enum gz_phase phase;
    enum gz_field field;
    unsigned pos;   /* bytes of the current field read */
    unsigned flags; /* FLG of this member */
    unsigned xlen;  /* FEXTRA length */
    unsigned hcrc;  /* FHCRC as read */
    uint32_t crc;   /* CRC-32 of the header so far */
    int members;    /* members that ended cleanly */
    unsigned char tail[GZ_TAIL];
    size_t tail_len;
    unsigned char pend[2 * GZ_TAIL];
    size_t pend_len, pend_pos;
};

/* Ready for a member's first byte. */
static void member(struct gz *g)
{
    isal_inflate_reset(&g->st);
    g->st.crc_flag = ISAL_GZIP_NO_HDR_VER;
    g->phase = GZ_HEADER;
    g->field = H_FIXED;
    g->pos = 0;
    g->crc = 0;
}

static int gz_reset(void *impl)
{
    struct gz *g = impl;

    isal_inflate_init(&g->st);
    member(g);
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

/* Move past the fields this member does not have: 1 when the header is
 * complete, 0 when the current field wants bytes. */
static int skip_absent(struct gz *g)
{
    for (;;) {
        switch (g->field) {
        case H_FIXED:
            return 0;
        case H_XLEN:
            if (g->flags & GZ_FEXTRA)
                return 0;
            g->field = H_NAME;
            break;
        case H_EXTRA:
            if (g->pos < g->xlen)
                return 0;
            g->pos = 0;
            g->field = H_NAME;
            break;
        case H_NAME:
            if (g->flags & GZ_FNAME)
                return 0;
            g->field = H_COMMENT;
            break;
        case H_COMMENT:
            if (g->flags & GZ_FCOMMENT)
                return 0;
            g->field = H_HCRC;
            break;
        case H_HCRC:
            return g->flags & GZ_FHCRC ? 0 : 1;
        }
    }
}

/*
 * Read one header byte c. Returns 1 when the header is complete, 0 when
 * more is wanted, -EBADMSG when it is not a gzip header we can inflate.
 */
static int header_byte(struct gz *g, unsigned char c)
{
    static const unsigned char fixed[3] = {0x1f, 0x8b, 8};

    if (g->field != H_HCRC)
        g->crc = crc32_gzip_refl(g->crc, &c, 1);
    switch (g->field) {
    case H_FIXED:
        if (g->pos < 3 && c != fixed[g->pos])
            return -EBADMSG; /* not gzip, or not deflate */
        if (g->pos == 3) {
            if (c & GZ_FRESERVED)
                return -EBADMSG; /* gzip(1) refuses these too */
            g->flags = c;
        }
        if (++g->pos < 10)
            return 0;
        g->pos = 0;
        g->field = H_XLEN;
        break;
    case H_XLEN:
        g->xlen = g->pos ? g->xlen | (unsigned)c << 8 : c;
        if (++g->pos < 2)
            return 0;
        g->pos = 0;
        g->field = H_EXTRA;
        break;
    case H_EXTRA:
        g->pos++;
        break;
    case H_NAME:
    case H_COMMENT:
        if (c != 0)
            return 0;
        g->field = g->field == H_NAME ? H_COMMENT : H_HCRC;
        break;
    case H_HCRC:
        g->hcrc = g->pos ? g->hcrc | (unsigned)c << 8 : c;
        if (++g->pos < 2)
            return 0;
        return g->hcrc == (g->crc & 0xffff) ? 1 : -EBADMSG;
    }
    return skip_absent(g);
}

static int gz_run(void *impl, struct iocs__codec_io *io)
{
    struct gz *g = impl;
    const unsigned char *p;
    size_t n;

    for (;;) {
        switch (g->phase) {
        case GZ_HEADER: {
            int ret = 0;

            p = cur(g, io, &n);
            if (n == 0)
                return io->eof ? -EBADMSG : 0; /* cut in the header */
            for (size_t i = 0; i < n && ret == 0; i++) {
                ret = header_byte(g, p[i]);
                if (ret >= 0)
                    eat(g, io, 1);
            }
            if (ret < 0)
                return ret;
            if (ret == 1)
                g->phase = GZ_MEMBER;
            continue;
        }
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
                member(g); /* the header parser checks the rest */
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
