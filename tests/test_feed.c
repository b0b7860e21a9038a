/*
 * test_feed.c - plain IOC lists into a set: comments, CRLF, BOM, defanged
 * values, rejected lines and the shared corpus.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "matchers/feed.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Why a plain-list value of no indicator type is skipped. */
#define NOT_IOC "not an indicator; load text IOCs with --strings FILE"

/* What the reject callback saw. */
struct rejects {
    size_t n;
    size_t line[16];
    char why[16][64];
    char file[64];
};

static void on_reject(void *ctx, const char *file, size_t line, const char *why)
{
    struct rejects *r = ctx;

    if (r->n < ARRAY_LEN(r->line)) {
        r->line[r->n] = line;
        snprintf(r->why[r->n], sizeof(r->why[0]), "%s", why);
    }
    snprintf(r->file, sizeof(r->file), "%s", file);
    r->n++;
}

static int setup(void **state)
{
    struct iocs_iocset *s;

    if (iocs_iocset_new(&s) < 0)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    iocs_iocset_free(*state);
    return 0;
}

static int load(struct iocs_iocset *s, const char *text, struct rejects *r,
                struct iocs_feed_report *rep)
{
    return iocs_feed_load_mem(s, "feeds/test.txt", text, strlen(text),
                              on_reject, r, rep);
}

static const struct {
    const char *value;
    enum iocs_type type;
    const char *reference;
} plain_want[] = {
    {"192.81.209.168", IOCS_IPV4, "feeds/test.txt:3"},
    {"2604:a880:400:d1::7716:1", IOCS_IPV6, "feeds/test.txt:4"},
    {"evil.example", IOCS_DOMAIN, "feeds/test.txt:6"},
    {"http://evil.example/a.php", IOCS_URL, "feeds/test.txt:7"},
    {"10.0.0.0/8", IOCS_CIDR4, "feeds/test.txt:8"},
    {"d41d8cd98f00b204e9800998ecf8427e", IOCS_MD5, "feeds/test.txt:9"},
    {"mimikatz.exe", IOCS_FILENAME, "feeds/test.txt:10"},
    {"a@evil.example", IOCS_EMAIL, "feeds/test.txt:11"},
};

/* Comments, blank lines, CRLF, a BOM and defanged values. A value of no
 * indicator type (line 12) is reported and skipped, not loaded as text. */
static void test_feed_plain_list(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    struct rejects r = {0};
    const char *text = "\xef\xbb\xbf# BeyondTrust incident\r\n"
                       "\r\n"
                       "192[.]81[.]209[.]168\r\n"
                       "2604:A880:0400:00D1:0:0:7716:0001\n"
                       "   # indented comment\n"
                       "  EVIL[.]example  \n"
                       "hxxp://Evil[.]Example/a.php\n"
                       "10.1.2.3/8\n"
                       "D41D8CD98F00B204E9800998ECF8427E\n"
                       "mimikatz.exe\n"
                       "a[@]evil[.]example\n"
                       "ingredi support desk\n"
                       "evil.example\n"
                       "\t\n"
                       "192.81.209.168"; /* no final newline */

    assert_int_equal(load(s, text, &r, &rep), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.line[0], 12);
    assert_string_equal(r.why[0], NOT_IOC);
    assert_int_equal(rep.lines, 15);
    assert_int_equal(rep.loaded, ARRAY_LEN(plain_want));
    assert_int_equal(rep.duplicates, 2);
    assert_int_equal(rep.rejected, 0);
    assert_int_equal(rep.skipped, 1);
    assert_int_equal(rep.untyped, 1);
    assert_int_equal(iocs_iocset_count(s), ARRAY_LEN(plain_want));
    for (size_t i = 0; i < ARRAY_LEN(plain_want); i++) {
        const struct iocs_ioc *ioc = iocs_iocset_get(s, i);

        assert_string_equal(ioc->value, plain_want[i].value);
        assert_int_equal(ioc->type, plain_want[i].type);
        assert_string_equal(ioc->reference, plain_want[i].reference);
        assert_string_equal(ioc->feed, "test.txt");
        assert_int_equal(ioc->severity, 0);
    }
}

/* The counts add to what the report already holds. */
static void test_feed_report_accumulates(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};

    assert_int_equal(load(s, "evil.example\n", NULL, &rep), 0);
    assert_int_equal(load(s, "evil.example\nbad.example\n", NULL, &rep), 0);
    assert_int_equal(rep.lines, 3);
    assert_int_equal(rep.loaded, 2);
    assert_int_equal(rep.duplicates, 1);
    /* No report and no callback are fine too. */
    assert_int_equal(
        iocs_feed_load_mem(s, NULL, "x.example", 9, NULL, NULL, NULL), 0);
    assert_int_equal(iocs_iocset_count(s), 3);
}

static const struct {
    size_t line;
    const char *why;
} reject_want[] = {
    {2, NOT_IOC},
    {4, "prefix length over 32"},
    {5, "contains a control character"},
    {7, "longer than 2048 bytes"},
    {8, "prefix length over 128"},
};

/* Rejected lines reach the callback with their number and reason; so does
 * a word ("abc"), which is skipped, not rejected. */
static void test_feed_rejects(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    struct rejects r = {0};
    char *text = malloc(4096);
    size_t n = 0;

    assert_non_null(text);
    n += (size_t)sprintf(text + n, "good.example\n");
    n += (size_t)sprintf(text + n, "abc\n");
    n += (size_t)sprintf(text + n, "# comment\n");
    n += (size_t)sprintf(text + n, "10.0.0.0/33\r\n");
    n += (size_t)sprintf(text + n, "bell\a.example\n");
    n += (size_t)sprintf(text + n, "1.2.3.4\n");
    memset(text + n, 'a', 2100);
    n += 2100;
    n += (size_t)sprintf(text + n, "\n2001:db8::/129");

    assert_int_equal(
        iocs_feed_load_mem(s, "feeds/test.txt", text, n, on_reject, &r, &rep),
        0);
    assert_int_equal(rep.lines, 8);
    assert_int_equal(rep.loaded, 2);
    assert_int_equal(rep.rejected, ARRAY_LEN(reject_want) - 1);
    assert_int_equal(rep.skipped, 1);
    assert_int_equal(rep.untyped, 1);
    assert_int_equal(r.n, ARRAY_LEN(reject_want));
    assert_string_equal(r.file, "feeds/test.txt");
    for (size_t i = 0; i < ARRAY_LEN(reject_want); i++) {
        assert_int_equal(r.line[i], reject_want[i].line);
        assert_string_equal(r.why[i], reject_want[i].why);
    }
    free(text);
}

/* A ';' or ',' starts a description only after a typed value. A plain
 * list's free text is no IOC; a --strings file keeps such a line whole. */
static void test_feed_description_split(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    struct iocs_feed_opts text = {.strings = true};
    struct rejects r = {0};
    const struct iocs_ioc *x;
    static const char lines[] = "176.123.5.126;65\n"
                                "evil.example,C2 server\n"
                                "Mozilla/5.0 (compatible; Xbot/1.0; +x)\n"
                                "not, really a list\n";

    assert_int_equal(load(s, lines, &r, &rep), 0);
    assert_int_equal(rep.loaded, 2);
    assert_int_equal(rep.skipped, 2);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.line[0], 3);
    assert_int_equal(r.line[1], 4);
    x = iocs_iocset_get(s, 0);
    assert_string_equal(x->value, "176.123.5.126");
    assert_string_equal(x->description, "65");
    x = iocs_iocset_get(s, 1);
    assert_string_equal(x->value, "evil.example");
    assert_string_equal(x->description, "C2 server");

    assert_int_equal(iocs_feed_load_mem_opts(s, "ua.txt",
                                             "Mozilla/5.0 (compatible; "
                                             "Xbot/1.0; +x)\nnot, really a "
                                             "list\n",
                                             58, &text, on_reject, &r, &rep),
                     0);
    assert_int_equal(rep.loaded, 4);
    x = iocs_iocset_get(s, 2);
    assert_int_equal(x->type, IOCS_STRING);
    assert_string_equal(x->value, "Mozilla/5.0 (compatible; Xbot/1.0; +x)");
    x = iocs_iocset_get(s, 3);
    assert_int_equal(x->type, IOCS_STRING);
    assert_string_equal(x->value, "not, really a list");
}

/* Issue 9, one plain-list line each: what it loads as, or why it is
 * skipped (counted, reported, no error under --strict) or rejected. */
static const struct {
    const char *line;
    bool allow_wide;
    enum iocs_type type; /* loaded: its type and value */
    const char *value;
    unsigned port;
    const char *why; /* not loaded: the reason reported */
    bool skipped;    /* skipped, not rejected */
} plain_rules[] = {
    {"144.34.218.157:23333", false, IOCS_IPV4, "144.34.218.157", 23333, NULL,
     false},
    {"[2604:a880:0400:00d1::7716:0001]:443", false, IOCS_IPV6,
     "2604:a880:400:d1::7716:1", 443, NULL, false},
    {"unwomen.org/jquery-3.3.1.min.js", false, IOCS_URL,
     "unwomen.org/jquery-3.3.1.min.js", 0, NULL, false},
    {"ando.co.kr/service/s_top.asp", false, IOCS_URL,
     "ando.co.kr/service/s_top.asp", 0, NULL, false},
    {"evil.example", false, IOCS_DOMAIN, "evil.example", 0, NULL, false},
    {"c2.test", false, IOCS_DOMAIN, "c2.test", 0, NULL, false},
    {"10.0.0.0/8", false, IOCS_CIDR4, "10.0.0.0/8", 0, NULL, false},
    {"2001:db8::/32", false, IOCS_CIDR6, "2001:db8::/32", 0, NULL, false},
    {"10.0.0.0/7", true, IOCS_CIDR4, "10.0.0.0/7", 0, NULL, false},
    {"test.user", false, IOCS_STRING, NULL, 0, NOT_IOC, true},
    {"cking", false, IOCS_STRING, NULL, 0, NOT_IOC, true},
    {"usernames:", false, IOCS_STRING, NULL, 0, NOT_IOC, true},
    {"ip addresses:", false, IOCS_STRING, NULL, 0, NOT_IOC, true},
    {"12345", false, IOCS_STRING, NULL, 0, NOT_IOC, true},
    {"31.76.252.47:443:443", false, IOCS_STRING, NULL, 0, NOT_IOC, true},
    {"10.0.0.0/7", false, IOCS_STRING, NULL, 0,
     "CIDR wider than /8; load it with --allow-wide", true},
    {"2001:db8::/31", false, IOCS_STRING, NULL, 0,
     "CIDR wider than /32; load it with --allow-wide", true},
    {"0.0.0.0/0", true, IOCS_STRING, NULL, 0, "covers every address", false},
    {"::/0", true, IOCS_STRING, NULL, 0, "covers every address", false},
};

static void test_feed_plain_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(plain_rules); i++) {
        struct iocs_feed_opts o = {.allow_wide = plain_rules[i].allow_wide,
                                   .strict = true};
        const char *line = plain_rules[i].line;
        struct iocs_feed_report rep = {0};
        struct rejects r = {0};
        struct iocs_iocset *s;
        int err;

        assert_int_equal(iocs_iocset_new(&s), 0);
        err = iocs_feed_load_mem_opts(s, "maltrail.txt", line, strlen(line), &o,
                                      on_reject, &r, &rep);
        if (plain_rules[i].value) {
            const struct iocs_ioc *x = iocs_iocset_get(s, 0);

            if (err || r.n)
                fail_msg("%s: %d, %s", line, err, r.n ? r.why[0] : "");
            assert_int_equal(x->type, plain_rules[i].type);
            assert_string_equal(x->value, plain_rules[i].value);
            assert_int_equal(x->port, plain_rules[i].port);
        } else {
            /* A skipped value is no error, even with --strict. */
            assert_int_equal(err, plain_rules[i].skipped ? 0 : -EINVAL);
            assert_int_equal(iocs_iocset_count(s), 0);
            assert_int_equal(r.n, 1);
            assert_int_equal(r.line[0], 1);
            if (strcmp(r.why[0], plain_rules[i].why) != 0)
                fail_msg("%s: '%s', want '%s'", line, r.why[0],
                         plain_rules[i].why);
            assert_int_equal(rep.skipped, plain_rules[i].skipped);
        }
        iocs_iocset_free(s);
    }
}

/* --strings FILE: text IOCs of at least 6 bytes, anywhere or as a word;
 * a single character is never an IOC, in any feed. */
static void test_feed_strings_file(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_opts text = {.strings = true};
    struct iocs_feed_report rep = {0};
    struct rejects r = {0};
    const struct iocs_ioc *x;
    static const char list[] = "# LOKI keywords\n"
                               "sekurlsa::logonpasswords\n"
                               "word:mimilib\n"
                               "text:WCESERVICE\n"
                               "admin\n"
                               "word:abc\n";

    assert_int_equal(iocs_feed_load_mem_opts(s, "kw.txt", list,
                                             sizeof(list) - 1, &text, on_reject,
                                             &r, &rep),
                     0);
    assert_int_equal(rep.loaded, 3);
    x = iocs_iocset_get(s, 0);
    assert_int_equal(x->type, IOCS_STRING);
    assert_string_equal(x->value, "sekurlsa::logonpasswords");
    assert_false(x->word);
    x = iocs_iocset_get(s, 1);
    assert_string_equal(x->value, "mimilib");
    assert_true(x->word);
    x = iocs_iocset_get(s, 2);
    assert_string_equal(x->value, "WCESERVICE");
    assert_false(x->word);
    assert_int_equal(rep.rejected, 2);
    assert_int_equal(r.line[0], 5);
    assert_string_equal(r.why[0], "text IOC shorter than 6 bytes");
    assert_int_equal(r.line[1], 6);

    /* A typed feed keeps its string types (CSV type column). */
    memset(&r, 0, sizeof(r));
    assert_int_equal(load(s,
                          "value,type\n"
                          "ingredi support desk,string\n"
                          "x,domain\n",
                          &r, &rep),
                     0);
    x = iocs_iocset_get(s, 3);
    assert_int_equal(x->type, IOCS_STRING);
    assert_string_equal(x->value, "ingredi support desk");
    assert_int_equal(r.n, 1);
    assert_int_equal(r.line[0], 3);
}

/* A plain list whose first line starts with '[' is no JSON: signature-base
 * filename-iocs.txt; the regex Hyperscan cannot compile (line 2) is
 * reported and the other lines load. */
static void test_feed_bracket_list(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    struct rejects r = {0};
    static const char list[] =
        "[Cc]:\\\\Users\\\\[^\\\\]+\\\\evil\\.exe;80\n"
        "[Cc]:\\\\$Recycle\\.Bin\\\\[^\\\\\"]{1,20}\\.(exe|dll);60\n"
        "\\\\mimikatz\\.exe;90\n";

    assert_int_equal(load(s, list, &r, &rep), 0);
    assert_int_equal(rep.loaded, 2);
    assert_int_equal(rep.rejected, 1);
    assert_int_equal(rep.bad_regex, 1);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.line[0], 2);
    assert_non_null(strstr(r.why[0], "Hyperscan"));
    assert_int_equal(iocs_iocset_get(s, 0)->type, IOCS_REGEX);
}

/* A NUL byte makes the whole feed unusable: nothing is added. */
static void test_feed_nul_byte(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    static const char text[] = "evil.example\nbad\0.example\n";
    struct rejects r = {0};

    assert_int_equal(iocs_feed_load_mem(s, "bin", text, sizeof(text) - 1,
                                        on_reject, &r, &rep),
                     -EINVAL);
    assert_int_equal(iocs_iocset_count(s), 0);
    assert_int_equal(rep.loaded, 0);
    /* The reason reaches the callback as line 0: the whole file. */
    assert_int_equal(r.n, 1);
    assert_int_equal(r.line[0], 0);
    assert_string_equal(r.why[0], "binary data (a NUL byte)");
}

/* Empty buffers, a lone BOM and only comments load nothing, fine. */
static void test_feed_empty(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};

    assert_int_equal(load(s, "", NULL, &rep), 0);
    assert_int_equal(load(s, "\xef\xbb\xbf", NULL, &rep), 0);
    assert_int_equal(load(s, "#a\n\n#b\n", NULL, &rep), 0);
    assert_int_equal(rep.lines, 3);
    assert_int_equal(rep.loaded, 0);
    assert_int_equal(iocs_iocset_count(s), 0);
}

/* Loading a missing file gives the open error. */
static void test_feed_missing_file(void **state)
{
    struct iocs_feed_report rep = {0};

    assert_int_equal(iocs_feed_load_file(*state, "/nonexistent/iocs.txt",
                                         on_reject, NULL, &rep),
                     -ENOENT);
}

static void load_corpus_file(struct iocs_iocset *s, const char *path)
{
    struct iocs_feed_report rep = {0};
    struct rejects r = {0};
    int err = iocs_feed_load_file(s, path, on_reject, &r, &rep);

    if (err)
        fail_msg("%s: %d", path, err);
    assert_true(rep.lines > 0);
    assert_true(rep.loaded > 0);
    /* Values of no type and too-wide CIDRs are reported too, but skipped. */
    assert_int_equal(rep.rejected + rep.untyped + rep.wide, r.n);
    print_message("%s: %zu lines, %zu loaded, %zu duplicates, %zu rejected, "
                  "%zu not indicators\n",
                  path, rep.lines, rep.loaded, rep.duplicates, rep.rejected,
                  rep.untyped);
}

/* Every plain-text feed of the shared corpus loads. */
static void test_feed_corpus(void **state)
{
    struct iocs_iocset *s = *state;
    char dir[4096], path[4096 + 512];
    struct dirent *de;
    size_t before;
    DIR *d;

    if (t_shared_dir(dir, sizeof(dir)))
        skip(); /* no corpus beside the source tree */
    snprintf(path, sizeof(path), "%s/corpus/iocs/talos", dir);
    d = opendir(path);
    if (!d)
        skip();
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);

        if (l < 4 || strcmp(de->d_name + l - 4, ".txt") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/corpus/iocs/talos/%s", dir,
                 de->d_name);
        load_corpus_file(s, path);
    }
    closedir(d);

    before = iocs_iocset_count(s);
    snprintf(path, sizeof(path), "%s/corpus/iocs/signature-base/c2-iocs.txt",
             dir);
    load_corpus_file(s, path);
    assert_true(iocs_iocset_count(s) > before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_feed_plain_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_report_accumulates, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_feed_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_description_split, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_feed_nul_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_missing_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_feed_corpus, setup, teardown),
        cmocka_unit_test(test_feed_plain_rules),
        cmocka_unit_test_setup_teardown(test_feed_strings_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_feed_bracket_list, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
