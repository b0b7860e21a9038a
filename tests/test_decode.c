/*
 * test_decode.c - msgpack -> JSON (pipeline/decode.h): every msgpack type,
 * nesting, timestamps in all three forms, string escaping of any bytes,
 * and the stream reader on truncated, garbage and trickled input.
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
#include <sys/wait.h>
#include <unistd.h>

#include "pipeline/decode.h"

/* U+FFFD, which stands for each ill-formed part of a string. */
#define FFFD "\xef\xbf\xbd"

struct decode_case {
    const char *name;
    const char *in;
    size_t len;
    const char *want; /* expected JSON, or NULL when err is expected */
    long err;
};

/* Bytes of a string literal, NULs included. */
#define IN(s) s, sizeof(s) - 1
#define OK(name, in, want)                                                     \
    {                                                                          \
        name, IN(in), want, 0                                                  \
    }
#define BAD(name, in)                                                          \
    {                                                                          \
        name, IN(in), NULL, -EBADMSG                                           \
    }

static const struct decode_case cases[] = {
    /* Scalars. */
    OK("nil", "\xc0", "null"),
    OK("false", "\xc2", "false"),
    OK("true", "\xc3", "true"),
    OK("posfixint", "\x7f", "127"),
    OK("negfixint", "\xff", "-1"),
    OK("uint8", "\xcc\xff", "255"),
    OK("uint16", "\xcd\x01\x00", "256"),
    OK("uint32", "\xce\xff\xff\xff\xff", "4294967295"),
    OK("uint64", "\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
       "18446744073709551615"),
    OK("int8", "\xd0\x80", "-128"),
    OK("int16", "\xd1\x80\x00", "-32768"),
    OK("int32", "\xd2\x80\x00\x00\x00", "-2147483648"),
    OK("int64", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", "-9223372036854775808"),
    OK("float32", "\xca\x3f\xc0\x00\x00", "1.5"),
    OK("float32_shortest", "\xca\x3d\xcc\xcc\xcd", "0.1"),
    OK("float32_roundtrip", "\xca\x3f\x9d\xf3\xb6", "1.234"),
    OK("float64_shortest", "\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a", "0.1"),
    OK("float64_roundtrip", "\xcb\x3f\xd3\x33\x33\x33\x33\x33\x34",
       "0.30000000000000004"),
    OK("float64_negzero", "\xcb\x80\x00\x00\x00\x00\x00\x00\x00", "-0"),
    OK("float64_exp", "\xcb\x7e\x37\xe4\x3c\x88\x00\x75\x9c", "1e+300"),
    OK("float64_third", "\xcb\x3f\xd5\x55\x55\x55\x55\x55\x55",
       "0.3333333333333333"),
    OK("float64_nan", "\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", "null"),
    OK("float64_inf", "\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00", "null"),
    OK("float64_neginf", "\xcb\xff\xf0\x00\x00\x00\x00\x00\x00", "null"),
    OK("float32_nan", "\xca\x7f\xc0\x00\x00", "null"),
    /* Strings and bin, every length form. */
    OK("fixstr",
       "\xa3"
       "abc",
       "\"abc\""),
    OK("fixstr_empty", "\xa0", "\"\""),
    OK("str8",
       "\xd9\x02"
       "hi",
       "\"hi\""),
    OK("str16",
       "\xda\x00\x02"
       "hi",
       "\"hi\""),
    OK("str32",
       "\xdb\x00\x00\x00\x02"
       "hi",
       "\"hi\""),
    OK("bin8",
       "\xc4\x03"
       "a\x00"
       "b",
       "\"a\\u0000b\""),
    OK("bin16", "\xc5\x00\x01\xff", "\"" FFFD "\""),
    OK("bin32",
       "\xc6\x00\x00\x00\x01"
       "z",
       "\"z\""),
    /* Escaping: control characters, quote, backslash, DEL. */
    OK("str_controls", "\xa8\x01\x08\x09\x0a\x0c\x0d\x1f\x7f",
       "\"\\u0001\\b\\t\\n\\f\\r\\u001f\\u007f\""),
    OK("str_quote_backslash",
       "\xa4"
       "a\"\\/",
       "\"a\\\"\\\\/\""),
    /* Valid UTF-8 (2, 3 and 4 bytes, U+10FFFF) passes through unchanged. */
    OK("utf8_valid", "\xad\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf",
       "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\""),
    /* Invalid UTF-8 becomes U+FFFD, one per maximal subpart (utf8.h). */
    OK("utf8_lone_byte",
       "\xa3"
       "a\xff"
       "b",
       "\"a" FFFD "b\""),
    OK("utf8_lone_continuation", "\xa1\x80", "\"" FFFD "\""),
    OK("utf8_overlong_2", "\xa2\xc0\xaf", "\"" FFFD FFFD "\""),
    OK("utf8_overlong_3", "\xa3\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\""),
    OK("utf8_overlong_4", "\xa4\xf0\x80\x80\xaf",
       "\"" FFFD FFFD FFFD FFFD "\""),
    OK("utf8_surrogate", "\xa3\xed\xa0\x80", "\"" FFFD FFFD FFFD "\""),
    OK("utf8_past_10ffff", "\xa4\xf4\x90\x80\x80",
       "\"" FFFD FFFD FFFD FFFD "\""),
    OK("utf8_f5", "\xa2\xf5\x80", "\"" FFFD FFFD "\""),
    OK("utf8_cut_short",
       "\xa3\xe2\x82"
       "a",
       "\"" FFFD "a\""),
    OK("utf8_cut_at_end", "\xa2\xe2\x82", "\"" FFFD "\""),
    OK("utf8_cut_4_at_end", "\xa4z\xf0\x9f\x98", "\"z" FFFD "\""),
    OK("utf8_bad_second",
       "\xa3\xe2("
       "\xa1",
       "\"" FFFD "(" FFFD "\""),
    OK("utf8_nul", "\xa3\xc3\xa9\x00", "\"\xc3\xa9\\u0000\""),
    /* Arrays and maps, every length form, nested. */
    OK("fixarray", "\x93\x01\x02\x03", "[1,2,3]"),
    OK("fixarray_empty", "\x90", "[]"),
    OK("array16", "\xdc\x00\x02\xc0\xc3", "[null,true]"),
    OK("array32", "\xdd\x00\x00\x00\x01\x90", "[[]]"),
    OK("fixmap",
       "\x82\xa1"
       "a\x01\xa1"
       "b\x90",
       "{\"a\":1,\"b\":[]}"),
    OK("fixmap_empty", "\x80", "{}"),
    OK("map16",
       "\xde\x00\x01\xa1"
       "k\xc2",
       "{\"k\":false}"),
    OK("map32",
       "\xdf\x00\x00\x00\x01\xa1"
       "k\x80",
       "{\"k\":{}}"),
    OK("nested",
       "\x81\xa1"
       "a\x81\xa1"
       "b\x91\x81\xa1"
       "c\xc0",
       "{\"a\":{\"b\":[{\"c\":null}]}}"),
    /* Keys that are not strings become strings of their JSON text. */
    OK("key_int_nil", "\x82\x01\x02\xc0\xc3", "{\"1\":2,\"null\":true}"),
    OK("key_array",
       "\x81\x92\x01\xa1"
       "x\x00",
       "{\"[1,\\\"x\\\"]\":0}"),
    OK("key_map_with_key_array", "\x81\x81\x91\x01\x02\x03",
       "{\"{\\\"[1]\\\":2}\":3}"),
    OK("key_bin",
       "\x81\xc4\x01"
       "k\x01",
       "{\"k\":1}"),
    /* Timestamps: 32-bit, 64-bit, 96-bit (before 1970, year 10000, year 0). */
    OK("ts32", "\xd6\xff\x65\x53\xf1\x00",
       "\"2023-11-14T22:13:20.000000000Z\""),
    OK("ts32_epoch", "\xd6\xff\x00\x00\x00\x00",
       "\"1970-01-01T00:00:00.000000000Z\""),
    OK("ts64", "\xd7\xff\x1d\x6f\x34\x54\x65\x53\xf1\x00",
       "\"2023-11-14T22:13:20.123456789Z\""),
    OK("ts96_negative",
       "\xc7\x0c\xff\x1d\xcd\x65\x00\xff\xff\xff\xff\xff\xff\xff\xff",
       "\"1969-12-31T23:59:59.500000000Z\""),
    OK("ts96_year_10000",
       "\xc7\x0c\xff\x00\x00\x00\x01\x00\x00\x00\x3a\xff\xf4\x41\x80",
       "\"+10000-01-01T00:00:00.000000001Z\""),
    OK("ts96_year_0",
       "\xc7\x0c\xff\x00\x00\x00\x00\xff\xff\xff\xf1\x88\x6e\x08\xff",
       "\"0000-12-31T23:59:59.000000000Z\""),
    /* A timestamp whose nanoseconds are out of range is just an ext. */
    OK("ts96_bad_nsec",
       "\xc7\x0c\xff\x3b\x9a\xca\x00\x00\x00\x00\x00\x00\x00\x00\x00",
       "{\"ext\":-1,\"data\":\"3b9aca00"
       "0000000000000000\"}"),
    OK("ext_minus1_size3", "\xc7\x03\xff\x01\x02\x03",
       "{\"ext\":-1,\"data\":\"010203\"}"),
    /* Other extensions. */
    OK("fixext1", "\xd4\x05\xab", "{\"ext\":5,\"data\":\"ab\"}"),
    OK("fixext2", "\xd5\x7f\x00\xff", "{\"ext\":127,\"data\":\"00ff\"}"),
    OK("fixext16",
       "\xd8\x80\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b"
       "\x0c\x0d\x0e\x0f",
       "{\"ext\":-128,\"data\":\"000102030405060708090a0b0c0d0e0f\"}"),
    OK("ext8_empty", "\xc7\x00\x07", "{\"ext\":7,\"data\":\"\"}"),
    OK("ext16", "\xc8\x00\x01\x02\x0f", "{\"ext\":2,\"data\":\"0f\"}"),
    OK("ext32", "\xc9\x00\x00\x00\x01\x02\x0f", "{\"ext\":2,\"data\":\"0f\"}"),
    /* Not exactly one well-formed object. */
    BAD("empty", ""),
    BAD("never_used_c1", "\xc1"),
    BAD("c1_nested", "\x92\x01\xc1"),
    BAD("truncated_str", "\xa5"
                         "ab"),
    BAD("truncated_header", "\xcd\x01"),
    BAD("truncated_array", "\x93\x01\x02"),
    BAD("truncated_map_value", "\x81\xa1"
                               "a"),
    BAD("two_objects", "\x01\x02"),
    /* Claims 4 billion elements: rejected, not allocated. */
    BAD("huge_array_header", "\xdd\xff\xff\xff\xff"),
    BAD("huge_map_header", "\xdf\xff\xff\xff\xff\x01"),
    BAD("huge_str_header", "\xdb\xff\xff\xff\xff"),
};

/* Each table row through iocs_decode_one(). */
static void test_decode_one_table(void **state)
{
    char out[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct decode_case *c = &cases[i];
        long n = iocs_decode_one(c->in, c->len, out, sizeof(out));

        print_message("case %s\n", c->name);
        if (!c->want) {
            assert_int_equal(n, c->err);
            continue;
        }
        assert_int_equal(n, (long)strlen(c->want));
        assert_string_equal(out, c->want);
    }
}

/* Nesting: 32 levels parse, a 33rd is -EBADMSG, not a stack overflow. */
static void test_decode_depth_limit(void **state)
{
    char in[4096], out[4096];
    size_t depth;

    (void)state;
    for (depth = 1; depth <= 200; depth++) {
        long n;

        memset(in, 0x91, depth); /* [[[...[nil]...]]] */
        in[depth] = (char)0xc0;
        n = iocs_decode_one(in, depth + 1, out, sizeof(out));
        if (depth <= 32) {
            assert_int_equal(n, (long)(2 * depth + 4));
            assert_memory_equal(out + depth, "null", 4);
        } else {
            assert_int_equal(n, -EBADMSG);
        }
    }
    /* An empty container counts as a level too, as in msgpack-c. */
    memset(in, 0x91, 31);
    in[31] = (char)0x90;
    assert_int_equal(iocs_decode_one(in, 32, out, sizeof(out)), 64);
    memset(in, 0x91, 32);
    in[32] = (char)0x90;
    assert_int_equal(iocs_decode_one(in, 33, out, sizeof(out)), -EBADMSG);
}

/* Maps as keys of maps: 4 levels decode, each escaped once more; a 5th
 * is -EBADMSG, so the output cannot grow as 2^depth. */
static void test_decode_key_depth_limit(void **state)
{
    static const char *const want[] = {
        "{\"1\":0}",
        "{\"{\\\"1\\\":0}\":0}",
    };
    char in[64], out[4096];

    (void)state;
    for (size_t k = 0; k <= 6; k++) {
        size_t n = 0;
        long got;

        for (size_t i = 0; i <= k; i++)
            in[n++] = (char)0x81; /* {K: 0}, K itself such a map */
        in[n++] = 0x01;
        for (size_t i = 0; i <= k; i++)
            in[n++] = 0x00;
        got = iocs_decode_one(in, n, out, sizeof(out));
        if (k > 4) {
            assert_int_equal(got, -EBADMSG);
            continue;
        }
        assert_true(got > 0);
        if (k < 2)
            assert_string_equal(out, want[k]);
    }
}

/* An output buffer one byte too small is -E2BIG; exactly enough works. */
static void test_decode_one_small_output(void **state)
{
    char out[16];

    (void)state;
    assert_int_equal(iocs_decode_one("\xa3"
                                     "abc",
                                     4, out, 5),
                     -E2BIG);
    assert_int_equal(iocs_decode_one("\xa3"
                                     "abc",
                                     4, out, 6),
                     5);
    assert_string_equal(out, "\"abc\"");
    assert_int_equal(iocs_decode_one("\xc0", 1, out, 0), -E2BIG);
}

/* Stream test helpers: decode fd into a memory FILE. */
struct sink {
    char *p;
    size_t len;
    FILE *f;
};

static void sink_open(struct sink *s)
{
    memset(s, 0, sizeof(*s));
    s->f = open_memstream(&s->p, &s->len);
    assert_non_null(s->f);
}

static void sink_close(struct sink *s)
{
    fclose(s->f);
    free(s->p);
}

/* Write buf to a new pipe from a child process, chunk bytes per write, and
 * return the read end. */
static int trickle(const char *buf, size_t n, size_t chunk)
{
    int fds[2];
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        for (size_t off = 0; off < n; off += chunk) {
            size_t k = n - off < chunk ? n - off : chunk;

            if (write(fds[1], buf + off, k) != (ssize_t)k)
                _exit(errno == EPIPE ? 0 : 1); /* the reader may stop early */
            if (off % 7 == 0)
                usleep(100); /* let the reader see short reads */
        }
        _exit(0);
    }
    close(fds[1]);
    return fds[0];
}

static void reap_child(void)
{
    int status;

    assert_true(wait(&status) > 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A stream of objects: every one, split anywhere, as one line each. */
static const char stream_in[] = "\x82\xa1"
                                "a\x01\xa1"
                                "b\x92\xc3\xc0" /* {"a":1,"b":[true,null]} */
                                "\xd6\xff\x65\x53\xf1\x00"
                                "\xa4\xff"
                                "x\n\""
                                "\xcf\xff\xff\xff\xff\xff\xff\xff\xff";
static const char stream_want[] = "{\"a\":1,\"b\":[true,null]}\n"
                                  "\"2023-11-14T22:13:20.000000000Z\"\n"
                                  "\"" FFFD "x\\n\\\"\"\n"
                                  "18446744073709551615\n";

/* Objects split across tiny reads through a pipe come out whole. */
static void test_decode_stream_split_reads(void **state)
{
    size_t chunks[] = {1, 2, 3, 5, 64};

    (void)state;
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        struct sink s;
        char err[128];
        int fd = trickle(stream_in, sizeof(stream_in) - 1, chunks[i]);

        sink_open(&s);
        assert_int_equal(iocs_decode_stream(fd, s.f, err, sizeof(err)), 4);
        fflush(s.f);
        assert_int_equal(s.len, sizeof(stream_want) - 1);
        assert_memory_equal(s.p, stream_want, s.len);
        close(fd);
        sink_close(&s);
        reap_child();
    }
}

/* An object much bigger than one read (a 1 MiB string) arrives whole. */
static void test_decode_stream_large_object(void **state)
{
    size_t n = 1u << 20;
    char *in = malloc(n + 5);
    struct sink s;
    char err[128];
    int fd;

    (void)state;
    assert_non_null(in);
    in[0] = (char)0xdb;
    in[1] = 0x00;
    in[2] = 0x10;
    in[3] = 0x00;
    in[4] = 0x00;
    memset(in + 5, 'q', n);
    fd = trickle(in, n + 5, 4000);
    sink_open(&s);
    assert_int_equal(iocs_decode_stream(fd, s.f, err, sizeof(err)), 1);
    fflush(s.f);
    assert_int_equal(s.len, n + 3);
    assert_int_equal(s.p[0], '"');
    assert_int_equal(s.p[n], 'q');
    assert_memory_equal(s.p + n + 1, "\"\n", 2);
    close(fd);
    sink_close(&s);
    reap_child();
    free(in);
}

/* A stream cut inside its last object is -EBADMSG naming the offset; the
 * objects before it are still written. */
static void test_decode_stream_truncated(void **state)
{
    static const char in[] = "\x01\x02\x93\x01";
    struct sink s;
    char err[256];
    int fd = trickle(in, sizeof(in) - 1, 1);

    (void)state;
    sink_open(&s);
    assert_int_equal(iocs_decode_stream(fd, s.f, err, sizeof(err)), -EBADMSG);
    fflush(s.f);
    assert_int_equal(s.len, 4);
    assert_memory_equal(s.p, "1\n2\n", 4);
    assert_non_null(strstr(err, "offset 2"));
    close(fd);
    sink_close(&s);
    reap_child();
}

/* Garbage is -EBADMSG at the offending byte's offset. */
static void test_decode_stream_garbage(void **state)
{
    static const char in[] = "\xc3\x92\x01\xc1garbage";
    struct sink s;
    char err[256];
    int fd = trickle(in, sizeof(in) - 1, 3);

    (void)state;
    sink_open(&s);
    assert_int_equal(iocs_decode_stream(fd, s.f, err, sizeof(err)), -EBADMSG);
    fflush(s.f);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.p, "true\n", 5);
    assert_non_null(strstr(err, "offset 3"));
    close(fd);
    sink_close(&s);
    reap_child();
}

/* A huge claimed array at the end of a stream is a truncation, not an
 * allocation of its claimed size. */
static void test_decode_stream_huge_header(void **state)
{
    static const char in[] = "\xc0\xdd\xff\xff\xff\xff\x01";
    struct sink s;
    char err[256];
    int fd = trickle(in, sizeof(in) - 1, 2);

    (void)state;
    sink_open(&s);
    assert_int_equal(iocs_decode_stream(fd, s.f, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "offset 1"));
    close(fd);
    sink_close(&s);
    reap_child();
}

/* An empty stream is zero objects, not an error. */
static void test_decode_stream_empty(void **state)
{
    struct sink s;
    char err[64];
    int fd = trickle("", 0, 1);

    (void)state;
    sink_open(&s);
    assert_int_equal(iocs_decode_stream(fd, s.f, err, sizeof(err)), 0);
    fflush(s.f);
    assert_int_equal(s.len, 0);
    close(fd);
    sink_close(&s);
    reap_child();
}

/* An event stream must start with a map: JSON lines through a pipe are
 * refused before anything is written, saying what the first byte is. */
static void test_decode_events_refuses_non_map(void **state)
{
    static const struct {
        const char *in;
        const char *msg;
    } tc[] = {
        {"{\"a\":1}\n", "not a msgpack event stream (first byte 0x7b '{'); "
                        "JSON lines need no decode"},
        {"\x01\x82", "not a msgpack event stream (first byte 0x01); JSON "
                     "lines need no decode"},
        {"\xa3"
         "abc",
         "(first byte 0xa3)"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
        struct sink s;
        char err[256];
        int fd = trickle(tc[i].in, strlen(tc[i].in), 1);

        sink_open(&s);
        assert_int_equal(iocs_decode_events(fd, s.f, err, sizeof(err)),
                         -ENOMSG);
        fflush(s.f);
        assert_int_equal(s.len, 0);
        assert_non_null(strstr(err, tc[i].msg));
        close(fd);
        sink_close(&s);
        reap_child();
    }
}

/* A map first (fixmap, map16, map32) is an event stream, whatever
 * follows; empty input is zero events. */
static void test_decode_events_accepts_maps(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        long n;
        const char *want;
    } tc[] = {
        {IN("\x81\xa1"
            "a\x01\x02"),
         2, "{\"a\":1}\n2\n"},
        {IN("\xde\x00\x00"), 1, "{}\n"},
        {IN("\xdf\x00\x00\x00\x00"), 1, "{}\n"},
        {IN(""), 0, ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
        struct sink s;
        char err[256];
        int fd = trickle(tc[i].in, tc[i].len, 1);

        sink_open(&s);
        assert_int_equal(iocs_decode_events(fd, s.f, err, sizeof(err)),
                         tc[i].n);
        fflush(s.f);
        assert_int_equal(s.len, strlen(tc[i].want));
        assert_memory_equal(s.p, tc[i].want, s.len);
        close(fd);
        sink_close(&s);
        reap_child();
    }
}

/* A read error is passed through as a negative errno. */
static void test_decode_stream_read_error(void **state)
{
    struct sink s;
    char err[64];

    (void)state;
    sink_open(&s);
    assert_int_equal(iocs_decode_stream(-1, s.f, err, sizeof(err)), -EBADF);
    sink_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_one_table),
        cmocka_unit_test(test_decode_depth_limit),
        cmocka_unit_test(test_decode_key_depth_limit),
        cmocka_unit_test(test_decode_one_small_output),
        cmocka_unit_test(test_decode_stream_split_reads),
        cmocka_unit_test(test_decode_stream_large_object),
        cmocka_unit_test(test_decode_stream_truncated),
        cmocka_unit_test(test_decode_stream_garbage),
        cmocka_unit_test(test_decode_stream_huge_header),
        cmocka_unit_test(test_decode_events_refuses_non_map),
        cmocka_unit_test(test_decode_events_accepts_maps),
        cmocka_unit_test(test_decode_stream_empty),
        cmocka_unit_test(test_decode_stream_read_error),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
