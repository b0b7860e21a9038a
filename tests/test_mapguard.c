/*
 * test_mapguard.c - the SIGBUS guard: a registered mapping whose file is
 * cut reads as zeros, in any thread, and says it faulted; a SIGBUS outside
 * every registered mapping still does what it did without the guard (the
 * process dies of it, or the handler installed before runs).
 *
 * The cases that must die, or must find no guard installed yet, run in a
 * fresh copy of this program (/proc/self/exe with a mode argument), so
 * cmocka's own handlers and the guard's once-per-process install stay out
 * of their way.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "pipeline/mapguard.h"

#define PG 4096u
#define FILE_PAGES 4u

/* The guard's handler, taken in main(): cmocka puts its own in place
 * around each test, so a test that faults puts the guard's back. */
static struct sigaction guard_sa, cmocka_sa;

static void guard_on(void)
{
    assert_int_equal(sigaction(SIGBUS, &guard_sa, &cmocka_sa), 0);
}

static void guard_off(void)
{
    assert_int_equal(sigaction(SIGBUS, &cmocka_sa, NULL), 0);
}

/* A file of FILE_PAGES pages of 'x', mapped read-only and shared; its
 * path into path. Returns the mapping. */
static unsigned char *map_file(char *path, size_t cap, const char *name)
{
    static unsigned char bytes[FILE_PAGES * PG];
    unsigned char *p;
    int fd;

    memset(bytes, 'x', sizeof(bytes));
    t_path(path, cap, name);
    t_write_file(path, bytes, sizeof(bytes));
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    p = mmap(NULL, sizeof(bytes), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(p != MAP_FAILED);
    return p;
}

/* Slots: ids, len 0 refused, every slot taken gives -ENOSPC, a removed
 * slot is free again and not faulted. */
static void test_mapguard_slots(void **state)
{
    static int ids[IOCS_MAPGUARD_SLOTS];
    static char area[IOCS_MAPGUARD_SLOTS];
    int id;

    (void)state;
    assert_int_equal(iocs_mapguard_add(area, 0), -EINVAL);
    for (unsigned i = 0; i < IOCS_MAPGUARD_SLOTS; i++) {
        ids[i] = iocs_mapguard_add(area + i, 1);
        assert_true(ids[i] >= 0);
        assert_false(iocs_mapguard_faulted(ids[i]));
    }
    assert_int_equal(iocs_mapguard_add(area, 1), -ENOSPC);
    iocs_mapguard_remove(ids[7]);
    id = iocs_mapguard_add(area + 7, 1);
    assert_int_equal(id, ids[7]);
    for (unsigned i = 0; i < IOCS_MAPGUARD_SLOTS; i++)
        iocs_mapguard_remove(ids[i]);
    assert_false(iocs_mapguard_faulted(-1));
    assert_false(iocs_mapguard_faulted(IOCS_MAPGUARD_SLOTS));
    iocs_mapguard_remove(-1); /* ignored */
}

/* A file cut under its mapping: its bytes up to the cut, zeros after it
 * (no SIGBUS), the mapping faulted, another mapping not. */
static void test_mapguard_cut_reads_zeros(void **state)
{
    char pa[PATH_MAX], pb[PATH_MAX];
    unsigned char *a, *b;
    uint64_t n0 = iocs_mapguard_faults();
    int ida, idb;

    (void)state;
    a = map_file(pa, sizeof(pa), "a");
    b = map_file(pb, sizeof(pb), "b");
    ida = iocs_mapguard_add(a, FILE_PAGES * PG);
    idb = iocs_mapguard_add(b, FILE_PAGES * PG);
    assert_true(ida >= 0 && idb >= 0);
    guard_on();
    assert_int_equal(truncate(pa, PG + 10), 0);
    assert_int_equal(a[PG + 9], 'x');
    assert_int_equal(a[PG + 10], 0); /* the cut page's tail: the kernel's */
    assert_false(iocs_mapguard_faulted(ida));
    for (size_t i = 2 * PG; i < FILE_PAGES * PG; i++)
        if (a[i] != 0)
            fail_msg("byte %zu past the cut is %d", i, a[i]);
    assert_true(iocs_mapguard_faulted(ida));
    assert_false(iocs_mapguard_faulted(idb));
    assert_int_equal(b[FILE_PAGES * PG - 1], 'x');
    assert_int_equal(iocs_mapguard_faults(), n0 + 1); /* one per mapping */
    guard_off();
    iocs_mapguard_remove(ida);
    iocs_mapguard_remove(idb);
    assert_int_equal(munmap(a, FILE_PAGES * PG), 0);
    assert_int_equal(munmap(b, FILE_PAGES * PG), 0);
    unlink(pa);
    unlink(pb);
}

static void *touch_last(void *arg)
{
    const unsigned char *p = arg;

    return (void *)(uintptr_t)p[FILE_PAGES * PG - 1];
}

/* A fault in another thread (a worker inside hs_scan) is handled there,
 * and seen here once that thread is joined. */
static void test_mapguard_fault_in_other_thread(void **state)
{
    char path[PATH_MAX];
    unsigned char *p;
    pthread_t t;
    void *ret;
    int id;

    (void)state;
    p = map_file(path, sizeof(path), "thread");
    id = iocs_mapguard_add(p, FILE_PAGES * PG);
    assert_true(id >= 0);
    guard_on();
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(pthread_create(&t, NULL, touch_last, p), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_int_equal((uintptr_t)ret, 0);
    assert_true(iocs_mapguard_faulted(id));
    assert_int_equal(p[0], 0);
    guard_off();
    iocs_mapguard_remove(id);
    assert_int_equal(munmap(p, FILE_PAGES * PG), 0);
    unlink(path);
}

/* Run this program again in mode `mode`; returns its wait status. */
static int run_child(const char *mode)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_mapguard", mode, t_tmp, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* A fault in a mapping the guard does not know still kills the process
 * with SIGBUS (the default action), as does a SIGBUS sent by kill. */
static void test_mapguard_outside_dies(void **state)
{
    int st;

    (void)state;
    st = run_child("--outside");
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGBUS)
        fail_msg("child: status %#x, not killed by SIGBUS", st);
    st = run_child("--raise");
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGBUS)
        fail_msg("child: status %#x, not killed by SIGBUS", st);
}

/* A handler installed before the guard gets the faults outside our
 * mappings; the faults inside are still the guard's. */
static void test_mapguard_chains(void **state)
{
    int st;

    (void)state;
    st = run_child("--chain");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 42)
        fail_msg("child: status %#x, want exit 42 from its handler", st);
}

/* --- the child modes ---------------------------------------------------- */

static void on_bus_exit(int sig)
{
    (void)sig;
    _exit(42);
}

/* A fault in an unregistered, cut mapping of a file in dir. */
static int fault_outside(const char *dir)
{
    char path[PATH_MAX];
    volatile unsigned char *p;
    int fd;

    snprintf(path, sizeof(path), "%s/outside", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 2 * PG) < 0)
        return 3;
    p = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED || ftruncate(fd, 0) < 0)
        return 3;
    close(fd);
    return p[PG] == 0 ? 4 : 5; /* either way: survived, wrongly */
}

static int child(const char *mode, const char *dir)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    struct sigaction mine = {.sa_handler = on_bus_exit};

    sigemptyset(&dfl.sa_mask);
    sigemptyset(&mine.sa_mask);
    if (strcmp(mode, "--chain") == 0) {
        char path[PATH_MAX];
        volatile unsigned char *p;
        int fd, id;

        /* Ours first, then the guard's over it. */
        if (sigaction(SIGBUS, &mine, NULL) < 0 || iocs_mapguard_init() < 0)
            return 2;
        /* Inside a registered mapping: still the guard's. */
        snprintf(path, sizeof(path), "%s/chain", dir);
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || ftruncate(fd, 2 * PG) < 0)
            return 3;
        p = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            return 3;
        id = iocs_mapguard_add((const void *)p, 2 * PG);
        if (id < 0 || ftruncate(fd, 0) < 0)
            return 3;
        close(fd);
        if (p[PG] != 0 || !iocs_mapguard_faulted(id))
            return 6;
        return fault_outside(dir); /* on_bus_exit: 42 */
    }
    /* Under ASan its own handler may be in place: the default is what a
     * program without the guard would get. */
    if (sigaction(SIGBUS, &dfl, NULL) < 0 || iocs_mapguard_init() < 0)
        return 2;
    if (strcmp(mode, "--outside") == 0)
        return fault_outside(dir);
    if (strcmp(mode, "--raise") == 0) {
        raise(SIGBUS);
        return 4;
    }
    return 2;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapguard_slots),
        cmocka_unit_test(test_mapguard_cut_reads_zeros),
        cmocka_unit_test(test_mapguard_fault_in_other_thread),
        cmocka_unit_test(test_mapguard_outside_dies),
        cmocka_unit_test(test_mapguard_chains),
    };

    if (argc == 3)
        return child(argv[1], argv[2]);
    if (iocs_mapguard_init() < 0 || sigaction(SIGBUS, NULL, &guard_sa) < 0)
        return 1;
    return t_run_in_tmpdir(tests);
}
