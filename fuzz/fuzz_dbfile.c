/*
 * fuzz_dbfile.c - libFuzzer target for database files (`compile -o`,
 * `scan --db`, the cache): nothing in such a file is trusted.
 *
 * Random bytes rarely get past the checksum, so the input is a recipe
 * over a good file compiled at start-up: byte 0 picks the mode, the rest
 * is either a whole file or (offset, byte) patches to the good one; the
 * set hash, the Hyperscan binding (unless mode bit 1) and the checksum are
 * then recomputed, so the patches reach every check behind them (the
 * Hyperscan section's own CRC32C, checked by hs_deserialize_database(),
 * stays). A file that loads is scanned: any pattern id must stay inside
 * its table.
 * Crashes, leaks and undefined behaviour are the findings.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "matchers/db.h"
#include "matchers/dbcache.h"
#include "matchers/feed.h"
#include "matchers/ioc.h"
#include "matchers/rules.h"
#include "matchers/util.h"
#include "pipeline/framer.h"
#include "pipeline/scanner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char feed[] = "192.0.2.7\n10.0.0.0/8\n2001:db8::/32\n"
                           "evil.example\nhttp://evil.example/x.php?a=1\n"
                           "C:\\Windows\\Temp\\x.dll\n";
static const char rules[] = "r1 high /id=[A-Z]{2}[0-9]+/i ids\n";
static const char line[] =
    "GET http://evil.example/x.php?a=1 from 192.0.2.7 10.1.2.3 id=AB12 "
    "2001:db8::1 C:\\Windows\\Temp\\x.dll\n";

static unsigned char *good;
static size_t good_len;

/* The good file: compiled once, written and read back. */
static void make_good(void)
{
    struct iocs_iocset *set;
    struct iocs_db *db;
    char path[] = "/tmp/fuzz_dbfile.XXXXXX", errbuf[256];
    char *buf;
    int fd = mkstemp(path);

    if (fd < 0 || iocs_iocset_new(&set) ||
        iocs_feed_load_mem(set, "f", feed, sizeof(feed) - 1, NULL, NULL,
                           NULL) ||
        iocs_rules_load_mem(set, "r", rules, sizeof(rules) - 1, NULL, NULL,
                            NULL) ||
        iocs_db_compile(&db, set, errbuf, sizeof(errbuf)))
        abort();
    close(fd);
    iocs__db_own_set(db);
    if (iocs_dbfile_write(db, path, errbuf, sizeof(errbuf)) ||
        iocs_read_file(path, &buf, &good_len))
        abort();
    unlink(path);
    iocs_db_free(db);
    good = (unsigned char *)buf;
}

static int count(void *ctx, const struct iocs_event *ev)
{
    (void)ev;
    (*(size_t *)ctx)++;
    return 0;
}

/* Scan one line with db: every id Hyperscan reports must be in range. */
static void scan(const struct iocs_db *db)
{
    struct iocs_scanner_opts so = {.max_line = 4096};
    struct iocs_scanner *sc = NULL;
    struct iocs_linestate *ls = NULL;
    struct iocs_unit u = {.ptr = (const unsigned char *)line,
                          .len = sizeof(line) - 1,
                          .starts_line = true,
                          .ends_line = true,
                          .first = true,
                          .last = true};
    uint64_t nl;
    size_t n = 0;

    if (iocs_scanner_new(&sc, db, &so) == 0 &&
        iocs_linestate_new(&ls, 4096) == 0)
        (void)iocs_scanner_unit(sc, &u, "fuzz", 1, ls, count, &n, &nl);
    iocs_linestate_free(ls);
    iocs_scanner_free(sc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iocs_db *db = NULL;
    unsigned char *p;
    size_t n;
    char errbuf[256];

    if (!good)
        make_good();
    if (size == 0 || size > (1u << 20))
        return 0;
    if (data[0] & 1) { /* a whole file */
        n = size - 1;
        p = malloc(n ? n : 1);
        if (!p)
            return 0;
        memcpy(p, data + 1, n);
    } else { /* patches: (u24 offset, u8 byte)... to the good file */
        n = good_len;
        p = malloc(n);
        if (!p)
            return 0;
        memcpy(p, good, n);
        for (size_t i = 1; i + 4 <= size; i += 4) {
            size_t at = (size_t)data[i] | (size_t)data[i + 1] << 8 |
                        (size_t)data[i + 2] << 16;

            p[at % n] = data[i + 3];
        }
    }
    if (!(data[0] & 4))
        iocs__dbfile_fixup(p, n, !(data[0] & 2));
    if (iocs__dbfile_parse(&db, p, n, 0, errbuf, sizeof(errbuf)) == 0) {
        scan(db);
        iocs_db_free(db);
    }
    free(p);
    return 0;
}
