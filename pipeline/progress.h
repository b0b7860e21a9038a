/*
 * progress.h - one status line on stderr while a scan or a compile runs:
 * bytes done of the total (compressed bytes for compressed files), GB/s,
 * events so far and the time left; for a long IOC compile, what is being
 * compiled and for how long.
 *
 * Shown only when enabled (by default: stderr is a terminal; --progress /
 * --no-progress force it), redrawn at most 10 times a second whatever the
 * caller's rate, and erased before anything else is printed on stderr
 * (iocs_progress_clear) and at the end. Updates cost one coarse clock read
 * when nothing is drawn, so the collector may call it per batch.
 *
 * A compile phase (iocs_progress_phase_begin/end) draws from a thread of
 * its own, since Hyperscan's compiler reports no progress: the line says
 * what is compiled and the seconds elapsed.
 *
 * The scan line is updated from one thread; phases may be begun and ended
 * from that same thread only.
 */
#ifndef IOCS_PROGRESS_H
#define IOCS_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iocs_progress;

/*
 * Make a progress line on fd (normally 2). enabled false makes every call
 * a no-op (a NULL *out is never returned, so callers need no checks).
 * Returns 0 or -ENOMEM.
 */
int iocs_progress_new(struct iocs_progress **out, int fd, bool enabled);

/* Erase the line and release p. NULL is accepted and ignored. */
void iocs_progress_free(struct iocs_progress *p);

/* The bytes the whole scan will read (0: unknown, no percentage or ETA). */
void iocs_progress_total(struct iocs_progress *p, uint64_t bytes);

/* Where the scan is: input bytes done and events so far. Draws at most
 * every 100 ms. */
void iocs_progress_update(struct iocs_progress *p, uint64_t bytes,
                          uint64_t events);

/* Erase the line (before printing something else on stderr); the next
 * update draws it again. */
void iocs_progress_clear(struct iocs_progress *p);

/*
 * Show "what... Ns" (e.g. "compiling 1000000 IOCs") until
 * iocs_progress_phase_end(), redrawn every 200 ms by a thread. Returns 0
 * or a pthread error (then nothing is shown; not fatal).
 */
int iocs_progress_phase_begin(struct iocs_progress *p, const char *what);
void iocs_progress_phase_end(struct iocs_progress *p);

/* The line as it would be drawn now for bytes/events after seconds, into
 * out (for tests). */
void iocs__progress_format(char *out, size_t cap, uint64_t bytes,
                           uint64_t total, uint64_t events, double seconds);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_PROGRESS_H */
