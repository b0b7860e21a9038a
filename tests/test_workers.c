/*
 * test_workers.c - the scanning pool (pipeline/workers.h): events leave in
 * input order, and every job becomes one batch with the next seq and a
 * position that only moves forward, whatever order the workers finish in.
 * Delays are injected before each job (opts.before_job) across thread
 * counts and job sizes; scripts/test.sh runs this under TSan too.
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

#include "helpers.h"
#include "matchers/db.h"
#include "matchers/ioc.h"
#include "pipeline/sink.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers_order_under_delays),
        cmocka_unit_test(test_workers_sink_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
