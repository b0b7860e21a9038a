/*
 * test_workers.c - the scanning pool (pipeline/workers.h): events leave in
 * input order, and every job becomes one batch with the next seq and a
 * position that only moves forward, whatever order the workers finish in.
 * Delays are injected before each job (opts.before_job) across thread
 * counts and job sizes; scripts/test.sh runs this under TSan too.
 *
 * Line numbers are counted and numbered by the workers (workers.h): the
 * events, each batch's position and the lines total must be those of one
 * thread scanning the same units in order (the -j 0 loop), whatever order
 * the workers count in, over sources that start at a line other than 1,
 * whole-file jobs between plain units, long lines cut across jobs and
 * last lines without a newline.
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
#include <time.h>
#include <zlib.h>

#include "helpers.h"
#include "matchers/db.h"
#include "matchers/ioc.h"
#include "pipeline/encode.h"
#include "pipeline/scanner.h"
#include "pipeline/sink.h"
#include "pipeline/wholefile.h"
#include "pipeline/workers.h"

#define NJOBS 300
#define LINES_PER_UNIT 3
#define MAX_UNITS 4

/* A sink that keeps what it is given and checks the sink.h contract from
 * the caller's side: seq 1, 2, 3..., positions that never go back, records
 * that cut the bytes into whole events. */
struct memsink {
    struct iocs_sink base;
    char *data;
    size_t len, cap;
    uint64_t seq, events;
    struct iocs_sink_pos pos;
};

static int mem_write(struct iocs_sink *s, const struct iocs_sink_batch *b)
{
    struct memsink *m = (struct memsink *)s;
    size_t start = 0;

    assert_int_equal(b->seq, m->seq + 1);
    assert_true(
        b->pos.source > m->pos.source ||
        (b->pos.source == m->pos.source && b->pos.offset >= m->pos.offset));
    for (size_t i = 0; i < b->n; i++) {
        assert_true(b->rec[i].end > start);
        assert_int_equal(b->data[b->rec[i].end - 1], '\n'); /* JSON lines */
        start = b->rec[i].end;
    }
    assert_int_equal(start, b->len);
    if (m->len + b->len + 1 > m->cap) {
        m->cap = (m->len + b->len + 1) * 2;
        m->data = realloc(m->data, m->cap);
        assert_non_null(m->data);
    }
    if (b->len)
        memcpy(m->data + m->len, b->data, b->len);
    m->len += b->len;
    m->data[m->len] = '\0';
    m->seq = b->seq;
    m->pos = b->pos;
    m->events += b->n;
    return 0;
}

static int mem_flush(struct iocs_sink *s, int timeout_ms)
{
    (void)s;
    (void)timeout_ms;
    return 0;
}

static uint64_t mem_acked(const struct iocs_sink *s, struct iocs_sink_pos *pos)
{
    const struct memsink *m = (const struct memsink *)s;

    if (pos)
        *pos = m->pos;
    return m->seq;
}

static void mem_close(struct iocs_sink *s)
{
    (void)s;
}

static const struct iocs_sink_ops mem_ops = {
    .name = "memory",
    .write = mem_write,
    .flush = mem_flush,
    .acked = mem_acked,
    .close = mem_close,
};

struct fix {
    struct iocs_iocset *set;
    struct iocs_db *db;
    char *text; /* every unit's lines, back to back */
    size_t unit_len[NJOBS * MAX_UNITS];
    size_t unit_off[NJOBS * MAX_UNITS];
    size_t nunits;
};

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    struct iocs_ioc ioc = {.type = IOCS_IPV4,
                           .value = "192.81.209.168",
                           .len = 14,
                           .feed = "test"};
    char errbuf[256];
    size_t cap = (size_t)NJOBS * MAX_UNITS * LINES_PER_UNIT * 64, len = 0;
    bool dup;

    if (!f || iocs_iocset_new(&f->set) < 0 ||
        iocs_iocset_add(f->set, &ioc, &dup) < 0 ||
        iocs_db_compile(&f->db, f->set, errbuf, sizeof(errbuf)) < 0)
        return -1;
    f->text = malloc(cap);
    if (!f->text)
        return -1;
    /* Line k names itself, so the order of events is checkable. */
    for (size_t u = 0; u < (size_t)NJOBS * MAX_UNITS; u++) {
        f->unit_off[u] = len;
        for (int l = 0; l < LINES_PER_UNIT; l++) {
            size_t line = u * LINES_PER_UNIT + (size_t)l + 1;

            len += (size_t)snprintf(f->text + len, cap - len,
                                    "n=%zu from 192.81.209.168 ok\n", line);
        }
        f->unit_len[u] = len - f->unit_off[u];
    }
    f->nunits = (size_t)NJOBS * MAX_UNITS;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    iocs_db_free(f->db);
    iocs_iocset_free(f->set);
    free(f->text);
    free(f);
    return 0;
}

/* Up to 300 us before a job, differing per job (no shared state: workers
 * call this at once). */
static void delay(void *ctx, uint64_t seq)
{
    uint64_t h = (seq + 1) * 0x9e3779b97f4a7c15ull;
    struct timespec ts = {0, (long)((h >> 33) % 300) * 1000};

    (void)ctx;
    if ((h >> 20) % 4) /* most jobs wait; some race ahead */
        nanosleep(&ts, NULL);
}

/* Collect the oldest job: its slab is the next one submitted. */
static int collect(struct iocs_workers *w, struct memsink *m,
                   struct iocs_slab *slabs, size_t *ncollected)
{
    struct iocs_slab *s = NULL;
    int rc = iocs_workers_collect(w, &m->base, &s);

    if (rc == 1) {
        assert_ptr_equal(s, &slabs[*ncollected]);
        (*ncollected)++;
    }
    return rc;
}

/* Scan NJOBS jobs of `units` units each through `threads` workers; every
 * line has one hit, and the events must come out numbered 1, 2, 3... */
static void run_pool(struct fix *f, unsigned threads, unsigned units)
{
    struct iocs_workers_opts o = {.threads = threads,
                                  .max_jobs = 2 * threads + 2,
                                  .max_units = MAX_UNITS,
                                  .max_line = 4096,
                                  .format = IOCS_FORMAT_JSON,
                                  .before_job = delay};
    static struct iocs_slab slabs[NJOBS];
    struct memsink m = {.base = {.ops = &mem_ops}};
    struct iocs_work_unit v[MAX_UNITS];
    struct iocs_workers *w;
    size_t collected = 0, u = 0, want = 1;
    const char *p;

    assert_int_equal(iocs_workers_new(&w, f->db, &o), 0);
    for (size_t j = 0; j < NJOBS; j++) {
        for (unsigned i = 0; i < units; i++, u++) {
            v[i] = (struct iocs_work_unit){
                .u = {.source = 0,
                      .offset = f->unit_off[u],
                      .ptr = (const unsigned char *)f->text + f->unit_off[u],
                      .len = f->unit_len[u],
                      .starts_line = true,
                      .ends_line = true,
                      .first = u == 0,
                      .last = j == NJOBS - 1 && i == units - 1},
                .path = "test.log",
                .line0 = u * LINES_PER_UNIT + 1,
                .nl = LINES_PER_UNIT};
        }
        while (iocs_workers_full(w))
            assert_int_equal(collect(w, &m, slabs, &collected), 1);
        assert_int_equal(iocs_workers_submit(w, &slabs[j], v, units), 0);
    }
    while (iocs_workers_busy(w))
        assert_int_equal(collect(w, &m, slabs, &collected), 1);
    assert_int_equal(collect(w, &m, slabs, &collected), 0);
    assert_int_equal(collected, NJOBS);
    assert_int_equal(m.seq, NJOBS);
    assert_int_equal(m.pos.offset, f->unit_off[u - 1] + f->unit_len[u - 1]);
    assert_int_equal(m.pos.line, u * LINES_PER_UNIT + 1);
    assert_int_equal(m.events, u * LINES_PER_UNIT);

    /* Every line's event, in input order. */
    for (p = m.data; (p = strstr(p, "\"iocstream\":{\"line\":")); want++) {
        p += strlen("\"iocstream\":{\"line\":");
        assert_int_equal(strtoull(p, NULL, 10), want);
    }
    assert_int_equal(want - 1, u * LINES_PER_UNIT);
    iocs_workers_free(w);
    free(m.data);
}

static void test_workers_order_under_delays(void **state)
{
    static const unsigned threads[] = {1, 2, 3, 4, 8};

    for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
        run_pool(*state, threads[t], 1);
        run_pool(*state, threads[t], MAX_UNITS);
    }
}

/* A sink that fails: the error comes back from collect, later batches are
 * dropped with it, and every slab is still handed back. */
static int fail_write(struct iocs_sink *s, const struct iocs_sink_batch *b)
{
    struct memsink *m = (struct memsink *)s;

    if (b->seq == 3)
        return -EPIPE;
    assert_int_equal(mem_write(s, b), 0);
    assert_int_equal(m->seq, b->seq);
    return 0;
}

static void test_workers_sink_error(void **state)
{
    static const struct iocs_sink_ops ops = {
        .name = "failing",
        .write = fail_write,
        .flush = mem_flush,
        .acked = mem_acked,
        .close = mem_close,
    };
    struct fix *f = *state;
    struct iocs_workers_opts o = {.threads = 2,
                                  .max_jobs = 6,
                                  .max_units = 1,
                                  .max_line = 4096,
                                  .format = IOCS_FORMAT_JSON};
    static struct iocs_slab slabs[6];
    struct memsink m = {.base = {.ops = &ops}};
    struct iocs_workers *w;
    size_t collected = 0;
    int rc;

    assert_int_equal(iocs_workers_new(&w, f->db, &o), 0);
    for (size_t j = 0; j < 6; j++) {
        struct iocs_work_unit v = {
            .u = {.offset = f->unit_off[j],
                  .ptr = (const unsigned char *)f->text + f->unit_off[j],
                  .len = f->unit_len[j],
                  .starts_line = true,
                  .ends_line = true,
                  .first = j == 0},
            .path = "test.log",
            .line0 = j * LINES_PER_UNIT + 1,
            .nl = LINES_PER_UNIT};

        assert_int_equal(iocs_workers_submit(w, &slabs[j], &v, 1), 0);
    }
    for (size_t j = 0; j < 6; j++) {
        struct iocs_slab *s = NULL;

        rc = iocs_workers_collect(w, &m.base, &s);
        assert_ptr_equal(s, &slabs[collected++]);
        assert_int_equal(rc, j < 2 ? 1 : -EPIPE);
    }
    assert_int_equal(m.seq, 2);
    iocs_workers_free(w);
    free(m.data);
}

/* ---- line numbers against one thread ---- */

#define SEQ_SOURCES 48
#define SEQ_JOBS_MAX 2048
#define SEQ_UNITS_MAX 8192
#define SEQ_TEXT_MAX (1u << 20)

/* One job of the sequence: units[u0 .. u0 + n) of seq.units, or (n == 0)
 * the whole-file job of source `file`. */
struct seqjob {
    size_t u0;
    unsigned n;
    uint32_t file;
    bool pack; /* units that are whole small files */
};

/* Sources, their units cut as the framer cuts them (a slab of `slab`
 * bytes), and the jobs they go in, in submission order. */
struct seq {
    struct iocs_source src[SEQ_SOURCES];
    char paths[SEQ_SOURCES][32];
    unsigned char *text; /* every plain source's bytes, back to back */
    unsigned char *gz[SEQ_SOURCES]; /* a whole-file source's gzip bytes */
    size_t gz_len[SEQ_SOURCES];
    struct iocs_work_unit units[SEQ_UNITS_MAX];
    size_t nunits;
    struct seqjob jobs[SEQ_JOBS_MAX];
    size_t njobs;
};

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Lines of a source: short ones, a third with a hit; now and then a line
 * longer than any slab with hits along it; maybe no final newline. */
static size_t gen_text(uint64_t *r, unsigned char *p, size_t cap, bool unterm)
{
    size_t len = 0, nlines = rnd(r) % 60;

    for (size_t l = 0; l < nlines; l++) {
        if (rnd(r) % 16 == 0) {
            size_t want = 1500 + rnd(r) % 3000, start = len;

            while (len - start < want && len + 64 < cap) {
                if (rnd(r) % 8 == 0)
                    len += (size_t)snprintf((char *)p + len, cap - len,
                                            " 192.81.209.168 ");
                else
                    p[len++] = (unsigned char)('a' + rnd(r) % 26);
            }
        } else {
            len += (size_t)snprintf((char *)p + len, cap - len, "l%zu %s", l,
                                    rnd(r) % 3 ? "quiet" : "192.81.209.168 x");
        }
        assert_true(len + 64 < cap);
        p[len++] = '\n';
    }
    if (unterm && len > 0)
        len--; /* the last line has no newline */
    return len;
}

/* Cut p[0..len) of source k as the framer cuts slabs of `slab` bytes:
 * after the last newline of each slab, or, inside a line longer than it,
 * into pieces that end no line, the next starting `overlap` bytes back. */
static void cut_units(struct seq *q, uint32_t k, const unsigned char *p,
                      size_t len, uint64_t offset, size_t slab, size_t overlap,
                      bool packed)
{
    size_t pos = 0, rescan = 0;

    do {
        struct iocs_work_unit *v = &q->units[q->nunits++];
        size_t end = pos + slab < len ? pos + slab : len;
        bool ends = true;

        assert_true(q->nunits <= SEQ_UNITS_MAX);
        if (packed) {
            end = len; /* a pack's part: the whole small file */
        } else if (end < len) {
            const unsigned char *nl =
                memrchr(p + pos + rescan, '\n', end - pos - rescan);

            if (nl) {
                end = (size_t)(nl - p) + 1;
            } else {
                ends = false;
            }
        }
        *v = (struct iocs_work_unit){
            .u = {.source = k,
                  .offset = offset + pos,
                  .ptr = p + pos,
                  .len = end - pos,
                  .rescan = rescan,
                  .starts_line = rescan == 0,
                  .ends_line = ends,
                  .first = pos == 0,
                  .last = end == len,
                  .source_id = 1000 + k},
            .path = q->paths[k],
            /* Only a first unit's line0 counts: the rest must not. */
            .line0 = pos == 0 ? q->src[k].start_line : 777777,
            .nl = 999999};
        rescan = ends ? 0 : overlap;
        pos = ends ? end : end - overlap;
    } while (pos < len || (pos == len && rescan));
}

/* gzip p[0..len) into a malloc'd buffer. */
static unsigned char *gzip_bytes(const unsigned char *p, size_t len,
                                 size_t *out_len)
{
    z_stream z = {0};
    size_t cap = compressBound((uLong)len) + 64;
    unsigned char *out = malloc(cap);

    assert_non_null(out);
    assert_int_equal(
        deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* A random sequence: plain sources (some resumed at a line other than 1,
 * some small ones packed several to a job), gzip sources as whole-file
 * jobs between them. */
static void gen_seq(struct seq *q, uint64_t seed, size_t overlap)
{
    uint64_t r = seed | 1;
    size_t tlen = 0;

    memset(q, 0, sizeof(*q));
    q->text = malloc(SEQ_TEXT_MAX);
    assert_non_null(q->text);
    for (uint32_t k = 0; k < SEQ_SOURCES; k++) {
        /* 0: whole-file, 1: resumed, 2-3: packed, else framed; every
         * tenth source resumed, and every tenth whole-file, at least. */
        unsigned kind = k % 10 == 3   ? 1
                        : k % 10 == 7 ? 0
                                      : (unsigned)(rnd(&r) % 8);
        unsigned char *p = q->text + tlen;
        size_t len = gen_text(&r, p, SEQ_TEXT_MAX - tlen, rnd(&r) % 3 == 0);

        snprintf(q->paths[k], sizeof(q->paths[k]), "src%u.log", k);
        q->src[k] = iocs_source_of(q->paths[k]);
        if (kind == 0) {
            /* Whole-file: its own lines, from 1; the chain passes it. */
            q->gz[k] = gzip_bytes(p, len, &q->gz_len[k]);
            q->jobs[q->njobs++] = (struct seqjob){.file = k};
            continue;
        }
        tlen += len;
        if (kind == 1) {
            /* Resumed from a checkpoint: line 5000 at byte 123456. */
            q->src[k].start_line = 5000 + rnd(&r) % 100;
            q->src[k].start_offset = 123456;
        }
        if (kind == 2 || kind == 3) {
            /* A small file: packed beside the ones before it, as many as
             * a job takes (reader.h, "Small files"). */
            struct seqjob *last = q->njobs ? &q->jobs[q->njobs - 1] : NULL;

            if (last && last->pack && last->n < MAX_UNITS)
                last->n++;
            else
                q->jobs[q->njobs++] =
                    (struct seqjob){.u0 = q->nunits, .n = 1, .pack = true};
            cut_units(q, k, p, len, 0, 0, overlap, true);
            continue;
        }
        size_t u0 = q->nunits;

        cut_units(q, k, p, len, q->src[k].start_offset,
                  overlap + 40 + rnd(&r) % 1200, overlap, false);
        for (size_t u = u0; u < q->nunits; u++)
            q->jobs[q->njobs++] = (struct seqjob){.u0 = u, .n = 1};
        assert_true(q->njobs <= SEQ_JOBS_MAX);
    }
}

/* The sequence holds every case this test is about. */
static void check_seq_cases(const struct seq *q)
{
    size_t files = 0, packs = 0, pieces = 0, resumed = 0, unterm = 0;

    for (size_t j = 0; j < q->njobs; j++) {
        files += q->jobs[j].n == 0;
        packs += q->jobs[j].n > 1;
    }
    for (size_t u = 0; u < q->nunits; u++) {
        const struct iocs_unit *x = &q->units[u].u;

        pieces += x->rescan > 0;
        resumed += x->first && q->src[x->source].start_line != 1;
        unterm += x->last && x->len > 0 && x->ptr[x->len - 1] != '\n';
    }
    assert_true(files >= 2);
    assert_true(packs >= 1);
    assert_true(pieces >= 10);
    assert_true(resumed >= 2);
    assert_true(unterm >= 5);
}

static void free_seq(struct seq *q)
{
    for (uint32_t k = 0; k < SEQ_SOURCES; k++)
        free(q->gz[k]);
    free(q->text);
}

static struct iocs_wholefile_job seq_file_job(const struct seq *q, uint32_t k)
{
    return (struct iocs_wholefile_job){.src = &q->src[k],
                                       .source = k,
                                       .codec = IOCS_CODEC_GZIP,
                                       .mem = q->gz[k],
                                       .mem_len = q->gz_len[k],
                                       .source_id = 1000 + k};
}

/* What one run gives: the events with their scan times cut out, each
 * job's (last) batch position, and the totals. */
struct outcome {
    struct memsink m;
    struct iocs_sink_pos pos[SEQ_JOBS_MAX];
    struct iocs_scan_stats st;
};

/* Drop `"key":"...",` (scan times: @timestamp of lines with none of their
 * own, event.created) from JSON text in place. */
static void cut_key(char *s, const char *key)
{
    size_t klen = strlen(key);

    for (char *p = s; (p = strstr(p, key));) {
        char *e = strchr(p + klen, '"');

        assert_non_null(e);
        e += (e[1] == ',') ? 2 : 1;
        memmove(p, e, strlen(e) + 1);
    }
}

static void cut_times(struct outcome *o)
{
    if (!o->m.data)
        return;
    cut_key(o->m.data, "\"@timestamp\":\"");
    cut_key(o->m.data, "\"created\":\"");
}

static int ref_event(void *ctx, const struct iocs_event *ev)
{
    return iocs_encoder_event(ctx, ev);
}

/* The reference: one thread, as the -j 0 loop numbers lines. */
static void run_reference(struct fix *f, const struct seq *q, struct outcome *o)
{
    struct iocs_scanner_opts so = {.max_line = 4096};
    struct iocs_wholefile_opts fo = {
        .buf_size = 4096, .overlap = iocs_db_overlap(f->db), .max_line = 4096};
    struct iocs_encoder_opts eo = {.format = IOCS_FORMAT_JSON,
                                   .db_id = iocs_db_id(f->db)};
    struct iocs_scanner *sc;
    struct iocs_linestate *ls;
    struct iocs_wholefile *wf;
    struct iocs_encoder *enc;
    struct iocs_sink_pos pos = {0};
    uint64_t line0 = 1;

    memset(o, 0, sizeof(*o));
    o->m.base.ops = &mem_ops;
    assert_int_equal(iocs_scanner_new(&sc, f->db, &so), 0);
    assert_int_equal(iocs_linestate_new(&ls, 4096), 0);
    assert_int_equal(iocs_wholefile_new(&wf, &fo), 0);
    assert_int_equal(iocs_encoder_new(&enc, &eo), 0);
    for (size_t j = 0; j < q->njobs; j++) {
        const struct seqjob *sj = &q->jobs[j];
        struct iocs_sink_batch b;

        if (sj->n == 0) {
            struct iocs_wholefile_job fj = seq_file_job(q, sj->file);
            struct iocs_wholefile_res res;
            char why[256];

            assert_int_equal(iocs_wholefile_scan(wf, sc, &fj, ref_event, enc,
                                                 NULL, NULL, &res, why,
                                                 sizeof(why)),
                             0);
            assert_int_equal(res.err, 0);
            pos = (struct iocs_sink_pos){
                .source = sj->file, .offset = res.end, .line = 1 + res.lines};
        }
        for (unsigned i = 0; i < sj->n; i++) {
            const struct iocs_work_unit *v = &q->units[sj->u0 + i];
            uint64_t nl;

            if (v->u.first)
                line0 = q->src[v->u.source].start_line;
            assert_int_equal(iocs_scanner_unit(sc, &v->u, v->path, line0, ls,
                                               ref_event, enc, &nl),
                             0);
            line0 += nl;
            if (v->u.ends_line)
                pos = (struct iocs_sink_pos){.source = v->u.source,
                                             .offset = v->u.offset + v->u.len,
                                             .line = line0};
        }
        iocs_encoder_batch(enc, &b);
        b.seq = j + 1;
        b.pos = pos;
        assert_int_equal(mem_write(&o->m.base, &b), 0);
        iocs_encoder_clear(enc);
        o->pos[j] = pos;
    }
    iocs_scanner_stats(sc, &o->st);
    iocs_encoder_free(enc);
    iocs_wholefile_free(wf);
    iocs_linestate_free(ls);
    iocs_scanner_free(sc);
    cut_times(o);
}

/* Up to 200 us before a job, from a per-run salt: the workers count
 * (and scan) in an order that differs from run to run. */
static void seq_delay(void *ctx, uint64_t seq)
{
    uint64_t h = (seq + 1 + *(const uint64_t *)ctx) * 0x9e3779b97f4a7c15ull;
    struct timespec ts = {0, (long)((h >> 33) % 200) * 1000};

    if ((h >> 20) % 3)
        nanosleep(&ts, NULL);
}

/* The same sequence through the pool. */
static void run_seq_pool(struct fix *f, const struct seq *q, unsigned threads,
                         unsigned max_jobs, bool submit_counts, uint64_t salt,
                         struct outcome *o)
{
    struct iocs_workers_opts wo = {.threads = threads,
                                   .submit_counts = submit_counts,
                                   .max_jobs = max_jobs,
                                   .max_units = MAX_UNITS,
                                   .max_line = 4096,
                                   .format = IOCS_FORMAT_JSON,
                                   .buf_size = 4096,
                                   .overlap = iocs_db_overlap(f->db),
                                   .before_job = seq_delay,
                                   .before_job_ctx = &salt};
    static struct iocs_slab slabs[SEQ_JOBS_MAX];
    struct iocs_workers *w;
    size_t collected = 0;

    memset(o, 0, sizeof(*o));
    o->m.base.ops = &mem_ops;
    assert_int_equal(iocs_workers_new(&w, f->db, &wo), 0);
    for (size_t j = 0; j <= q->njobs; j++) {
        while (iocs_workers_full(w) ||
               (j == q->njobs && iocs_workers_busy(w))) {
            assert_int_equal(collect(w, &o->m, slabs, &collected), 1);
            o->pos[collected - 1] = o->m.pos;
        }
        if (j == q->njobs)
            break;
        if (q->jobs[j].n == 0) {
            struct iocs_wholefile_job fj = seq_file_job(q, q->jobs[j].file);

            assert_int_equal(iocs_workers_submit_file(w, &slabs[j], &fj), 0);
        } else {
            assert_int_equal(iocs_workers_submit(w, &slabs[j],
                                                 &q->units[q->jobs[j].u0],
                                                 q->jobs[j].n),
                             0);
        }
    }
    assert_int_equal(collected, q->njobs);
    iocs_workers_stats(w, &o->st);
    iocs_workers_free(w);
    cut_times(o);
}

/* Events (line numbers included), every job's batch position and the
 * totals are the reference's, from 1 to 8 threads under random delays,
 * newlines counted by the workers or at submit. */
static void test_workers_line_numbers_match_one_thread(void **state)
{
    struct fix *f = *state;
    struct seq *q = malloc(sizeof(*q));
    struct outcome *ref = malloc(sizeof(*ref)), *got = malloc(sizeof(*got));

    assert_non_null(q);
    assert_non_null(ref);
    assert_non_null(got);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        gen_seq(q, seed * 0x5851f42d4c957f2dull, iocs_db_overlap(f->db));
        check_seq_cases(q);
        run_reference(f, q, ref);
        assert_true(ref->m.events > 100);
        for (unsigned t = 1; t <= 16; t++) {
            unsigned max_jobs = seed == 2 ? (t + 1) / 2 : t + 2;
            bool submit_counts = t % 2 == 0;

            /* odd t: the workers count; even t: submit does */
            run_seq_pool(f, q, (t + 1) / 2, max_jobs, submit_counts,
                         seed * 100 + t, got);
            assert_int_equal(got->m.seq, q->njobs);
            for (size_t j = 0; j < q->njobs; j++) {
                assert_int_equal(got->pos[j].source, ref->pos[j].source);
                assert_int_equal(got->pos[j].offset, ref->pos[j].offset);
                assert_int_equal(got->pos[j].line, ref->pos[j].line);
            }
            assert_int_equal(got->st.lines, ref->st.lines);
            assert_int_equal(got->st.bytes, ref->st.bytes);
            assert_int_equal(got->st.events, ref->st.events);
            assert_int_equal(got->m.events, ref->m.events);
            assert_int_equal(got->m.len, ref->m.len);
            assert_string_equal(got->m.data, ref->m.data);
            free(got->m.data);
        }
        free(ref->m.data);
        free_seq(q);
    }
    free(got);
    free(ref);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers_order_under_delays),
        cmocka_unit_test(test_workers_sink_error),
        cmocka_unit_test(test_workers_line_numbers_match_one_thread),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
