/*
 * pipeline.h - wires the stages (feeds -> database; reader -> framer ->
 * scanner -> emit) for the subcommands. The only thing main() calls, and
 * the only module that prints diagnostics: library modules return codes.
 */
#ifndef IOCS_PIPELINE_H
#define IOCS_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline/emit.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iocs_scan_opts {
    const char *const *feeds; /* -i files; none: the built-in pack */
    size_t nfeeds;
    const char *const *paths; /* PATH arguments; none: stdin */
    size_t npaths;
    const char *output; /* -o FILE, or NULL for stdout */
    enum iocs_format format;
    size_t max_line;  /* --max-line */
    size_t slab_size; /* --slab-size */
    unsigned depth;   /* reads in flight */
    unsigned threads; /* scanning threads (-j); 1: all on this thread */
    bool no_uring;
    bool follow_symlinks;
    bool stats;
};

/* Run `iocstream scan`. Returns the exit status: 0 no hits, 1 hits, 2 an
 * error (reported on stderr). */
int iocs_pipeline_scan(const struct iocs_scan_opts *o);

/* Run `iocstream decode [FILE]` (NULL or "-": stdin) to stdout. Returns the
 * exit status: 0, or 2 on error. */
int iocs_pipeline_decode(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_PIPELINE_H */
