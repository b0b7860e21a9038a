/*
 * test_encode.c - events -> msgpack / JSON lines (pipeline/encode.h): the
 * ECS map key for key for every IOC type, timestamp forms (and RFC 3339
 * text for sinks that want it), optional keys, the JSON mode against the
 * decoder byte for byte, many events across the flush threshold, the
 * buffer cap, the per-event records a batch carries, and strings as valid
 * UTF-8 (U+FFFD for ill-formed parts; --raw's bin).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <msgpack.h>

#include "pipeline/decode.h"
#include "pipeline/encode.h"
#include "pipeline/eventid.h"

/* U+FFFD, which stands for each ill-formed part of a string. */
#define FFFD "\xef\xbf\xbd"

/* Per test: a memfd the encoded events are written to. */
static int setup(void **state)
{
    int *fd = malloc(sizeof(*fd));

    if (!fd)
        return -1;
    *fd = memfd_create("test_encode", 0);
    if (*fd < 0) {
        free(fd);
        return -1;
    }
    *state = fd;
    return 0;
}

static int teardown(void **state)
{
    int *fd = *state;

    close(*fd);
    free(fd);
    return 0;
}

/* Everything written to fd so far, NUL-terminated; *n its length. */
static char *slurp(int fd, size_t *n)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char *p;

    assert_true(end >= 0);
    p = malloc((size_t)end + 1);
    assert_non_null(p);
    assert_int_equal(pread(fd, p, (size_t)end, 0), end);
    p[end] = '\0';
    *n = (size_t)end;
    return p;
}

/* An encoder and the fd its events go to, as the inline path writes them
 * (pipeline.c): encode, hand the buffer out past IOCS_ENCODE_FLUSH_AT, and
 * retry an event too big for what is buffered once the buffer is out. */
struct tenc {
    struct iocs_encoder *e;
    int fd;
};

static int tenc_flush(struct tenc *t)
{
    struct iocs_sink_batch b;

    iocs_encoder_batch(t->e, &b);
    if (b.len && write(t->fd, b.data, b.len) != (ssize_t)b.len)
        return -EIO;
    iocs_encoder_clear(t->e);
    return 0;
}

static int tenc_new(struct tenc **out, int fd, enum iocs_format fmt,
                    const char *db)
{
    struct iocs_encoder_opts o = {.format = fmt, .db_id = db};
    struct tenc *t = calloc(1, sizeof(*t));
    int err;

    if (!t)
        return -ENOMEM;
    err = iocs_encoder_new(&t->e, &o);
    if (err) {
        free(t);
        return err;
    }
    t->fd = fd;
    *out = t;
    return 0;
}

static int tenc_event(struct tenc *t, const struct iocs_event *ev)
{
    int err = iocs_encoder_event(t->e, ev);

    if (err == -ENOMEM && iocs_encoder_events(t->e) > 0) {
        err = tenc_flush(t);
        if (!err)
            err = iocs_encoder_event(t->e, ev);
    }
    if (!err && iocs_encoder_len(t->e) >= IOCS_ENCODE_FLUSH_AT)
        err = tenc_flush(t);
    return err;
}

static uint64_t tenc_count(const struct tenc *t)
{
    return iocs_encoder_count(t->e);
}

static void tenc_free(struct tenc *t)
{
    if (!t)
        return;
    (void)tenc_flush(t);
    iocs_encoder_free(t->e);
    free(t);
}

static const unsigned char line[] = "Nov 22 03:56:57 vpn sshd[1]: from "
                                    "192.81.209.168 port 22";

static struct iocs_ioc make_ioc(enum iocs_type t, const char *value)
{
    return (struct iocs_ioc){
        .type = t,
        .severity = 73,
        .value = value,
        .len = strlen(value),
        .feed = "beyondtrust.csv",
    };
}

static struct iocs_event make_event(const struct iocs_ioc *ioc)
{
    return (struct iocs_event){
        .ioc = ioc,
        .ioc_id = 4242,
        .path = "/var/log/auth.log",
        .offset = 123456789012ull,
        .line = 77,
        .original = line,
        .original_len = sizeof(line) - 1,
        .line_len = sizeof(line) - 1,
        .atomic = line + 34,
        .atomic_len = 14,
        .start = 34,
        .end = 48,
        .count = 2,
        .timestamp = {.tv_sec = 1795000000, .tv_nsec = 123456789},
        .created = {.tv_sec = 1795000001, .tv_nsec = 0},
    };
}

/* The value of key number i of map m, asserting the key's name. */
static const msgpack_object *at(const msgpack_object *m, uint32_t i,
                                const char *key)
{
    const msgpack_object_kv *kv;

    assert_int_equal(m->type, MSGPACK_OBJECT_MAP);
    assert_true(i < m->via.map.size);
    kv = &m->via.map.ptr[i];
    assert_int_equal(kv->key.type, MSGPACK_OBJECT_STR);
    if (kv->key.via.str.size != strlen(key) ||
        memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) != 0)
        fail_msg("key %u: want %s, got %.*s", i, key, (int)kv->key.via.str.size,
                 kv->key.via.str.ptr);
    return &kv->val;
}

static void assert_str(const msgpack_object *o, const void *s, size_t n)
{
    assert_int_equal(o->type, MSGPACK_OBJECT_STR);
    assert_int_equal(o->via.str.size, n);
    assert_memory_equal(o->via.str.ptr, s, n);
}

static void assert_cstr(const msgpack_object *o, const char *s)
{
    assert_str(o, s, strlen(s));
}

static void assert_uint(const msgpack_object *o, uint64_t v)
{
    assert_int_equal(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_int_equal(o->via.u64, v);
}

static void assert_ts(const msgpack_object *o, int64_t sec, uint32_t nsec)
{
    msgpack_timestamp ts;

    assert_int_equal(o->type, MSGPACK_OBJECT_EXT);
    assert_int_equal(o->via.ext.type, -1);
    assert_true(msgpack_object_to_timestamp(o, &ts));
    assert_int_equal(ts.tv_sec, sec);
    assert_int_equal(ts.tv_nsec, nsec);
}

/* Unpack the one object at buf[0..n) into u (the caller destroys it). */
static void unpack_one(msgpack_unpacked *u, const char *buf, size_t n)
{
    size_t off = 0;

    msgpack_unpacked_init(u);
    assert_int_equal(msgpack_unpack_next(u, buf, n, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, n);
}

/* Assert the whole event map of ev, key for key, in encode.h's order, up to
 * the indicator (returned for the caller's per-type checks). */
static const msgpack_object *assert_event(const msgpack_object *m,
                                          const struct iocs_event *ev,
                                          bool truncated)
{
    const msgpack_object *o, *e, *enr, *ind, *mt;
    uint32_t k = ev->host ? 1 : 0; /* host.name: a map only when named */

    assert_int_equal(m->via.map.size, 5 + k);
    assert_ts(at(m, 0, "@timestamp"), ev->timestamp.tv_sec,
              (uint32_t)ev->timestamp.tv_nsec);

    e = at(m, 1, "event");
    assert_int_equal(e->via.map.size, 7);
    assert_cstr(at(e, 0, "kind"), "alert");
    o = at(e, 1, "category");
    assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(o->via.array.size, 1);
    assert_cstr(&o->via.array.ptr[0], "threat");
    o = at(e, 2, "type");
    assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(o->via.array.size, 1);
    assert_cstr(&o->via.array.ptr[0], "indicator");
    o = at(e, 3, "id");
    assert_int_equal(o->type, MSGPACK_OBJECT_STR);
    assert_int_equal(o->via.str.size, IOCS_EVENTID_LEN);
    {
        char want[IOCS_EVENTID_LEN + 1];

        iocs_eventid_make(want, ev->source_id, ev->offset, ev->ioc);
        assert_memory_equal(o->via.str.ptr, want, IOCS_EVENTID_LEN);
    }
    assert_ts(at(e, 4, "created"), ev->created.tv_sec,
              (uint32_t)ev->created.tv_nsec);
    o = at(e, 5, "severity");
    assert_int_equal(o->via.i64, ev->ioc->severity);
    assert_str(at(e, 6, "original"), ev->original, ev->original_len);

    if (ev->host) {
        e = at(m, 2, "host");
        assert_int_equal(e->via.map.size, 1);
        assert_str(at(e, 0, "name"), ev->host, ev->host_len);
    }

    e = at(m, 2 + k, "log");
    assert_int_equal(e->via.map.size, 2);
    o = at(e, 0, "file");
    assert_int_equal(o->via.map.size, 1);
    assert_cstr(at(o, 0, "path"), ev->path);
    assert_uint(at(e, 1, "offset"), ev->offset);

    e = at(m, 3 + k, "threat");
    assert_int_equal(e->via.map.size, 2);
    o = at(e, 0, "feed");
    assert_int_equal(o->via.map.size, 1);
    assert_cstr(at(o, 0, "name"), ev->ioc->feed);
    o = at(e, 1, "enrichments");
    assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(o->via.array.size, 1);
    enr = &o->via.array.ptr[0];
    assert_int_equal(enr->via.map.size, 3);
    ind = at(enr, 0, "indicator");
    mt = at(enr, 1, "matched");
    o = at(enr, 2, "feed");
    assert_int_equal(o->via.map.size, 1);
    assert_cstr(at(o, 0, "name"), ev->ioc->feed);
    assert_int_equal(mt->via.map.size, 4);
    assert_str(at(mt, 0, "atomic"), ev->atomic, ev->atomic_len);
    assert_cstr(at(mt, 1, "field"), "event.original");
    assert_cstr(at(mt, 2, "type"), "indicator_match_rule");
    assert_cstr(at(mt, 3, "id"), "4242");

    e = at(m, 4 + k, "iocstream");
    assert_int_equal(e->via.map.size, 7);
    assert_uint(at(e, 0, "line"), ev->line);
    o = at(e, 1, "match");
    assert_int_equal(o->via.map.size, 2);
    assert_uint(at(o, 0, "start"), ev->start);
    assert_uint(at(o, 1, "end"), ev->end);
    assert_uint(at(e, 2, "count"), ev->count);
    assert_cstr(at(e, 3, "db"), "db-hash-1");
    assert_cstr(at(e, 4, "time"), ev->line_time ? "line" : "none");
    o = at(e, 5, "truncated");
    assert_int_equal(o->type, MSGPACK_OBJECT_BOOLEAN);
    assert_int_equal(o->via.boolean, truncated);
    assert_uint(at(e, 6, "line_length"), ev->line_len);
    return ind;
}

/* One row per IOC type: its ECS type and where the typed value goes. */
struct type_case {
    enum iocs_type type;
    const char *value;
    const char *ecs;
    const char *path[3]; /* keys down to the value; path[0] NULL: none */
};

static const struct type_case type_cases[] = {
    {IOCS_IPV4, "192.81.209.168", "ipv4-addr", {"ip"}},
    {IOCS_IPV6, "2604:a880:400:d1::7716:1", "ipv6-addr", {"ip"}},
    {IOCS_CIDR4, "10.0.0.0/8", "ipv4-addr", {"ip"}},
    {IOCS_CIDR6, "2604:a880:400:d1::/64", "ipv6-addr", {"ip"}},
    {IOCS_DOMAIN, "evil.example", "domain-name", {"url", "domain"}},
    {IOCS_URL, "http://evil.example/x.php", "url", {"url", "full"}},
    {IOCS_EMAIL, "a@evil.example", "email-addr", {"email", "address"}},
    {IOCS_MD5,
     "d41d8cd98f00b204e9800998ecf8427e",
     "file",
     {"file", "hash", "md5"}},
    {IOCS_SHA1,
     "da39a3ee5e6b4b0d3255bfef95601890afd80709",
     "file",
     {"file", "hash", "sha1"}},
    {IOCS_SHA256,
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "file",
     {"file", "hash", "sha256"}},
    {IOCS_SHA512,
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c"
     "5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
     "file",
     {"file", "hash", "sha512"}},
    {IOCS_FILENAME, "mimikatz.exe", "file", {"file", "name"}},
    {IOCS_FILENAME, "C:\\Windows\\Temp\\x.dll", "file", {"file", "path"}},
    {IOCS_FILENAME, "/tmp/.x/kworker", "file", {"file", "path"}},
    {IOCS_STRING, "BeyondTrust-RS", "artifact", {NULL}},
    {IOCS_REGEX, "evil[0-9]+", "artifact", {NULL}},
};

/* Every IOC type: the whole map, with the typed field where ECS puts it. */
static void test_encode_every_type(void **state)
{
    int fd = *(int *)*state;
    struct tenc *e = NULL;
    size_t n, ntypes = sizeof(type_cases) / sizeof(type_cases[0]);
    msgpack_unpacker mpac;
    msgpack_unpacked u;
    char *buf;

    assert_int_equal(tenc_new(&e, fd, IOCS_FORMAT_MSGPACK, "db-hash-1"), 0);
    for (size_t i = 0; i < ntypes; i++) {
        struct iocs_ioc ioc = make_ioc(type_cases[i].type, type_cases[i].value);
        struct iocs_event ev = make_event(&ioc);

        assert_int_equal(tenc_event(e, &ev), 0);
    }
    assert_int_equal(tenc_count(e), ntypes);
    assert_int_equal(tenc_flush(e), 0);
    tenc_free(e);

    buf = slurp(fd, &n);
    assert_true(msgpack_unpacker_init(&mpac, 1024));
    assert_true(msgpack_unpacker_reserve_buffer(&mpac, n));
    memcpy(msgpack_unpacker_buffer(&mpac), buf, n);
    msgpack_unpacker_buffer_consumed(&mpac, n);
    msgpack_unpacked_init(&u);
    for (size_t i = 0; i < ntypes; i++) {
        const struct type_case *c = &type_cases[i];
        struct iocs_ioc ioc = make_ioc(c->type, c->value);
        struct iocs_event ev = make_event(&ioc);
        const msgpack_object *ind, *o;
        size_t depth;

        print_message("type case %zu: %s\n", i, c->value);
        assert_int_equal(msgpack_unpacker_next(&mpac, &u),
                         MSGPACK_UNPACK_SUCCESS);
        ind = assert_event(&u.data, &ev, false);
        assert_int_equal(ind->via.map.size, c->path[0] ? 3 : 2);
        assert_cstr(at(ind, 0, "type"), c->ecs);
        assert_cstr(at(ind, 1, "name"), c->value);
        if (!c->path[0])
            continue;
        o = at(ind, 2, c->path[0]);
        for (depth = 1; depth < 3 && c->path[depth]; depth++) {
            assert_int_equal(o->via.map.size, 1);
            o = at(o, 0, c->path[depth]);
        }
        assert_cstr(o, c->value);
    }
    assert_int_equal(msgpack_unpacker_next(&mpac, &u), MSGPACK_UNPACK_CONTINUE);
    msgpack_unpacked_destroy(&u);
    msgpack_unpacker_destroy(&mpac);
    free(buf);
}

/* provider, description and reference appear, in that order, only when
 * set; a cut line is marked truncated with its full length. */
static void test_encode_optional_keys_and_truncated(void **state)
{
    int fd = *(int *)*state;
    struct iocs_ioc ioc = make_ioc(IOCS_DOMAIN, "evil.example");
    struct iocs_event ev = make_event(&ioc);
    const msgpack_object *ind;
    struct tenc *e = NULL;
    msgpack_unpacked u;
    char *buf;
    size_t n;

    ioc.provider = "CISA";
    ioc.description = "BeyondTrust \"RS\" C2\n";
    ioc.reference = "feeds/bt.csv:12";
    ioc.severity = -3;
    ev.line_len = 100000;
    assert_int_equal(tenc_new(&e, fd, IOCS_FORMAT_MSGPACK, "db-hash-1"), 0);
    assert_int_equal(tenc_event(e, &ev), 0);
    tenc_free(e); /* free writes out */

    buf = slurp(fd, &n);
    unpack_one(&u, buf, n);
    ind = assert_event(&u.data, &ev, true);
    assert_int_equal(ind->via.map.size, 6);
    assert_cstr(at(ind, 3, "provider"), "CISA");
    assert_cstr(at(ind, 4, "description"), ioc.description);
    assert_cstr(at(ind, 5, "reference"), "feeds/bt.csv:12");
    assert_int_equal(u.data.via.map.ptr[1].val.via.map.ptr[5].val.type,
                     MSGPACK_OBJECT_NEGATIVE_INTEGER);
    msgpack_unpacked_destroy(&u);
    free(buf);
}

/* host.name is a map only when the line names a host; iocstream.time says
 * whether @timestamp is the line's own; JSON says the same. */
static void test_encode_host_and_line_time(void **state)
{
    int fd = *(int *)*state, jfd = memfd_create("json", 0);
    struct iocs_ioc ioc = make_ioc(IOCS_IPV4, "192.81.209.168");
    struct iocs_event ev[2] = {make_event(&ioc), make_event(&ioc)};
    struct tenc *em = NULL, *ej = NULL;
    msgpack_unpacked u;
    size_t n, jn, off = 0;
    char *buf, *js;

    assert_true(jfd >= 0);
    ev[1].host = (const char *)line + 16; /* "vpn" */
    ev[1].host_len = 3;
    ev[1].line_time = true;
    assert_int_equal(tenc_new(&em, fd, IOCS_FORMAT_MSGPACK, "db-hash-1"), 0);
    assert_int_equal(tenc_new(&ej, jfd, IOCS_FORMAT_JSON, "db-hash-1"), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tenc_event(em, &ev[i]), 0);
        assert_int_equal(tenc_event(ej, &ev[i]), 0);
    }
    tenc_free(em);
    tenc_free(ej);

    buf = slurp(fd, &n);
    msgpack_unpacked_init(&u);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(msgpack_unpack_next(&u, buf, n, &off),
                         MSGPACK_UNPACK_SUCCESS);
        assert_event(&u.data, &ev[i], false);
    }
    assert_int_equal(off, n);
    msgpack_unpacked_destroy(&u);
    free(buf);

    js = slurp(jfd, &jn);
    buf = strchr(js, '\n');
    assert_non_null(buf);
    *buf++ = '\0';
    assert_null(strstr(js, "\"host\""));
    assert_non_null(strstr(js, "\"time\":\"none\""));
    assert_non_null(strstr(buf, "\"original\":\"Nov 22 03:56:57 vpn sshd[1]: "
                                "from 192.81.209.168 port 22\"},"
                                "\"host\":{\"name\":\"vpn\"},\"log\":"));
    assert_non_null(strstr(buf, "\"db\":\"db-hash-1\",\"time\":\"line\","));
    free(js);
    close(jfd);
}

/* Timestamps take the smallest msgpack form that holds them: 32-bit for
 * whole seconds below 2^32, 64-bit with nanoseconds below 2^34 seconds,
 * 96-bit before 1970 or past 2^34; an unnormalised timespec is folded. */
static void test_encode_timestamp_forms(void **state)
{
    static const struct {
        struct timespec in;
        int64_t sec;
        uint32_t nsec;
        uint32_t size;
    } cases[] = {
        {{1795000000, 0}, 1795000000, 0, 4},
        {{4294967295, 0}, 4294967295, 0, 4},
        {{4294967296, 0}, 4294967296, 0, 8},
        {{1795000000, 1}, 1795000000, 1, 8},
        {{17179869183, 999999999}, 17179869183, 999999999, 8},
        {{17179869184, 0}, 17179869184, 0, 12},
        {{-1, 500000000}, -1, 500000000, 12},
        {{10, 2500000000}, 12, 500000000, 8},
        {{10, -1}, 9, 999999999, 8},
    };
    int fd = *(int *)*state;
    struct iocs_ioc ioc = make_ioc(IOCS_IPV4, "192.81.209.168");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct iocs_event ev = make_event(&ioc);
        struct tenc *e = NULL;
        msgpack_unpacked u;
        const msgpack_object *ts;
        char *buf;
        size_t n;

        assert_int_equal(ftruncate(fd, 0), 0);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        ev.timestamp = cases[i].in;
        assert_int_equal(tenc_new(&e, fd, IOCS_FORMAT_MSGPACK, "db-hash-1"), 0);
        assert_int_equal(tenc_event(e, &ev), 0);
        assert_int_equal(tenc_flush(e), 0);
        tenc_free(e);
        buf = slurp(fd, &n);
        unpack_one(&u, buf, n);
        ts = at(&u.data, 0, "@timestamp");
        assert_int_equal(ts->via.ext.size, cases[i].size);
        assert_ts(ts, cases[i].sec, cases[i].nsec);
        msgpack_unpacked_destroy(&u);
        free(buf);
    }
}

/* Decoding the msgpack form gives the JSON form byte for byte, even for a
 * line full of bytes that need escaping. */
static void test_encode_json_matches_decoder(void **state)
{
    static const unsigned char nasty[] = "GET /\"x\"\\y\t\x01\x7f \xff\xc0\xaf "
                                         "\xed\xa0\x80 caf\xc3\xa9 "
                                         "\xf0\x9f\x98\x80 evil.example\r";
    int fd = *(int *)*state, jfd = memfd_create("json", 0);
    struct tenc *em = NULL, *ej = NULL;
    char *mp, *js, *dec = NULL, err[128];
    size_t mn, jn, dn = 0;
    FILE *out;
    long got;

    assert_true(jfd >= 0);
    assert_int_equal(tenc_new(&em, fd, IOCS_FORMAT_MSGPACK, "db\"1"), 0);
    assert_int_equal(tenc_new(&ej, jfd, IOCS_FORMAT_JSON, "db\"1"), 0);
    for (size_t i = 0; i < sizeof(type_cases) / sizeof(type_cases[0]); i++) {
        struct iocs_ioc ioc = make_ioc(type_cases[i].type, type_cases[i].value);
        struct iocs_event ev = make_event(&ioc);

        if (i % 2) {
            ioc.provider = "prov\xff";
            ioc.reference = "https://example.org/r";
            ev.original = nasty;
            ev.original_len = sizeof(nasty) - 1;
            ev.line_len = 1000;
            ev.atomic = nasty + sizeof(nasty) - 14;
            ev.atomic_len = 12;
            ev.timestamp.tv_sec = -86400 * 365;
            ev.timestamp.tv_nsec = 7;
        }
        if (i % 3 == 0)
            ioc.description = "desc\n\"x\"";
        ev.ioc_id = (uint32_t)i * 1000003u;
        assert_int_equal(tenc_event(em, &ev), 0);
        assert_int_equal(tenc_event(ej, &ev), 0);
    }
    tenc_free(em);
    tenc_free(ej);

    mp = slurp(fd, &mn);
    js = slurp(jfd, &jn);
    out = open_memstream(&dec, &dn);
    assert_non_null(out);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    got = iocs_decode_stream(fd, out, err, sizeof(err));
    fclose(out);
    assert_int_equal(got, sizeof(type_cases) / sizeof(type_cases[0]));
    assert_int_equal(dn, jn);
    assert_string_equal(dec, js);
    /* Spot checks of the JSON itself. */
    assert_non_null(strstr(js, "\"@timestamp\":\"2026-11-18T11:06:40."
                               "123456789Z\""));
    assert_non_null(strstr(js, "\"@timestamp\":\"1969-01-01T00:00:00."
                               "000000007Z\""));
    assert_non_null(strstr(js, FFFD FFFD FFFD " " FFFD FFFD FFFD
                                              " caf\xc3\xa9 \xf0\x9f\x98\x80"));
    assert_non_null(strstr(js, "\"truncated\":true"));
    assert_non_null(strstr(js, "\"db\":\"db\\\"1\""));
    free(mp);
    free(js);
    free(dec);
    close(jfd);
}

/* An IOC read from two feeds is one event with one enrichment per record,
 * each with its own provider, confidence keyword, tags and feed; the JSON
 * form still matches the decoder. */
static void test_encode_enrichment_per_record(void **state)
{
    int fd = *(int *)*state, jfd = memfd_create("json", 0);
    struct iocs_ioc other = make_ioc(IOCS_DOMAIN, "evil.example");
    struct iocs_ioc ioc = make_ioc(IOCS_DOMAIN, "evil.example");
    struct iocs_event ev = make_event(&ioc);
    const msgpack_object *enr, *ind, *o;
    struct tenc *em = NULL, *ej = NULL;
    char *mp, *js, *dec = NULL, err[128];
    size_t mn, jn, dn = 0;
    msgpack_unpacked u;
    FILE *out;

    ioc.confidence = 85;
    ioc.tags = "tlp:white,apt29";
    ioc.provider = "ESET";
    other.feed = "volexity.csv";
    other.confidence = 15;
    other.description = "C2";
    ioc.also = &other;
    assert_true(jfd >= 0);
    assert_int_equal(tenc_new(&em, fd, IOCS_FORMAT_MSGPACK, "db"), 0);
    assert_int_equal(tenc_new(&ej, jfd, IOCS_FORMAT_JSON, "db"), 0);
    assert_int_equal(tenc_event(em, &ev), 0);
    assert_int_equal(tenc_event(ej, &ev), 0);
    tenc_free(em);
    tenc_free(ej);

    mp = slurp(fd, &mn);
    unpack_one(&u, mp, mn);
    o = at(at(&u.data, 3, "threat"), 0, "feed");
    assert_cstr(at(o, 0, "name"), "beyondtrust.csv");
    o = at(at(&u.data, 3, "threat"), 1, "enrichments");
    assert_int_equal(o->via.array.size, 2);
    enr = &o->via.array.ptr[0];
    ind = at(enr, 0, "indicator");
    assert_int_equal(ind->via.map.size, 6);
    assert_cstr(at(ind, 3, "provider"), "ESET");
    assert_cstr(at(ind, 4, "confidence"), "High");
    o = at(ind, 5, "tags");
    assert_int_equal(o->via.array.size, 2);
    assert_cstr(&o->via.array.ptr[0], "tlp:white");
    assert_cstr(&o->via.array.ptr[1], "apt29");
    assert_cstr(at(at(enr, 2, "feed"), 0, "name"), "beyondtrust.csv");
    enr = &at(at(&u.data, 3, "threat"), 1, "enrichments")->via.array.ptr[1];
    ind = at(enr, 0, "indicator");
    assert_int_equal(ind->via.map.size, 5);
    assert_cstr(at(ind, 3, "description"), "C2");
    assert_cstr(at(ind, 4, "confidence"), "Low");
    assert_cstr(at(at(enr, 2, "feed"), 0, "name"), "volexity.csv");
    msgpack_unpacked_destroy(&u);

    js = slurp(jfd, &jn);
    out = open_memstream(&dec, &dn);
    assert_non_null(out);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(iocs_decode_stream(fd, out, err, sizeof(err)), 1);
    fclose(out);
    assert_string_equal(dec, js);
    assert_non_null(strstr(js, "\"tags\":[\"tlp:white\",\"apt29\"]"));
    free(mp);
    free(js);
    free(dec);
    close(jfd);
}

/* An "address:port" IOC's port follows the typed field, per record; a
 * rule's own id is matched.id (else the IOC's index). JSON says the same. */
static void test_encode_port_and_rule_id(void **state)
{
    int fd = *(int *)*state, jfd = memfd_create("json", 0);
    struct iocs_ioc other = make_ioc(IOCS_IPV4, "144.34.218.157");
    struct iocs_ioc ioc = make_ioc(IOCS_IPV4, "144.34.218.157");
    struct iocs_ioc rule = make_ioc(IOCS_REGEX, "evil[.]example");
    struct iocs_event ev = make_event(&ioc), rev = make_event(&rule);
    const msgpack_object *enr, *ind;
    struct tenc *em = NULL, *ej = NULL;
    char *mp, *js;
    size_t mn, jn, off;
    msgpack_unpacked u;

    ioc.port = 23333;
    other.port = 443;
    other.feed = "sliver.txt";
    ioc.also = &other;
    rule.rule_id = "bt-get-rdf-version-check";
    assert_true(jfd >= 0);
    assert_int_equal(tenc_new(&em, fd, IOCS_FORMAT_MSGPACK, "db"), 0);
    assert_int_equal(tenc_new(&ej, jfd, IOCS_FORMAT_JSON, "db"), 0);
    assert_int_equal(tenc_event(em, &ev), 0);
    assert_int_equal(tenc_event(em, &rev), 0);
    assert_int_equal(tenc_event(ej, &ev), 0);
    assert_int_equal(tenc_event(ej, &rev), 0);
    tenc_free(em);
    tenc_free(ej);

    mp = slurp(fd, &mn);
    off = 0;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, mp, mn, &off),
                     MSGPACK_UNPACK_SUCCESS);
    enr = &at(at(&u.data, 3, "threat"), 1, "enrichments")->via.array.ptr[0];
    ind = at(enr, 0, "indicator");
    assert_cstr(at(ind, 2, "ip"), "144.34.218.157");
    assert_int_equal(at(ind, 3, "port")->via.u64, 23333);
    assert_cstr(at(at(enr, 1, "matched"), 3, "id"), "4242");
    enr = &at(at(&u.data, 3, "threat"), 1, "enrichments")->via.array.ptr[1];
    assert_int_equal(at(at(enr, 0, "indicator"), 3, "port")->via.u64, 443);
    assert_int_equal(msgpack_unpack_next(&u, mp, mn, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, mn);
    enr = &at(at(&u.data, 3, "threat"), 1, "enrichments")->via.array.ptr[0];
    assert_cstr(at(at(enr, 1, "matched"), 3, "id"), "bt-get-rdf-version-check");
    msgpack_unpacked_destroy(&u);

    js = slurp(jfd, &jn);
    assert_non_null(strstr(js, "\"ip\":\"144.34.218.157\",\"port\":23333}"));
    assert_non_null(strstr(js, "\"port\":443}"));
    assert_non_null(strstr(js, "\"id\":\"bt-get-rdf-version-check\""));
    free(mp);
    free(js);
    close(jfd);
}

/* Many events (several flushes' worth) arrive complete and in order. */
static void test_encode_many_events_in_order(void **state)
{
    enum { N = 50000 };
    int fd = *(int *)*state;
    struct iocs_ioc ioc = make_ioc(IOCS_URL, "http://evil.example/x.php");
    struct tenc *e = NULL;
    msgpack_unpacker mpac;
    msgpack_unpacked u;
    size_t n, seen = 0;
    char *buf;

    assert_int_equal(tenc_new(&e, fd, IOCS_FORMAT_MSGPACK, "db-hash-1"), 0);
    for (uint64_t i = 1; i <= N; i++) {
        struct iocs_event ev = make_event(&ioc);

        ev.line = i;
        assert_int_equal(tenc_event(e, &ev), 0);
    }
    /* Most of it went out before the final flush. */
    assert_true(lseek(fd, 0, SEEK_END) > (off_t)(N * 300));
    assert_int_equal(tenc_count(e), N);
    assert_int_equal(tenc_flush(e), 0);
    tenc_free(e);

    buf = slurp(fd, &n);
    assert_true(msgpack_unpacker_init(&mpac, 1024));
    msgpack_unpacked_init(&u);
    /* Feed the unpacker in odd-sized pieces, as a reader would. */
    for (size_t off = 0; off < n;) {
        size_t k = n - off < 4099 ? n - off : 4099;

        assert_true(msgpack_unpacker_reserve_buffer(&mpac, k));
        memcpy(msgpack_unpacker_buffer(&mpac), buf + off, k);
        msgpack_unpacker_buffer_consumed(&mpac, k);
        off += k;
        while (msgpack_unpacker_next(&mpac, &u) == MSGPACK_UNPACK_SUCCESS) {
            const msgpack_object *is = at(&u.data, 4, "iocstream");

            seen++;
            assert_uint(at(is, 0, "line"), seen);
        }
    }
    assert_int_equal(seen, N);
    msgpack_unpacked_destroy(&u);
    msgpack_unpacker_destroy(&mpac);
    free(buf);
}

/* A path_len given by the caller and one the encoder measures (0) give
 * the same bytes, in both formats. */
static void test_encode_path_len_given_or_measured(void **state)
{
    static const enum iocs_format fmts[] = {IOCS_FORMAT_MSGPACK,
                                            IOCS_FORMAT_JSON};
    struct iocs_ioc ioc = make_ioc(IOCS_IPV4, "192.81.209.168");

    (void)state;
    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
        int fd[2] = {memfd_create("a", 0), memfd_create("b", 0)};
        char *out[2];
        size_t n[2];

        for (int k = 0; k < 2; k++) {
            struct iocs_event ev = make_event(&ioc);
            struct tenc *e = NULL;

            assert_true(fd[k] >= 0);
            ev.path_len = k ? strlen(ev.path) : 0;
            assert_int_equal(tenc_new(&e, fd[k], fmts[f], "db"), 0);
            assert_int_equal(tenc_event(e, &ev), 0);
            assert_int_equal(tenc_flush(e), 0);
            tenc_free(e);
            out[k] = slurp(fd[k], &n[k]);
            close(fd[k]);
        }
        assert_int_equal(n[0], n[1]);
        assert_memory_equal(out[0], out[1], n[0]);
        free(out[0]);
        free(out[1]);
    }
}

/* An event over IOCS_ENCODE_BUF_MAX is -ENOMEM and leaves no trace; events
 * around it are intact. */
static void test_encode_event_over_cap(void **state)
{
    int fd = *(int *)*state;
    struct iocs_ioc ioc = make_ioc(IOCS_IPV4, "192.81.209.168");
    struct iocs_event ev = make_event(&ioc), big = ev;
    unsigned char *huge = malloc(IOCS_ENCODE_BUF_MAX);
    struct tenc *e = NULL;
    msgpack_unpacker mpac;
    msgpack_unpacked u;
    char *buf;
    size_t n;

    assert_non_null(huge);
    memset(huge, 'a', IOCS_ENCODE_BUF_MAX);
    big.original = huge;
    big.original_len = IOCS_ENCODE_BUF_MAX;
    big.line_len = IOCS_ENCODE_BUF_MAX;
    assert_int_equal(tenc_new(&e, fd, IOCS_FORMAT_MSGPACK, "db-hash-1"), 0);
    ev.line = 1;
    assert_int_equal(tenc_event(e, &ev), 0);
    assert_int_equal(tenc_event(e, &big), -ENOMEM);
    /* Big, but under the cap alone: the buffer is written out to fit it. */
    big.original_len = IOCS_ENCODE_BUF_MAX - 4096;
    big.line = 2;
    assert_int_equal(tenc_event(e, &big), 0);
    ev.line = 3;
    assert_int_equal(tenc_event(e, &ev), 0);
    assert_int_equal(tenc_count(e), 3);
    assert_int_equal(tenc_flush(e), 0);
    tenc_free(e);
    free(huge);

    buf = slurp(fd, &n);
    assert_true(msgpack_unpacker_init(&mpac, 1024));
    assert_true(msgpack_unpacker_reserve_buffer(&mpac, n));
    memcpy(msgpack_unpacker_buffer(&mpac), buf, n);
    msgpack_unpacker_buffer_consumed(&mpac, n);
    msgpack_unpacked_init(&u);
    for (uint64_t i = 1; i <= 3; i++) {
        assert_int_equal(msgpack_unpacker_next(&mpac, &u),
                         MSGPACK_UNPACK_SUCCESS);
        assert_uint(at(at(&u.data, 4, "iocstream"), 0, "line"), i);
    }
    assert_int_equal(msgpack_unpacker_next(&mpac, &u), MSGPACK_UNPACK_CONTINUE);
    msgpack_unpacked_destroy(&u);
    msgpack_unpacker_destroy(&mpac);
    free(buf);
}

/* Bad arguments are -EINVAL, not a crash. */
static void test_encode_rejects_bad_arguments(void **state)
{
    int fd = *(int *)*state;
    struct iocs_ioc ioc = make_ioc(IOCS_IPV4, "192.81.209.168");
    struct iocs_event ev = make_event(&ioc);
    struct tenc *e = NULL;

    assert_int_equal(tenc_new(&e, fd, IOCS_FORMAT_JSON, NULL), -EINVAL);
    assert_int_equal(tenc_new(&e, fd, (enum iocs_format)7, "db"), -EINVAL);
    assert_int_equal(tenc_new(&e, fd, IOCS_FORMAT_JSON, "db"), 0);
    ev.path = NULL;
    assert_int_equal(tenc_event(e, &ev), -EINVAL);
    assert_int_equal(tenc_count(e), 0);
    tenc_free(e);
    tenc_free(NULL);
}

/* A worker's job keeps every event of its unit: the buffer grows while an
 * event is being written (a record's room moves it), and every event still
 * decodes whole, in order, in both formats. */
static void test_encode_buffer_grows_mid_event(void **state)
{
    enum { N = 20000 };
    struct iocs_ioc also = make_ioc(IOCS_IPV4, "192.81.209.168");
    struct iocs_ioc ioc = make_ioc(IOCS_IPV4, "192.81.209.168");
    struct iocs_encoder *em = NULL, *ej = NULL;
    struct iocs_encoder_opts om = {.format = IOCS_FORMAT_MSGPACK,
                                   .db_id = "db"},
                             oj = {.format = IOCS_FORMAT_JSON, .db_id = "db"};
    struct iocs_sink_batch bm, bj;
    char *out = NULL, err[256];
    size_t outlen = 0;
    FILE *fp;
    int fd;

    (void)state;
    also.provider = "second record";
    ioc.also = &also; /* two records: room is made twice per event */
    assert_int_equal(iocs_encoder_new(&em, &om), 0);
    assert_int_equal(iocs_encoder_new(&ej, &oj), 0);
    for (uint64_t i = 1; i <= N; i++) {
        struct iocs_event ev = make_event(&ioc);

        ev.line = i;
        assert_int_equal(iocs_encoder_event(em, &ev), 0);
        assert_int_equal(iocs_encoder_event(ej, &ev), 0);
    }
    iocs_encoder_batch(em, &bm);
    iocs_encoder_batch(ej, &bj);
    assert_int_equal(bm.n, N);
    assert_true(bm.len > 4 * IOCS_ENCODE_FLUSH_AT); /* it grew */
    fd = memfd_create("grown", 0);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bm.data, bm.len), (ssize_t)bm.len);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    fp = open_memstream(&out, &outlen);
    assert_non_null(fp);
    assert_int_equal(iocs_decode_stream(fd, fp, err, sizeof(err)), N);
    fclose(fp);
    assert_int_equal(outlen, bj.len);
    assert_memory_equal(out, bj.data, bj.len);
    free(out);
    close(fd);
    iocs_encoder_free(em);
    iocs_encoder_free(ej);
}

/* A batch carries every event buffered, each record ending where its event
 * ends and holding its @timestamp; clear empties the buffer but not the
 * count. */
static void test_encode_batch_records(void **state)
{
    struct iocs_encoder_opts o = {.format = IOCS_FORMAT_JSON, .db_id = "db"};
    struct iocs_ioc ioc = make_ioc(IOCS_IPV4, "192.81.209.168");
    struct iocs_event ev = make_event(&ioc);
    struct iocs_encoder *e = NULL;
    struct iocs_sink_batch b;
    size_t start = 0;

    (void)state;
    assert_int_equal(iocs_encoder_new(&e, &o), 0);
    for (int i = 0; i < 3; i++) {
        ev.timestamp.tv_sec = 1795000000 + i;
        assert_int_equal(iocs_encoder_event(e, &ev), 0);
    }
    iocs_encoder_batch(e, &b);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.len, iocs_encoder_len(e));
    for (size_t i = 0; i < b.n; i++) {
        const char *nl = memchr(b.data + start, '\n', b.len - start);

        assert_non_null(nl);
        assert_int_equal(b.rec[i].end, (size_t)(nl - (const char *)b.data) + 1);
        assert_int_equal(b.rec[i].timestamp.tv_sec, 1795000000 + (long)i);
        /* The id is the one in the event's text. */
        assert_non_null(b.rec[i].id);
        assert_int_equal(strlen(b.rec[i].id), IOCS_EVENTID_LEN);
        assert_non_null(memmem(b.data + start, b.rec[i].end - start,
                               b.rec[i].id, IOCS_EVENTID_LEN));
        start = b.rec[i].end;
    }
    assert_int_equal(start, b.len);
    iocs_encoder_clear(e);
    iocs_encoder_batch(e, &b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.n, 0);
    assert_int_equal(iocs_encoder_count(e), 3);
    iocs_encoder_free(e);
    iocs_encoder_free(NULL);
}

/* With str_times (Fluent Forward), msgpack times are the JSON form's RFC
 * 3339 text, unquoted, and nothing else changes. */
static void test_encode_str_times(void **state)
{
    struct iocs_encoder_opts o = {
        .format = IOCS_FORMAT_MSGPACK, .str_times = true, .db_id = "db"};
    struct iocs_ioc ioc = make_ioc(IOCS_IPV4, "192.81.209.168");
    struct iocs_event ev = make_event(&ioc);
    struct iocs_encoder *e = NULL;
    struct iocs_sink_batch b;
    msgpack_unpacked u;

    (void)state;
    assert_int_equal(iocs_encoder_new(&e, &o), 0);
    assert_int_equal(iocs_encoder_event(e, &ev), 0);
    iocs_encoder_batch(e, &b);
    unpack_one(&u, (const char *)b.data, b.len);
    assert_cstr(at(&u.data, 0, "@timestamp"), "2026-11-18T11:06:40.123456789Z");
    assert_cstr(at(at(&u.data, 1, "event"), 4, "created"),
                "2026-11-18T11:06:41.000000000Z");
    assert_uint(at(at(&u.data, 4, "iocstream"), 0, "line"), 77);
    assert_cstr(at(at(&u.data, 4, "iocstream"), 4, "time"), "none");
    msgpack_unpacked_destroy(&u);
    iocs_encoder_free(e);
}

/* ---- strings are valid UTF-8 ------------------------------------------ */

/* The value at a dotted key path of map m (found by name, so new keys do
 * not move it), or NULL. */
static const msgpack_object *find(const msgpack_object *m, const char *path)
{
    while (m && m->type == MSGPACK_OBJECT_MAP) {
        size_t n = strcspn(path, ".");
        const msgpack_object *next = NULL;

        for (uint32_t i = 0; i < m->via.map.size; i++) {
            const msgpack_object *k = &m->via.map.ptr[i].key;

            if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
                memcmp(k->via.str.ptr, path, n) == 0)
                next = &m->via.map.ptr[i].val;
        }
        if (!path[n])
            return next;
        m = next;
        path += n + 1;
    }
    return NULL;
}

/* ev encoded alone by a new encoder, copied to out (cap bytes); returns
 * its length. */
static size_t encode_one(const struct iocs_event *ev, enum iocs_format fmt,
                         bool raw, char *out, size_t cap)
{
    struct iocs_encoder_opts o = {.format = fmt, .db_id = "db", .raw = raw};
    struct iocs_encoder *e = NULL;
    struct iocs_sink_batch b;
    size_t n;

    assert_int_equal(iocs_encoder_new(&e, &o), 0);
    assert_int_equal(iocs_encoder_event(e, ev), 0);
    iocs_encoder_batch(e, &b);
    assert_true(b.len <= cap);
    memcpy(out, b.data, b.len);
    n = b.len;
    iocs_encoder_free(e);
    return n;
}

/* Bytes in, the UTF-8 a str holds out: one U+FFFD per maximal subpart of
 * an ill-formed sequence (utf8.h, Unicode's "maximal subpart" practice),
 * valid sequences unchanged. */
struct utf8_case {
    const char *name;
    const char *in;
    size_t len;
    const char *want;
    size_t want_len;
};

#define U8(name, in, want)                                                     \
    {                                                                          \
        name, in, sizeof(in) - 1, want, sizeof(want) - 1                       \
    }

static const struct utf8_case utf8_cases[] = {
    U8("ascii", "abc 192.81.209.168", "abc 192.81.209.168"),
    U8("valid_2_3_4_max",
       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"),
    U8("lone_ff", "abc\xff 192.81.209.168", "abc" FFFD " 192.81.209.168"),
    U8("lone_continuation", "a\x80z", "a" FFFD "z"),
    U8("continuations", "\x80\xbf\x80", FFFD FFFD FFFD),
    U8("overlong_2", "\xc0\xaf|\xc1\xbf", FFFD FFFD "|" FFFD FFFD),
    U8("overlong_3", "\xe0\x80\xaf", FFFD FFFD FFFD),
    U8("overlong_4", "\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD),
    U8("surrogate", "\xed\xa0\x80|\xed\xbf\xbf",
       FFFD FFFD FFFD "|" FFFD FFFD FFFD),
    U8("past_10ffff", "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD),
    U8("f5_to_ff", "\xf5\xf8\x88\x80\x80\x80\xfe",
       FFFD FFFD FFFD FFFD FFFD FFFD FFFD),
    U8("cut_2_inside", "\xc3z", FFFD "z"),
    U8("cut_3_inside", "\xe2\x82z", FFFD "z"),
    U8("cut_4_inside", "\xf0\x9f\x98z", FFFD "z"),
    U8("cut_3_bad_second", "\xe2(\xa1", FFFD "(" FFFD),
    U8("cut_2_at_end", "x\xc3", "x" FFFD),
    U8("cut_3_at_end", "x\xe2\x82", "x" FFFD),
    U8("cut_4_at_end", "x\xf0\x9f\x98", "x" FFFD),
    U8("nul", "a\0b\xc3\xa9", "a\0b\xc3\xa9"),
    /* After the first 16 bytes (the ASCII fast path's block), and where
     * the U+FFFD moves the str from a fixstr (31) to a str8 (33). */
    U8("after_block", "0123456789abcdefghijklmnopqrst\xff",
       "0123456789abcdefghijklmnopqrst" FFFD),
};

/* Every str the encoder writes (the line, the match, the path, the feed,
 * the indicator and its record's metadata) holds valid UTF-8, in msgpack
 * and in JSON alike; offsets and lengths stay those of the raw bytes. */
static void test_encode_utf8_every_string(void **state)
{
    static char mp[8192], js[8192], dec[8192];

    (void)state;
    for (size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
        const struct utf8_case *c = &utf8_cases[i];
        bool cstr = !memchr(c->in, '\0', c->len); /* fits a C string */
        struct iocs_ioc ioc = make_ioc(IOCS_DOMAIN, "evil.example");
        struct iocs_event ev = make_event(&ioc);
        const msgpack_object *o;
        msgpack_unpacked u;
        size_t mn, jn;
        long dn;

        print_message("case %s\n", c->name);
        ev.original = (const unsigned char *)c->in;
        ev.original_len = c->len;
        ev.line_len = c->len;
        ev.atomic = (const unsigned char *)c->in;
        ev.atomic_len = c->len;
        ev.start = 0;
        ev.end = c->len;
        ev.path = c->in;
        ev.path_len = c->len;
        if (cstr) {
            ioc.value = c->in;
            ioc.len = c->len;
            ioc.feed = c->in;
            ioc.provider = c->in;
            ioc.tags = c->in;
        }
        mn = encode_one(&ev, IOCS_FORMAT_MSGPACK, false, mp, sizeof(mp));
        unpack_one(&u, mp, mn);
        assert_str(find(&u.data, "event.original"), c->want, c->want_len);
        assert_str(find(&u.data, "log.file.path"), c->want, c->want_len);
        o = find(&u.data, "threat.enrichments");
        assert_non_null(o);
        assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
        o = &o->via.array.ptr[0];
        assert_str(find(o, "matched.atomic"), c->want, c->want_len);
        if (cstr) {
            const msgpack_object *tags = find(o, "indicator.tags");

            assert_str(find(o, "indicator.name"), c->want, c->want_len);
            assert_str(find(o, "indicator.url.domain"), c->want, c->want_len);
            assert_str(find(o, "indicator.provider"), c->want, c->want_len);
            assert_str(find(o, "feed.name"), c->want, c->want_len);
            assert_str(find(&u.data, "threat.feed.name"), c->want, c->want_len);
            assert_non_null(tags);
            assert_int_equal(tags->via.array.size, 1);
            assert_str(&tags->via.array.ptr[0], c->want, c->want_len);
        }
        /* Byte offsets and lengths of the line as read. */
        assert_uint(find(&u.data, "iocstream.match.start"), 0);
        assert_uint(find(&u.data, "iocstream.match.end"), c->len);
        assert_uint(find(&u.data, "iocstream.line_length"), c->len);
        o = find(&u.data, "iocstream.truncated");
        assert_int_equal(o->type, MSGPACK_OBJECT_BOOLEAN);
        assert_false(o->via.boolean);
        msgpack_unpacked_destroy(&u);

        /* JSON: the decoder's text for the msgpack, U+FFFD as raw UTF-8
         * and NUL as \u0000. */
        jn = encode_one(&ev, IOCS_FORMAT_JSON, false, js, sizeof(js) - 1);
        js[jn] = '\0';
        dn = iocs_decode_one(mp, mn, dec, sizeof(dec));
        assert_true(dn > 0);
        assert_int_equal(jn, (size_t)dn + 1);
        assert_memory_equal(js, dec, (size_t)dn);
        if (cstr) {
            char want[256];

            snprintf(want, sizeof(want), "\"original\":\"%.*s\"",
                     (int)c->want_len, c->want);
            assert_non_null(strstr(js, want));
        } else {
            assert_non_null(strstr(js, "\"original\":\"a\\u0000b\xc3\xa9\""));
        }
    }
}

/* With raw, msgpack event.original is a bin of the exact bytes while every
 * other string is still UTF-8; JSON ignores raw (text cannot hold bytes);
 * the decoder prints the bin with U+FFFD, as the str would be. */
static void test_encode_raw_original_is_bin(void **state)
{
    static const char in[] = "abc\xff 192.81.209.168 \xc0\xaf\0";
    static char mp[8192], plain[8192], js[8192], js_raw[8192], dec[8192],
        dec_plain[8192];
    struct iocs_ioc ioc = make_ioc(IOCS_IPV4, "192.81.209.168");
    struct iocs_event ev = make_event(&ioc);
    const msgpack_object *o;
    msgpack_unpacked u;
    size_t mn, pn, jn, jrn;

    (void)state;
    ev.original = (const unsigned char *)in;
    ev.original_len = sizeof(in) - 1;
    ev.line_len = sizeof(in) - 1;
    ev.atomic = (const unsigned char *)in + 5;
    ev.atomic_len = 14;
    ev.path = "/var/log/\xff.log";
    mn = encode_one(&ev, IOCS_FORMAT_MSGPACK, true, mp, sizeof(mp));
    unpack_one(&u, mp, mn);
    o = find(&u.data, "event.original");
    assert_int_equal(o->type, MSGPACK_OBJECT_BIN);
    assert_int_equal(o->via.bin.size, sizeof(in) - 1);
    assert_memory_equal(o->via.bin.ptr, in, sizeof(in) - 1);
    assert_str(find(&u.data, "log.file.path"), "/var/log/" FFFD ".log",
               strlen("/var/log/" FFFD ".log"));
    msgpack_unpacked_destroy(&u);

    /* Decoded, the bin reads as the str the plain encoder writes. */
    pn = encode_one(&ev, IOCS_FORMAT_MSGPACK, false, plain, sizeof(plain));
    assert_true(iocs_decode_one(mp, mn, dec, sizeof(dec)) > 0);
    assert_true(iocs_decode_one(plain, pn, dec_plain, sizeof(dec_plain)) > 0);
    assert_string_equal(dec, dec_plain);
    assert_non_null(strstr(dec, "\"original\":\"abc" FFFD
                                " 192.81.209.168 " FFFD FFFD "\\u0000\""));

    jn = encode_one(&ev, IOCS_FORMAT_JSON, false, js, sizeof(js));
    jrn = encode_one(&ev, IOCS_FORMAT_JSON, true, js_raw, sizeof(js_raw));
    assert_int_equal(jn, jrn);
    assert_memory_equal(js, js_raw, jn);
}

/* Strings that grow with U+FFFD (3 bytes for each bad byte) get the room:
 * many such events across buffer growth all decode whole; one that grows
 * past IOCS_ENCODE_BUF_MAX is -ENOMEM with nothing of it kept. */
static void test_encode_utf8_growth(void **state)
{
    enum { N = 300, LEN = 3000 };
    int fd = *(int *)*state;
    static unsigned char bad[LEN];
    struct iocs_ioc ioc = make_ioc(IOCS_IPV4, "192.81.209.168");
    struct iocs_event ev = make_event(&ioc), big;
    size_t huge_len = IOCS_ENCODE_BUF_MAX / 2;
    unsigned char *huge = malloc(huge_len);
    struct tenc *e = NULL;
    msgpack_unpacker mpac;
    msgpack_unpacked u;
    char *buf;
    size_t n;

    assert_non_null(huge);
    memset(bad, 0xff, sizeof(bad));
    memset(huge, 0x80, huge_len);
    ev.original = bad;
    ev.original_len = LEN;
    ev.line_len = LEN;
    big = ev;
    big.original = huge;
    big.original_len = huge_len;
    big.line_len = huge_len;
    assert_int_equal(tenc_new(&e, fd, IOCS_FORMAT_MSGPACK, "db-hash-1"), 0);
    for (uint64_t i = 1; i <= N; i++) {
        ev.line = i;
        /* Straight into the encoder: its buffer grows past the flush
         * threshold while strings are being written. */
        assert_int_equal(iocs_encoder_event(e->e, &ev), 0);
        if (i == N / 2)
            assert_int_equal(iocs_encoder_event(e->e, &big), -ENOMEM);
    }
    assert_int_equal(tenc_count(e), N);
    tenc_free(e);
    free(huge);

    buf = slurp(fd, &n);
    assert_true(msgpack_unpacker_init(&mpac, 1024));
    assert_true(msgpack_unpacker_reserve_buffer(&mpac, n));
    memcpy(msgpack_unpacker_buffer(&mpac), buf, n);
    msgpack_unpacker_buffer_consumed(&mpac, n);
    msgpack_unpacked_init(&u);
    for (uint64_t i = 1; i <= N; i++) {
        const msgpack_object *o;

        assert_int_equal(msgpack_unpacker_next(&mpac, &u),
                         MSGPACK_UNPACK_SUCCESS);
        assert_uint(find(&u.data, "iocstream.line"), i);
        assert_uint(find(&u.data, "iocstream.line_length"), LEN);
        o = find(&u.data, "event.original");
        assert_int_equal(o->type, MSGPACK_OBJECT_STR);
        assert_int_equal(o->via.str.size, 3 * LEN);
        for (size_t k = 0; k < 3 * LEN; k += 3)
            assert_memory_equal(o->via.str.ptr + k, FFFD, 3);
    }
    assert_int_equal(msgpack_unpacker_next(&mpac, &u), MSGPACK_UNPACK_CONTINUE);
    msgpack_unpacked_destroy(&u);
    msgpack_unpacker_destroy(&mpac);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_encode_every_type, setup,
                                        teardown),
        cmocka_unit_test(test_encode_batch_records),
        cmocka_unit_test(test_encode_buffer_grows_mid_event),
        cmocka_unit_test(test_encode_str_times),
        cmocka_unit_test_setup_teardown(test_encode_optional_keys_and_truncated,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_timestamp_forms, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_encode_host_and_line_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_encode_port_and_rule_id, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_encode_enrichment_per_record,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_json_matches_decoder, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_encode_many_events_in_order, setup,
                                        teardown),
        cmocka_unit_test(test_encode_path_len_given_or_measured),
        cmocka_unit_test_setup_teardown(test_encode_event_over_cap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_encode_rejects_bad_arguments,
                                        setup, teardown),
        cmocka_unit_test(test_encode_utf8_every_string),
        cmocka_unit_test(test_encode_raw_original_is_bin),
        cmocka_unit_test_setup_teardown(test_encode_utf8_growth, setup,
                                        teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
