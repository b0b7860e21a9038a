/*
 * test_progress.c - the progress line: its text, its rate limit, and that
 * it erases itself.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/progress.h"

/* Bytes of the total, the rate, events and the time left. */
static void test_progress_format(void **state)
{
    char out[200];

    (void)state;
    iocs__progress_format(out, sizeof(out), 1000000000ull, 4000000000ull, 42,
                          2.0);
    assert_string_equal(out, "1.00 GB of 4.00 GB (25%)  0.50 GB/s  42 events"
                             "  ETA 0:00:06");
    iocs__progress_format(out, sizeof(out), 5000000, 0, 0, 1.0);
    assert_string_equal(out, "5.0 MB  0.01 GB/s  0 events");
}

/* Read what is in the pipe now. */
static size_t drain(int fd, char *buf, size_t cap)
{
    ssize_t n = read(fd, buf, cap - 1);

    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

/* A thousand updates in a row draw once; the end erases the line; a
 * disabled line writes nothing at all. */
static void test_progress_rate_and_erase(void **state)
{
    struct iocs_progress *p;
    int fds[2];
    char buf[65536];
    struct timespec t0, t1;
    long draws = 0;
    size_t n;

    (void)state;
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    assert_int_equal(iocs_progress_new(&p, fds[1], true), 0);
    iocs_progress_total(p, 1000);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++)
        iocs_progress_update(p, (uint64_t)i, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    n = drain(fds[0], buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(buf[0], '\r');
    /* One draw per 100 ms at most (a loaded machine may take longer than
     * 100 ms over the loop, so allow what the elapsed time allows). */
    for (const char *c = buf; (c = strchr(c, '\r')); c++)
        draws++;
    assert_true(draws <= 1 + ((t1.tv_sec - t0.tv_sec) * 1000 +
                              (t1.tv_nsec - t0.tv_nsec) / 1000000) /
                                 100);
    iocs_progress_free(p);
    n = drain(fds[0], buf, sizeof(buf));
    assert_string_equal(buf, "\r\033[K");

    assert_int_equal(iocs_progress_new(&p, fds[1], false), 0);
    iocs_progress_update(p, 1, 1);
    assert_int_equal(iocs_progress_phase_begin(p, "compiling"), 0);
    iocs_progress_phase_end(p);
    iocs_progress_free(p);
    assert_int_equal(drain(fds[0], buf, sizeof(buf)), 0);
    close(fds[0]);
    close(fds[1]);
}

/* A compile phase draws "what... N s" from its thread and erases it. */
static void test_progress_phase(void **state)
{
    struct iocs_progress *p;
    struct timespec t = {0, 300000000};
    int fds[2];
    char buf[65536];

    (void)state;
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    assert_int_equal(iocs_progress_new(&p, fds[1], true), 0);
    assert_int_equal(iocs_progress_phase_begin(p, "compiling 9 IOCs"), 0);
    nanosleep(&t, NULL);
    iocs_progress_phase_end(p);
    drain(fds[0], buf, sizeof(buf));
    assert_non_null(strstr(buf, "compiling 9 IOCs... "));
    assert_non_null(strstr(buf, " s\033[K"));
    assert_int_equal(strcmp(buf + strlen(buf) - 4, "\r\033[K"), 0);
    iocs_progress_free(p);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_format),
        cmocka_unit_test(test_progress_rate_and_erase),
        cmocka_unit_test(test_progress_phase),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
