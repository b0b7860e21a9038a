/*
 * test_sink_nats.c - the JetStream sink end to end through the sink.h API
 * against Debian's nats-server (started here on a free loopback port with
 * its own store directory; every wait bounded): every event lands in the
 * stream byte for byte with Nats-Msg-Id = event.id; a server killed with
 * SIGKILL mid-stream and restarted on the same port and store still ends
 * with every event exactly once (publish acks awaited, timed-out publishes
 * resent, the stream's duplicate window drops the copies); JSON events;
 * no stream for the subject and refused credentials are clear errors.
 *
 * Skips (77) without nats-server.
 *
 *   test_sink_nats --bench N   time N events of ~1 KB through the sink
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "pipeline/sink_nats.h"
#include "tests/helpers.h"
#include "tests/sinkcheck.h"

static const char *server_bin;

struct srv {
    pid_t pid;
    int port;
    char store[PATH_MAX];
};

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Start nats-server (extra args NULL-terminated) and wait until it takes
 * connections (bounded). */
static void srv_start(struct srv *s, const char *const *extra)
{
    char port[16], url[64];
    const char *argv[24];
    int n = 0, i;

    snprintf(port, sizeof(port), "%d", s->port);
    argv[n++] = server_bin;
    argv[n++] = "-js";
    argv[n++] = "-a";
    argv[n++] = "127.0.0.1";
    argv[n++] = "-p";
    argv[n++] = port;
    argv[n++] = "-sd";
    argv[n++] = s->store;
    for (i = 0; extra && extra[i] && n < 22; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 1);
        dup2(null, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    snprintf(url, sizeof(url), "127.0.0.1:%d", s->port);
    for (i = 0; i < 100; i++) { /* 10 s */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)s->port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

        close(fd);
        if (ok)
            return;
        usleep(100000);
    }
    fail_msg("nats-server did not start on %s", url);
}

static void srv_kill(struct srv *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

struct ctx {
    struct srv srv;
    natsConnection *nc;
    jsCtx *js;
    struct sc_batch b;
    char dest[256];
    char err[512];
};

/* A client of our own, to make streams and read them back. */
static void client(struct ctx *c, const char *user)
{
    char url[128];
    natsStatus st = NATS_NO_SERVER;
    int i;

    snprintf(url, sizeof(url), "nats://%s127.0.0.1:%d", user ? user : "",
             c->srv.port);
    for (i = 0; i < 50 && st != NATS_OK; i++) {
        st = natsConnection_ConnectTo(&c->nc, url);
        if (st != NATS_OK)
            usleep(100000);
    }
    assert_int_equal(st, NATS_OK);
    assert_int_equal(natsConnection_JetStream(&c->js, c->nc, NULL), NATS_OK);
}

static void add_stream(struct ctx *c, const char *name, const char *subject)
{
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    const char *subjects[] = {subject};

    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Duplicates = (int64_t)600 * 1000000000; /* 10 min, in ns */
    assert_int_equal(js_AddStream(&si, c->js, &cfg, NULL, &jerr), NATS_OK);
    jsStreamInfo_Destroy(si);
}

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    char cmd[PATH_MAX + 32];

    if (!c)
        return -1;
    t_path(c->srv.store, sizeof(c->srv.store), "js");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->srv.store);
    if (system(cmd) != 0)
        return -1;
    c->srv.port = free_port();
    sc_init(&c->b, 1000);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
    srv_kill(&c->srv);
    sc_fini(&c->b);
    free(c);
    return 0;
}

static struct iocs_sink *open_ok(struct ctx *c, const struct iocs_sink_opts *o)
{
    struct iocs_sink *s = NULL;
    int err = iocs__sink_nats_open(&s, c->dest, o, c->err, sizeof(c->err));

    if (err)
        fail_msg("open %s: %s: %s", c->dest, strerror(-err), c->err);
    return s;
}

/* Write batches 1..nb of per events, between(i) after batch i; flush. */
static void send_all(struct ctx *c, struct iocs_sink *s, uint64_t nb,
                     size_t per, bool json,
                     void (*between)(struct ctx *, uint64_t))
{
    struct iocs_sink_pos pos;
    uint64_t i;
    int err;

    for (i = 1; i <= nb; i++) {
        sc_make(&c->b, i, (i - 1) * per, per, 300, json);
        err = iocs_sink_write(s, &c->b.b);
        if (err)
            fail_msg("write %llu: %s: %s", (unsigned long long)i,
                     strerror(-err), iocs__sink_nats_error(s));
        if (between)
            between(c, i);
    }
    err = iocs_sink_flush(s, 60000);
    if (err)
        fail_msg("flush: %s: %s", strerror(-err), iocs__sink_nats_error(s));
    assert_int_equal(iocs_sink_acked(s, &pos), nb);
    assert_int_equal(pos.offset, nb * per);
    assert_int_equal(s->stats.events_sent, nb * per);
    assert_true(s->stats.events_acked >= nb * per);
}

/* The stream holds events 0..n-1 exactly once, byte for byte. */
static void check_stream(struct ctx *c, const char *stream, size_t n, bool json)
{
    struct sc_batch one;
    struct sc_seen seen;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    size_t missing, dups;
    uint64_t seq;

    assert_int_equal(js_GetStreamInfo(&si, c->js, stream, NULL, &jerr),
                     NATS_OK);
    assert_int_equal(si->State.Msgs, n);
    jsStreamInfo_Destroy(si);
    sc_init(&one, 1);
    sc_seen_init(&seen, n);
    for (seq = 1; seq <= n; seq++) {
        natsMsg *m = NULL;
        const char *id = NULL;
        unsigned long long k;
        size_t len;

        assert_int_equal(js_GetMsg(&m, c->js, stream, seq, NULL, &jerr),
                         NATS_OK);
        assert_int_equal(natsMsgHeader_Get(m, "Nats-Msg-Id", &id), NATS_OK);
        assert_int_equal(sscanf(id, "ev-%llu", &k), 1);
        sc_seen_add(&seen, k, id);
        sc_make(&one, 1, k, 1, 300, json);
        len = one.b.len - (json ? 1 : 0); /* without its newline */
        assert_int_equal(natsMsg_GetDataLength(m), len);
        assert_memory_equal(natsMsg_GetData(m), one.b.data, len);
        natsMsg_Destroy(m);
    }
    sc_seen_sum(&seen, &missing, &dups);
    assert_int_equal(seen.bad, 0);
    assert_int_equal(missing, 0);
    assert_int_equal(dups, 0);
    sc_seen_fini(&seen);
    sc_fini(&one);
}

static void test_sink_nats_all_arrive(void **state)
{
    struct ctx *c = *state;
    struct iocs_sink_opts o = {.format = IOCS_FORMAT_MSGPACK};
    struct iocs_sink *s;

    srv_start(&c->srv, NULL);
    client(c, NULL);
    add_stream(c, "IOCS", "iocs.hits");
    snprintf(c->dest, sizeof(c->dest), "nats://127.0.0.1:%d/iocs.hits",
             c->srv.port);
    s = open_ok(c, &o);
    assert_int_equal(s->format, IOCS_FORMAT_MSGPACK);
    send_all(c, s, 30, 100, false, NULL);
    assert_int_equal(s->stats.events_resent, 0);
    iocs_sink_close(s);
    check_stream(c, "IOCS", 3000, false);
}

static void test_sink_nats_json(void **state)
{
    struct ctx *c = *state;
    struct iocs_sink_opts o = {.format = IOCS_FORMAT_JSON};
    struct iocs_sink *s;

    srv_start(&c->srv, NULL);
    client(c, NULL);
    add_stream(c, "IOCSJ", "iocs.json");
    snprintf(c->dest, sizeof(c->dest), "nats://127.0.0.1:%d/iocs.json",
             c->srv.port);
    s = open_ok(c, &o);
    assert_int_equal(s->format, IOCS_FORMAT_JSON);
    send_all(c, s, 5, 100, true, NULL);
    iocs_sink_close(s);
    check_stream(c, "IOCSJ", 500, true);
}

/* SIGKILL the server after batch 10, restart it after batch 20. */
static void kill_and_restart(struct ctx *c, uint64_t i)
{
    if (i == 10) {
        srv_kill(&c->srv);
    } else if (i == 20) {
        usleep(500000);
        srv_start(&c->srv, NULL);
    }
}

static void test_sink_nats_server_restart(void **state)
{
    struct ctx *c = *state;
    struct iocs_sink_opts o = {.format = IOCS_FORMAT_MSGPACK,
                               .ack_timeout_ms = 2000};
    struct iocs_sink *s;

    srv_start(&c->srv, NULL);
    client(c, NULL);
    add_stream(c, "IOCS", "iocs.hits");
    /* Our client must not hold on to the dead server. */
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
    c->js = NULL;
    c->nc = NULL;
    snprintf(c->dest, sizeof(c->dest), "nats://127.0.0.1:%d/iocs.hits",
             c->srv.port);
    s = open_ok(c, &o);
    send_all(c, s, 30, 100, false, kill_and_restart);
    print_message("sent %llu, resent %llu, acked %llu, waited %.2f s\n",
                  (unsigned long long)s->stats.events_sent,
                  (unsigned long long)s->stats.events_resent,
                  (unsigned long long)s->stats.events_acked,
                  s->stats.wait_seconds);
    iocs_sink_close(s);
    client(c, NULL);
    check_stream(c, "IOCS", 3000, false);
}

static void test_sink_nats_no_stream(void **state)
{
    struct ctx *c = *state;
    struct iocs_sink_opts o = {0};
    struct iocs_sink *s = NULL;

    srv_start(&c->srv, NULL);
    snprintf(c->dest, sizeof(c->dest), "nats://127.0.0.1:%d/nostream.here",
             c->srv.port);
    assert_int_equal(
        iocs__sink_nats_open(&s, c->dest, &o, c->err, sizeof(c->err)), -ENOENT);
    assert_null(s);
    assert_string_equal(c->err,
                        "no JetStream stream captures subject nostream.here");
}

static void test_sink_nats_bad_credentials(void **state)
{
    static const char *const auth[] = {"--user", "iocs", "--pass", "right",
                                       NULL};
    struct ctx *c = *state;
    struct iocs_sink_opts o = {0};
    struct iocs_sink *s = NULL;

    srv_start(&c->srv, auth);
    snprintf(c->dest, sizeof(c->dest),
             "nats://iocs:wrong@127.0.0.1:%d/iocs.hits", c->srv.port);
    assert_int_equal(
        iocs__sink_nats_open(&s, c->dest, &o, c->err, sizeof(c->err)), -EACCES);
    assert_null(s);
    assert_null(strstr(c->err, "wrong")); /* the password is not shown */
    /* The right ones get as far as the missing stream. */
    snprintf(c->dest, sizeof(c->dest),
             "nats://iocs:right@127.0.0.1:%d/iocs.hits", c->srv.port);
    assert_int_equal(
        iocs__sink_nats_open(&s, c->dest, &o, c->err, sizeof(c->err)), -ENOENT);
}

static void test_sink_nats_bad_dest(void **state)
{
    static const char *const bad[] = {
        "nats://127.0.0.1:4222",
        "nats://127.0.0.1:4222/",
        "nats://127.0.0.1:4222/a.*",
        "nats://127.0.0.1:4222/a..b",
        "nats:/x/y",
        "nats:///subject",
    };
    struct ctx *c = *state;
    struct iocs_sink_opts o = {0};
    struct iocs_sink *s = NULL;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (iocs__sink_nats_open(&s, bad[i], &o, c->err, sizeof(c->err)) !=
            -EINVAL)
            fail_msg("%s accepted", bad[i]);
    snprintf(c->dest, sizeof(c->dest), "nats://127.0.0.1:%d/iocs.hits",
             c->srv.port); /* nobody there */
    assert_int_equal(
        iocs__sink_nats_open(&s, c->dest, &o, c->err, sizeof(c->err)),
        -ECONNREFUSED);
}

static int bench(uint64_t n)
{
    struct ctx *c;
    struct iocs_sink_opts o = {.format = IOCS_FORMAT_MSGPACK};
    struct iocs_sink *s;
    const size_t per = 1000;
    uint64_t i, nb = (n + per - 1) / per;
    double t0, t;
    int err = 0;
    void *state;

    if (setup(&state))
        return 1;
    c = state;
    srv_start(&c->srv, NULL);
    client(c, NULL);
    add_stream(c, "IOCS", "iocs.hits");
    snprintf(c->dest, sizeof(c->dest), "nats://127.0.0.1:%d/iocs.hits",
             c->srv.port);
    s = open_ok(c, &o);
    t0 = sc_now();
    for (i = 1; i <= nb && !err; i++) {
        sc_make(&c->b, i, (i - 1) * per, per, 1000, false);
        err = iocs_sink_write(s, &c->b.b);
    }
    if (!err)
        err = iocs_sink_flush(s, 600000);
    t = sc_now() - t0;
    printf("nats: %llu events, %.0f events/s, %.1f MB/s, %s\n",
           (unsigned long long)(nb * per), (double)(nb * per) / t,
           (double)s->stats.bytes_sent / 1e6 / t,
           err ? strerror(-err) : "all publish-acked");
    iocs_sink_close(s);
    teardown(&state);
    return err ? 1 : 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sink_nats_all_arrive, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_nats_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_nats_server_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_nats_no_stream, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_nats_bad_credentials, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_nats_bad_dest, setup,
                                        teardown),
    };
    int rc;

    if (access("/usr/sbin/nats-server", X_OK) == 0)
        server_bin = "/usr/sbin/nats-server";
    else if (access("/usr/bin/nats-server", X_OK) == 0)
        server_bin = "/usr/bin/nats-server";
    else
        return T_SKIP;
    if (t_tmpdir_init() < 0)
        return 1;
    if (argc == 3 && strcmp(argv[1], "--bench") == 0)
        rc = bench(strtoull(argv[2], NULL, 10));
    else
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_tmpdir_fini();
    return rc;
}
