// bench_db.cc - the IOC database at 1k, 10k, 100k and 1M generated IOCs
// (a mix of IPv4, IPv6, domains, URLs, SHA-256 hashes and file names):
//   BM_DbCompile      iocs_db_compile() of the set (counters: patterns,
//                     db_bytes, the Hyperscan database size)
//   BM_DbLoadCache    iocs_dbfile_read() of a written database file, the
//                     whole cache-hit path (read, checksum, set rebuilt,
//                     hs_deserialize_database) (counter: file_bytes)
//   BM_DbCacheFind    iocs_dbcache_find(): the same plus the inputs index,
//                     what a second `iocstream scan` start costs
//   BM_DbLoadFile     iocs_dbfile_read() of the file IOCS_BENCH_DB_FILE
//                     names (e.g. one `iocstream compile -o` wrote from a
//                     1M-IOC list), so that a big set is compiled once
//                     (counters: iocs, file_bytes, maxrss_mib)
//   BM_DbCacheFile    iocs_dbcache_find() of that file put in a cache
//                     directory (a hard link) with its inputs index: a
//                     cached file, used in place
// IOCS_BENCH_DB_MAX caps the sizes (e.g. 100000 to skip the 1M runs, which
// take minutes to compile).
#include <benchmark/benchmark.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>

#include "matchers/db.h"
#include "matchers/dbcache.h"
#include "matchers/ioc.h"

namespace
{

// A deterministic generator: xorshift64*.
struct rng {
    uint64_t s;
    uint64_t next()
    {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545F4914F6CDD1DULL;
    }
};

iocs_iocset *make_set(size_t n)
{
    iocs_iocset *set = nullptr;
    rng r{0x9e3779b97f4a7c15ULL ^ n};
    char raw[256], norm[IOCS_IOC_MAX + 1];

    if (iocs_iocset_new(&set) != 0)
        abort();
    for (size_t i = 0; iocs_iocset_count(set) < n; i++) {
        uint64_t v = r.next();
        enum iocs_type t;

        switch (i % 6) {
        case 0:
            snprintf(raw, sizeof(raw), "%u.%u.%u.%u", 1 + (unsigned)(v % 223),
                     (unsigned)(v >> 8) & 255, (unsigned)(v >> 16) & 255,
                     1 + (unsigned)((v >> 24) % 254));
            break;
        case 1:
            snprintf(raw, sizeof(raw), "2001:db8:%x:%x::%x",
                     (unsigned)(v & 0xffff), (unsigned)(v >> 16) & 0xffff,
                     1 + (unsigned)(v >> 32) % 0xfffe);
            break;
        case 2:
            snprintf(raw, sizeof(raw), "h%llx.example.com",
                     (unsigned long long)(v >> 20));
            break;
        case 3:
            snprintf(raw, sizeof(raw), "http://c%llx.example.net/p/%llx.php",
                     (unsigned long long)(v >> 40),
                     (unsigned long long)(v & 0xfffffff));
            break;
        case 4: {
            uint64_t w[4] = {v, r.next(), r.next(), r.next()};

            snprintf(raw, sizeof(raw), "%016llx%016llx%016llx%016llx",
                     (unsigned long long)w[0], (unsigned long long)w[1],
                     (unsigned long long)w[2], (unsigned long long)w[3]);
            break;
        }
        default:
            snprintf(raw, sizeof(raw), "tool_%llx.exe",
                     (unsigned long long)(v >> 24));
            break;
        }
        t = iocs_type_detect(raw, strlen(raw));
        size_t len;
        const char *why;
        if (iocs_ioc_normalise(&t, raw, strlen(raw), norm, sizeof(norm), &len,
                               &why) != 0)
            continue;
        iocs_ioc ioc{};
        ioc.type = t;
        ioc.value = norm;
        ioc.len = len;
        ioc.feed = "bench";
        ioc.severity = 50;
        ioc.confidence = -1;
        if (iocs_iocset_add(set, &ioc, nullptr) != 0)
            abort();
    }
    return set;
}

size_t cap()
{
    const char *e = getenv("IOCS_BENCH_DB_MAX");
    return e ? strtoull(e, nullptr, 10) : SIZE_MAX;
}

// One compiled database file per size, made once and shared by the load
// benchmarks.
struct fixture {
    std::string dir, path, feed;
    size_t bytes = 0;
};

fixture &file_for(size_t n)
{
    static std::map<size_t, fixture> files;
    auto it = files.find(n);
    if (it != files.end())
        return it->second;

    fixture f;
    char tmpl[] = "/tmp/iocs_bench_db_XXXXXX";
    if (!mkdtemp(tmpl))
        abort();
    f.dir = tmpl;
    f.feed = f.dir + "/feed.txt";
    FILE *fp = fopen(f.feed.c_str(), "w");
    if (!fp)
        abort();
    fputs("# stands for the feed in the inputs index\n", fp);
    fclose(fp);

    iocs_iocset *set = make_set(n);
    const char *inputs[] = {f.feed.c_str()};
    iocs_dbcache_opts o{};
    o.dir = f.dir.c_str();
    o.inputs = inputs;
    o.ninputs = 1;
    o.salt = 1;
    iocs_dbcache_result res{};
    iocs_db *db = nullptr;
    char errbuf[256];
    if (iocs_dbcache_get(&o, set, &db, &res, errbuf, sizeof(errbuf)) != 0 ||
        res.store_err)
        abort();
    uint64_t hash;
    if (iocs_dbcache_set_hash(iocs_db_set(db), &hash) != 0)
        abort();
    char name[64];
    snprintf(name, sizeof(name), "/%016llx.db", (unsigned long long)hash);
    f.path = f.dir + name;
    FILE *db_fp = fopen(f.path.c_str(), "rb");
    if (!db_fp)
        abort();
    fseek(db_fp, 0, SEEK_END);
    f.bytes = (size_t)ftell(db_fp);
    fclose(db_fp);
    iocs_db_free(db);
    return files.emplace(n, f).first->second;
}

void BM_DbCompile(benchmark::State &state)
{
    size_t n = (size_t)state.range(0);
    if (n > cap()) {
        state.SkipWithError("over IOCS_BENCH_DB_MAX");
        return;
    }
    iocs_iocset *set = make_set(n);
    size_t size = 0, pats = 0;
    for (auto _ : state) {
        iocs_db *db = nullptr;
        char errbuf[256];
        if (iocs_db_compile(&db, set, errbuf, sizeof(errbuf)) != 0) {
            state.SkipWithError(errbuf);
            break;
        }
        size = iocs_db_size(db);
        pats = iocs_db_patterns(db);
        iocs_db_free(db);
    }
    state.counters["iocs"] = (double)n;
    state.counters["patterns"] = (double)pats;
    state.counters["db_bytes"] = (double)size;
    iocs_iocset_free(set);
}

void BM_DbLoadCache(benchmark::State &state)
{
    size_t n = (size_t)state.range(0);
    if (n > cap()) {
        state.SkipWithError("over IOCS_BENCH_DB_MAX");
        return;
    }
    fixture &f = file_for(n);
    for (auto _ : state) {
        iocs_db *db = nullptr;
        char errbuf[256];
        if (iocs_dbfile_read(&db, f.path.c_str(), 0, errbuf, sizeof(errbuf))) {
            state.SkipWithError(errbuf);
            break;
        }
        iocs_db_free(db);
    }
    state.counters["file_bytes"] = (double)f.bytes;
}

void BM_DbCacheFind(benchmark::State &state)
{
    size_t n = (size_t)state.range(0);
    if (n > cap()) {
        state.SkipWithError("over IOCS_BENCH_DB_MAX");
        return;
    }
    fixture &f = file_for(n);
    const char *inputs[] = {f.feed.c_str()};
    iocs_dbcache_opts o{};
    o.dir = f.dir.c_str();
    o.inputs = inputs;
    o.ninputs = 1;
    o.salt = 1;
    for (auto _ : state) {
        iocs_db *db = nullptr;
        if (iocs_dbcache_find(&o, &db, nullptr) != 0) {
            state.SkipWithError("cache miss");
            break;
        }
        iocs_db_free(db);
    }
}

void BM_DbLoadFile(benchmark::State &state)
{
    const char *path = getenv("IOCS_BENCH_DB_FILE");
    struct stat st;
    size_t n = 0;

    if (!path || stat(path, &st) != 0) {
        state.SkipWithError("set IOCS_BENCH_DB_FILE to a database file");
        return;
    }
    for (auto _ : state) {
        iocs_db *db = nullptr;
        char errbuf[256];
        if (iocs_dbfile_read(&db, path, 0, errbuf, sizeof(errbuf))) {
            state.SkipWithError(errbuf);
            break;
        }
        n = iocs_iocset_count(iocs_db_set(db));
        iocs_db_free(db);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    state.counters["iocs"] = (double)n;
    state.counters["file_bytes"] = (double)st.st_size;
    state.counters["maxrss_mib"] = (double)ru.ru_maxrss / 1024.0;
}

void BM_DbCacheFile(benchmark::State &state)
{
    const char *path = getenv("IOCS_BENCH_DB_FILE");
    unsigned char head[104], idx[32];
    char dir[] = "/tmp/iocs_bench_dbc_XXXXXX";
    size_t n = 0;

    FILE *fp = path ? fopen(path, "rb") : nullptr;
    if (!fp || fread(head, 1, sizeof(head), fp) != sizeof(head)) {
        if (fp)
            fclose(fp);
        state.SkipWithError("set IOCS_BENCH_DB_FILE to a database file");
        return;
    }
    fclose(fp);
    uint64_t hash = 0;
    for (int i = 7; i >= 0; i--)
        hash = hash << 8 | head[96 + i];
    if (!mkdtemp(dir))
        abort();
    std::string feed = std::string(dir) + "/feed.txt";
    std::string db = std::string(dir) + "/" + [&] {
        char name[32];
        snprintf(name, sizeof(name), "%016llx.db", (unsigned long long)hash);
        return std::string(name);
    }();
    fp = fopen(feed.c_str(), "w");
    if (!fp || link(path, db.c_str()) != 0)
        abort();
    fclose(fp);
    const char *inputs[] = {feed.c_str()};
    iocs_dbcache_opts o{};
    o.dir = dir;
    o.inputs = inputs;
    o.ninputs = 1;
    o.salt = 1;
    uint64_t key;
    if (iocs_dbcache_inputs_key(&o, &key) != 0)
        abort();
    iocs__dbcache_index_make(idx, key, hash);
    char name[64];
    snprintf(name, sizeof(name), "/in-%016llx.idx", (unsigned long long)key);
    fp = fopen((std::string(dir) + name).c_str(), "wb");
    if (!fp || fwrite(idx, 1, sizeof(idx), fp) != sizeof(idx))
        abort();
    fclose(fp);
    for (auto _ : state) {
        iocs_db *d = nullptr;
        iocs_dbcache_result res;
        if (iocs_dbcache_find(&o, &d, &res) != 0) {
            state.SkipWithError(res.why[0] ? res.why : "cache miss");
            break;
        }
        n = iocs_iocset_count(iocs_db_set(d));
        iocs_db_free(d);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    state.counters["iocs"] = (double)n;
    state.counters["maxrss_mib"] = (double)ru.ru_maxrss / 1024.0;
    unlink(db.c_str());
    unlink((std::string(dir) + name).c_str());
    unlink(feed.c_str());
    rmdir(dir);
}

} // namespace

BENCHMARK(BM_DbCompile)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
BENCHMARK(BM_DbLoadCache)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DbCacheFind)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_DbLoadFile)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DbCacheFile)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
