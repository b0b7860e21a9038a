/*
 * fuzz_framer.c - libFuzzer target for reader + framer.
 *
 * The first two input bytes pick the shape (slab size 1..16, overlap 1..8,
 * depth, ring size, io_uring or read(2)); the rest is written to a memfd,
 * which is read twice in a row as two sources, so carries must not leak
 * across them. Any broken invariant of tests/framecheck.h aborts. Inputs
 * that start with a codec's magic are left to fuzz_codec.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pipeline/codec.h"
#include "tests/framecheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iocs_reader_opts o = {0};
    const unsigned char *contents[2];
    const char *paths[2];
    size_t lens[2], overlap;
    char path[64];
    const char *why;
    int fd;

    if (size < 2)
        return 0;
    o.slab_size = 1 + (data[0] & 15);
    overlap = 1 + ((data[0] >> 4) & 7);
    o.depth = 1 + (data[1] & 3);
    o.nslabs = o.depth + 1 + ((data[1] >> 2) & 3);
    o.no_uring = data[1] & 0x80;
    data += 2;
    size -= 2;
    /* Bytes that start like a compressed file or an .evtx are handed on
     * undecoded, as one empty slab naming the codec (reader.h): the
     * decoders have their own target (fuzz_codec). */
    if (iocs_codec_detect(data, size) != IOCS_CODEC_PLAIN)
        return 0;

    fd = memfd_create("fuzz_framer", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    paths[0] = paths[1] = path;
    contents[0] = contents[1] = data;
    lens[0] = lens[1] = size;

    why = framecheck_run(paths, contents, lens, 2, &o, overlap);
    close(fd);
    if (why) {
        fprintf(stderr, "fuzz_framer: slab %zu overlap %zu depth %u: %s\n",
                o.slab_size, overlap, o.depth, why);
        abort();
    }
    return 0;
}
