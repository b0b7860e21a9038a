/*
 * test_sink.c - sinks (pipeline/sink.h): which sink a destination opens,
 * and the file sink: batches written whole and in seq order, acked seq and
 * pos advancing (after flush's fsync when durable), a reader that went
 * away (EPIPE), and a write cut short (a full non-blocking pipe) that a
 * retry of the same batch finishes without writing a byte twice.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "pipeline/sink.h"

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* as main() does: EPIPE, not a signal */
    return t_tmpdir_init();
}

static int group_teardown(void **state)
{
    (void)state;
    t_tmpdir_fini();
    return 0;
}

/* A batch of n one-byte-per-event records over text. */
static struct iocs_sink_batch batch(uint64_t seq, const char *text,
                                    struct iocs_sink_rec *rec, size_t n,
                                    uint64_t off)
{
    size_t len = strlen(text);

    for (size_t i = 0; i < n; i++)
        rec[i] = (struct iocs_sink_rec){.end = len * (i + 1) / n};
    return (struct iocs_sink_batch){
        .seq = seq,
        .data = (const unsigned char *)text,
        .len = len,
        .rec = rec,
        .n = n,
        .pos = {.source = 0, .offset = off, .line = off + 1}};
}

static struct iocs_sink *open_ok(const char *dest, bool durable)
{
    struct iocs_sink_opts o = {.format = IOCS_FORMAT_JSON, .durable = durable};
    struct iocs_sink *s = NULL;
    char errbuf[256];

    assert_int_equal(iocs_sink_open(&s, dest, &o, errbuf, sizeof(errbuf)), 0);
    assert_non_null(s);
    assert_string_equal(s->ops->name, "file");
    assert_int_equal(s->format, IOCS_FORMAT_JSON);
    assert_false(s->str_times);
    return s;
}

/* Network schemes reach their sinks (nothing listens on port 1 of the
 * loopback, and a URL without its subject is malformed); a path that
 * cannot be created says which and why. */
static void test_sink_open_dispatch(void **state)
{
    static const struct {
        const char *dest;
        int err;
    } cases[] = {
        {"forward://127.0.0.1:1", -ECONNREFUSED},
        {"unix:///nonexistent-dir/fluent.sock", -ENOENT},
        {"nats://127.0.0.1:1/iocs.events", -ECONNREFUSED},
        {"nats://127.0.0.1:4222", -EINVAL},
        {"forward://127.0.0.1:99999", -EINVAL},
    };
    struct iocs_sink_opts o = {.format = IOCS_FORMAT_MSGPACK};
    struct iocs_sink *s = NULL;
    char errbuf[256], p[PATH_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int err = iocs_sink_open(&s, cases[i].dest, &o, errbuf, sizeof(errbuf));

        if (err != cases[i].err)
            fail_msg("%s: %d (%s), want %d", cases[i].dest, err, errbuf,
                     cases[i].err);
        assert_null(s);
        assert_true(errbuf[0] != '\0');
    }
    t_path(p, sizeof(p), "no/such/dir/out.msgpack");
    assert_int_equal(iocs_sink_open(&s, p, &o, errbuf, sizeof(errbuf)),
                     -ENOENT);
    assert_non_null(strstr(errbuf, p));
    iocs_sink_close(open_ok(NULL, false)); /* stdout, not closed */
    iocs_sink_close(open_ok("-", false));
    assert_true(fcntl(STDOUT_FILENO, F_GETFD) >= 0);
    iocs_sink_close(NULL);
}

/* Batches land whole and in order; each is acknowledged once written; a
 * batch out of seq order is refused and changes nothing. */
static void test_sink_file_batches_and_acks(void **state)
{
    struct iocs_sink_rec rec[4];
    struct iocs_sink_batch b;
    struct iocs_sink_pos pos;
    struct iocs_sink *s;
    char p[PATH_MAX], *got;
    size_t n;

    (void)state;
    t_path(p, sizeof(p), "out.jsonl");
    s = open_ok(p, false);
    assert_int_equal(iocs_sink_acked(s, &pos), 0);
    b = batch(1, "{\"a\":1}\n{\"a\":2}\n", rec, 2, 100);
    assert_int_equal(iocs_sink_write(s, &b), 0);
    assert_int_equal(iocs_sink_acked(s, &pos), 1);
    assert_int_equal(pos.offset, 100);
    b = batch(3, "{\"skipped\":1}\n", rec, 1, 150);
    assert_int_equal(iocs_sink_write(s, &b), -EINVAL);
    b = batch(2, "", rec, 0, 200); /* only moves the position */
    assert_int_equal(iocs_sink_write(s, &b), 0);
    b = batch(3, "{\"a\":3}\n", rec, 1, 300);
    assert_int_equal(iocs_sink_write(s, &b), 0);
    assert_int_equal(iocs_sink_flush(s, 0), 0);
    assert_int_equal(iocs_sink_acked(s, &pos), 3);
    assert_int_equal(pos.offset, 300);
    assert_int_equal(pos.line, 301);
    assert_int_equal(s->stats.events_sent, 3);
    assert_int_equal(s->stats.events_acked, 3);
    assert_int_equal(s->stats.bytes_sent, 24);
    iocs_sink_close(s);
    got = t_read_file(p, &n);
    assert_non_null(got);
    assert_int_equal(n, 24);
    assert_memory_equal(got, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", 24);
    free(got);
}

/* Durable: written is not acknowledged until flush() has synced it. */
static void test_sink_file_durable_acks_after_flush(void **state)
{
    struct iocs_sink_rec rec[1];
    struct iocs_sink_batch b;
    struct iocs_sink_pos pos;
    struct iocs_sink *s;
    char p[PATH_MAX];

    (void)state;
    t_path(p, sizeof(p), "durable.jsonl");
    s = open_ok(p, true);
    b = batch(1, "{}\n", rec, 1, 10);
    assert_int_equal(iocs_sink_write(s, &b), 0);
    assert_int_equal(iocs_sink_acked(s, &pos), 0);
    assert_int_equal(s->stats.events_sent, 1);
    assert_int_equal(s->stats.events_acked, 0);
    assert_int_equal(iocs_sink_flush(s, -1), 0);
    assert_int_equal(iocs_sink_acked(s, &pos), 1);
    assert_int_equal(pos.offset, 10);
    iocs_sink_close(s);
}

/* stdout replaced by fd for the length of a test. */
static int swap_stdout(int fd)
{
    int saved = dup(STDOUT_FILENO);

    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    return saved;
}

static void restore_stdout(int saved)
{
    assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
}

/* A reader that went away is -EPIPE, passed through; nothing is acked. */
static void test_sink_file_epipe(void **state)
{
    struct iocs_sink_rec rec[1];
    struct iocs_sink_batch b = batch(1, "{}\n", rec, 1, 3);
    struct iocs_sink *s;
    int fds[2], saved;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    saved = swap_stdout(fds[1]);
    s = open_ok(NULL, false);
    assert_int_equal(iocs_sink_write(s, &b), -EPIPE);
    assert_int_equal(iocs_sink_acked(s, NULL), 0);
    iocs_sink_close(s);
    restore_stdout(saved);
    close(fds[1]);
}

/* Drains a pipe after a while, as a slow reader of stdout would. */
struct drain {
    int fd;
    char *got;
    size_t cap, n;
};

static void *drain_later(void *arg)
{
    struct drain *d = arg;
    struct pollfd p = {.fd = d->fd, .events = POLLIN};

    usleep(200 * 1000); /* the writer meets a full pipe meanwhile */
    while (d->n < d->cap && poll(&p, 1, 5000) > 0) {
        ssize_t k = read(d->fd, d->got + d->n, d->cap - d->n);

        if (k <= 0)
            break;
        d->n += (size_t)k;
    }
    return NULL;
}

/* A full non-blocking stdout pipe (shared with a non-blocking parent) is
 * waited for, as a blocking one: the write succeeds, every byte once. */
static void test_sink_file_nonblocking_pipe_waits(void **state)
{
    enum { N = 256 << 10 };
    char *text = malloc(N + 1), *got = malloc(N);
    struct iocs_sink_rec rec[1];
    struct iocs_sink_batch b;
    struct iocs_sink *s;
    struct drain d;
    pthread_t t;
    int fds[2], saved;

    (void)state;
    assert_non_null(text);
    assert_non_null(got);
    for (size_t i = 0; i < N; i++)
        text[i] = (char)('a' + i % 26);
    text[N - 1] = '\n';
    text[N] = '\0';
    b = batch(1, text, rec, 1, N);
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
    d = (struct drain){.fd = fds[0], .got = got, .cap = N};
    assert_int_equal(pthread_create(&t, NULL, drain_later, &d), 0);
    saved = swap_stdout(fds[1]);
    s = open_ok(NULL, false);
    assert_int_equal(iocs_sink_write(s, &b), 0);
    assert_int_equal(iocs_sink_acked(s, NULL), 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(d.n, N);
    assert_memory_equal(got, text, N);
    assert_int_equal(s->stats.bytes_sent, N);
    iocs_sink_close(s);
    restore_stdout(saved);
    close(fds[0]);
    close(fds[1]);
    free(text);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_open_dispatch),
        cmocka_unit_test(test_sink_file_batches_and_acks),
        cmocka_unit_test(test_sink_file_durable_acks_after_flush),
        cmocka_unit_test(test_sink_file_epipe),
        cmocka_unit_test(test_sink_file_nonblocking_pipe_waits),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
