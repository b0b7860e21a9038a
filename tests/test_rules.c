/*
 * test_rules.c - the regex rule file parser: fields, flags, severities,
 * escapes, and Hyperscan's own message for a rule it refuses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <hs/hs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "matchers/ioc.h"
#include "matchers/rules.h"

struct rejects {
    size_t n;
    size_t line[16];
    char why[16][256];
};

static void on_reject(void *ctx, const char *file, size_t line, const char *why)
{
    struct rejects *r = ctx;

    assert_string_equal(file, "dir/t.rules");
    if (r->n < 16) {
        r->line[r->n] = line;
        snprintf(r->why[r->n], sizeof(r->why[0]), "%s", why);
    }
    r->n++;
}

/* One line each: taken (with its parts) or rejected (with a reason). */
static void test_rules_lines(void **state)
{
    static const struct {
        const char *line;
        const char *expr; /* NULL: rejected */
        int severity;
        unsigned flags;
        const char *desc; /* rejected: a piece of the reason */
    } t[] = {
        {"r1 5 /abc/ plain", "abc", 5, 0, "plain"},
        {"r.2:x-y_z high /a\\/b/i  slash  inside ", "a\\/b", IOCS_SEV_HIGH,
         HS_FLAG_CASELESS, "slash  inside"},
        {"r3 critical /x.y/sm", "x.y", IOCS_SEV_CRITICAL, HS_FLAG_DOTALL, NULL},
        {"\tr4\t0\t/q+/\t", "q+", 0, 0, NULL},
        {"r5 low /[/]x/ class", "[", 0, 0, "flags ']x/'"},
        {"r6 101 /x/", NULL, 0, 0, "severity"},
        {"r7 5 /x/g", NULL, 0, 0, "flags 'g'"},
        {"r8 5 /x/ii", NULL, 0, 0, "flags"},
        {"r9 5 /abc", NULL, 0, 0, "no closing"},
        {"r10 5 // empty", NULL, 0, 0, "empty"},
        {"r11 5 /a(b/ bad", NULL, 0, 0, "Hyperscan: Missing close"},
        {"r12 5 /(?<=a)b/ lookbehind", NULL, 0, 0, "Hyperscan"},
        {"r13 5 /a*/ empty match", NULL, 0, 0, "Hyperscan"},
        {"r14 5 abc", NULL, 0, 0, "/EXPRESSION/FLAGS"},
        {"bad!id 5 /x/", NULL, 0, 0, "rule id"},
        {"r15", NULL, 0, 0, "severity"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct iocs_feed_report rep = {0};
        struct rejects rj = {0};
        struct iocs_iocset *set;

        assert_int_equal(iocs_iocset_new(&set), 0);
        assert_int_equal(iocs_rules_load_mem(set, "dir/t.rules", t[i].line,
                                             strlen(t[i].line), on_reject, &rj,
                                             &rep),
                         0);
        if (t[i].expr && strcmp(t[i].expr, "[") != 0) {
            const struct iocs_ioc *x = iocs_iocset_get(set, 0);

            if (rj.n)
                fail_msg("line '%s' rejected: %s", t[i].line, rj.why[0]);
            assert_int_equal(rep.loaded, 1);
            assert_int_equal(x->type, IOCS_REGEX);
            assert_string_equal(x->value, t[i].expr);
            assert_int_equal(x->severity, t[i].severity);
            assert_int_equal(x->hs_flags, t[i].flags);
            assert_string_equal(x->reference, "dir/t.rules:1");
            assert_string_equal(x->feed, "t.rules");
            assert_non_null(x->rule_id);
            if (t[i].desc)
                assert_string_equal(x->description, t[i].desc);
            else
                assert_null(x->description);
        } else if (t[i].expr) {
            /* "[/]x": the first unescaped '/' ends the expression at "[";
             * what follows is read as flags. Write "[\/]". */
            assert_int_equal(rj.n, 1);
            if (!strstr(rj.why[0], t[i].desc))
                fail_msg("%s", rj.why[0]);
        } else {
            if (rj.n != 1 || !strstr(rj.why[0], t[i].desc))
                fail_msg("line '%s': %zu rejects, '%s'", t[i].line, rj.n,
                         rj.n ? rj.why[0] : "");
            assert_int_equal(rj.line[0], 1);
            assert_int_equal(iocs_iocset_count(set), 0);
        }
        iocs_iocset_free(set);
    }
}

/* Comments, blank lines, CRLF, a BOM; line numbers in references. */
static void test_rules_file(void **state)
{
    static const char buf[] = "\xef\xbb\xbf# header\r\n"
                              "\r\n"
                              "  # indented comment\n"
                              "a 1 /one/ first\r\n"
                              "b 2 /two(/ broken\n"
                              "c 3 /three/i\n"
                              "a 1 /one/ again";
    struct iocs_feed_report rep = {0};
    struct rejects rj = {0};
    struct iocs_iocset *set;
    char path[PATH_MAX];

    (void)state;
    assert_int_equal(iocs_iocset_new(&set), 0);
    assert_int_equal(iocs_rules_load_mem(set, "dir/t.rules", buf,
                                         sizeof(buf) - 1, on_reject, &rj, &rep),
                     0);
    assert_int_equal(rep.lines, 7);
    assert_int_equal(rep.loaded, 2);
    assert_int_equal(rep.duplicates, 1);
    assert_int_equal(rep.rejected, 1);
    assert_int_equal(rj.line[0], 5);
    assert_non_null(strstr(rj.why[0], "rule b: Hyperscan:"));
    assert_string_equal(iocs_iocset_get(set, 0)->reference, "dir/t.rules:4");
    assert_string_equal(iocs_iocset_get(set, 0)->description, "first");
    assert_string_equal(iocs_iocset_get(set, 0)->rule_id, "a");
    assert_string_equal(iocs_iocset_get(set, 1)->reference, "dir/t.rules:6");
    assert_string_equal(iocs_iocset_get(set, 1)->rule_id, "c");

    /* A NUL byte makes the whole file unusable. */
    assert_int_equal(
        iocs_rules_load_mem(set, "x", "a 1 /b/\0", 8, NULL, NULL, NULL),
        -EINVAL);

    /* From a file; a missing file is its errno. */
    t_tmp_text(path, sizeof(path), "z.rules", "z 9 /zzz/\n");
    assert_int_equal(iocs_rules_load_file(set, path, NULL, NULL, NULL), 0);
    assert_int_equal(iocs_iocset_count(set), 3);
    unlink(path);
    assert_int_equal(iocs_rules_load_file(set, path, NULL, NULL, NULL),
                     -ENOENT);
    iocs_iocset_free(set);
}

static void test_rules_flags(void **state)
{
    unsigned f;

    (void)state;
    assert_int_equal(iocs_rules_flags("", 0, &f), 0);
    assert_int_equal(f, 0);
    assert_int_equal(iocs_rules_flags("ism", 3, &f), 0);
    assert_int_equal(f, HS_FLAG_CASELESS | HS_FLAG_DOTALL);
    assert_int_equal(iocs_rules_flags("x", 1, &f), -EINVAL);
    assert_int_equal(iocs_rules_flags("ss", 2, &f), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_lines),
        cmocka_unit_test(test_rules_file),
        cmocka_unit_test(test_rules_flags),
    };
    return t_run_in_tmpdir(tests);
}
