/*
 * fuzz_codec.c - libFuzzer target for codec detection and the decoders.
 *
 * The first byte picks the codec (plain, gzip, zstd, bzip2, xz) and seeds
 * the piece sizes; the rest is the input, fed in pieces of 1..64 bytes
 * into output room of 1..4096 bytes. At most 4 MiB is inflated per input
 * (a bomb is not a crash). The decoder must never write past its room,
 * never report more consumed than given, and must end (1 or -EBADMSG);
 * then it is reset and reads the same input again with the same result.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "pipeline/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum iocs_codec codecs[] = {IOCS_CODEC_PLAIN, IOCS_CODEC_GZIP,
                                         IOCS_CODEC_ZSTD, IOCS_CODEC_BZIP2,
                                         IOCS_CODEC_XZ};

/* Decode once; returns the final result and the bytes out in *total. */
static int run(struct iocs_decoder *d, const uint8_t *p, size_t n,
               uint32_t seed, uint64_t *total)
{
    static unsigned char room[4096];
    size_t pos = 0, in_len = 0, cap = 1 + seed % sizeof(room);
    const unsigned char *in = p;
    int ret;

    *total = 0;
    for (;;) {
        size_t got, before;
        int eof;

        if (in_len == 0 && pos < n) {
            seed = seed * 1103515245u + 12345u;
            in = p + pos;
            in_len = 1 + (seed >> 16) % 64;
            if (in_len > n - pos)
                in_len = n - pos;
            pos += in_len;
        }
        eof = pos == n;
        before = in_len;
        ret = iocs_decoder_run(d, &in, &in_len, eof, room, cap, &got);
        if (got > cap || in_len > before)
            abort();
        *total += got;
        if (ret != 0)
            return ret;
        if (*total > (4u << 20))
            return 0; /* enough: a bomb, stopped by the caller */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iocs_decoder *d;
    uint64_t total1, total2;
    int r1, r2;

    if (size < 1)
        return 0;
    (void)iocs_codec_detect(data + 1, size - 1);
    if (iocs_decoder_new(&d, codecs[data[0] % 5]) != 0)
        return 0;
    r1 = run(d, data + 1, size - 1, data[0] * 2654435761u, &total1);
    if (r1 != 0 && r1 != 1 && r1 != -EBADMSG)
        abort();
    iocs_decoder_reset(d);
    r2 = run(d, data + 1, size - 1, data[0] * 2654435761u, &total2);
    if (r1 != r2 || total1 != total2)
        abort(); /* reset must forget the first source entirely */
    iocs_decoder_free(d);
    return 0;
}
