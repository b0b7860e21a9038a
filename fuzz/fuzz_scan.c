/*
 * fuzz_scan.c - libFuzzer target for the scan of untrusted log bytes:
 * reader -> framer -> scanner over a fixed IOC set with every type (CIDR
 * ranges and a regex rule included), at a slab size the first input byte
 * picks. Every event must describe bytes that are really in its line; the
 * events must not depend on the slab size (compared with one whole-file
 * scan). Crashes, leaks, undefined behaviour and a broken invariant are the
 * findings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "matchers/db.h"
#include "matchers/ioc.h"
#include "pipeline/framer.h"
#include "pipeline/reader.h"
#include "pipeline/scanner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct iocs_iocset *set;
static struct iocs_db *db;

static const struct {
    enum iocs_type type;
    const char *value;
} iocs[] = {
    {IOCS_IPV4, "192.81.209.168"},
    {IOCS_IPV6, "2604:a880:400:d1::7716:1"},
    {IOCS_CIDR4, "10.20.0.0/16"},
    {IOCS_CIDR6, "2001:db8::/32"},
    {IOCS_CIDR6, "fc00::/7"},
    {IOCS_DOMAIN, "evil.example"},
    {IOCS_URL, "http://bad.example/x.php"},
    {IOCS_EMAIL, "a@evil.example"},
    {IOCS_MD5, "d41d8cd98f00b204e9800998ecf8427e"},
    {IOCS_FILENAME, "C:\\Windows\\Temp\\x.dll"},
    {IOCS_STRING, "ingredi"},
    {IOCS_REGEX, "a[0-9]+b"},
};

static void init(void)
{
    char errbuf[256];

    if (iocs_iocset_new(&set) < 0)
        abort();
    for (size_t i = 0; i < sizeof(iocs) / sizeof(iocs[0]); i++) {
        char norm[IOCS_IOC_MAX + 1];
        enum iocs_type t = iocs[i].type;
        const char *why;
        size_t len;
        struct iocs_ioc x = {0};

        if (t == IOCS_REGEX) {
            snprintf(norm, sizeof(norm), "%s", iocs[i].value);
            len = strlen(norm);
        } else if (iocs_ioc_normalise(&t, iocs[i].value, strlen(iocs[i].value),
                                      norm, sizeof(norm), &len, &why) < 0) {
            abort();
        }
        x.type = t;
        x.value = norm;
        x.len = len;
        x.feed = "fuzz";
        x.rule_id = t == IOCS_REGEX ? "r" : NULL;
        if (iocs_iocset_add(set, &x, NULL) < 0)
            abort();
    }
    if (iocs_db_compile(&db, set, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "fuzz_scan: %s\n", errbuf);
        abort();
    }
}

struct sum {
    uint64_t events, count, hash;
};

static int on_event(void *ctx, const struct iocs_event *ev)
{
    struct sum *s = ctx;

    if (ev->end <= ev->start || ev->end > ev->line_len || ev->count == 0 ||
        ev->atomic_len != ev->end - ev->start ||
        ev->original_len > ev->line_len)
        abort();
    /* The atomic is the line's bytes where the original holds them. */
    if (ev->end <= ev->original_len &&
        memcmp(ev->atomic, ev->original + ev->start, ev->atomic_len) != 0)
        abort();
    s->events++;
    s->count += ev->count;
    s->hash = s->hash * 31 + ev->line * 1000003 + ev->start * 7 + ev->ioc_id;
    return 0;
}

static void scan(int fd, size_t slab, struct sum *s)
{
    char path[64];
    struct iocs_source src = iocs_source_of(path);
    struct iocs_reader_opts ro = {.slab_size = slab, .nslabs = 3, .depth = 2};
    struct iocs_scanner_opts so = {.max_line = 64};
    size_t overlap = iocs_db_overlap(db);
    struct iocs_reader *r;
    struct iocs_framer *f;
    struct iocs_scanner *sc;
    struct iocs_linestate *ls;
    struct iocs_slab *sl;
    uint64_t line0 = 1, nl;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ro.headroom = slab > overlap ? slab : overlap;
    if (iocs_reader_new(&r, &ro, &src, 1) < 0 ||
        iocs_framer_new(&f, slab, overlap) < 0 ||
        iocs_scanner_new(&sc, db, &so) < 0 ||
        iocs_linestate_new(&ls, so.max_line) < 0)
        abort();
    while (iocs_reader_next(r, &sl) == 1) {
        struct iocs_unit u;
        int rc = iocs_framer_frame(f, sl, &u);

        if (rc < 0)
            abort();
        if (rc > 0) {
            if (iocs_scanner_unit(sc, &u, "fuzz", line0, ls, on_event, s, &nl) <
                0)
                abort();
            line0 += nl;
        }
        iocs_reader_release(r, sl);
    }
    iocs_linestate_free(ls);
    iocs_scanner_free(sc);
    iocs_framer_free(f);
    iocs_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sum small = {0}, whole = {0};
    size_t slab;
    int fd;

    if (!db)
        init();
    if (size < 1)
        return 0;
    slab = 1 + data[0] % 97;
    data++;
    size--;
    fd = memfd_create("fuzz_scan", MFD_CLOEXEC);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
        abort();
    scan(fd, slab, &small);
    scan(fd, 1 << 16, &whole);
    close(fd);
    if (small.events != whole.events || small.count != whole.count ||
        small.hash != whole.hash) {
        fprintf(stderr, "fuzz_scan: slab %zu: %llu events, whole: %llu\n", slab,
                (unsigned long long)small.events,
                (unsigned long long)whole.events);
        abort();
    }
    return 0;
}
