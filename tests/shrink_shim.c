/*
 * shrink_shim.c - an LD_PRELOAD library for tests/e2e_mmap.sh: it cuts a
 * file at the moment the scanner maps a window of it that reaches past the
 * cut, so "a file truncated while mapped" happens at the same point of
 * every run, without a race.
 *
 * IOCS_SHRINK_PATH=<path> IOCS_SHRINK_AT=<bytes>: the first mmap(2) of a
 * descriptor open on <path> whose range ends past <bytes> truncates <path>
 * to <bytes>, once, after the mapping is made. Every other call is passed
 * through untouched.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

static mmap_fn real_mmap;
static atomic_bool done;

__attribute__((constructor)) static void shim_init(void)
{
    /* POSIX's way to turn dlsym()'s object pointer into a function's. */
    *(void **)&real_mmap = dlsym(RTLD_NEXT, "mmap");
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    const char *want = getenv("IOCS_SHRINK_PATH");
    const char *at = getenv("IOCS_SHRINK_AT");
    char link[64], path[PATH_MAX];
    unsigned long long cut;
    void *p;
    ssize_t n;

    if (!real_mmap)
        shim_init();
    p = real_mmap(addr, len, prot, flags, fd, off);
    if (p == MAP_FAILED || fd < 0 || !want || !at || atomic_load(&done))
        return p;
    cut = strtoull(at, NULL, 10);
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0)
        return p;
    path[n] = '\0';
    if (strcmp(path, want) == 0 && (unsigned long long)off + len > cut &&
        !atomic_exchange(&done, true) && truncate(want, (off_t)cut) != 0)
        perror("shrink_shim: truncate");
    return p;
}
