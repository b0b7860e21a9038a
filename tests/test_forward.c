/*
 * test_forward.c - forward.h: frames byte for byte, ack / HELO / PONG
 * parsing of good and bad bytes, and the handshake digests against values
 * computed independently with Python's hashlib:
 *   hashlib.sha512(b"salt1" + b"client.test" + b"\x01\x02\x03nonce"
 *                  + b"s3cret").hexdigest()
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <string.h>
#include <zlib.h>

#include "pipeline/forward.h"

static const char digest_client[] =
    "9ca34c46466b20bc8078f219741c31ae2d309aa0ef45f88558a026d6ac51477e163a2f21"
    "cac389fc33024aae2e2bd10f035c44db344eb3b2dabbdc1c9b3b505a";
static const char digest_srv[] =
    "412f3e52fef22a6fd0b6be01bfe26057f5b1f768c9e8b2776264789e8260fd622da5f4b9"
    "1e367fb8e0b09b2f8e37559e6e1efd39dd1959d7085eae5a6109e13c";

/* Two events: {"a": 1} at (1 s, 2 ns) and {"b": "x"} at (0x01020304, 5). */
static const unsigned char recs[] = {0x81, 0xa1, 'a',  0x01, 0x81,
                                     0xa1, 'b',  0xa1, 'x'};
static const struct iocs_sink_rec rec2[] = {
    {.end = 4, .timestamp = {1, 2}},
    {.end = 9, .timestamp = {0x01020304, 5}},
};
static const struct iocs_sink_batch batch2 = {
    .seq = 1, .data = recs, .len = sizeof(recs), .rec = rec2, .n = 2};

static const unsigned char entries2[] = {
    0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 2,    0x81, 0xa1, 'a',  0x01, 0x92,
    0xd7, 0x00, 1,    2, 3, 4, 0, 0, 0, 5, 0x81, 0xa1, 'b',  0xa1, 'x'};

/* A PackedForward with two entries, written out by hand. */
static void test_forward_packed_bytes(void **state)
{
    static const unsigned char want[] = {
        0x93, 0xa1, 't', 0xc6, 0, 0, 0, 31,
        /* entries */
        0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 2, 0x81, 0xa1, 'a', 0x01, 0x92,
        0xd7, 0x00, 1, 2, 3, 4, 0, 0, 0, 5, 0x81, 0xa1, 'b', 0xa1, 'x',
        /* {"size": 2, "chunk": "abc"} */
        0x82, 0xa4, 's', 'i', 'z', 'e', 0x02, 0xa5, 'c', 'h', 'u', 'n', 'k',
        0xa3, 'a', 'b', 'c'};
    struct iocs_fwd_buf b = {0};

    (void)state;
    assert_int_equal(sizeof(entries2), 31);
    assert_int_equal(iocs_fwd_pack(&b, "t", &batch2, "abc", false), 0);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));
    /* The buffer is reused: a second frame replaces the first. */
    assert_int_equal(iocs_fwd_pack(&b, "t", &batch2, "abc", false), 0);
    assert_int_equal(b.len, sizeof(want));
    iocs_fwd_buf_fini(&b);
}

/* CompressedPackedForward: gzip of the same entries, "compressed" set. */
static void test_forward_compressed_inflates_to_entries(void **state)
{
    static const unsigned char opt[] = {
        0x83, 0xa4, 's',  'i', 'z', 'e', 0x02, 0xa5, 'c', 'h', 'u',
        'n',  'k',  0xa3, 'a', 'b', 'c', 0xaa, 'c',  'o', 'm', 'p',
        'r',  'e',  's',  's', 'e', 'd', 0xa4, 'g',  'z', 'i', 'p'};
    struct iocs_fwd_buf b = {0};
    unsigned char out[256];
    size_t blen;
    z_stream z;

    (void)state;
    assert_int_equal(iocs_fwd_pack(&b, "t", &batch2, "abc", true), 0);
    assert_memory_equal(b.p, "\x93\xa1t\xc6", 4);
    blen = (size_t)b.p[4] << 24 | (size_t)b.p[5] << 16 | (size_t)b.p[6] << 8 |
           b.p[7];
    assert_int_equal(b.len, 8 + blen + sizeof(opt));
    assert_memory_equal(b.p + 8 + blen, opt, sizeof(opt));
    assert_int_equal(b.p[8], 0x1f); /* gzip magic */
    assert_int_equal(b.p[9], 0x8b);

    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = b.p + 8;
    z.avail_in = (uInt)blen;
    z.next_out = out;
    z.avail_out = sizeof(out);
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, sizeof(entries2));
    assert_memory_equal(out, entries2, sizeof(entries2));
    inflateEnd(&z);
    iocs_fwd_buf_fini(&b);
}

/* Bad batches are refused, not framed. */
static void test_forward_pack_rejects_bad_batch(void **state)
{
    struct iocs_sink_rec r[2] = {rec2[0], rec2[1]};
    struct iocs_sink_batch b = batch2;
    struct iocs_fwd_buf f = {0};

    (void)state;
    b.rec = r;
    r[1].end = 10; /* past len */
    assert_int_equal(iocs_fwd_pack(&f, "t", &b, "c", false), -EINVAL);
    r[1].end = 3; /* before the previous end */
    assert_int_equal(iocs_fwd_pack(&f, "t", &b, "c", false), -EINVAL);
    r[1] = rec2[1];
    r[1].timestamp.tv_sec = -1;
    assert_int_equal(iocs_fwd_pack(&f, "t", &b, "c", false), -EINVAL);
    iocs_fwd_buf_fini(&f);
}

/* Chunk ids: base64 of salt and seq (checked with Python's base64). */
static void test_forward_chunk_id(void **state)
{
    unsigned char salt[IOCS_FWD_CHUNK_SALT] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    char a[IOCS_FWD_CHUNK_LEN + 1], b[IOCS_FWD_CHUNK_LEN + 1];

    (void)state;
    iocs_fwd_chunk_id(a, salt, 1);
    assert_string_equal(a, "AAECAwQFBgcICQAAAAAAAAAB");
    iocs_fwd_chunk_id(b, salt, 2);
    assert_string_not_equal(a, b);
}

struct ack_case {
    const char *name;
    const char *bytes;
    size_t len;
    int want;
    const char *chunk;
    size_t used;
};

/* Table-driven ack parsing: valid, extra keys, wrong chunk, garbage,
 * truncated, wrong shapes. */
static void test_forward_ack_parse(void **state)
{
    static const struct ack_case cases[] = {
        {"valid",
         "\x81\xa3"
         "ack\xa3"
         "abc",
         9, 0, "abc", 9},
        {"two back to back",
         "\x81\xa3"
         "ack\xa3"
         "abc\x81",
         10, 0, "abc", 9},
        {"bin chunk",
         "\x81\xa3"
         "ack\xc4\x02xy",
         9, 0, "xy", 9},
        {"extra key",
         "\x82\xa1x\x01\xa3"
         "ack\xa1z",
         10, 0, "z", 10},
        {"wrong chunk",
         "\x81\xa3"
         "ack\xa3zzz",
         9, 0, "zzz", 9},
        {"truncated",
         "\x81\xa3"
         "ack\xa3"
         "ab",
         8, -EAGAIN, NULL, 0},
        {"empty", "", 0, -EAGAIN, NULL, 0},
        {"garbage", "\xc1\xc1\xc1", 3, -EPROTO, NULL, 0},
        {"array",
         "\x91\xa3"
         "ack",
         5, -EPROTO, NULL, 0},
        {"no ack key",
         "\x81\xa3"
         "ach\xa1z",
         7, -EPROTO, NULL, 0},
        {"ack not a string",
         "\x81\xa3"
         "ack\x05",
         6, -EPROTO, NULL, 0},
        {"HELO instead", "\x92\xa4HELO\x80", 7, -EPROTO, NULL, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct ack_case *c = &cases[i];
        char chunk[32] = "";
        size_t used = 0;
        int r =
            iocs_fwd_ack_parse(c->bytes, c->len, &used, chunk, sizeof(chunk));

        if (r != c->want)
            fail_msg("%s: got %d, want %d", c->name, r, c->want);
        if (c->chunk) {
            assert_string_equal(chunk, c->chunk);
            assert_int_equal(used, c->used);
        }
    }
    /* A chunk longer than the caller's buffer is refused. */
    {
        char small[3];
        size_t used;

        assert_int_equal(iocs_fwd_ack_parse("\x81\xa3"
                                            "ack\xa3"
                                            "abc",
                                            9, &used, small, sizeof(small)),
                         -EPROTO);
    }
}

static const unsigned char helo_bytes[] = {
    0x92, 0xa4, 0x48, 0x45, 0x4c, 0x4f, 0x83, 0xa5, 0x6e, 0x6f, 0x6e,
    0x63, 0x65, 0xc4, 0x08, 0x01, 0x02, 0x03, 0x6e, 0x6f, 0x6e, 0x63,
    0x65, 0xa4, 0x61, 0x75, 0x74, 0x68, 0xc4, 0x00, 0xa9, 0x6b, 0x65,
    0x65, 0x70, 0x61, 0x6c, 0x69, 0x76, 0x65, 0xc3};

static void test_forward_helo_parse(void **state)
{
    struct iocs_fwd_helo h;
    size_t used, n;

    (void)state;
    assert_int_equal(
        iocs_fwd_helo_parse(helo_bytes, sizeof(helo_bytes), &used, &h), 0);
    assert_int_equal(used, sizeof(helo_bytes));
    assert_int_equal(h.nonce_len, 8);
    assert_memory_equal(h.nonce, "\x01\x02\x03nonce", 8);
    assert_int_equal(h.auth_len, 0);
    assert_true(h.keepalive);
    /* Every proper prefix is incomplete, never an error or a read past. */
    for (n = 0; n < sizeof(helo_bytes); n++)
        assert_int_equal(iocs_fwd_helo_parse(helo_bytes, n, &used, &h),
                         -EAGAIN);
    /* No nonce: refused. */
    assert_int_equal(iocs_fwd_helo_parse("\x92\xa4HELO\x80", 7, &used, &h),
                     -EPROTO);
    assert_int_equal(iocs_fwd_helo_parse("\x92\xa4PONG\x80", 7, &used, &h),
                     -EPROTO);
}

static void test_forward_digest_matches_hashlib(void **state)
{
    char d[IOCS_FWD_DIGEST_LEN + 1];

    (void)state;
    assert_int_equal(iocs_fwd_digest(d, "salt1", "client.test",
                                     "\x01\x02\x03nonce", 8, "s3cret"),
                     0);
    assert_string_equal(d, digest_client);
}

/* The PING carries the digest of our salt, host, the nonce and the key. */
static void test_forward_ping_bytes(void **state)
{
    struct iocs_fwd_buf b = {0};
    struct iocs_fwd_helo h;
    size_t used, off = 0;

    (void)state;
    assert_int_equal(
        iocs_fwd_helo_parse(helo_bytes, sizeof(helo_bytes), &used, &h), 0);
    assert_int_equal(iocs_fwd_ping(&b, "client.test", "salt1", &h, "s3cret"),
                     0);
    assert_memory_equal(b.p,
                        "\x96\xa4PING\xab"
                        "client.test\xa5salt1",
                        24);
    off = 24;
    assert_memory_equal(b.p + off, "\xd9\x80", 2); /* str8, 128 bytes */
    assert_memory_equal(b.p + off + 2, digest_client, 128);
    off += 2 + 128;
    assert_memory_equal(b.p + off, "\xa0\xa0", 2); /* no user auth */
    assert_int_equal(b.len, off + 2);
    iocs_fwd_buf_fini(&b);
}

/* Build ["PONG", ok, reason, host, digest] into out; returns its length. */
static size_t pong(unsigned char *out, bool ok, const char *reason,
                   const char *host, const char *digest)
{
    size_t n = 0, l;

    out[n++] = 0x95;
    memcpy(out + n, "\xa4PONG", 5);
    n += 5;
    out[n++] = ok ? 0xc3 : 0xc2;
    out[n++] = (unsigned char)(0xa0 | strlen(reason));
    memcpy(out + n, reason, strlen(reason));
    n += strlen(reason);
    out[n++] = (unsigned char)(0xa0 | strlen(host));
    memcpy(out + n, host, strlen(host));
    n += strlen(host);
    l = strlen(digest);
    out[n++] = 0xd9;
    out[n++] = (unsigned char)l;
    memcpy(out + n, digest, l);
    return n + l;
}

static void test_forward_pong_check(void **state)
{
    unsigned char buf[512];
    struct iocs_fwd_helo h;
    struct iocs_fwd_pong p;
    size_t used, n;

    (void)state;
    assert_int_equal(
        iocs_fwd_helo_parse(helo_bytes, sizeof(helo_bytes), &used, &h), 0);

    n = pong(buf, true, "", "srv", digest_srv);
    assert_int_equal(iocs_fwd_pong_parse(buf, n, &used, &p), 0);
    assert_int_equal(used, n);
    assert_string_equal(p.host, "srv");
    assert_int_equal(iocs_fwd_pong_check(&p, "salt1", &h, "s3cret"), 0);
    /* The same PONG under another key: the receiver does not know ours. */
    assert_int_equal(iocs_fwd_pong_check(&p, "salt1", &h, "other"), -EACCES);
    assert_int_equal(iocs_fwd_pong_parse(buf, n - 1, &used, &p), -EAGAIN);

    n = pong(buf, true, "", "srv", digest_client); /* the wrong host's */
    assert_int_equal(iocs_fwd_pong_parse(buf, n, &used, &p), 0);
    assert_int_equal(iocs_fwd_pong_check(&p, "salt1", &h, "s3cret"), -EACCES);

    n = pong(buf, false, "shared_key mismatch", "", "");
    assert_int_equal(iocs_fwd_pong_parse(buf, n, &used, &p), 0);
    assert_false(p.ok);
    assert_string_equal(p.reason, "shared_key mismatch");
    assert_int_equal(iocs_fwd_pong_check(&p, "salt1", &h, "s3cret"), -EACCES);

    assert_int_equal(
        iocs_fwd_pong_parse("\x95\xa4PONG\x01\xa0\xa0\xa0", 10, &used, &p),
        -EPROTO); /* ok not a boolean */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_packed_bytes),
        cmocka_unit_test(test_forward_compressed_inflates_to_entries),
        cmocka_unit_test(test_forward_pack_rejects_bad_batch),
        cmocka_unit_test(test_forward_chunk_id),
        cmocka_unit_test(test_forward_ack_parse),
        cmocka_unit_test(test_forward_helo_parse),
        cmocka_unit_test(test_forward_digest_matches_hashlib),
        cmocka_unit_test(test_forward_ping_bytes),
        cmocka_unit_test(test_forward_pong_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
