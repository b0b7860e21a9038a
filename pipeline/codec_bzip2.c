/*
 * codec_bzip2.c - bzip2 with libbz2's BZ2_bzDecompress().
 *
 * libbz2 decodes one stream and stops at its end (BZ_STREAM_END); a
 * source of concatenated streams (pbzip2, `cat a.bz2 b.bz2`) is read as
 * bzip2 -d reads it: a new stream starts after each end, until the input
 * ends. Unlike bzip2 -d, which only warns, bytes after the last stream
 * that are not a stream are damage (codec.h: garbage after a stream).
 * Each stream's block CRCs and combined CRC are checked by libbz2.
 *
 * Memory: the decompressor of the normal (not "small") mode, about 3.5 MB
 * for 900 kB blocks, freed and made again at each stream boundary (libbz2
 * has no reset), which costs nothing next to decoding a block.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bzlib.h>

#include "pipeline/codec_impl.h"

struct bz {
    bz_stream s;
    int live;      /* s is initialised (BZ2_bzDecompressInit succeeded) */
    int in_stream; /* bytes of the current stream have been fed */
    int streams;   /* streams that ended cleanly */
};

static void bz_end(struct bz *b)
{
    if (b->live)
        BZ2_bzDecompressEnd(&b->s);
    b->live = 0;
}

static int bz_start(struct bz *b)
{
    int ret;

    bz_end(b);
    memset(&b->s, 0, sizeof(b->s));
    ret = BZ2_bzDecompressInit(&b->s, 0, 0);
    if (ret != BZ_OK)
        return ret == BZ_MEM_ERROR ? -ENOMEM : -EINVAL;
    b->live = 1;
    b->in_stream = 0;
    return 0;
}

static int bz_reset(void *impl)
{
    struct bz *b = impl;

    b->streams = 0;
    return bz_start(b);
}

static void bz_fini(void *impl)
{
    struct bz *b = impl;

    if (!b)
        return;
    bz_end(b);
    free(b);
}

static int bz_init(void **impl)
{
    struct bz *b = calloc(1, sizeof(*b));
    int err;

    if (!b)
        return -ENOMEM;
    err = bz_reset(b);
    if (err) {
        bz_fini(b);
        return err;
    }
    *impl = b;
    return 0;
}

static int bz_run(void *impl, struct iocs__codec_io *io)
{
    struct bz *b = impl;

    for (;;) {
        size_t in_n =
            io->in_len < IOCS__CODEC_CHUNK ? io->in_len : IOCS__CODEC_CHUNK;
        size_t room = io->out_cap - io->out_len;
        size_t out_n = room < IOCS__CODEC_CHUNK ? room : IOCS__CODEC_CHUNK;
        int ret;

        if (out_n == 0)
            return 0; /* more room */
        if (io->in_len == 0 && !b->in_stream && b->streams)
            return io->eof ? 1 : 0; /* between streams */
        if (!b->live) {
            /* Bytes follow a stream's end: the next stream (or garbage,
             * which libbz2 reports as a bad magic). */
            int err = bz_start(b);

            if (err)
                return err;
        }
        /* libbz2 takes a non-const pointer but never writes the input. */
        b->s.next_in = (char *)(uintptr_t)io->in;
        b->s.avail_in = (unsigned)in_n;
        b->s.next_out = (char *)io->out + io->out_len;
        b->s.avail_out = (unsigned)out_n;
        ret = BZ2_bzDecompress(&b->s);
        io->in += in_n - b->s.avail_in;
        io->in_len -= in_n - b->s.avail_in;
        io->out_len += out_n - b->s.avail_out;
        if (in_n != b->s.avail_in)
            b->in_stream = 1;
        if (ret == BZ_STREAM_END) {
            b->streams++;
            b->in_stream = 0;
            bz_end(b);
            continue;
        }
        if (ret == BZ_MEM_ERROR)
            return -ENOMEM;
        if (ret != BZ_OK)
            return -EBADMSG; /* magic, data or CRC error */
        /* BZ_OK with room left and no input: it wants input. */
        if (io->in_len == 0 && b->s.avail_out > 0)
            return io->eof ? -EBADMSG : 0;
        if (in_n == b->s.avail_in && out_n == b->s.avail_out)
            return -EBADMSG; /* no progress with input and room: stuck */
    }
}

const struct iocs__codec_ops iocs__codec_bzip2 = {
    .init = bz_init,
    .fini = bz_fini,
    .reset = bz_reset,
    .run = bz_run,
};
