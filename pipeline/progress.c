/*
 * progress.c - the status line of progress.h. Drawing is "\r" + text +
 * "erase to end of line", written with one write(2) so it never
 * interleaves with itself; the phase thread and the caller share the fd
 * under a mutex.
 */
#include "pipeline/progress.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DRAW_EVERY_NS 100000000ll /* 10 times a second at most */

struct iocs_progress {
    int fd;
    bool enabled;
    bool drawn; /* a line is on the screen */
    uint64_t total;
    struct timespec t0, last;
    pthread_mutex_t mu;
    /* compile phase */
    pthread_t thread;
    pthread_cond_t cv;
    bool phase, stop;
    char what[128];
};

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000ll +
           (b->tv_nsec - a->tv_nsec);
}

/* "1.23 GB", "456.7 MB", "12.0 kB" */
static void human(char *out, size_t cap, double bytes)
{
    if (bytes >= 1e9)
        snprintf(out, cap, "%.2f GB", bytes / 1e9);
    else if (bytes >= 1e6)
        snprintf(out, cap, "%.1f MB", bytes / 1e6);
    else
        snprintf(out, cap, "%.1f kB", bytes / 1e3);
}

void iocs__progress_format(char *out, size_t cap, uint64_t bytes,
                           uint64_t total, uint64_t events, double seconds)
{
    char done[32], all[32], eta[32] = "";
    double rate = seconds > 0 ? (double)bytes / seconds : 0;

    human(done, sizeof(done), (double)bytes);
    if (total > 0 && bytes <= total) {
        human(all, sizeof(all), (double)total);
        if (rate > 0) {
            long left = (long)((double)(total - bytes) / rate + 0.5);

            snprintf(eta, sizeof(eta), "  ETA %ld:%02ld:%02ld", left / 3600,
                     left / 60 % 60, left % 60);
        }
        snprintf(out, cap, "%s of %s (%.0f%%)  %.2f GB/s  %llu events%s", done,
                 all, 100.0 * (double)bytes / (double)total, rate / 1e9,
                 (unsigned long long)events, eta);
    } else {
        snprintf(out, cap, "%s  %.2f GB/s  %llu events", done, rate / 1e9,
                 (unsigned long long)events);
    }
}

/* Write "\r" text "\033[K" in one write; mu held. */
static void draw(struct iocs_progress *p, const char *text)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "\r%s\033[K", text);

    if (n > 0) {
        ssize_t w =
            write(p->fd, line,
                  (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
        (void)w; /* a status line that cannot be drawn is not an error */
    }
    p->drawn = true;
}

static void erase(struct iocs_progress *p)
{
    if (p->drawn) {
        ssize_t w = write(p->fd, "\r\033[K", 4);

        (void)w;
        p->drawn = false;
    }
}

int iocs_progress_new(struct iocs_progress **out, int fd, bool enabled)
{
    struct iocs_progress *p = calloc(1, sizeof(*p));

    if (!p)
        return -ENOMEM;
    p->fd = fd;
    p->enabled = enabled;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    clock_gettime(CLOCK_MONOTONIC, &p->t0);
    *out = p;
    return 0;
}

void iocs_progress_free(struct iocs_progress *p)
{
    if (!p)
        return;
    iocs_progress_phase_end(p);
    pthread_mutex_lock(&p->mu);
    erase(p);
    pthread_mutex_unlock(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void iocs_progress_total(struct iocs_progress *p, uint64_t bytes)
{
    p->total = bytes;
}

void iocs_progress_update(struct iocs_progress *p, uint64_t bytes,
                          uint64_t events)
{
    struct timespec now;
    char text[200];

    if (!p->enabled)
        return;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    if (ns_between(&p->last, &now) < DRAW_EVERY_NS)
        return;
    p->last = now;
    iocs__progress_format(text, sizeof(text), bytes, p->total, events,
                          (double)ns_between(&p->t0, &now) / 1e9);
    pthread_mutex_lock(&p->mu);
    if (!p->phase)
        draw(p, text);
    pthread_mutex_unlock(&p->mu);
}

void iocs_progress_clear(struct iocs_progress *p)
{
    if (!p->enabled)
        return;
    pthread_mutex_lock(&p->mu);
    erase(p);
    pthread_mutex_unlock(&p->mu);
}

static void *phase_thread(void *arg)
{
    struct iocs_progress *p = arg;
    struct timespec t0, now, until;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        char text[200];

        clock_gettime(CLOCK_MONOTONIC, &now);
        snprintf(text, sizeof(text), "%s... %.1f s", p->what,
                 (double)ns_between(&t0, &now) / 1e9);
        draw(p, text);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200000000l;
        if (until.tv_nsec >= 1000000000l) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000l;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &until);
    }
    erase(p);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int iocs_progress_phase_begin(struct iocs_progress *p, const char *what)
{
    int err;

    if (!p->enabled || p->phase)
        return 0;
    snprintf(p->what, sizeof(p->what), "%s", what);
    /* Drawn now, not only when the thread first runs: a loaded machine
     * may not schedule it before a short phase ends. */
    pthread_mutex_lock(&p->mu);
    {
        char text[200];

        snprintf(text, sizeof(text), "%s... 0.0 s", p->what);
        draw(p, text);
    }
    pthread_mutex_unlock(&p->mu);
    p->stop = false;
    p->phase = true;
    err = pthread_create(&p->thread, NULL, phase_thread, p);
    if (err) {
        p->phase = false;
        return -err;
    }
    return 0;
}

void iocs_progress_phase_end(struct iocs_progress *p)
{
    if (!p->phase)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    p->phase = false;
}
