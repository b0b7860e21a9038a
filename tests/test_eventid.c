/*
 * test_eventid.c - event.id: the same hit gives the same id, whatever
 * else changed (the IOC's index in its set, the scan), and any part of its
 * identity that changes gives another; the hash itself is pinned, since
 * ids are stored downstream.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <string.h>

#include "pipeline/eventid.h"

static struct iocs_ioc ioc_of(enum iocs_type type, const char *value)
{
    struct iocs_ioc ioc = {0};

    ioc.type = type;
    ioc.value = value;
    ioc.len = strlen(value);
    ioc.feed = "f";
    return ioc;
}

static struct iocs_source file_src(uint64_t dev, uint64_t ino, uint64_t fp)
{
    struct iocs_source s = iocs_source_of("/var/log/x.log");

    s.dev = dev;
    s.ino = ino;
    s.fingerprint = fp;
    s.fp_len = 4096;
    return s;
}

/* Pinned values: a change here changes every id ever written. */
static void test_eventid_pinned(void **state)
{
    struct iocs_source src = file_src(2049, 131073, 0x0123456789abcdefull);
    struct iocs_ioc ioc = ioc_of(IOCS_IPV4, "192.81.209.168");
    char id[IOCS_EVENTID_LEN + 1];
    uint64_t key = iocs_eventid_source(&src);

    (void)state;
    iocs_eventid_make(id, key, 4242, &ioc);
    assert_int_equal(strlen(id), IOCS_EVENTID_LEN);
    assert_int_equal(strspn(id, "0123456789abcdef"), IOCS_EVENTID_LEN);
    assert_string_equal(id, "88c955a4686ac708c79d4c3bae332584");
}

/* Everything that names the hit changes the id; nothing else does. */
static void test_eventid_parts(void **state)
{
    static const struct {
        const char *what;
        uint64_t dev, ino, fp, offset;
        enum iocs_type type;
        const char *value;
    } cases[] = {
        {"device", 2050, 7, 99, 100, IOCS_IPV4, "10.0.0.1"},
        {"inode", 2049, 8, 99, 100, IOCS_IPV4, "10.0.0.1"},
        {"fingerprint", 2049, 7, 98, 100, IOCS_IPV4, "10.0.0.1"},
        {"offset", 2049, 7, 99, 101, IOCS_IPV4, "10.0.0.1"},
        {"type", 2049, 7, 99, 100, IOCS_DOMAIN, "10.0.0.1"},
        {"value", 2049, 7, 99, 100, IOCS_IPV4, "10.0.0.2"},
        {"value length", 2049, 7, 99, 100, IOCS_IPV4, "10.0.0.1\0"},
    };
    struct iocs_source base = file_src(2049, 7, 99);
    struct iocs_ioc bioc = ioc_of(IOCS_IPV4, "10.0.0.1");
    char want[IOCS_EVENTID_LEN + 1], got[IOCS_EVENTID_LEN + 1];

    (void)state;
    iocs_eventid_make(want, iocs_eventid_source(&base), 100, &bioc);
    /* Same inputs, same id (another record, another index in the set). */
    {
        struct iocs_source again = file_src(2049, 7, 99);
        struct iocs_ioc same = ioc_of(IOCS_IPV4, "10.0.0.1");

        same.severity = 75;
        same.feed = "another feed";
        iocs_eventid_make(got, iocs_eventid_source(&again), 100, &same);
        assert_string_equal(got, want);
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct iocs_source s =
            file_src(cases[i].dev, cases[i].ino, cases[i].fp);
        struct iocs_ioc ioc = ioc_of(cases[i].type, cases[i].value);

        if (strcmp(cases[i].what, "value length") == 0)
            ioc.len++; /* the NUL: a value is its bytes, not a C string */
        iocs_eventid_make(got, iocs_eventid_source(&s), cases[i].offset, &ioc);
        if (strcmp(got, want) == 0)
            fail_msg("%s does not change the id", cases[i].what);
    }
}

/* A source of unknown identity (a pipe on stdin) is known by its name; a
 * fingerprint not computed (fp_len 0) is not part of the key. */
static void test_eventid_unknown_source(void **state)
{
    struct iocs_source in = iocs_source_of("-"), other = iocs_source_of("x");
    struct iocs_source nofp = file_src(1, 2, 3), nofp2 = file_src(1, 2, 4);

    (void)state;
    assert_int_not_equal(iocs_eventid_source(&in), iocs_eventid_source(&other));
    nofp.fp_len = nofp2.fp_len = 0;
    assert_int_equal(iocs_eventid_source(&nofp), iocs_eventid_source(&nofp2));
    /* A file with dev and ino is not known by its name: a rename keeps
     * its ids. */
    nofp2 = nofp;
    nofp2.path = "/var/log/x.log.1";
    assert_int_equal(iocs_eventid_source(&nofp), iocs_eventid_source(&nofp2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eventid_pinned),
        cmocka_unit_test(test_eventid_parts),
        cmocka_unit_test(test_eventid_unknown_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
