/*
 * framecheck.h - the reader+framer invariants, shared by tests/test_framer.c
 * and fuzz/fuzz_framer.c (header-only: every function is static).
 *
 * framecheck_run() reads sources whose contents are known, frames them,
 * and checks every unit against the contents: units minus their rescanned
 * bytes reassemble each source exactly; a unit ends at a '\n' unless it is
 * the last one or a long-line piece (which holds no '\n'); starts_line,
 * first, last, rescan and offset say what they should. It returns NULL, or
 * a static string naming the first violation.
 */
#ifndef IOCS_TESTS_FRAMECHECK_H
#define IOCS_TESTS_FRAMECHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/framer.h"
#include "pipeline/reader.h"

struct framecheck {
    const unsigned char *const *data; /* contents of each source */
    const size_t *len;
    size_t nsrc;
    size_t overlap;

    size_t src;      /* the source expected next */
    bool in_src;     /* a unit of it was seen, not the last */
    size_t covered;  /* bytes of it emitted so far */
    size_t prev_off; /* the previous unit's offset and length */
    size_t prev_len;
    bool prev_piece; /* the previous unit was a long-line piece */
    size_t units;    /* units seen, all sources */
};

static const char *framecheck_unit(struct framecheck *fc,
                                   const struct iocs_unit *u)
{
    const unsigned char *c;
    size_t n;

    if (fc->src >= fc->nsrc || u->source != fc->src)
        return "unit of an unexpected source";
    c = fc->data[fc->src];
    n = fc->len[fc->src];
    fc->units++;

    if (u->first != !fc->in_src)
        return "first flag wrong";
    if (u->offset > n || u->len > n - u->offset)
        return "unit past the end of its source";
    if (u->len && memcmp(u->ptr, c + u->offset, u->len) != 0)
        return "unit bytes differ from the source";
    if (u->rescan > u->len)
        return "rescan longer than the unit";
    if (!fc->in_src) {
        if (u->offset != 0 || u->rescan != 0)
            return "first unit not at offset 0 without rescan";
    } else {
        if (u->offset + u->rescan != fc->covered)
            return "gap or overlap between units";
        if (fc->prev_piece != (u->rescan > 0))
            return "rescan without a piece before, or none after one";
        if (fc->prev_piece &&
            (u->rescan != fc->overlap ||
             u->offset != fc->prev_off + fc->prev_len - fc->overlap))
            return "rescan is not the overlap of the previous piece";
    }
    if (u->starts_line != (u->offset == 0 || c[u->offset - 1] == '\n'))
        return "starts_line wrong";
    if (u->ends_line) {
        size_t end = u->offset + u->len;

        if (!u->last && (u->len == 0 || c[end - 1] != '\n'))
            return "unit does not end at a line end";
        if (u->last && end != n)
            return "last unit does not reach the end";
    } else {
        if (u->last)
            return "last unit is a piece";
        if (memchr(u->ptr, '\n', u->len))
            return "piece holds a newline";
        if (u->len <= fc->overlap)
            return "piece no longer than the overlap";
    }
    if (!u->last && u->len <= u->rescan)
        return "unit with no new bytes";

    fc->covered = u->offset + u->len;
    fc->prev_off = u->offset;
    fc->prev_len = u->len;
    fc->prev_piece = !u->ends_line;
    fc->in_src = !u->last;
    if (u->last) {
        if (fc->covered != n)
            return "source not covered";
        fc->src++;
    }
    return NULL;
}

/*
 * Read and frame paths[0..nsrc) (whose contents are data/len) with opts and
 * overlap; the framer's carry_cap is opts->slab_size. Returns NULL when
 * every invariant holds.
 */
static const char *framecheck_run(const char *const *paths,
                                  const unsigned char *const *data,
                                  const size_t *len, size_t nsrc,
                                  const struct iocs_reader_opts *opts,
                                  size_t overlap)
{
    struct framecheck fc = {
        .data = data, .len = len, .nsrc = nsrc, .overlap = overlap};
    struct iocs_reader_opts o = *opts;
    struct iocs_source *src = calloc(nsrc ? nsrc : 1, sizeof(*src));
    struct iocs_reader *r = NULL;
    struct iocs_framer *f = NULL;
    struct iocs_slab *s;
    struct iocs_unit u;
    const char *why = NULL;
    int rc = 0;

    o.headroom = o.slab_size > overlap ? o.slab_size : overlap;
    if (!src)
        return "out of memory";
    for (size_t i = 0; i < nsrc; i++)
        src[i] = iocs_source_of(paths[i]); /* each read from its start */
    if (iocs_reader_new(&r, &o, src, nsrc) < 0) {
        free(src);
        return "iocs_reader_new failed";
    }
    if (iocs_framer_new(&f, o.slab_size, overlap) < 0) {
        why = "iocs_framer_new failed";
        goto out;
    }
    while (!why && (rc = iocs_reader_next(r, &s)) == 1) {
        if (s->err)
            why = "read error";
        else if ((rc = iocs_framer_frame(f, s, &u)) < 0)
            why = "iocs_framer_frame failed";
        else if (rc == 1)
            why = framecheck_unit(&fc, &u);
        else if (s->last)
            why = "last slab without a unit";
        iocs_reader_release(r, s);
    }
    if (!why && rc < 0)
        why = "iocs_reader_next failed";
    if (!why && fc.src != nsrc)
        why = "a source never ended";
out:
    iocs_framer_free(f);
    iocs_reader_free(r);
    free(src);
    return why;
}

#endif /* IOCS_TESTS_FRAMECHECK_H */
