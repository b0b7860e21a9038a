/*
 * source.h - what is read: one record per input, made by walk (walk.h) in
 * the order the inputs are scanned and consumed by the reader (reader.h).
 *
 * A source names a path ("-" is standard input) and carries what later
 * stages need to know it again across restarts and rotations:
 *   - identity: the device and inode it had when walked, and a fingerprint
 *     of its first bytes (a 64-bit hash of up to IOCS_SOURCE_FP_MAX bytes),
 *     so a renamed, copied or compressed rotation is recognised. The walk
 *     fills device and inode from what it reads anyway (the directory
 *     entry, or the stat of a named file): it costs no syscall per file.
 *     The fingerprint costs a read, so it is computed on demand,
 *     iocs_source_fingerprint(), by the stages that need it (follow and
 *     checkpoint); fp_len 0 says it is not computed.
 *   - codec: how its bytes are encoded (codec.h). The walk leaves
 *     IOCS_CODEC_PLAIN; the codec module's iocs_codec_detect() fills it
 *     from the first bytes once the codec stage is merged.
 *   - where to start: a byte offset and the number of the line that
 *     starts there (a checkpoint's committed position). The reader reads
 *     a regular file from start_offset, and offsets and line numbers of
 *     its slabs and events continue from there; a pipe or terminal cannot
 *     be skipped into, so its start offset must be 0 (see reader.h).
 *   - where to stop: end_offset, when not 0, is where a regular file's
 *     bytes end for this record (a byte range of a larger file that
 *     `cluster submit` cut at a line start); a pipe ignores it.
 *
 * Records are plain data; a list owns its paths. Config-time only.
 */
#ifndef IOCS_SOURCE_H
#define IOCS_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes hashed into a fingerprint, at most. */
#define IOCS_SOURCE_FP_MAX 4096

struct iocs_source {
    const char *path;      /* "-" is stdin; owned by the list that holds
                              the record (or by whoever made it) */
    uint64_t dev, ino;     /* identity when walked; 0, 0 when unknown
                              (stdin, a path that could not be walked) */
    uint64_t fingerprint;  /* hash of the first fp_len bytes */
    uint32_t fp_len;       /* 0: not computed */
    enum iocs_codec codec; /* IOCS_CODEC_PLAIN until detected */
    uint64_t start_offset; /* read from this byte */
    uint64_t start_line;   /* 1-based number of the line at start_offset */
    uint64_t end_offset;   /* read up to this byte (a cluster range unit,
                              cut at a line start); 0: to the end */
};

/* A source read from its beginning, of unknown identity: the record for a
 * bare path (tests, benches). path is borrowed. */
static inline struct iocs_source iocs_source_of(const char *path)
{
    struct iocs_source s = {0};

    s.path = path;
    s.codec = IOCS_CODEC_PLAIN;
    s.start_line = 1;
    return s;
}

/* An ordered list of sources; it owns each path. */
struct iocs_sourcelist {
    struct iocs_source *v;
    size_t len;
    size_t cap;
};

/* Append a copy of s (its path copied too). Returns 0 or -ENOMEM. */
int iocs_sourcelist_add(struct iocs_sourcelist *l, const struct iocs_source *s);

/* Release every path and the array; leaves l zeroed. */
void iocs_sourcelist_fini(struct iocs_sourcelist *l);

/*
 * The fingerprint of p[0..n): FNV-1a 64 of at most IOCS_SOURCE_FP_MAX
 * bytes. Stable across versions (it is stored in checkpoints).
 */
uint64_t iocs_source_hash(const void *p, size_t n);

/*
 * Read the first bytes of s->path (at most IOCS_SOURCE_FP_MAX, with
 * pread, from offset 0) and set s->fingerprint and s->fp_len. Returns 0,
 * or a negative errno from open(2) or pread(2). stdin ("-") is not read:
 * -ESPIPE. An empty file gets fp_len 0 and fingerprint of no bytes.
 */
int iocs_source_fingerprint(struct iocs_source *s);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_SOURCE_H */
