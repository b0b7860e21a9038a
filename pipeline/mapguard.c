/*
 * mapguard.c - the SIGBUS guard over mapped files (see mapguard.h).
 *
 * Each slot is a seqlock: `seq` is odd while its base and len change, and
 * the handler, which may interrupt a writer (on another thread) at any
 * point, uses a slot only if it read the same even `seq` before and after
 * base and len. `taken` hands a free slot to one writer (compare and
 * swap); len 0 means nothing is registered there. A fault inside a live
 * mapping has zeros mapped from its page to the end of the mapping (every
 * later page is past the new end too, so one signal per mapping suffices).
 */
#include "pipeline/mapguard.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

struct slot {
    atomic_uint taken; /* 0: free; 1: owned by a mapping */
    atomic_uint seq;   /* odd while base and len change */
    atomic_uintptr_t base;
    atomic_size_t len; /* 0: nothing registered */
    atomic_bool faulted;
};

static struct slot slots[IOCS_MAPGUARD_SLOTS];
static atomic_uint_least64_t nfaults;
static struct sigaction prev; /* the handler before ours */
static uintptr_t page;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_err = -EINVAL; /* until installed */
static atomic_bool installed;

/* Not ours: what would have happened without the guard. */
static void chain(int sig, siginfo_t *si, void *uc)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};

    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction) {
            prev.sa_sigaction(sig, si, uc);
            return;
        }
    } else if (prev.sa_handler == SIG_IGN && si->si_code <= 0) {
        return; /* sent by a process, and ignored before we came */
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
        prev.sa_handler(sig);
        return;
    }
    /* The default action: die of it. The signal is blocked inside this
     * handler, so it stays pending until the handler returns (a fault
     * would also be raised again by the access). */
    sigemptyset(&dfl.sa_mask);
    (void)sigaction(sig, &dfl, NULL);
    (void)raise(sig);
}

/* Runs in whatever thread faulted: lock-free, async-signal-safe. */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    int saved = errno;

    /* Only a fault the kernel raised has an address to look at. */
    for (unsigned i = 0; si->si_code > 0 && i < IOCS_MAPGUARD_SLOTS; i++) {
        struct slot *s = &slots[i];
        unsigned q = atomic_load_explicit(&s->seq, memory_order_acquire);
        uintptr_t b, p;
        size_t n;

        if (q & 1)
            continue;
        b = atomic_load_explicit(&s->base, memory_order_relaxed);
        n = atomic_load_explicit(&s->len, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) != q ||
            n == 0 || a - b >= n)
            continue;
        /* Zeros from the faulting page to the end of the mapping. */
        p = a & ~(page - 1);
        if (mmap((void *)p, b + n - p, PROT_READ,
                 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
            break; /* cannot go on reading: die as without the guard */
        atomic_store_explicit(&s->faulted, true, memory_order_release);
        atomic_fetch_add_explicit(&nfaults, 1, memory_order_relaxed);
        errno = saved;
        return;
    }
    chain(sig, si, uc);
    errno = saved;
}

static void install(void)
{
    struct sigaction sa = {.sa_sigaction = on_sigbus,
                           .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART};
    long pg = sysconf(_SC_PAGESIZE);

    page = pg > 0 ? (uintptr_t)pg : 4096;
    sigemptyset(&sa.sa_mask);
    /* The previous handler is known before ours can run. */
    if (sigaction(SIGBUS, NULL, &prev) < 0 ||
        sigaction(SIGBUS, &sa, NULL) < 0) {
        init_err = -errno;
        return;
    }
    init_err = 0;
    atomic_store(&installed, true);
}

int iocs_mapguard_init(void)
{
    int err = pthread_once(&once, install);

    return err ? -err : init_err;
}

int iocs_mapguard_add(const void *addr, size_t len)
{
    if (len == 0 || !atomic_load(&installed))
        return -EINVAL;
    for (unsigned i = 0; i < IOCS_MAPGUARD_SLOTS; i++) {
        struct slot *s = &slots[i];
        unsigned zero = 0, q;

        if (atomic_load_explicit(&s->taken, memory_order_relaxed) ||
            !atomic_compare_exchange_strong(&s->taken, &zero, 1))
            continue;
        q = atomic_load_explicit(&s->seq, memory_order_relaxed);
        atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        atomic_store_explicit(&s->base, (uintptr_t)addr, memory_order_relaxed);
        atomic_store_explicit(&s->len, len, memory_order_relaxed);
        atomic_store_explicit(&s->faulted, false, memory_order_relaxed);
        atomic_store_explicit(&s->seq, q + 2, memory_order_release);
        return (int)i;
    }
    return -ENOSPC;
}

void iocs_mapguard_remove(int id)
{
    struct slot *s;
    unsigned q;

    if (id < 0 || id >= IOCS_MAPGUARD_SLOTS)
        return;
    s = &slots[id];
    q = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&s->len, 0, memory_order_relaxed);
    atomic_store_explicit(&s->seq, q + 2, memory_order_release);
    atomic_store_explicit(&s->taken, 0, memory_order_release);
}

bool iocs_mapguard_faulted(int id)
{
    if (id < 0 || id >= IOCS_MAPGUARD_SLOTS)
        return false;
    return atomic_load_explicit(&slots[id].faulted, memory_order_acquire);
}

uint64_t iocs_mapguard_faults(void)
{
    return atomic_load_explicit(&nfaults, memory_order_relaxed);
}
