/*
 * checkpoint.h - the state file of `scan --state FILE`: how far each source
 * has been committed, how long the output file is, and which IOC database
 * produced it, so that a restart (even after kill -9) resumes with every
 * hit exactly once.
 *
 * Sits beside follow.h, after the sink: the scan loop sets a source's
 * position only once iocs_sink_acked() says the events before it are
 * durable, then saves. Nothing here reads logs.
 *
 * Identity of a source: device, inode and a 64-bit fingerprint of its first
 * fp_len decompressed bytes, fp_len = min(IOCS_CKPT_FP_BYTES, size). A
 * renamed file keeps device and inode; a copied (copytruncate) or
 * compressed (x.1 -> x.1.gz) rotation gets a new inode but keeps the
 * fingerprint, so iocs_checkpoint_find() also matches by fingerprint. A
 * file shorter than IOCS_CKPT_FP_BYTES has a shorter fp_len, which grows
 * with the file; a fingerprint over fewer than IOCS_CKPT_FP_MIN bytes is
 * too weak to name a file on its own and is only used with the inode.
 *
 * The file is text, one record a line, checked by a fingerprint of every
 * byte before its last line:
 *
 *   iocstream-state 1
 *   db <hex id, or ->
 *   output <committed length of -o FILE, or ->
 *   sources <n>
 *   s <dev> <ino> <fp, 16 hex> <fp_len> <offset> <line> <seen> <path>
 *   ... (n lines)
 *   end <fingerprint of the bytes above, 16 hex>
 *
 * Numbers are decimal without leading zeros; hex is lowercase; seen is a
 * Unix time in seconds; the path is percent-encoded (bytes <= 0x20,
 * >= 0x7f and '%' as %xx, lowercase, nothing else). The parser takes
 * exactly this canonical form, so what parses re-serialises byte for byte.
 *
 * Saving is atomic: a temporary file in the same directory (O_EXCL, mode
 * 0600), fsync, rename over the state path, fsync of the directory. Only a
 * regular file (or nothing) at the state path is replaced or read: a
 * symlink, FIFO, socket or device there is refused.
 *
 * Bounded: at most IOCS_CKPT_MAX_SOURCES entries (the one seen longest ago
 * gives way), paths under PATH_MAX, a state file under IOCS_CKPT_MAX_FILE.
 * One thread uses a state at a time.
 */
#ifndef IOCS_CHECKPOINT_H
#define IOCS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Decompressed bytes a fingerprint covers (fewer when the file is shorter). */
#define IOCS_CKPT_FP_BYTES 4096
/* A fingerprint over fewer bytes does not identify a file on its own. */
#define IOCS_CKPT_FP_MIN 64
/* Entries kept; the least recently seen one is forgotten past this. */
#define IOCS_CKPT_MAX_SOURCES 65536
/* Largest state file accepted (65536 entries of long paths fit). */
#define IOCS_CKPT_MAX_FILE (64u << 20)
/* Longest database id (a hex hash). */
#define IOCS_CKPT_DB_MAX 128

/* Who a source is. fp covers its first fp_len decompressed bytes. */
struct iocs_ckpt_id {
    uint64_t dev;
    uint64_t ino;
    uint64_t fp;
    uint32_t fp_len;
};

/* One source's committed position: every line before offset (line number
 * line is the next one) has been delivered. */
struct iocs_ckpt_entry {
    struct iocs_ckpt_id id;
    uint64_t offset;
    uint64_t line; /* 1-based number of the line at offset */
    int64_t seen;  /* Unix seconds of the last set() or touch() */
    char *path;    /* owned; the path last seen */
};

struct iocs_checkpoint {
    struct iocs_ckpt_entry *v; /* owned */
    size_t n, cap;
    int has_output;
    uint64_t output_len;           /* committed length of the -o FILE */
    char db[IOCS_CKPT_DB_MAX + 1]; /* "" when unknown */
};

/* The fingerprint of p[0..n): a 64-bit hash (n is part of it). */
uint64_t iocs_checkpoint_fingerprint(const void *p, size_t n);

/* Make an empty state. Returns 0 or -ENOMEM. */
int iocs_checkpoint_new(struct iocs_checkpoint **out);

/* Release s. NULL is accepted and ignored. */
void iocs_checkpoint_free(struct iocs_checkpoint *s);

/*
 * Read the state file at path into a new state *out (the caller frees it).
 * Returns 0, or a negative errno with *out untouched and errbuf saying why:
 *   -ENOENT   no file there (a first run: start from iocs_checkpoint_new())
 *   -ELOOP    path is a symbolic link (refused, not followed)
 *   -EINVAL   path is not a regular file (FIFO, device, directory...)
 *   -EBADMSG  the contents are damaged; errbuf names the line and byte
 *             offset
 *   -EFBIG    larger than IOCS_CKPT_MAX_FILE
 *   -ENOMEM, or an errno of open(2)/read(2)
 */
int iocs_checkpoint_load(const char *path, struct iocs_checkpoint **out,
                         char *errbuf, size_t errlen);

/* As iocs_checkpoint_load() on the bytes p[0..n) (the fuzz target's entry
 * point). */
int iocs_checkpoint_parse(const void *p, size_t n, struct iocs_checkpoint **out,
                          char *errbuf, size_t errlen);

/*
 * The canonical text of s in a malloc'd buffer *out (the caller frees it),
 * *len bytes (no NUL). Returns 0 or -ENOMEM.
 */
int iocs_checkpoint_format(const struct iocs_checkpoint *s, char **out,
                           size_t *len);

/*
 * Write s to path atomically (see above). Returns 0, or a negative errno
 * with errbuf saying why: -ELOOP (a symlink there), -EINVAL (not a regular
 * file there), errors of open/write/fsync/rename as they are. On failure
 * the old state file is untouched and no temporary file is left.
 */
int iocs_checkpoint_save(const char *path, const struct iocs_checkpoint *s,
                         char *errbuf, size_t errlen);

/*
 * Record that the source id (last seen at path) is committed up to offset,
 * where line number line starts; seen = now (Unix seconds). The entry with
 * the same device and inode is updated (its fingerprint too: the file may
 * have grown past its old fp_len), else a new one is added, forgetting the
 * least recently seen entry when IOCS_CKPT_MAX_SOURCES are held. Returns 0,
 * -EINVAL (path too long) or -ENOMEM (s unchanged).
 */
int iocs_checkpoint_set(struct iocs_checkpoint *s,
                        const struct iocs_ckpt_id *id, uint64_t offset,
                        uint64_t line, const char *path, int64_t now);

/*
 * The entry for a file with device dev and inode ino whose first len
 * decompressed bytes are prefix (len = min(IOCS_CKPT_FP_BYTES, its size)),
 * or NULL. First the entry with the same device and inode whose
 * fingerprint matches the prefix (the same file, perhaps grown or
 * renamed); then any entry whose fingerprint (over at least
 * IOCS_CKPT_FP_MIN bytes) matches (a copy or a compressed rotation; the
 * most recently seen one wins). An entry with the same inode but another
 * fingerprint is a reused inode: not a match. The pointer is valid until
 * s next changes.
 */
const struct iocs_ckpt_entry *
iocs_checkpoint_find(const struct iocs_checkpoint *s, uint64_t dev,
                     uint64_t ino, const unsigned char *prefix, size_t len);

/* Whether the first len bytes prefix have fingerprint id->fp over
 * id->fp_len bytes (len >= fp_len). */
int iocs_checkpoint_id_matches(const struct iocs_ckpt_id *id,
                               const unsigned char *prefix, size_t len);

/* Drop the entry with device dev and inode ino (a deleted file, fully
 * read). Returns 1 if one was dropped, else 0. */
int iocs_checkpoint_remove(struct iocs_checkpoint *s, uint64_t dev,
                           uint64_t ino);

/* Drop every entry last seen before cutoff (Unix seconds). Returns how
 * many were dropped. */
size_t iocs_checkpoint_forget(struct iocs_checkpoint *s, int64_t cutoff);

/* The committed length of the output file (-o FILE with --state). */
void iocs_checkpoint_set_output(struct iocs_checkpoint *s, uint64_t len);

/* Record the database id (hex). Returns 0 or -EINVAL (too long, or not
 * lowercase hex). */
int iocs_checkpoint_set_db(struct iocs_checkpoint *s, const char *db);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_CHECKPOINT_H */
