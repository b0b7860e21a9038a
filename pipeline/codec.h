/*
 * codec.h - how the bytes of a source are turned into log lines: detect the
 * encoding by its magic bytes, then inflate it, streaming, into buffers the
 * caller owns.
 *
 * Seam between the reader (raw bytes of a file) and the framer (lines).
 * A source's codec is decided once, from its first bytes, whatever its
 * name: gzip (1f 8b), zstd (28 b5 2f fd), bzip2 ("BZh" + '1'..'9'), xz
 * (fd "7zXZ" 00) and Windows event logs ("ElfFile\0", see codec_evtx.h);
 * anything else is plain text and is passed through untouched.
 *
 * A decoder is streaming and bounded: it holds a fixed amount of state
 * whatever the ratio (a 1 MB file that inflates to 10 GB uses the usual
 * memory), takes compressed input in pieces of any size and writes at most
 * out_cap bytes per call. Concatenated streams (gzip members, zstd frames,
 * bzip2 and xz streams) are one source, cut anywhere: offsets and line
 * numbers are those of the decompressed bytes. A damaged stream (cut short,
 * a bad check value, garbage inside or after it) is an error for that
 * source only: every byte inflated before the damage is still handed out,
 * then -EBADMSG, with iocs_decoder_in_offset() saying where.
 *
 * One decoder per thread; decoders share nothing.
 */
#ifndef IOCS_CODEC_H
#define IOCS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum iocs_codec {
    IOCS_CODEC_PLAIN = 0,
    IOCS_CODEC_GZIP,
    IOCS_CODEC_ZSTD,
    IOCS_CODEC_BZIP2,
    IOCS_CODEC_XZ,
    IOCS_CODEC_EVTX, /* records, not a byte stream: see codec_evtx.h */
};

/* Bytes iocs_codec_detect() needs to tell every codec apart. */
#define IOCS_CODEC_MAGIC_MAX 8

/*
 * The codec of a source whose first n bytes are p. Fewer than
 * IOCS_CODEC_MAGIC_MAX bytes are fine (a short file): a prefix that cannot
 * hold a codec's magic is plain. Never fails.
 */
enum iocs_codec iocs_codec_detect(const unsigned char *p, size_t n);

/* "plain", "gzip", "zstd", "bzip2", "xz", "evtx". Never NULL. */
const char *iocs_codec_name(enum iocs_codec c);

/* Whether sources of codec c are inflated by a decoder (every codec but
 * plain and evtx). */
int iocs_codec_is_stream(enum iocs_codec c);

struct iocs_decoder;

/*
 * Make a decoder for codec c (a stream codec; IOCS_CODEC_PLAIN gives a
 * passthrough decoder that copies). Returns 0, -EINVAL (not a stream
 * codec) or -ENOMEM.
 */
int iocs_decoder_new(struct iocs_decoder **out, enum iocs_codec c);

/* Release d. NULL is accepted and ignored. */
void iocs_decoder_free(struct iocs_decoder *d);

/* Make d ready for a new source of the same codec, keeping its memory. */
void iocs_decoder_reset(struct iocs_decoder *d);

/*
 * Inflate. *in, *in_len is compressed input (advanced past what was
 * consumed; may be empty when eof is set), out[0..out_cap) is where the
 * decompressed bytes go; *out_len is set to how many were written. eof
 * says that no input follows *in.
 *
 * Returns:
 *   0        progress: call again (with more input when *in_len is 0 and
 *            eof is not set, or with more room when *out_len == out_cap)
 *   1        the source is complete: every stream ended cleanly and no
 *            input is left; *out_len may still be > 0
 *   -EBADMSG the stream is damaged (or cut short at eof); the bytes in
 *            out[0..*out_len) are good and are to be used;
 *            iocs_decoder_in_offset() says at which compressed offset
 *   -ENOMEM  out of memory
 * After 1 or a negative return, call iocs_decoder_reset() before reuse.
 */
int iocs_decoder_run(struct iocs_decoder *d, const unsigned char **in,
                     size_t *in_len, int eof, unsigned char *out,
                     size_t out_cap, size_t *out_len);

/* Compressed bytes consumed so far (the offset of the damage after
 * -EBADMSG). */
uint64_t iocs_decoder_in_offset(const struct iocs_decoder *d);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_CODEC_H */
