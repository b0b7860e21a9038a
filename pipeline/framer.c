/*
 * framer.c - slabs to units of whole lines (see framer.h).
 *
 * State between slabs is the carry: bytes of the current source that
 * follow the last '\n' emitted, held in a buffer of max(carry_cap, overlap)
 * bytes. It never holds a '\n': a tail starts after the last one, and a
 * long-line piece is cut only from a buffer with none. For each slab the
 * carry is copied into the slab's headroom, just before data[0], so carry
 * and new bytes form one contiguous buffer and the new bytes never move.
 * A mapped slab (reader.h) already holds those bytes there, the file's
 * own, so nothing is copied (and nothing may be written there).
 *
 * Invariants, for every source: units come out in order; each unit after
 * the first starts `rescan` bytes before the previous one ended, so the
 * units minus their rescanned bytes are the source, byte for byte; and a
 * unit with ends_line clear holds no '\n' at all.
 */
#include "pipeline/framer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct iocs_framer {
    size_t carry_cap;
    size_t overlap;
    size_t cap; /* max(carry_cap, overlap): the carry buffer's size */

    bool in_src;        /* a source is started and not finished */
    uint32_t source;    /* that source */
    bool first_pending; /* no unit of it emitted yet */

    unsigned char *carry;
    size_t clen;
    size_t crescan; /* leading carried bytes already in an emitted unit */
    bool cstart;    /* carry[0] is the first byte of a line */
};

int iocs_framer_new(struct iocs_framer **out, size_t carry_cap, size_t overlap)
{
    struct iocs_framer *f;

    if (!out || carry_cap == 0 || overlap == 0)
        return -EINVAL;
    f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->carry_cap = carry_cap;
    f->overlap = overlap;
    f->cap = carry_cap > overlap ? carry_cap : overlap;
    f->carry = malloc(f->cap);
    if (!f->carry) {
        free(f);
        return -ENOMEM;
    }
    *out = f;
    return 0;
}

void iocs_framer_free(struct iocs_framer *f)
{
    if (!f)
        return;
    free(f->carry);
    free(f);
}

static void start_source(struct iocs_framer *f, uint32_t source)
{
    f->in_src = true;
    f->source = source;
    f->first_pending = true;
    f->clen = 0;
    f->crescan = 0;
    f->cstart = true;
}

int iocs_framer_frame(struct iocs_framer *f, struct iocs_slab *s,
                      struct iocs_unit *u)
{
    const unsigned char *nl;
    unsigned char *buf;
    size_t blen, keep;

    /* A mapped slab's headroom is the file's bytes before it: enough for
     * the carry is enough. */
    if (s->mapped ? s->headroom < (s->first ? 0 : f->clen)
                  : s->headroom < f->cap)
        return -EINVAL;
    if (s->len > f->carry_cap)
        return -EINVAL;
    if (s->first)
        start_source(f, s->source); /* drops an unfinished carry */
    else if (!f->in_src || s->source != f->source || s->offset < f->clen)
        return -EINVAL;

    /* Carry and new bytes, contiguous: only the carry is copied, and not
     * even that when the file's mapping holds it there already. */
    buf = s->data - f->clen;
    if (!s->mapped)
        memcpy(buf, f->carry, f->clen);
    blen = f->clen + s->len;

    *u = (struct iocs_unit){
        .source = s->source,
        .offset = s->offset - f->clen,
        .mtime = s->mtime,
        .ptr = buf,
        .rescan = f->crescan,
        .starts_line = f->cstart,
        .first = f->first_pending,
    };

    if (s->last || s->err < 0) {
        /* Everything left, even after a failure: bytes read are scanned.
         * The end of the data counts as the end of the last line. */
        u->len = blen;
        u->ends_line = true;
        u->last = true;
        f->in_src = false;
        f->clen = 0;
        return 1;
    }

    /* The carry holds no '\n', so only the new bytes are searched. */
    nl = s->len ? memrchr(s->data, '\n', s->len) : NULL;
    if (nl) {
        u->len = (size_t)(nl + 1 - buf);
        u->ends_line = true;
        keep = blen - u->len;
        memcpy(f->carry, buf + u->len, keep);
        f->clen = keep;
        f->crescan = 0;
        f->cstart = true;
    } else if (blen <= f->cap) {
        /* A short read, or a line that starts a full slab: the partial
         * line still fits the carry, so wait for more before cutting it. */
        memcpy(f->carry + f->clen, s->data, s->len);
        f->clen = blen;
        return 0;
    } else {
        /* A line longer than the carry: emit it as a piece, and carry its
         * last `overlap` bytes (< blen) so no match straddles the cut. */
        u->len = blen;
        u->ends_line = false;
        memcpy(f->carry, buf + blen - f->overlap, f->overlap);
        f->clen = f->overlap;
        f->crescan = f->overlap;
        f->cstart = false;
    }
    f->first_pending = false;
    return 1;
}

void iocs_framer_whole(const struct iocs_slab *part, struct iocs_unit *u)
{
    *u = (struct iocs_unit){
        .source = part->source,
        .offset = part->offset,
        .mtime = part->mtime,
        .ptr = part->data,
        .len = part->len,
        .starts_line = true,
        .ends_line = true,
        .first = true,
        .last = true,
    };
}
