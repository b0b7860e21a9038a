/*
 * codec_impl.h - what pipeline/codec.c and the codec_<name>.c files share:
 * one table of operations per stream codec behind struct iocs_decoder.
 *
 * Internal to the codec module; the rest of the tree uses codec.h only.
 * codec.c owns the decoder and its bookkeeping (compressed offset, the
 * sticky end state); a codec's run() only moves bytes from io->in to
 * io->out and says how its streams stand. Every codec keeps a fixed amount
 * of state, allocated by init(), whatever the input.
 */
#ifndef IOCS_CODEC_IMPL_H
#define IOCS_CODEC_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/codec.h"

/* One call's buffers: run() advances in/in_len and adds to out_len. */
struct iocs__codec_io {
    const unsigned char *in;
    size_t in_len;
    int eof; /* no input follows in[0..in_len) */
    unsigned char *out;
    size_t out_cap;
    size_t out_len;
};

struct iocs__codec_ops {
    /* Allocate the codec's state into *impl. 0 or -ENOMEM. */
    int (*init)(void **impl);
    /* Release it (NULL accepted). */
    void (*fini)(void *impl);
    /* Ready for a new source, keeping the memory. 0 or -ENOMEM. */
    int (*reset)(void *impl);
    /*
     * Inflate as much as io allows. Returns as iocs_decoder_run(): 0 (call
     * again), 1 (every stream ended cleanly and no input is left at eof),
     * -EBADMSG (damaged: io->in points at, or just past, the damage) or
     * -ENOMEM. Output written before the damage stays in io->out.
     */
    int (*run)(void *impl, struct iocs__codec_io *io);
};

extern const struct iocs__codec_ops iocs__codec_gzip;
extern const struct iocs__codec_ops iocs__codec_zstd;
extern const struct iocs__codec_ops iocs__codec_bzip2;
extern const struct iocs__codec_ops iocs__codec_xz;

/* Largest piece handed to a library whose lengths are 32-bit. */
#define IOCS__CODEC_CHUNK ((size_t)1 << 30)

#endif /* IOCS_CODEC_IMPL_H */
