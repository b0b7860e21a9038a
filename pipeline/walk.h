/*
 * walk.h - turn the PATH arguments of `iocstream scan` into the ordered list
 * of sources the reader reads.
 *
 * A file is taken as it is; a directory is walked recursively and its
 * regular files are added in byte-wise sorted order of their full paths;
 * "-" is standard input. Symbolic links met while walking are skipped
 * unless follow_symlinks is set (links named on the command line are always
 * followed, as grep -r does); when they are followed, a dangling link and a
 * link back to a directory being walked (a loop) are skipped silently. Special
 * files met while walking (FIFOs, sockets, devices) are skipped. Config-time
 * only.
 *
 * Each source is a record (source.h) with its identity as walked: device
 * and inode come from the directory entry (or the stat of a path named on
 * the command line), so the walk makes no syscall per file beyond
 * readdir; the fingerprint is left to iocs_source_fingerprint().
 */
#ifndef IOCS_WALK_H
#define IOCS_WALK_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline/source.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called for each path that cannot be walked (stat or opendir failed);
 * err is a negative errno. The walk goes on with the others. */
typedef void (*iocs_walk_err_fn)(void *ctx, const char *path, int err);

/*
 * Append the sources for one argument to list (zero it first; release it
 * with iocs_sourcelist_fini()), each read from its start. Returns 0,
 * or -ENOMEM. Unreadable paths go to on_err (if non-NULL) and are also
 * appended as they are, so the reader reports them in order and the exit
 * status says error; *nerr (if non-NULL) is incremented for each.
 */
int iocs_walk_add(struct iocs_sourcelist *list, const char *arg,
                  bool follow_symlinks, iocs_walk_err_fn on_err, void *ctx,
                  size_t *nerr);

/* A file the walk never yields: one iocstream writes (the output, the
 * state file), found by device and inode. */
struct iocs_walk_skip {
    uint64_t dev, ino;
};

/*
 * As iocs_walk_add(), but a regular file met while walking a directory
 * that is one of skip[0..nskip) is left out silently, so `scan -o
 * DIR/out.json DIR` never reads its own output back. A file named on the
 * command line is not checked here: the caller refuses it (it would be
 * truncated by the output being opened).
 */
int iocs_walk_add_except(struct iocs_sourcelist *list, const char *arg,
                         bool follow_symlinks, iocs_walk_err_fn on_err,
                         void *ctx, size_t *nerr,
                         const struct iocs_walk_skip *skip, size_t nskip);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_WALK_H */
