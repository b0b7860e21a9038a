/*
 * codec_zstd.c - Zstandard with libzstd's streaming decoder.
 *
 * ZSTD_decompressStream() goes from one frame to the next by itself and
 * skips skippable frames, so a multi-frame source is one call sequence;
 * this file tracks whether the decoder stands at a frame boundary (its
 * last return was 0), which is the only place the source may end.
 *
 * Memory: the window is capped at 2^27 bytes (ZSTD_d_windowLogMax 27,
 * zstd(1)'s own default limit): every file `zstd -d` reads without
 * --memory is read, and a frame that asks for a larger window (made with
 * --long=28 or more) is an error for that source, not an allocation of
 * whatever size it names. The context is allocated once and its buffers
 * are sized by the largest window seen, at most about 128 MiB.
 */
#include <errno.h>
#include <stdlib.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "pipeline/codec_impl.h"

#define ZS_WINDOW_LOG_MAX 27

struct zs {
    ZSTD_DCtx *dctx;
    int at_boundary; /* the last frame ended and was flushed */
    int frames;      /* frames (skippable ones included) that ended */
};

static int zs_reset(void *impl)
{
    struct zs *z = impl;

    /* Only the session: the window limit set by init() stays. */
    ZSTD_DCtx_reset(z->dctx, ZSTD_reset_session_only);
    z->at_boundary = 1;
    z->frames = 0;
    return 0;
}

static void zs_fini(void *impl)
{
    struct zs *z = impl;

    if (!z)
        return;
    ZSTD_freeDCtx(z->dctx);
    free(z);
}

static int zs_init(void **impl)
{
    struct zs *z = calloc(1, sizeof(*z));
    int err = -ENOMEM;

    if (!z)
        return -ENOMEM;
    z->dctx = ZSTD_createDCtx();
    if (!z->dctx)
        goto fail;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax,
                                            ZS_WINDOW_LOG_MAX))) {
        err = -EINVAL; /* a libzstd too old for the parameter */
        goto fail;
    }
    zs_reset(z);
    *impl = z;
    return 0;

fail:
    zs_fini(z);
    return err;
}

static int zs_run(void *impl, struct iocs__codec_io *io)
{
    struct zs *z = impl;

    for (;;) {
        ZSTD_inBuffer ib = {io->in, io->in_len, 0};
        ZSTD_outBuffer ob = {io->out, io->out_cap, io->out_len};
        size_t ret, out_before = io->out_len;

        if (io->out_len == io->out_cap)
            return 0; /* more room */
        if (io->in_len == 0 && z->at_boundary)
            return io->eof ? (z->frames ? 1 : -EBADMSG) : 0;
        ret = ZSTD_decompressStream(z->dctx, &ob, &ib);
        io->in += ib.pos;
        io->in_len -= ib.pos;
        io->out_len = ob.pos;
        if (ZSTD_isError(ret)) {
            if (ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation)
                return -ENOMEM;
            return -EBADMSG; /* damage, or a window over the limit */
        }
        if (ret == 0) {
            z->frames++;
            z->at_boundary = 1;
            continue;
        }
        z->at_boundary = 0;
        /* libzstd stops when the output is full or the input used up;
         * with room left, it wants input: more, or the frame is cut. */
        if (io->in_len == 0 && io->out_len < io->out_cap)
            return io->eof ? -EBADMSG : 0;
        if (ib.pos == 0 && io->out_len == out_before)
            return -EBADMSG; /* no progress with input and room: stuck */
    }
}

const struct iocs__codec_ops iocs__codec_zstd = {
    .init = zs_init,
    .fini = zs_fini,
    .reset = zs_reset,
    .run = zs_run,
};
