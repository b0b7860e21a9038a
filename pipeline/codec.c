/*
 * codec.c - codec detection by magic bytes and the decoder front end.
 *
 * The decoder is a thin shell over one codec's operations (codec_impl.h):
 * it counts consumed compressed bytes (the offset reported after damage),
 * implements the plain passthrough, and makes the end of a source sticky,
 * so that a caller that calls again after 1 or an error gets the same
 * answer instead of undefined library behaviour.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/codec.h"
#include "pipeline/codec_impl.h"

struct iocs_decoder {
    enum iocs_codec codec;
    const struct iocs__codec_ops *ops; /* NULL for plain */
    void *impl;
    uint64_t in_off;
    int end; /* 0 while running; then the final return (1 or -errno) */
};

enum iocs_codec iocs_codec_detect(const unsigned char *p, size_t n)
{
    if (n >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 0x08)
        return IOCS_CODEC_GZIP;
    /* A zstd source may open with a skippable frame (magic 0x184D2A50 to
     * 0x184D2A5F, little endian), as pzstd and seekable zstd files do. */
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        return IOCS_CODEC_ZSTD;
    if (n >= 4 && (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d &&
        p[3] == 0x18)
        return IOCS_CODEC_ZSTD;
    if (n >= 4 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' && p[3] >= '1' &&
        p[3] <= '9')
        return IOCS_CODEC_BZIP2;
    if (n >= 6 && !memcmp(p,
                          "\xfd"
                          "7zXZ\0",
                          6))
        return IOCS_CODEC_XZ;
    if (n >= 8 && !memcmp(p, "ElfFile\0", 8))
        return IOCS_CODEC_EVTX;
    return IOCS_CODEC_PLAIN;
}

const char *iocs_codec_name(enum iocs_codec c)
{
    switch (c) {
    case IOCS_CODEC_PLAIN:
        return "plain";
    case IOCS_CODEC_GZIP:
        return "gzip";
    case IOCS_CODEC_ZSTD:
        return "zstd";
    case IOCS_CODEC_BZIP2:
        return "bzip2";
    case IOCS_CODEC_XZ:
        return "xz";
    case IOCS_CODEC_EVTX:
        return "evtx";
    }
    return "plain"; /* not a codec: never NULL, as promised */
}

int iocs_codec_is_stream(enum iocs_codec c)
{
    return c == IOCS_CODEC_GZIP || c == IOCS_CODEC_ZSTD ||
           c == IOCS_CODEC_BZIP2 || c == IOCS_CODEC_XZ;
}

static const struct iocs__codec_ops *ops_of(enum iocs_codec c)
{
    switch (c) {
    case IOCS_CODEC_GZIP:
        return &iocs__codec_gzip;
    case IOCS_CODEC_ZSTD:
        return &iocs__codec_zstd;
    case IOCS_CODEC_BZIP2:
        return &iocs__codec_bzip2;
    case IOCS_CODEC_XZ:
        return &iocs__codec_xz;
    default:
        return NULL;
    }
}

int iocs_decoder_new(struct iocs_decoder **out, enum iocs_codec c)
{
    struct iocs_decoder *d;
    int err;

    if (c != IOCS_CODEC_PLAIN && !iocs_codec_is_stream(c))
        return -EINVAL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->codec = c;
    d->ops = ops_of(c);
    if (d->ops) {
        err = d->ops->init(&d->impl);
        if (err)
            goto fail;
    }
    *out = d;
    return 0;

fail:
    iocs_decoder_free(d);
    return err;
}

void iocs_decoder_free(struct iocs_decoder *d)
{
    if (!d)
        return;
    if (d->ops)
        d->ops->fini(d->impl);
    free(d);
}

void iocs_decoder_reset(struct iocs_decoder *d)
{
    d->in_off = 0;
    d->end = 0;
    /* A codec that cannot get its memory back reports -ENOMEM on the
     * next run(): reset() has no way to say so itself. */
    if (d->ops && d->ops->reset(d->impl) < 0)
        d->end = -ENOMEM;
}

static int copy(struct iocs__codec_io *io)
{
    size_t n = io->in_len < io->out_cap ? io->in_len : io->out_cap;

    if (n) {
        memcpy(io->out, io->in, n);
        io->in += n;
        io->in_len -= n;
        io->out_len = n;
    }
    return io->eof && io->in_len == 0 ? 1 : 0;
}

int iocs_decoder_run(struct iocs_decoder *d, const unsigned char **in,
                     size_t *in_len, int eof, unsigned char *out,
                     size_t out_cap, size_t *out_len)
{
    struct iocs__codec_io io = {
        .in = *in,
        .in_len = *in_len,
        .eof = eof,
        .out = out,
        .out_cap = out_cap,
    };
    int ret;

    *out_len = 0;
    if (d->end)
        return d->end;
    ret = d->ops ? d->ops->run(d->impl, &io) : copy(&io);
    d->in_off += (uint64_t)(*in_len - io.in_len);
    *in = io.in;
    *in_len = io.in_len;
    *out_len = io.out_len;
    if (ret != 0)
        d->end = ret;
    return ret;
}

uint64_t iocs_decoder_in_offset(const struct iocs_decoder *d)
{
    return d->in_off;
}
