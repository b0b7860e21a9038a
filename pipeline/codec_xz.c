/*
 * codec_xz.c - xz (.xz container) with liblzma's stream decoder.
 *
 * lzma_stream_decoder() with LZMA_CONCATENATED reads concatenated streams
 * and the stream padding between them as xz -d does, and checks each
 * block's check (CRC32, CRC64 or SHA-256). It only knows the source has
 * ended when told: LZMA_FINISH is passed once the caller says eof and all
 * the input has been handed over, and LZMA_STREAM_END then means a clean
 * end.
 *
 * Memory: capped by the decoder's memory limit, XZ_MEMLIMIT (the window
 * of xz -9 / -9e is 64 MiB and needs about 65 MiB); a stream asking for
 * more is an error for that source.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lzma.h>

#include "pipeline/codec_impl.h"

#define XZ_MEMLIMIT ((uint64_t)128 << 20)

struct xz {
    lzma_stream s;
    int live;
};

static void xz_end(struct xz *x)
{
    if (x->live)
        lzma_end(&x->s);
    x->live = 0;
}

static int xz_reset(void *impl)
{
    struct xz *x = impl;
    lzma_ret ret;

    /* lzma_stream_decoder() on a used stream reuses its allocations. */
    if (!x->live)
        x->s = (lzma_stream)LZMA_STREAM_INIT;
    ret = lzma_stream_decoder(&x->s, XZ_MEMLIMIT, LZMA_CONCATENATED);
    if (ret != LZMA_OK) {
        xz_end(x);
        return ret == LZMA_MEM_ERROR ? -ENOMEM : -EINVAL;
    }
    x->live = 1;
    return 0;
}

static void xz_fini(void *impl)
{
    struct xz *x = impl;

    if (!x)
        return;
    xz_end(x);
    free(x);
}

static int xz_init(void **impl)
{
    struct xz *x = calloc(1, sizeof(*x));
    int err;

    if (!x)
        return -ENOMEM;
    err = xz_reset(x);
    if (err) {
        xz_fini(x);
        return err;
    }
    *impl = x;
    return 0;
}

static int xz_run(void *impl, struct iocs__codec_io *io)
{
    struct xz *x = impl;

    if (!x->live) {
        int err = xz_reset(x);

        if (err)
            return err;
    }
    for (;;) {
        size_t in_before = io->in_len, out_before = io->out_len;
        lzma_ret ret;

        if (io->out_len == io->out_cap)
            return 0; /* more room */
        x->s.next_in = io->in;
        x->s.avail_in = io->in_len;
        x->s.next_out = io->out + io->out_len;
        x->s.avail_out = io->out_cap - io->out_len;
        ret = lzma_code(&x->s, io->eof ? LZMA_FINISH : LZMA_RUN);
        io->in += in_before - x->s.avail_in;
        io->in_len = x->s.avail_in;
        io->out_len += (io->out_cap - out_before) - x->s.avail_out;
        switch (ret) {
        case LZMA_OK:
            break;
        case LZMA_STREAM_END:
            return 1;
        case LZMA_MEM_ERROR:
            return -ENOMEM;
        default:
            /* LZMA_DATA_ERROR, LZMA_FORMAT_ERROR, LZMA_BUF_ERROR (cut
             * short at LZMA_FINISH), LZMA_MEMLIMIT_ERROR, ... */
            return -EBADMSG;
        }
        if (io->in_len == 0 && io->out_len < io->out_cap && !io->eof)
            return 0; /* wants input */
        if (io->in_len == in_before && io->out_len == out_before)
            return io->eof ? -EBADMSG : 0;
    }
}

const struct iocs__codec_ops iocs__codec_xz = {
    .init = xz_init,
    .fini = xz_fini,
    .reset = xz_reset,
    .run = xz_run,
};
