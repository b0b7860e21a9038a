/*
 * test_sink_forward.c - the Forward sink end to end through the sink.h
 * API against tests/forward_receiver.py (run with /usr/bin/python3, which
 * has python3-msgpack): every event arrives, over TCP, gzip, a Unix
 * socket and TLS (a throwaway CA made with the openssl CLI); a receiver
 * killed and restarted mid-stream, or one that drops the connection
 * without acking, loses nothing and its copies carry the same id; shared
 * key right and wrong; a certificate that does not verify.
 *
 * Skips (77) without /usr/bin/python3 + msgpack or the openssl CLI.
 *
 *   test_sink_forward --bench N   time N events of ~1 KB through the sink
 *                                 and through a file, and print the rates.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>

#include "pipeline/forward.h"
#include "pipeline/sink_forward.h"
#include "tests/helpers.h"
#include "tests/sinkcheck.h"

static char receiver_py[PATH_MAX];

struct rx {
    pid_t pid;
    int port;
    char out[PATH_MAX];
};

/* Start the receiver with extra arguments (NULL-terminated) and wait
 * (bounded) until it listens. port 0: any free port. */
static void rx_start(struct rx *r, int port, const char *unix_path,
                     const char *const *extra)
{
    char ready[PATH_MAX], portstr[16], buf[16];
    const char *argv[32];
    int i, n = 0;

    t_path(ready, sizeof(ready), "ready");
    unlink(ready);
    snprintf(portstr, sizeof(portstr), "%d", port);
    argv[n++] = "/usr/bin/python3";
    argv[n++] = receiver_py;
    argv[n++] = "--out";
    argv[n++] = r->out;
    argv[n++] = "--ready";
    argv[n++] = ready;
    if (unix_path) {
        argv[n++] = "--unix";
        argv[n++] = unix_path;
    } else {
        argv[n++] = "--port";
        argv[n++] = portstr;
    }
    for (i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    r->pid = fork();
    assert_true(r->pid >= 0);
    if (r->pid == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (i = 0; i < 200; i++) { /* 10 s */
        FILE *f = fopen(ready, "r");

        if (f) {
            if (fgets(buf, sizeof(buf), f))
                r->port = atoi(buf);
            fclose(f);
            return;
        }
        usleep(50000);
    }
    fail_msg("receiver did not start");
}

static void rx_kill(struct rx *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

/* Read the receiver's file into seen; returns how many lines. */
static size_t rx_read(const struct rx *r, struct sc_seen *seen)
{
    FILE *f = fopen(r->out, "r");
    char *line = NULL;
    size_t cap = 0, lines = 0;

    assert_non_null(f);
    while (getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e), *rec, *t;
        uint64_t k;

        assert_non_null(j);
        lines++;
        rec = json_object_get(j, "record");
        k = (uint64_t)json_integer_value(json_object_get(rec, "k"));
        t = json_object_get(j, "time");
        /* EventTime as the sink wrote it: [seconds, nanoseconds]. */
        if (json_integer_value(json_array_get(t, 0)) !=
                (json_int_t)(1733368455 + k) ||
            json_integer_value(json_array_get(t, 1)) != (json_int_t)k ||
            strcmp(json_string_value(json_object_get(j, "tag")),
                   "iocstream.hit") != 0)
            seen->bad++;
        sc_seen_add(seen, k,
                    json_string_value(
                        json_object_get(json_object_get(rec, "event"), "id")));
        json_decref(j);
    }
    free(line);
    fclose(f);
    return lines;
}

struct ctx {
    struct rx rx;
    struct sc_batch b;
    char dest[PATH_MAX + 16];
    char err[512];
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    if (!c)
        return -1;
    t_path(c->rx.out, sizeof(c->rx.out), "received.jsonl");
    unlink(c->rx.out);
    sc_init(&c->b, 1000);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    rx_kill(&c->rx);
    sc_fini(&c->b);
    free(c);
    return 0;
}

/* Write batches 1..nb of per events each, calling between(i) after
 * batch i when set; flush and check the acks. */
static void send_all(struct ctx *c, struct iocs_sink *s, uint64_t nb,
                     size_t per, void (*between)(struct ctx *, uint64_t))
{
    struct iocs_sink_pos pos;
    uint64_t i;
    int err;

    for (i = 1; i <= nb; i++) {
        sc_make(&c->b, i, (i - 1) * per, per, 300, false);
        err = iocs_sink_write(s, &c->b.b);
        if (err)
            fail_msg("write %llu: %s: %s", (unsigned long long)i,
                     strerror(-err), iocs__sink_forward_error(s));
        if (between)
            between(c, i);
    }
    err = iocs_sink_flush(s, 30000);
    if (err)
        fail_msg("flush: %s: %s", strerror(-err), iocs__sink_forward_error(s));
    assert_int_equal(iocs_sink_acked(s, &pos), nb);
    assert_int_equal(pos.offset, nb * per);
    assert_int_equal(s->stats.events_sent, nb * per);
    assert_int_equal(s->stats.events_acked, nb * per);
}

/* Every event arrived; exactly once unless dups_ok. */
static void check_arrived(struct ctx *c, size_t n, bool dups_ok)
{
    struct sc_seen seen;
    size_t missing, dups;

    sc_seen_init(&seen, n);
    rx_read(&c->rx, &seen);
    sc_seen_sum(&seen, &missing, &dups);
    assert_int_equal(seen.bad, 0);
    assert_int_equal(missing, 0);
    if (!dups_ok)
        assert_int_equal(dups, 0);
    sc_seen_fini(&seen);
}

static struct iocs_sink *open_ok(struct ctx *c, const struct iocs_sink_opts *o)
{
    struct iocs_sink *s = NULL;
    int err = iocs__sink_forward_open(&s, c->dest, o, c->err, sizeof(c->err));

    if (err)
        fail_msg("open %s: %s: %s", c->dest, strerror(-err), c->err);
    assert_int_equal(s->format, IOCS_FORMAT_MSGPACK);
    assert_true(s->str_times);
    return s;
}

static void test_sink_forward_all_arrive(void **state)
{
    struct ctx *c = *state;
    struct iocs_sink_opts o = {0};
    struct iocs_sink *s;

    rx_start(&c->rx, 0, NULL, NULL);
    snprintf(c->dest, sizeof(c->dest), "forward://127.0.0.1:%d", c->rx.port);
    s = open_ok(c, &o);
    /* A batch that only moves the position is acked with its neighbours. */
    send_all(c, s, 40, 100, NULL);
    check_arrived(c, 4000, false);
    assert_int_equal(s->stats.events_resent, 0);
    iocs_sink_close(s);
}

static void test_sink_forward_gzip(void **state)
{
    struct ctx *c = *state;
    struct iocs_sink_opts o = {.compress = true};
    struct iocs_sink *s;

    rx_start(&c->rx, 0, NULL, NULL);
    snprintf(c->dest, sizeof(c->dest), "forward://127.0.0.1:%d", c->rx.port);
    s = open_ok(c, &o);
    send_all(c, s, 10, 200, NULL);
    check_arrived(c, 2000, false);
    /* Padding compresses: far fewer bytes than the events. */
    assert_true(s->stats.bytes_sent < 2000 * 300 / 4);
    iocs_sink_close(s);
}

static void test_sink_forward_unix(void **state)
{
    struct ctx *c = *state;
    struct iocs_sink_opts o = {0};
    struct iocs_sink *s;
    char path[PATH_MAX];

    t_path(path, sizeof(path), "fwd.sock");
    rx_start(&c->rx, 0, path, NULL);
    snprintf(c->dest, sizeof(c->dest), "unix://%s", path);
    s = open_ok(c, &o);
    send_all(c, s, 10, 100, NULL);
    check_arrived(c, 1000, false);
    iocs_sink_close(s);
}

/* Kill -9 after batch 10, restart after batch 20. */
static void kill_and_restart(struct ctx *c, uint64_t i)
{
    if (i == 10) {
        rx_kill(&c->rx);
    } else if (i == 20) {
        usleep(300000); /* a few failed reconnects first */
        rx_start(&c->rx, c->rx.port, NULL, NULL);
    }
}

static void test_sink_forward_receiver_restart(void **state)
{
    struct ctx *c = *state;
    struct iocs_sink_opts o = {.ack_timeout_ms = 2000};
    struct iocs_sink *s;

    rx_start(&c->rx, 0, NULL, NULL);
    snprintf(c->dest, sizeof(c->dest), "forward://127.0.0.1:%d", c->rx.port);
    s = open_ok(c, &o);
    send_all(c, s, 30, 100, kill_and_restart);
    print_message("sent %llu, resent %llu, waited %.2f s\n",
                  (unsigned long long)s->stats.events_sent,
                  (unsigned long long)s->stats.events_resent,
                  s->stats.wait_seconds);
    /* At least once: all there, copies allowed, each with its own id
     * (check_arrived() counts a copy under another id as bad). */
    check_arrived(c, 3000, true);
    iocs_sink_close(s);
}

/* The receiver writes message 6 but closes without acking it. */
static void test_sink_forward_resend_unacked(void **state)
{
    static const char *const drop[] = {"--drop-after", "5", NULL};
    struct ctx *c = *state;
    struct iocs_sink_opts o = {0};
    struct iocs_sink *s;
    struct sc_seen seen;
    size_t missing, dups;

    rx_start(&c->rx, 0, NULL, drop);
    snprintf(c->dest, sizeof(c->dest), "forward://127.0.0.1:%d", c->rx.port);
    s = open_ok(c, &o);
    send_all(c, s, 12, 50, NULL);
    assert_true(s->stats.events_resent >= 50);
    sc_seen_init(&seen, 600);
    rx_read(&c->rx, &seen);
    sc_seen_sum(&seen, &missing, &dups);
    assert_int_equal(seen.bad, 0);
    assert_int_equal(missing, 0);
    assert_true(dups >= 50); /* batch 6 twice, same ids */
    sc_seen_fini(&seen);
    iocs_sink_close(s);
}

static void test_sink_forward_shared_key(void **state)
{
    static const char *const key[] = {"--shared-key", "s3cret", NULL};
    struct ctx *c = *state;
    struct iocs_sink_opts o = {.shared_key = "s3cret"};
    struct iocs_sink *s = NULL;
    struct sc_batch one;
    int err;

    rx_start(&c->rx, 0, NULL, key);
    snprintf(c->dest, sizeof(c->dest), "forward://127.0.0.1:%d", c->rx.port);
    s = open_ok(c, &o);
    send_all(c, s, 5, 100, NULL);
    check_arrived(c, 500, false);
    iocs_sink_close(s);

    /* Wrong key: refused at open, and said so. */
    o.shared_key = "wrong";
    s = NULL;
    err = iocs__sink_forward_open(&s, c->dest, &o, c->err, sizeof(c->err));
    assert_int_equal(err, -EACCES);
    assert_null(s);
    assert_non_null(strstr(c->err, "shared key"));

    /* No key for a receiver that wants one: write or flush says so. */
    o.shared_key = NULL;
    s = open_ok(c, &o);
    sc_init(&one, 1);
    sc_make(&one, 1, 0, 1, 300, false);
    err = iocs_sink_write(s, &one.b);
    if (!err)
        err = iocs_sink_flush(s, 5000);
    assert_int_equal(err, -EACCES);
    assert_non_null(strstr(iocs__sink_forward_error(s), "shared key"));
    sc_fini(&one);
    iocs_sink_close(s);
}

/* A throwaway CA and a server certificate for DNS:localhost only. */
static int make_certs(void)
{
    char cmd[4 * PATH_MAX];

    snprintf(cmd, sizeof(cmd),
             "(cd '%s' && printf 'subjectAltName=DNS:localhost\\n' > ext && "
             "openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem "
             "-days 1 -subj /CN=iocs-test-ca && "
             "openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes -keyout other.key -out "
             "other.pem -days 1 -subj /CN=other-ca && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -keyout srv.key -out srv.csr -subj /CN=localhost && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
             "-CAcreateserial -out srv.pem -days 1 -extfile ext) 2>/dev/null",
             t_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_sink_forward_tls(void **state)
{
    struct ctx *c = *state;
    char ca[PATH_MAX], other[PATH_MAX], crt[PATH_MAX], key[PATH_MAX];
    const char *args[5];
    struct iocs_sink_opts o = {0};
    struct iocs_sink *s = NULL;
    int err;

    if (make_certs() < 0)
        skip();
    t_path(ca, sizeof(ca), "ca.pem");
    t_path(other, sizeof(other), "other.pem");
    t_path(crt, sizeof(crt), "srv.pem");
    t_path(key, sizeof(key), "srv.key");
    args[0] = "--tls-cert";
    args[1] = crt;
    args[2] = "--tls-key";
    args[3] = key;
    args[4] = NULL;
    rx_start(&c->rx, 0, NULL, args);

    snprintf(c->dest, sizeof(c->dest), "forward+tls://localhost:%d",
             c->rx.port);
    o.tls_ca = ca;
    s = open_ok(c, &o);
    send_all(c, s, 10, 100, NULL);
    check_arrived(c, 1000, false);
    iocs_sink_close(s);

    /* Another CA: the certificate does not verify. */
    o.tls_ca = other;
    s = NULL;
    err = iocs__sink_forward_open(&s, c->dest, &o, c->err, sizeof(c->err));
    assert_int_equal(err, -EPROTO);
    assert_non_null(strstr(c->err, "does not verify"));

    /* The right CA but a name the certificate does not carry. */
    o.tls_ca = ca;
    snprintf(c->dest, sizeof(c->dest), "forward+tls://127.0.0.1:%d",
             c->rx.port);
    err = iocs__sink_forward_open(&s, c->dest, &o, c->err, sizeof(c->err));
    assert_int_equal(err, -EPROTO);
    assert_null(s);
}

static void test_sink_forward_bad_dest(void **state)
{
    static const char *const bad[] = {
        "forward://",          "forward://host:0", "forward://host:99999",
        "forward://[::1",      "unix://relative",  "forward+tcp://h:1",
        "forward://host:12ab",
    };
    struct ctx *c = *state;
    struct iocs_sink_opts o = {0};
    struct iocs_sink *s = NULL;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            iocs__sink_forward_open(&s, bad[i], &o, c->err, sizeof(c->err)),
            -EINVAL);
    /* Nobody listening: connect(2)'s error as it is. */
    assert_int_equal(iocs__sink_forward_open(&s, "forward://127.0.0.1:1", &o,
                                             c->err, sizeof(c->err)),
                     -ECONNREFUSED);
    assert_null(s);
}

/* --bench N: N events of ~1 KB through Forward on loopback and a file. */
static int bench(uint64_t n, bool gzip)
{
    static const char *const discard[] = {"--discard", NULL};
    struct ctx c = {0};
    struct iocs_sink_opts o = {.compress = gzip};
    struct iocs_sink *s = NULL;
    const size_t per = 1000;
    uint64_t i, nb = (n + per - 1) / per, bytes = 0;
    char path[PATH_MAX];
    double t0, tf, tw;
    int err, fd;

    t_path(c.rx.out, sizeof(c.rx.out), "received.jsonl");
    sc_init(&c.b, per);
    /* A file first: the same batches, written. */
    t_path(path, sizeof(path), "bench.out");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    t0 = sc_now();
    for (i = 1; i <= nb; i++) {
        sc_make(&c.b, i, (i - 1) * per, per, 1000, false);
        if (write(fd, c.b.b.data, c.b.b.len) != (ssize_t)c.b.b.len)
            return 1;
        bytes += c.b.b.len;
    }
    close(fd);
    tf = sc_now() - t0;

    /* The receiver acks without decoding: Python would be the limit. */
    rx_start(&c.rx, 0, NULL, discard);
    snprintf(c.dest, sizeof(c.dest), "forward://127.0.0.1:%d", c.rx.port);
    err = iocs__sink_forward_open(&s, c.dest, &o, c.err, sizeof(c.err));
    if (err) {
        fprintf(stderr, "open: %s\n", c.err);
        return 1;
    }
    t0 = sc_now();
    for (i = 1; i <= nb && !err; i++) {
        sc_make(&c.b, i, (i - 1) * per, per, 1000, false);
        err = iocs_sink_write(s, &c.b.b);
    }
    if (!err)
        err = iocs_sink_flush(s, 600000);
    tw = sc_now() - t0;
    printf("events %llu, %.1f MB of events\n"
           "file:    %.0f events/s, %.1f MB/s (incl. making the batches)\n"
           "forward%s: %.0f events/s, %.1f MB/s, %.1f MB on the wire, "
           "%s\n",
           (unsigned long long)(nb * per), (double)bytes / 1e6,
           (double)(nb * per) / tf, (double)bytes / 1e6 / tf,
           gzip ? "+gzip" : "", (double)(nb * per) / tw,
           (double)bytes / 1e6 / tw, (double)s->stats.bytes_sent / 1e6,
           err ? strerror(-err) : "all acked");
    iocs_sink_close(s);
    rx_kill(&c.rx);
    sc_fini(&c.b);
    return err ? 1 : 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sink_forward_all_arrive, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_forward_gzip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_forward_unix, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_forward_receiver_restart,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_forward_resend_unacked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_forward_shared_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_forward_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_forward_bad_dest, setup,
                                        teardown),
    };
    const char *src = getenv("IOCS_SOURCE_DIR");
    int rc;

    signal(SIGPIPE, SIG_IGN); /* sink_forward.h: TLS writes use write(2) */
    snprintf(receiver_py, sizeof(receiver_py), "%s/tests/forward_receiver.py",
             src ? src : ".");
    if (access(receiver_py, R_OK) != 0 ||
        system("/usr/bin/python3 -c 'import msgpack' 2>/dev/null") != 0)
        return T_SKIP;
    if (t_tmpdir_init() < 0)
        return 1;
    if (argc == 3 && strcmp(argv[1], "--bench") == 0)
        rc = bench(strtoull(argv[2], NULL, 10), false);
    else if (argc == 3 && strcmp(argv[1], "--bench-gzip") == 0)
        rc = bench(strtoull(argv[2], NULL, 10), true);
    else
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_tmpdir_fini();
    return rc;
}
