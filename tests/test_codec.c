/*
 * test_codec.c - codec detection and the streaming decoders.
 *
 * Compressed inputs come from the real tools (gzip, zstd, bzip2, xz) over
 * a generated log-like text, and are decoded with input pieces of 1, 7,
 * 4096 bytes and the whole, into output room of 1, 13 and 65536 bytes:
 * the result must be the text, byte for byte. Then concatenations (cut
 * mid-line), damage (cut short, flipped bytes, a bad trailer, garbage
 * after the end) and a 1 GiB decompression bomb that must inflate within
 * a small, fixed amount of memory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <zlib.h>
#include <zstd.h>

#include "pipeline/codec.h"
#include "tests/helpers.h"

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 16;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* The generated log text, the same for every test. */
static struct buf text;

static void make_text(size_t want)
{
    static const char *hosts[] = {"fw01", "vpn-gw", "dc2", "web-3"};
    char line[256];
    unsigned i = 0;

    while (text.len < want) {
        int n = snprintf(line, sizeof(line),
                         "Dec %2u 03:%02u:%02u %s sshd[%u]: Accepted "
                         "publickey for user%u from 10.%u.%u.%u port %u\n",
                         1 + i % 28, i % 60, (i * 7) % 60, hosts[i % 4],
                         1000 + i, i % 97, i % 256, (i / 7) % 256,
                         (i * 13) % 256, 1024 + i % 60000);
        put(&text, line, (size_t)n);
        i++;
    }
}

/* Compress path with a shell command ("gzip -c"), into a malloc'd buffer. */
static unsigned char *tool(const char *cmd, const void *in, size_t n,
                           size_t *out_len)
{
    char src[PATH_MAX], dst[PATH_MAX], sh[3 * PATH_MAX];
    unsigned char *p;

    t_path(src, sizeof(src), "in");
    t_path(dst, sizeof(dst), "out");
    t_write_file(src, in, n);
    snprintf(sh, sizeof(sh), "%s < '%s' > '%s'", cmd, src, dst);
    if (system(sh) != 0)
        fail_msg("%s failed", cmd);
    p = (unsigned char *)t_read_file(dst, out_len);
    assert_non_null(p);
    return p;
}

/*
 * Decode src[0..n) with codec c, in pieces of piece bytes (0: fuzz_codec's
 * pseudo-random pieces of 1..64 bytes), into room of
 * out_cap bytes per call. The decoded bytes go to *out; returns the last
 * iocs_decoder_run() result (1 or a negative errno), *off the offset.
 */
static int decode(enum iocs_codec c, const unsigned char *src, size_t n,
                  size_t piece, size_t out_cap, struct buf *out, uint64_t *off)
{
    struct iocs_decoder *d;
    unsigned char *room = malloc(out_cap);
    size_t pos = 0, in_len = 0, got;
    const unsigned char *in = src;
    uint32_t seed = 2654435761u;
    int ret;

    assert_non_null(room);
    assert_int_equal(iocs_decoder_new(&d, c), 0);
    for (;;) {
        size_t before;
        int eof;

        if (in_len == 0 && pos < n) {
            in = src + pos;
            if (piece == 0) {
                /* Pieces of 1..64 as fuzz_codec cuts them. */
                seed = seed * 1103515245u + 12345u;
                in_len = 1 + (seed >> 16) % 64;
            } else {
                in_len = piece;
            }
            if (in_len > n - pos)
                in_len = n - pos;
            pos += in_len;
        }
        before = in_len;
        eof = pos == n;
        ret = iocs_decoder_run(d, &in, &in_len, eof, room, out_cap, &got);
        assert_true(got <= out_cap);
        assert_true(in_len <= before);
        put(out, room, got);
        if (ret != 0)
            break;
        /* 0 must mean: more input is wanted, or more room. */
        assert_true(got == out_cap || (in_len == 0 && !eof) ||
                    (eof && got > 0) || in_len > 0);
    }
    if (off)
        *off = iocs_decoder_in_offset(d);
    if (ret == 1)
        assert_int_equal(iocs_decoder_in_offset(d), n);
    /* The end is sticky until reset. */
    got = 1;
    assert_int_equal(iocs_decoder_run(d, &in, &in_len, 1, room, out_cap, &got),
                     ret);
    assert_int_equal(got, 0);
    iocs_decoder_free(d);
    free(room);
    return ret;
}

struct codec_case {
    enum iocs_codec codec;
    const char *cmd; /* compresses stdin to stdout; NULL: plain */
};

static const struct codec_case codecs[] = {
    {IOCS_CODEC_PLAIN, NULL},       {IOCS_CODEC_GZIP, "gzip -c"},
    {IOCS_CODEC_GZIP, "igzip -c"},  {IOCS_CODEC_ZSTD, "zstd -q -c"},
    {IOCS_CODEC_BZIP2, "bzip2 -c"}, {IOCS_CODEC_XZ, "xz -c"},
};

static unsigned char *compress_with(const struct codec_case *cc, const void *in,
                                    size_t n, size_t *len)
{
    unsigned char *p;

    if (cc->cmd)
        return tool(cc->cmd, in, n, len);
    p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, in, n);
    *len = n;
    return p;
}

/* Round trip: every codec, every piece size, every output room. */
static void test_codec_round_trip(void **state)
{
    static const size_t pieces[] = {1, 7, 4096, SIZE_MAX};
    static const size_t caps[] = {1, 13, 65536};
    size_t n = 48 << 10; /* 1-byte pieces into 1 byte of room: keep it small */

    (void)state;
    for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
        size_t len;
        unsigned char *z = compress_with(&codecs[i], text.p, n, &len);

        assert_int_equal(iocs_codec_detect(z, len), codecs[i].codec);
        for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++)
            for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
                struct buf out = {0};
                int ret = decode(codecs[i].codec, z, len, pieces[p], caps[c],
                                 &out, NULL);

                if (ret != 1 || out.len != n || memcmp(out.p, text.p, n))
                    fail_msg("%s: piece %zu cap %zu: ret %d, %zu of %zu",
                             codecs[i].cmd ? codecs[i].cmd : "plain", pieces[p],
                             caps[c], ret, out.len, n);
                free(out.p);
            }
        free(z);
    }
}

/* The whole text (about 1 MB) in one go, with the usual sizes. */
static void test_codec_large(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
        size_t len;
        unsigned char *z = compress_with(&codecs[i], text.p, text.len, &len);
        struct buf out = {0};

        assert_int_equal(
            decode(codecs[i].codec, z, len, 1 << 16, 1 << 16, &out, NULL), 1);
        assert_int_equal(out.len, text.len);
        assert_memory_equal(out.p, text.p, text.len);
        free(out.p);
        free(z);
    }
}

/*
 * Concatenated streams cut mid-line (and an empty one in the middle):
 * three members, frames or streams read as one source.
 */
static void test_codec_concatenated(void **state)
{
    size_t cut1 = 10000 + 17, cut2 = 30000 + 5, n = 48 << 10;
    /* Odd sizes too: a member's trailer and the next header split at
     * every alignment (ISA-L hands back read-ahead bytes at a member's
     * end, from before the current piece when the pieces are small). */
    static const size_t pieces[] = {1, 2, 3, 5, 7, 9, 11, 13, 4096, SIZE_MAX};

    (void)state;
    assert_true(text.p[cut1] != '\n' && text.p[cut2 - 1] != '\n');
    for (size_t i = 1; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
        struct buf all = {0};
        size_t parts[][2] = {
            {0, cut1}, {cut1, 0}, {cut1, cut2 - cut1}, {cut2, n - cut2}};

        for (size_t k = 0; k < 4; k++) {
            size_t len;
            unsigned char *z = compress_with(&codecs[i], text.p + parts[k][0],
                                             parts[k][1], &len);

            put(&all, z, len);
            free(z);
        }
        if (codecs[i].codec == IOCS_CODEC_ZSTD) {
            /* A skippable frame between the frames is skipped. */
            static const unsigned char skip[] = {0x5a, 0x2a, 0x4d, 0x18, 3,  0,
                                                 0,    0,    'a',  'b',  'c'};
            put(&all, skip, sizeof(skip));
            {
                size_t len;
                unsigned char *z = tool("zstd -q -c", "", 0, &len);

                put(&all, z, len);
                free(z);
            }
        }
        for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
            struct buf out = {0};
            int ret = decode(codecs[i].codec, all.p, all.len, pieces[p], 13,
                             &out, NULL);

            if (ret != 1 || out.len != n || memcmp(out.p, text.p, n))
                fail_msg("%s concatenated, piece %zu: ret %d, %zu of %zu",
                         codecs[i].cmd, pieces[p], ret, out.len, n);
            free(out.p);
        }
        free(all.p);
    }
}

/* A source starting with a skippable frame is zstd and decodes. */
static void test_codec_zstd_skippable_first(void **state)
{
    static const unsigned char skip[] = {0x50, 0x2a, 0x4d, 0x18, 2,
                                         0,    0,    0,    'x',  'y'};
    struct buf all = {0}, out = {0};
    size_t len;
    unsigned char *z = tool("zstd -q -c", text.p, 5000, &len);

    (void)state;
    put(&all, skip, sizeof(skip));
    put(&all, z, len);
    assert_int_equal(iocs_codec_detect(all.p, all.len), IOCS_CODEC_ZSTD);
    assert_int_equal(
        decode(IOCS_CODEC_ZSTD, all.p, all.len, 3, 100, &out, NULL), 1);
    assert_int_equal(out.len, 5000);
    assert_memory_equal(out.p, text.p, 5000);
    free(out.p);
    free(all.p);
    free(z);
}

/*
 * Cut short anywhere: -EBADMSG, and what came out is a prefix of the text
 * (the bytes before the damage are good and handed out).
 */
static void test_codec_truncated(void **state)
{
    size_t n = 100000;

    (void)state;
    for (size_t i = 1; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
        size_t len;
        unsigned char *z = compress_with(&codecs[i], text.p, n, &len);
        size_t cuts[] = {1, 2, 5, len / 3, len / 2, len - 9, len - 4, len - 1};

        for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
            struct buf out = {0};
            uint64_t off;
            int ret =
                decode(codecs[i].codec, z, cuts[k], 4096, 65536, &out, &off);

            if (ret != -EBADMSG)
                fail_msg("%s cut at %zu of %zu: ret %d", codecs[i].cmd, cuts[k],
                         len, ret);
            assert_true(out.len <= n);
            assert_memory_equal(out.p ? out.p : text.p, text.p, out.len);
            assert_true(off <= cuts[k]);
            free(out.p);
        }
        free(z);
    }
}

/* Flipped bytes inside, and (gzip) a bad CRC-32 or ISIZE trailer. */
static void test_codec_damaged(void **state)
{
    size_t n = 100000;

    (void)state;
    for (size_t i = 1; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
        size_t len;
        unsigned char *z = compress_with(&codecs[i], text.p, n, &len);
        size_t at[] = {len / 2, len / 3 + 1, len - 3};

        for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
            struct buf out = {0};
            uint64_t off;

            z[at[k]] ^= 0x10;
            if (decode(codecs[i].codec, z, len, 7, 4096, &out, &off) !=
                -EBADMSG)
                fail_msg("%s: flip at %zu of %zu not seen", codecs[i].cmd,
                         at[k], len);
            assert_true(off <= len);
            z[at[k]] ^= 0x10;
            free(out.p);
        }
        if (codecs[i].codec == IOCS_CODEC_GZIP) {
            /* The trailer: CRC-32 (len-8..len-5), then ISIZE (len-4..). */
            size_t tr[] = {len - 8, len - 5, len - 4, len - 1};

            for (size_t k = 0; k < 4; k++) {
                struct buf out = {0};

                z[tr[k]] ^= 1;
                assert_int_equal(
                    decode(IOCS_CODEC_GZIP, z, len, 4096, 65536, &out, NULL),
                    -EBADMSG);
                z[tr[k]] ^= 1;
                free(out.p);
            }
        }
        free(z);
    }
}

/*
 * After a valid end: garbage is damage (the text is all out first); for
 * gzip, zero padding is accepted as gzip(1) accepts it.
 */
static void test_codec_trailing(void **state)
{
    static const unsigned char garbage[] = "hello\n";
    static const unsigned char zeros[512];
    size_t n = 20000;

    (void)state;
    for (size_t i = 1; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
        size_t len;
        unsigned char *z = compress_with(&codecs[i], text.p, n, &len);
        struct buf all = {0}, out = {0};
        uint64_t off;

        put(&all, z, len);
        put(&all, garbage, 6);
        assert_int_equal(
            decode(codecs[i].codec, all.p, all.len, 4096, 65536, &out, &off),
            -EBADMSG);
        assert_int_equal(out.len, n);
        assert_memory_equal(out.p, text.p, n);
        assert_true(off >= len - 1 && off <= all.len);
        free(out.p);
        out = (struct buf){0};

        all.len = len;
        put(&all, zeros, sizeof(zeros));
        if (codecs[i].codec == IOCS_CODEC_GZIP) {
            assert_int_equal(
                decode(IOCS_CODEC_GZIP, all.p, all.len, 100, 65536, &out, NULL),
                1);
            assert_int_equal(out.len, n);
            free(out.p);
            out = (struct buf){0};
            /* Zeros, then something else: damage. */
            put(&all, garbage, 6);
            assert_int_equal(
                decode(IOCS_CODEC_GZIP, all.p, all.len, 100, 65536, &out, NULL),
                -EBADMSG);
        }
        free(out.p);
        free(all.p);
        free(z);
    }
}

/*
 * Every optional gzip header field (FEXTRA, FNAME, FCOMMENT, FHCRC), as
 * gzip(1) writes FNAME for a named file: built by hand around a raw
 * deflate stream, and decoded in small pieces.
 */
static void test_codec_gzip_header_fields(void **state)
{
    static const unsigned char hdr[] = {
        0x1f, 0x8b, 8,   0x04 | 0x08 | 0x10 | 0x02,
        0,    0,    0,   0,
        0,    3,    4,   0,
        'a',  'b',  'c', 'd', /* FEXTRA: 4 bytes */
        'x',  '.',  'l', 'o',
        'g',  0,       /* FNAME */
        'h',  'i',  0, /* FCOMMENT */
    };
    size_t n = 30000, len;
    struct buf gz = {0};
    unsigned char tr[8], *deflated = malloc(n + 1024);
    uLong crc = crc32(0, Z_NULL, 0);
    z_stream s = {0};

    (void)state;
    assert_non_null(deflated);
    put(&gz, hdr, sizeof(hdr));
    crc = crc32(crc, hdr, sizeof(hdr));
    tr[0] = (unsigned char)crc; /* FHCRC: the low 16 bits of the CRC-32 */
    tr[1] = (unsigned char)(crc >> 8);
    put(&gz, tr, 2);
    assert_int_equal(
        deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    s.next_in = text.p;
    s.avail_in = (uInt)n;
    s.next_out = deflated;
    s.avail_out = (uInt)(n + 1024);
    assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
    len = s.total_out;
    deflateEnd(&s);
    put(&gz, deflated, len);
    crc = crc32(crc32(0, Z_NULL, 0), text.p, (uInt)n);
    for (int i = 0; i < 4; i++) {
        tr[i] = (unsigned char)(crc >> (8 * i));
        tr[4 + i] = (unsigned char)(n >> (8 * i));
    }
    put(&gz, tr, 8);
    for (size_t piece = 1; piece <= 17; piece += 4) {
        struct buf out = {0};

        assert_int_equal(
            decode(IOCS_CODEC_GZIP, gz.p, gz.len, piece, 13, &out, NULL), 1);
        assert_int_equal(out.len, n);
        assert_memory_equal(out.p, text.p, n);
        free(out.p);
    }
    /* A bad header CRC is damage. */
    gz.p[sizeof(hdr)] ^= 1;
    {
        struct buf out = {0};

        assert_int_equal(
            decode(IOCS_CODEC_GZIP, gz.p, gz.len, 4096, 65536, &out, NULL),
            -EBADMSG);
        assert_int_equal(out.len, 0);
        free(out.p);
    }
    free(gz.p);
    free(deflated);
}

/*
 * Found by fuzz_codec: a damaged member fed in small pieces made ISA-L
 * move next_in back past the start of the piece (it hands back its
 * read-ahead bytes); the decoder must never report negative consumption.
 */
static void test_codec_gzip_handback(void **state)
{
    static const unsigned char bad[] = {
        0x1f, 0x8b, 0x08, 0x00, 0xff, 0x26, 0x08, 0x6b, 0x00, 0x03, 0xdd, 0xd3,
        0xbb, 0x6e, 0x83, 0x30, 0x14, 0x80, 0xe1, 0xbd, 0x4f, 0x71, 0x94, 0x29,
        0x19, 0xda, 0xf8, 0x82, 0xb1, 0x1d, 0xc9, 0x43, 0xd5, 0x35, 0x5b, 0xa6,
        0x8e, 0x06, 0xec, 0x14, 0x5d, 0x12, 0x94, 0x63, 0xa4, 0xf2, 0xf6, 0xb5,
        0x13, 0x42, 0xaa, 0x4c, 0x49, 0x55, 0xa9, 0x55, 0x99, 0x7e, 0x8e, 0x41,
        0x16, 0x9f, 0x4c, 0x18, 0x3a, 0x67, 0x36, 0xaf, 0x9b, 0x97, 0xe7, 0xf5,
        0x1a, 0x5a, 0xdc, 0x1a, 0xdb, 0x57, 0x75, 0x98, 0xd3, 0x5c, 0x65, 0x9c,
        0x69, 0x45, 0xe5, 0x93, 0x90, 0xba, 0xdd, 0xfe, 0x24, 0xf7, 0xc8, 0x12,
        0x9d, 0xf4, 0xbe, 0xd2, 0x5e, 0x28, 0x22, 0x72, 0x92, 0xfc, 0x84, 0x28,
        0xbc, 0xf5, 0x92, 0x67, 0x36, 0x23, 0x09, 0x71, 0xbc, 0x67, 0xde, 0x17,
        0xe4, 0x28, 0x39, 0xae, 0x53, 0xa5, 0xc8, 0x48, 0x4a, 0xff, 0xdf, 0x49,
        0x3c, 0x71, 0xaa, 0xfb, 0x4f, 0xe2, 0x0f, 0x70, 0xfe, 0xa1, 0x1f, 0xbb,
        0xae, 0xae, 0x31, 0xd3, 0xe4, 0x0b, 0xe5, 0xc3, 0x27, 0x25, 0xe3, 0x59,
        0x94, 0x0d, 0x05, 0x00, 0x00};

    (void)state;
    for (size_t piece = 0; piece <= 64; piece++)
        for (size_t cap = 1; cap <= 4096; cap *= 8) {
            struct buf out = {0};
            uint64_t off;

            assert_int_equal(decode(IOCS_CODEC_GZIP, bad, sizeof(bad), piece,
                                    cap, &out, &off),
                             -EBADMSG);
            assert_true(off <= sizeof(bad));
            free(out.p);
        }
    {
        struct buf out = {0};

        /* The crash itself: fuzz_codec's pieces and room for byte 1. */
        assert_int_equal(decode(IOCS_CODEC_GZIP, bad, sizeof(bad), 0,
                                1 + 2654435761u % 4096, &out, NULL),
                         -EBADMSG);
        free(out.p);
    }
}

/*
 * A 0-byte file is plain (and empty): the plain decoder says "complete"
 * at once. A stream codec with no stream at all is damaged.
 */
static void test_codec_empty(void **state)
{
    static const enum iocs_codec streams[] = {IOCS_CODEC_GZIP, IOCS_CODEC_ZSTD,
                                              IOCS_CODEC_BZIP2, IOCS_CODEC_XZ};
    char path[PATH_MAX];
    size_t len = 1;
    unsigned char *z;
    struct buf out = {0};

    (void)state;
    t_path(path, sizeof(path), "empty.gz");
    t_write_file(path, "", 0);
    z = (unsigned char *)t_read_file(path, &len);
    assert_int_equal(len, 0);
    assert_int_equal(iocs_codec_detect(z, len), IOCS_CODEC_PLAIN);
    assert_int_equal(decode(IOCS_CODEC_PLAIN, z, 0, 1, 1, &out, NULL), 1);
    assert_int_equal(out.len, 0);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(decode(streams[i], z, 0, 1, 1, &out, NULL), -EBADMSG);
    free(z);
    free(out.p);
}

struct detect_case {
    const char *bytes;
    size_t n;
    enum iocs_codec want;
};

static void test_codec_detect(void **state)
{
    static const struct detect_case cases[] = {
        {"\x1f\x8b\x08\x00", 4, IOCS_CODEC_GZIP},
        {"\x1f\x8b\x08", 3, IOCS_CODEC_GZIP},
        {"\x1f\x8b", 2, IOCS_CODEC_PLAIN},
        {"\x1f\x8b\x07", 3, IOCS_CODEC_PLAIN},
        {"\x28\xb5\x2f\xfd\x24", 5, IOCS_CODEC_ZSTD},
        {"\x28\xb5\x2f", 3, IOCS_CODEC_PLAIN},
        {"\x50\x2a\x4d\x18", 4, IOCS_CODEC_ZSTD},
        {"\x5f\x2a\x4d\x18", 4, IOCS_CODEC_ZSTD},
        {"\x60\x2a\x4d\x18", 4, IOCS_CODEC_PLAIN},
        {"BZh9", 4, IOCS_CODEC_BZIP2},
        {"BZh1", 4, IOCS_CODEC_BZIP2},
        {"BZh0", 4, IOCS_CODEC_PLAIN},
        {"BZh", 3, IOCS_CODEC_PLAIN},
        {"\xfd"
         "7zXZ\0",
         6, IOCS_CODEC_XZ},
        {"\xfd"
         "7zXZ",
         5, IOCS_CODEC_PLAIN},
        {"ElfFile\0\x01", 9, IOCS_CODEC_EVTX},
        {"ElfFile", 7, IOCS_CODEC_PLAIN},
        {"Dec  5 03:14:15 host sshd", 25, IOCS_CODEC_PLAIN},
        {"", 0, IOCS_CODEC_PLAIN},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (iocs_codec_detect((const unsigned char *)cases[i].bytes,
                              cases[i].n) != cases[i].want)
            fail_msg("detect case %zu", i);
    assert_string_equal(iocs_codec_name(IOCS_CODEC_GZIP), "gzip");
    assert_string_equal(iocs_codec_name(IOCS_CODEC_PLAIN), "plain");
    assert_string_equal(iocs_codec_name(IOCS_CODEC_EVTX), "evtx");
    assert_string_equal(iocs_codec_name((enum iocs_codec)99), "plain");
    assert_true(iocs_codec_is_stream(IOCS_CODEC_XZ));
    assert_false(iocs_codec_is_stream(IOCS_CODEC_PLAIN));
    assert_false(iocs_codec_is_stream(IOCS_CODEC_EVTX));
}

static void test_codec_new_rejects_evtx(void **state)
{
    struct iocs_decoder *d = (struct iocs_decoder *)&d;

    (void)state;
    assert_int_equal(iocs_decoder_new(&d, IOCS_CODEC_EVTX), -EINVAL);
    assert_ptr_equal(d, (struct iocs_decoder *)&d); /* untouched */
    iocs_decoder_free(NULL);
}

/* One decoder, reset between sources, reads each of them whole. */
static void test_codec_reset_reuses(void **state)
{
    (void)state;
    for (size_t i = 1; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
        struct iocs_decoder *d;
        size_t len;
        unsigned char *z = compress_with(&codecs[i], text.p, 30000, &len);
        static unsigned char room[65536];

        assert_int_equal(iocs_decoder_new(&d, codecs[i].codec), 0);
        for (int round = 0; round < 3; round++) {
            const unsigned char *in = z;
            size_t in_len = round == 1 ? len / 2 : len, got, total = 0;
            int ret;

            do {
                ret = iocs_decoder_run(d, &in, &in_len, 1, room, sizeof(room),
                                       &got);
                total += got;
            } while (ret == 0);
            /* Round 1 is cut short; the next source is still read. */
            assert_int_equal(ret, round == 1 ? -EBADMSG : 1);
            if (round != 1)
                assert_int_equal(total, 30000);
            iocs_decoder_reset(d);
        }
        iocs_decoder_free(d);
        free(z);
    }
}

static long maxrss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* 1 GiB of zeros, compressed in-process by zlib (gzip) and libzstd. */
static void bomb(enum iocs_codec c, struct buf *z)
{
    static unsigned char zero[1 << 20];
    unsigned char chunk[1 << 16];

    if (c == IOCS_CODEC_GZIP) {
        z_stream s = {0};

        assert_int_equal(
            deflateInit2(&s, 1, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
        for (int i = 0; i < 1024; i++) {
            s.next_in = zero;
            s.avail_in = sizeof(zero);
            do {
                s.next_out = chunk;
                s.avail_out = sizeof(chunk);
                deflate(&s, i == 1023 ? Z_FINISH : Z_NO_FLUSH);
                put(z, chunk, sizeof(chunk) - s.avail_out);
            } while (s.avail_out == 0);
        }
        deflateEnd(&s);
    } else {
        ZSTD_CCtx *cc = ZSTD_createCCtx();

        assert_non_null(cc);
        ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
        for (int i = 0; i < 1024; i++) {
            ZSTD_inBuffer ib = {zero, sizeof(zero), 0};
            size_t left;

            do {
                ZSTD_outBuffer ob = {chunk, sizeof(chunk), 0};

                left = ZSTD_compressStream2(
                    cc, &ob, &ib, i == 1023 ? ZSTD_e_end : ZSTD_e_continue);
                assert_false(ZSTD_isError(left));
                put(z, chunk, ob.pos);
            } while (ib.pos < ib.size || (i == 1023 && left));
        }
        ZSTD_freeCCtx(cc);
    }
}

/* A decompression bomb inflates in fixed memory, not in its own size. */
static void test_codec_bomb_bounded(void **state)
{
    static const enum iocs_codec cs[] = {IOCS_CODEC_GZIP, IOCS_CODEC_ZSTD};

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct buf z = {0};
        static unsigned char room[1 << 16];
        struct iocs_decoder *d;
        const unsigned char *in;
        size_t in_len, got;
        uint64_t total = 0;
        long before;
        int ret;

        bomb(cs[i], &z);
        assert_true(z.len < (8u << 20));
        before = maxrss_kb();
        assert_int_equal(iocs_decoder_new(&d, cs[i]), 0);
        in = z.p;
        in_len = z.len;
        do {
            ret =
                iocs_decoder_run(d, &in, &in_len, 1, room, sizeof(room), &got);
            for (size_t k = 0; k < got; k += 4096)
                assert_int_equal(room[k], 0);
            total += got;
        } while (ret == 0);
        assert_int_equal(ret, 1);
        assert_true(total == (uint64_t)1 << 30);
        iocs_decoder_free(d);
        if (maxrss_kb() - before > 64 * 1024)
            fail_msg("%s bomb: max RSS grew by %ld kB", iocs_codec_name(cs[i]),
                     maxrss_kb() - before);
        free(z.p);
    }
}

static int group_setup(void **state)
{
    (void)state;
    if (t_tmpdir_init() < 0)
        return -1;
    /* Every tool the cases call: without one, skip rather than fail. */
    if (system("command -v gzip igzip zstd bzip2 xz >/dev/null 2>&1") != 0) {
        fprintf(stderr, "compression tools missing: skipped\n");
        t_tmpdir_fini();
        exit(T_SKIP);
    }
    make_text(1 << 20);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(text.p);
    t_tmpdir_fini();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_detect),
        cmocka_unit_test(test_codec_new_rejects_evtx),
        cmocka_unit_test(test_codec_empty),
        cmocka_unit_test(test_codec_round_trip),
        cmocka_unit_test(test_codec_large),
        cmocka_unit_test(test_codec_concatenated),
        cmocka_unit_test(test_codec_zstd_skippable_first),
        cmocka_unit_test(test_codec_truncated),
        cmocka_unit_test(test_codec_damaged),
        cmocka_unit_test(test_codec_trailing),
        cmocka_unit_test(test_codec_gzip_handback),
        cmocka_unit_test(test_codec_gzip_header_fields),
        cmocka_unit_test(test_codec_reset_reuses),
        cmocka_unit_test(test_codec_bomb_bounded),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
