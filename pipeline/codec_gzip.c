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

struct gz {
    struct inflate_state st;
    enum gz_phase phase;
    int members; /* members that ended cleanly */
};

static int gz_reset(void *impl)
{
    struct gz *g = impl;

    isal_inflate_init(&g->st);
    g->st.crc_flag = ISAL_GZIP;
    g->phase = GZ_MEMBER;
    g->members = 0;
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

/* One isal_inflate() call over at most IOCS__CODEC_CHUNK of each side. */
static int inflate_some(struct gz *g, struct iocs__codec_io *io)
{
    size_t in_n =
        io->in_len < IOCS__CODEC_CHUNK ? io->in_len : IOCS__CODEC_CHUNK;
    size_t room = io->out_cap - io->out_len;
    size_t out_n = room < IOCS__CODEC_CHUNK ? room : IOCS__CODEC_CHUNK;
    int ret;

    /* ISA-L takes a non-const pointer but never writes the input. */
    g->st.next_in = (uint8_t *)(uintptr_t)io->in;
    g->st.avail_in = (uint32_t)in_n;
    g->st.next_out = io->out + io->out_len;
    g->st.avail_out = (uint32_t)out_n;
    ret = isal_inflate(&g->st);
    io->in += in_n - g->st.avail_in;
    io->in_len -= in_n - g->st.avail_in;
    io->out_len += out_n - g->st.avail_out;
    return ret;
}

static int gz_run(void *impl, struct iocs__codec_io *io)
{
    struct gz *g = impl;

    for (;;) {
        switch (g->phase) {
        case GZ_MEMBER: {
            size_t in_before = io->in_len, out_before = io->out_len;

            if (io->out_len == io->out_cap)
                return 0; /* more room */
            if (inflate_some(g, io) < 0)
                return -EBADMSG;
            if (g->st.block_state == ISAL_BLOCK_FINISH) {
                g->members++;
                g->phase = GZ_BETWEEN;
                continue;
            }
            if (io->in_len == in_before && io->out_len == out_before) {
                /* No progress with room left: it wants input. */
                if (io->in_len == 0)
                    return io->eof ? -EBADMSG : 0; /* eof: cut short */
                return -EBADMSG; /* should not happen: stuck on input */
            }
            continue;
        }
        case GZ_BETWEEN:
            if (io->in_len == 0)
                return io->eof ? 1 : 0;
            if (io->in[0] == 0x1f) {
                /* The next member: ISA-L checks the rest of its magic. */
                isal_inflate_reset(&g->st);
                g->st.crc_flag = ISAL_GZIP;
                g->phase = GZ_MEMBER;
                continue;
            }
            if (io->in[0] != 0)
                return -EBADMSG; /* trailing garbage */
            g->phase = GZ_PADDING;
            continue;
        case GZ_PADDING:
            while (io->in_len > 0 && io->in[0] == 0) {
                io->in++;
                io->in_len--;
            }
            if (io->in_len > 0)
                return -EBADMSG; /* padding, then something else */
            return io->eof ? 1 : 0;
        }
    }
}

const struct iocs__codec_ops iocs__codec_gzip = {
    .init = gz_init,
    .fini = gz_fini,
    .reset = gz_reset,
    .run = gz_run,
};
