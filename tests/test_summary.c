/*
 * test_summary.c - the per-IOC hunt summary over a known event set, in
 * JSON and msgpack, cut at every byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/summary.h"
#include "tests/helpers.h"

#define EV(ts, host, path, ind, type, feed)                                    \
    "{\"@timestamp\":\"" ts "\",\"host\":{\"name\":\"" host                    \
    "\"},\"log\":{\"file\":{\"path\":\"" path "\"},\"offset\":0},"             \
    "\"threat\":{\"feed\":{\"name\":\"" feed "\"},\"enrichments\":[{"          \
    "\"indicator\":{\"type\":\"" type "\",\"name\":\"" ind "\"},"              \
    "\"feed\":{\"name\":\"" feed "\"}}]}}\n"

static const char events_json[] =
    EV("2024-12-05T03:14:15.000000001Z", "ws1", "/l/a.log", "192.81.209.168",
       "ipv4-addr", "builtin") EV("2024-12-01T00:00:00Z", "vpn1", "/l/b.log",
                                  "192.81.209.168", "ipv4-addr", "feed.csv")
        EV("2024-12-09T10:00:00+01:00", "ws1", "/l/a.log", "192.81.209.168",
           "ipv4-addr", "builtin")
            EV("2024-12-03T00:00:00Z", "ws2", "/l/c.log", "evil.example",
               "domain-name", "feed.csv") "{\"not\":\"an event\"}\n";

static const char want_json[] =
    "{\"indicator\":\"192.81.209.168\",\"type\":\"ipv4-addr\",\"feeds\":["
    "\"builtin\",\"feed.csv\"],\"events\":3,\"first_seen\":"
    "\"2024-12-01T00:00:00.000000000Z\",\"last_seen\":"
    "\"2024-12-09T09:00:00.000000000Z\",\"hosts\":[\"vpn1\",\"ws1\"],"
    "\"files\":[\"/l/a.log\",\"/l/b.log\"]}\n"
    "{\"indicator\":\"evil.example\",\"type\":\"domain-name\",\"feeds\":["
    "\"feed.csv\"],\"events\":1,\"first_seen\":"
    "\"2024-12-03T00:00:00.000000000Z\",\"last_seen\":"
    "\"2024-12-03T00:00:00.000000000Z\",\"hosts\":[\"ws2\"],\"files\":["
    "\"/l/c.log\"]}\n";

static char *print_json(struct iocs_summary *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    assert_int_equal(iocs_summary_print(s, f, true), 0);
    fclose(f);
    return buf;
}

/* The JSON event set, cut into pieces of every size from 1 to 64. */
static void test_summary_json_rows(void **state)
{
    (void)state;
    for (size_t piece = 1; piece <= 64; piece++) {
        struct iocs_summary *s;
        char err[128];
        size_t n = sizeof(events_json) - 1;
        char *out;

        assert_int_equal(iocs_summary_new(&s), 0);
        for (size_t at = 0; at < n; at += piece) {
            size_t k = n - at < piece ? n - at : piece;

            assert_int_equal(
                iocs_summary_add(s, events_json + at, k, err, sizeof(err)), 0);
        }
        assert_int_equal(iocs_summary_end(s, err, sizeof(err)), 0);
        assert_int_equal(iocs_summary_events(s), 4);
        assert_int_equal(iocs_summary_skipped(s), 1);
        out = print_json(s);
        assert_string_equal(out, want_json);
        free(out);
        iocs_summary_free(s);
    }
}

/* Pack one event the way the encoder does: @timestamp as a timestamp ext. */
static void pack_event(msgpack_packer *pk, int64_t sec, uint32_t nsec,
                       const char *host, const char *path, const char *ind)
{
    unsigned char ts[12];
    uint64_t sec64 = (uint64_t)sec;

    for (int i = 0; i < 4; i++)
        ts[i] = (unsigned char)(nsec >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        ts[4 + i] = (unsigned char)(sec64 >> (56 - 8 * i));
#define STR(s)                                                                 \
    do {                                                                       \
        msgpack_pack_str(pk, strlen(s));                                       \
        msgpack_pack_str_body(pk, s, strlen(s));                               \
    } while (0)
    msgpack_pack_map(pk, host ? 4 : 3);
    STR("@timestamp");
    msgpack_pack_ext(pk, 12, -1);
    msgpack_pack_ext_body(pk, ts, 12);
    if (host) {
        STR("host");
        msgpack_pack_map(pk, 1);
        STR("name");
        STR(host);
    }
    STR("log");
    msgpack_pack_map(pk, 1);
    STR("file");
    msgpack_pack_map(pk, 1);
    STR("path");
    STR(path);
    STR("threat");
    msgpack_pack_map(pk, 1);
    STR("enrichments");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 2);
    STR("indicator");
    msgpack_pack_map(pk, 2);
    STR("type");
    STR("ipv4-addr");
    STR("name");
    STR(ind);
    STR("feed");
    msgpack_pack_map(pk, 1);
    STR("name");
    STR("builtin");
#undef STR
}

/* msgpack events give the same rows; no host means an empty hosts list. */
static void test_summary_msgpack_rows(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct iocs_summary *s;
    char err[128], *out;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_event(&pk, 1733368455, 5, "ws1", "/l/a.log", "10.1.2.3");
    pack_event(&pk, 1733368400, 0, NULL, "/l/b.log", "10.1.2.3");
    assert_int_equal(iocs_summary_new(&s), 0);
    for (size_t at = 0; at < sb.size; at++)
        assert_int_equal(iocs_summary_add(s, sb.data + at, 1, err, sizeof(err)),
                         0);
    assert_int_equal(iocs_summary_end(s, err, sizeof(err)), 0);
    assert_int_equal(iocs_summary_events(s), 2);
    out = print_json(s);
    assert_string_equal(
        out, "{\"indicator\":\"10.1.2.3\",\"type\":\"ipv4-addr\",\"feeds\":["
             "\"builtin\"],\"events\":2,\"first_seen\":"
             "\"2024-12-05T03:13:20.000000000Z\",\"last_seen\":"
             "\"2024-12-05T03:14:15.000000005Z\",\"hosts\":[\"ws1\"],"
             "\"files\":[\"/l/a.log\",\"/l/b.log\"]}\n");
    free(out);
    iocs_summary_free(s);
    msgpack_sbuffer_destroy(&sb);
}

/* A stream that ends inside an event, and bytes that are no events. */
static void test_summary_rejects_bad_streams(void **state)
{
    struct iocs_summary *s;
    char err[128];

    (void)state;
    assert_int_equal(iocs_summary_new(&s), 0);
    assert_int_equal(iocs_summary_add(s, "{\"a\":", 5, err, sizeof(err)), 0);
    assert_int_equal(iocs_summary_end(s, err, sizeof(err)), -EBADMSG);
    assert_int_equal(iocs_summary_add(s, "\x82\xa1", 2, err, sizeof(err)), 0);
    assert_int_equal(iocs_summary_end(s, err, sizeof(err)), -EBADMSG);
    assert_int_equal(iocs_summary_add(s, "{oops}\n", 7, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(err, "not a JSON event"));
    iocs_summary_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_json_rows),
        cmocka_unit_test(test_summary_msgpack_rows),
        cmocka_unit_test(test_summary_rejects_bad_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
