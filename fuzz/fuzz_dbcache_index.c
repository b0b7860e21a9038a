/*
 * fuzz_dbcache_index.c - libFuzzer target for the cache's inputs index
 * (in-<key>.idx) and the database file it names, read by
 * iocs_dbcache_find() from a cache directory: nothing there is trusted.
 *
 * The input: byte 0 picks the mode; then 32 bytes of index (made
 * well-formed for this run's key when mode bit 0 is set, so it names the
 * file that follows) and the rest written as <hash>.db. A hit must bring
 * a usable database; a miss must say why only through res.why.
 * Crashes, leaks, hangs and undefined behaviour are the findings.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "matchers/db.h"
#include "matchers/dbcache.h"
#include "matchers/ioc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], input[96];

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f))
        abort();
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *inputs[1] = {input};
    struct iocs_dbcache_opts o = {.inputs = inputs, .ninputs = 1, .salt = 3};
    struct iocs_dbcache_result res;
    struct iocs_db *db = NULL;
    unsigned char idx[32];
    char path[160];
    uint64_t key, hash;

    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/fuzz_dbcache.XXXXXX");
        if (!mkdtemp(dir))
            abort();
        snprintf(input, sizeof(input), "%s/feed.txt", dir);
        write_file(input, "evil.example\n", 13);
    }
    if (size < 1 + 32 || size > (1u << 20))
        return 0;
    o.dir = dir;
    if (iocs_dbcache_inputs_key(&o, &key))
        abort();
    memcpy(idx, data + 1, 32);
    hash = le64(idx + 16);
    if (data[0] & 1)
        iocs__dbcache_index_make(idx, key, hash);
    snprintf(path, sizeof(path), "%s/in-%016llx.idx", dir,
             (unsigned long long)key);
    write_file(path, idx, sizeof(idx));
    snprintf(path, sizeof(path), "%s/%016llx.db", dir,
             (unsigned long long)hash);
    write_file(path, data + 33, size - 33);
    if (iocs_dbcache_find(&o, &db, &res) == 0) {
        if (!db || iocs_db_patterns(db) == 0)
            __builtin_trap();
        iocs_db_free(db);
    } else if (db) {
        __builtin_trap(); /* a miss leaves *out alone */
    }
    unlink(path);
    return 0;
}
