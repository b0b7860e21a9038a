/*
 * test_allow.c - allowlists: plain lists and MISP warninglists, addresses,
 * ranges, domains with their subdomains, exact values, and bad files.
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
#include <unistd.h>

#include "helpers.h"
#include "matchers/allow.h"
#include "matchers/cidr.h"

struct rejects {
    size_t n;
    size_t line[8];
    char why[8][128];
};

static void on_reject(void *ctx, const char *file, size_t line, const char *why)
{
    struct rejects *r = ctx;

    (void)file;
    if (r->n < 8) {
        r->line[r->n] = line;
        snprintf(r->why[r->n], sizeof(r->why[0]), "%s", why);
    }
    r->n++;
}

static int setup(void **state)
{
    struct iocs_allow *a;

    if (iocs_allow_new(&a) < 0)
        return -1;
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    iocs_allow_free(*state);
    return 0;
}

static int load_text(struct iocs_allow *a, const char *text, struct rejects *r,
                     size_t *loaded)
{
    char path[PATH_MAX];
    int err;

    t_tmp_text(path, sizeof(path), "allow.txt", text);
    err = iocs_allow_load_file(a, path, on_reject, r, loaded);
    unlink(path);
    return err;
}

static bool allowed(const struct iocs_allow *a, enum iocs_type t, const char *v)
{
    return iocs_allow_ioc(a, t, v, strlen(v));
}

/* A plain list: addresses, ranges, domains, hashes, comments, defanged. */
static void test_allow_plain(void **state)
{
    struct iocs_allow *a = *state;
    struct rejects r = {0};
    size_t loaded = 0;
    uint8_t ip[16];

    assert_int_equal(load_text(a,
                               "# resolvers\n"
                               "8.8.8.8\n"
                               "10.0.0.0/8   # corp\n"
                               "2001:db8::/32\n"
                               "Microsoft[.]com\n"
                               "*.corp.example\n"
                               "D41D8CD98F00B204E9800998ECF8427E\n"
                               "10.0.0.0/33\n",
                               &r, &loaded),
                     0);
    assert_int_equal(loaded, 6);
    assert_int_equal(iocs_allow_count(a), 6);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.line[0], 8);
    assert_string_equal(r.why[0], "prefix length over 32");

    assert_true(allowed(a, IOCS_IPV4, "8.8.8.8"));
    assert_false(allowed(a, IOCS_IPV4, "8.8.4.4"));
    assert_true(allowed(a, IOCS_IPV4, "10.20.30.40"));
    assert_true(allowed(a, IOCS_CIDR4, "10.1.0.0/16"));
    assert_false(allowed(a, IOCS_CIDR4, "0.0.0.0/0"));
    assert_true(allowed(a, IOCS_IPV6, "2001:db8::1"));
    assert_true(allowed(a, IOCS_DOMAIN, "microsoft.com"));
    assert_true(allowed(a, IOCS_DOMAIN, "login.microsoft.com"));
    assert_false(allowed(a, IOCS_DOMAIN, "microsoft.com.evil.example"));
    assert_false(allowed(a, IOCS_DOMAIN, "notmicrosoft.com"));
    assert_true(allowed(a, IOCS_DOMAIN, "corp.example"));
    assert_true(allowed(a, IOCS_DOMAIN, "a.b.corp.example"));
    assert_true(allowed(a, IOCS_MD5, "d41d8cd98f00b204e9800998ecf8427e"));
    assert_false(allowed(a, IOCS_STRING, "d41d8cd98f00b204e9800998ecf8427e"));

    assert_int_equal(iocs_ip4_parse("10.9.9.9", 8, ip), 0);
    assert_true(iocs_allow_ip(a, 4, ip));
    assert_int_equal(iocs_ip4_parse("11.9.9.9", 8, ip), 0);
    assert_false(iocs_allow_ip(a, 4, ip));
}

/* MISP warninglists: cidr, hostname and string lists. */
static void test_allow_warninglist(void **state)
{
    struct iocs_allow *a = *state;
    struct rejects r = {0};
    size_t loaded = 0;

    assert_int_equal(
        load_text(a,
                  "{\"name\": \"List of known Google DNS\", \"type\": "
                  "\"cidr\", \"list\": [\"8.8.8.8/32\", \"2001:4860::/32\", "
                  "\"nonsense\", 5]}",
                  &r, &loaded),
        0);
    assert_int_equal(loaded, 2);
    assert_int_equal(r.n, 2);
    assert_int_equal(load_text(a,
                               "{\"name\": \"hosts\", \"type\": \"hostname\", "
                               "\"list\": [\"windowsupdate.com\", "
                               "\"1.1.1.1\"]}",
                               &r, &loaded),
                     0);
    assert_int_equal(load_text(a,
                               "{\"name\": \"s\", \"type\": \"string\", "
                               "\"list\": [\"http://ok.example/a\"]}",
                               &r, &loaded),
                     0);
    assert_int_equal(loaded, 5);
    assert_true(allowed(a, IOCS_IPV4, "8.8.8.8"));
    assert_true(allowed(a, IOCS_IPV4, "1.1.1.1"));
    assert_true(allowed(a, IOCS_DOMAIN, "download.windowsupdate.com"));
    assert_true(allowed(a, IOCS_URL, "http://ok.example/a"));
    assert_false(allowed(a, IOCS_URL, "http://ok.example/b"));
}

/* Entries that would allow everything are refused with file:line: why, in
 * plain lists and warninglists alike; an IPv4 or IPv6 IOC stays an alert. */
static void test_allow_refuses_everything(void **state)
{
    static const struct {
        const char *text; /* one entry: a plain line or a warninglist */
        const char *why;
    } t[] = {
        {"0.0.0.0/0\n", "covers every address"},
        {"::/0\n", "covers every address"},
        {"0:0:0:0:0:0:0:0/0\n", "covers every address"},
        {"x\n", "a single character matches almost anything"},
        {"*.a\n", "a single character matches almost anything"},
        {"{\"name\": \"w\", \"type\": \"cidr\", \"list\": [\"0.0.0.0/0\"]}",
         "covers every address"},
        {"{\"name\": \"w\", \"type\": \"cidr\", \"list\": [\"::/0\"]}",
         "covers every address"},
        {"{\"name\": \"w\", \"type\": \"string\", \"list\": [\"7\"]}",
         "a single character matches almost anything"},
    };
    uint8_t ip[16];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct iocs_allow *a = NULL;
        struct rejects r = {0};
        size_t loaded = 0;

        assert_int_equal(iocs_allow_new(&a), 0);
        assert_int_equal(load_text(a, t[i].text, &r, &loaded), 0);
        if (r.n != 1 || strstr(r.why[0], t[i].why) == NULL)
            fail_msg("%s: %zu rejects, '%s'", t[i].text, r.n, r.why[0]);
        assert_int_equal(r.line[0], 1);
        assert_int_equal(loaded, 0);
        assert_int_equal(iocs_allow_count(a), 0);
        assert_false(allowed(a, IOCS_IPV4, "192.81.209.168"));
        assert_false(allowed(a, IOCS_IPV6, "2604:a880:400:d1::7716:1"));
        assert_int_equal(iocs_ip4_parse("192.81.209.168", 14, ip), 0);
        assert_false(iocs_allow_ip(a, 4, ip));
        iocs_allow_free(a);
    }
    (void)state;
}

/* Files that cannot be used: a clear error. */
static void test_allow_bad_files(void **state)
{
    struct iocs_allow *a = *state;
    static const char *const bad[] = {
        "{\"name\": \"x\", \"type\": \"regex\", \"list\": [\"a.*\"]}",
        "{\"name\": \"x\", \"type\": \"substring\", \"list\": [\"a\"]}",
        "{\"name\": \"x\", \"list\": 3}",
        "{\"name\": \"x\", \"list\": [",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rejects r = {0};

        assert_int_equal(load_text(a, bad[i], &r, NULL), -EINVAL);
        assert_int_equal(r.n, 1);
    }
    assert_int_equal(iocs_allow_count(a), 0);
    assert_int_equal(
        iocs_allow_load_file(a, "/nonexistent/allow.txt", NULL, NULL, NULL),
        -ENOENT);
    /* NULL is accepted where the contract says so. */
    assert_false(iocs_allow_ioc(NULL, IOCS_IPV4, "1.2.3.4", 7));
    iocs_allow_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_allow_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_warninglist, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_allow_bad_files, setup, teardown),
        cmocka_unit_test(test_allow_refuses_everything),
    };
    return t_run_in_tmpdir(tests);
}
