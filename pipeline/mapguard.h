/*
 * mapguard.h - survives a mapped file being cut short under the scan.
 *
 * A file mapped with mmap(2) and then truncated by someone else (a log
 * rotated with copytruncate, an editor) makes every access to a page past
 * its new end raise SIGBUS, in whatever thread touches it: the reader, the
 * framer, a worker inside hs_scan, the encoder. The guard turns that into
 * something the scan can report: a mapping registered here that faults has
 * anonymous zero pages mapped (read-only) from the faulting page to its
 * end, every later page being past the new end too; it is marked faulted,
 * and the access goes on reading zeros. Whoever owns the mapping
 * asks iocs_mapguard_faulted() once the bytes were used and throws away
 * what it made from them (zeros after a cut token could fake a hit).
 *
 * The SIGBUS handler is installed once per process (iocs_mapguard_init())
 * and never removed. A SIGBUS that is not a fault inside a registered
 * mapping goes to the handler that was installed before ours (a function),
 * or, when there was none (SIG_DFL, or SIG_IGN for a fault the kernel
 * raised), is raised again with the default action: the process dies of
 * SIGBUS as it would have without the guard.
 *
 * The registry is a fixed array of IOCS_MAPGUARD_SLOTS slots whose fields
 * are atomics (a sequence count per slot, as a seqlock): the handler takes
 * no lock and calls only async-signal-safe functions (mmap(2) to place the
 * zero page, sigaction(2) and raise(3) to die). Adding and removing are
 * lock-free and may be called from any thread.
 */
#ifndef IOCS_MAPGUARD_H
#define IOCS_MAPGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Live mappings at once, for the whole process (a reader holds at most
 * its nslabs). */
#define IOCS_MAPGUARD_SLOTS 1024

/*
 * Install the SIGBUS handler, once per process; later calls return what the
 * first one did. Thread-safe. Returns 0, or the negative errno of
 * sigaction(2) (then nothing is guarded: map nothing).
 */
int iocs_mapguard_init(void);

/*
 * Register the mapping [addr, addr + len) (len > 0) as guarded. Returns its
 * id (>= 0), valid until iocs_mapguard_remove(), or -ENOSPC when every slot
 * is taken, -EINVAL when len is 0 or the guard is not installed. Mappings
 * must not overlap.
 */
int iocs_mapguard_add(const void *addr, size_t len);

/*
 * Forget mapping id, before it is unmapped (a fault after that is no
 * longer ours). Any thread; the mapping must no longer be in use.
 */
void iocs_mapguard_remove(int id);

/*
 * Whether mapping id faulted since it was added: some of its pages read as
 * zeros instead of the file's bytes. Any thread; a fault in another thread
 * is seen once that thread's access happened before the call (a job
 * handed over through a mutex, a joined thread).
 */
bool iocs_mapguard_faulted(int id);

/* Faults turned into zero pages since the process started (any mapping). */
uint64_t iocs_mapguard_faults(void);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_MAPGUARD_H */
