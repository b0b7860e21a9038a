// bench_tokens.cc - the typed token index (matchers/tokens.h) beside the
// raw Hyperscan limit, on one thread:
//   BM_TokensBuildGen/N  iocs_tokens_new() on a generated mixed set of N
//                        IOCs (counters: taken, table bytes per taken IOC)
// and, for each feed in IOCS_BENCH_TOKENS_FEEDS (colon-separated IOC files,
// e.g. a scripts/genlogs.py iocs.txt), over the corpus in
// IOCS_BENCH_TOKENS_CORPUS (a file, or a directory whose files are read
// back to back) cut at line ends into 256 KiB blocks as the scanner cuts a
// unit:
//   tokens_build/F    iocs_tokens_new() of the feed's set
//   hs_all/F          hs_scan of the whole set per block, a callback that
//                     only counts: the raw limit (bench/rawlimit.c's loop)
//   tokens/F          the token pass alone per block
//   hs_rest/F         hs_scan of the set without the token IOCs
//   combined/F        per block: hs_rest, then the token pass: what a worker
//                     with the token path does before verification
// Counters: compile seconds of each Hyperscan database (measured once),
// patterns, hits. bytes_per_second is GB/s x 1e9.
#include <benchmark/benchmark.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "matchers/db.h"
#include "matchers/feed.h"
#include "matchers/ioc.h"
#include "matchers/tokens.h"

namespace
{

double now()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

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

// Roughly scripts/genlogs.py's type mix: 3/4 token types.
iocs_iocset *make_set(size_t n)
{
    iocs_iocset *set = nullptr;
    rng r{0x9e3779b97f4a7c15ULL ^ n};
    char raw[256], norm[IOCS_IOC_MAX + 1];

    if (iocs_iocset_new(&set) != 0)
        abort();
    for (size_t i = 0; iocs_iocset_count(set) < n; i++) {
        uint64_t v = r.next();

        switch (i % 8) {
        case 0:
        case 1:
            snprintf(raw, sizeof(raw), "%u.%u.%u.%u", 1 + (unsigned)(v % 223),
                     (unsigned)(v >> 8) & 255, (unsigned)(v >> 16) & 255,
                     1 + (unsigned)((v >> 24) % 254));
            break;
        case 2:
            snprintf(raw, sizeof(raw), "2001:db8:%x:%x::%x",
                     (unsigned)(v & 0xffff), (unsigned)(v >> 16) & 0xffff,
                     1 + (unsigned)(v >> 32) % 0xfffe);
            break;
        case 3:
            snprintf(raw, sizeof(raw), "h%llx.example.com",
                     (unsigned long long)(v >> 20));
            break;
        case 4:
            snprintf(raw, sizeof(raw), "u%llx@m%llx.example.org",
                     (unsigned long long)(v >> 44),
                     (unsigned long long)(v & 0xfffff));
            break;
        case 5: {
            uint64_t w[4] = {v, r.next(), r.next(), r.next()};

            snprintf(raw, sizeof(raw), "%016llx%016llx%016llx%016llx",
                     (unsigned long long)w[0], (unsigned long long)w[1],
                     (unsigned long long)w[2], (unsigned long long)w[3]);
            break;
        }
        case 6:
            snprintf(raw, sizeof(raw), "http://c%llx.example.net/p/%llx.php",
                     (unsigned long long)(v >> 40),
                     (unsigned long long)(v & 0xfffffff));
            break;
        default:
            snprintf(raw, sizeof(raw), "tool_%llx.exe",
                     (unsigned long long)(v >> 24));
            break;
        }
        enum iocs_type t = iocs_type_detect(raw, strlen(raw));
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
        ioc.confidence = -1;
        if (iocs_iocset_add(set, &ioc, nullptr) != 0)
            abort();
    }
    return set;
}

void BM_TokensBuildGen(benchmark::State &st)
{
    size_t n = (size_t)st.range(0);
    iocs_iocset *set = make_set(n);
    size_t taken = 0, bytes = 0;

    for (auto _ : st) {
        iocs_tokens *t = nullptr;
        if (iocs_tokens_new(&t, set, IOCS_TOKENS_ALL) != 0)
            abort();
        taken = iocs_tokens_count(t);
        bytes = iocs_tokens_bytes(t);
        iocs_tokens_free(t);
    }
    st.counters["taken"] = (double)taken;
    st.counters["bytes_per_ioc"] = taken ? (double)bytes / (double)taken : 0;
    iocs_iocset_free(set);
}

// ---- the corpus and the feeds ----

struct corpus {
    std::string bytes;
    std::vector<std::pair<size_t, size_t>> blocks; // [start, end)
};

void read_file(const std::string &path, std::string &out)
{
    FILE *fp = fopen(path.c_str(), "rb");
    if (!fp)
        return;
    char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof(buf), fp)) > 0)
        out.append(buf, k);
    fclose(fp);
    if (!out.empty() && out.back() != '\n')
        out.push_back('\n');
}

void read_tree(const std::string &path, std::string &out)
{
    struct stat sb;
    if (stat(path.c_str(), &sb) != 0)
        return;
    if (!S_ISDIR(sb.st_mode)) {
        read_file(path, out);
        return;
    }
    DIR *d = opendir(path.c_str());
    if (!d)
        return;
    std::vector<std::string> names;
    while (struct dirent *e = readdir(d))
        if (e->d_name[0] != '.')
            names.push_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    for (auto &n : names)
        read_tree(path + "/" + n, out);
}

corpus &get_corpus()
{
    static corpus c;
    static bool done;
    if (done)
        return c;
    done = true;
    const char *p = getenv("IOCS_BENCH_TOKENS_CORPUS");
    if (p)
        read_tree(p, c.bytes);
    for (size_t s = 0; s < c.bytes.size();) {
        size_t e = std::min(c.bytes.size(), s + (256u << 10));
        const void *nl =
            memchr(c.bytes.data() + e - 1, '\n', c.bytes.size() - e + 1);
        e = nl ? (size_t)((const char *)nl - c.bytes.data()) + 1
               : c.bytes.size();
        c.blocks.emplace_back(s, e);
        s = e;
    }
    return c;
}

struct feed {
    std::string name;
    iocs_iocset *set = nullptr, *rest = nullptr;
    iocs_db *all = nullptr, *restdb = nullptr;
    iocs_tokens *tok = nullptr;
    double compile_all = 0, compile_rest = 0, build = 0;
};

iocs_iocset *without_taken(const iocs_iocset *set)
{
    iocs_iocset *rest = nullptr;
    if (iocs_iocset_new(&rest) != 0)
        abort();
    for (size_t i = 0; i < iocs_iocset_count(set); i++) {
        const iocs_ioc *x = iocs_iocset_get(set, i);
        if (!iocs_tokens_takes(IOCS_TOKENS_ALL, x) &&
            iocs_iocset_add(rest, x, nullptr) != 0)
            abort();
    }
    return rest;
}

feed *load_feed(const std::string &path)
{
    auto *f = new feed;
    char errbuf[512];
    iocs_feed_report rep{};

    f->name = path.substr(path.find_last_of('/') + 1);
    if (iocs_iocset_new(&f->set) != 0 ||
        iocs_feed_load_file(f->set, path.c_str(), nullptr, nullptr, &rep) !=
            0) {
        fprintf(stderr, "bench_tokens: cannot load %s\n", path.c_str());
        exit(2);
    }
    double t0 = now();
    if (iocs_tokens_new(&f->tok, f->set, IOCS_TOKENS_ALL) != 0)
        abort();
    f->build = now() - t0;
    f->rest = without_taken(f->set);
    if (!getenv("IOCS_BENCH_TOKENS_NO_ALL")) {
        t0 = now();
        if (iocs_db_compile_mode(&f->all, f->set, IOCS_DB_TOKENS_OFF, errbuf,
                                 sizeof(errbuf)) != 0) {
            fprintf(stderr, "bench_tokens: %s\n", errbuf);
            exit(2);
        }
        f->compile_all = now() - t0;
    }
    t0 = now();
    if (iocs_iocset_count(f->rest) > 0 &&
        iocs_db_compile_mode(&f->restdb, f->rest, IOCS_DB_TOKENS_OFF, errbuf,
                             sizeof(errbuf)) != 0) {
        fprintf(stderr, "bench_tokens: %s\n", errbuf);
        exit(2);
    }
    f->compile_rest = now() - t0;
    fprintf(stderr,
            "bench_tokens: %s: %zu IOCs, %zu taken by tokens (%.1f ms build, "
            "%zu table bytes = %.1f B/IOC), Hyperscan all %zu patterns "
            "%.2f s, rest %zu patterns %.2f s\n",
            f->name.c_str(), iocs_iocset_count(f->set),
            iocs_tokens_count(f->tok), f->build * 1e3,
            iocs_tokens_bytes(f->tok),
            (double)iocs_tokens_bytes(f->tok) /
                (double)std::max<size_t>(1, iocs_tokens_count(f->tok)),
            f->all ? iocs_db_patterns(f->all) : 0, f->compile_all,
            f->restdb ? iocs_db_patterns(f->restdb) : 0, f->compile_rest);
    return f;
}

int count_hs(unsigned, unsigned long long, unsigned long long, unsigned,
             void *ctx)
{
    ++*(size_t *)ctx;
    return 0;
}

int count_tok(void *ctx, uint32_t, size_t, size_t)
{
    ++*(size_t *)ctx;
    return 0;
}

enum mode { HS_ALL, TOKENS, HS_REST, COMBINED };

void BM_Scan(benchmark::State &st, feed *f, mode m)
{
    corpus &c = get_corpus();
    const iocs_db *db = m == HS_ALL ? f->all : f->restdb;
    hs_scratch *scratch = nullptr;
    size_t hits = 0;
    const unsigned char *p = (const unsigned char *)c.bytes.data();

    if (m == HS_ALL && !db) {
        st.SkipWithError("IOCS_BENCH_TOKENS_NO_ALL");
        return;
    }
    if (db && iocs_db_scratch_new(db, &scratch) != 0)
        abort();
    for (auto _ : st) {
        hits = 0;
        for (auto &b : c.blocks) {
            if (m != TOKENS && db &&
                iocs_db_scan(db, scratch, p + b.first, b.second - b.first,
                             count_hs, &hits) < 0)
                abort();
            if (m == TOKENS || m == COMBINED)
                iocs_tokens_scan(f->tok, p + b.first, b.second - b.first,
                                 count_tok, &hits);
        }
    }
    iocs_db_scratch_free(scratch);
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)c.bytes.size());
    st.counters["hits"] = (double)hits;
    st.counters["compile_s"] = m == HS_ALL   ? f->compile_all
                               : m == TOKENS ? f->build
                                             : f->compile_rest;
    st.counters["patterns"] = db ? (double)iocs_db_patterns(db) : 0;
}

void BM_Build(benchmark::State &st, feed *f)
{
    size_t bytes = 0;
    for (auto _ : st) {
        iocs_tokens *t = nullptr;
        if (iocs_tokens_new(&t, f->set, IOCS_TOKENS_ALL) != 0)
            abort();
        bytes = iocs_tokens_bytes(t);
        iocs_tokens_free(t);
    }
    st.counters["taken"] = (double)iocs_tokens_count(f->tok);
    st.counters["bytes_per_ioc"] =
        (double)bytes / (double)std::max<size_t>(1, iocs_tokens_count(f->tok));
}

} // namespace

BENCHMARK(BM_TokensBuildGen)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    const char *feeds = getenv("IOCS_BENCH_TOKENS_FEEDS");
    if (feeds && getenv("IOCS_BENCH_TOKENS_CORPUS")) {
        std::string s = feeds;
        size_t a = 0;
        get_corpus();
        while (a <= s.size()) {
            size_t b = s.find(':', a);
            if (b == std::string::npos)
                b = s.size();
            if (b > a) {
                feed *f = load_feed(s.substr(a, b - a));
                benchmark::RegisterBenchmark(
                    ("tokens_build/" + f->name).c_str(), BM_Build, f)
                    ->Unit(benchmark::kMillisecond);
                static const char *names[] = {"hs_all", "tokens", "hs_rest",
                                              "combined"};
                for (int m = HS_ALL; m <= COMBINED; m++)
                    benchmark::RegisterBenchmark(
                        (std::string(names[m]) + "/" + f->name).c_str(),
                        BM_Scan, f, (mode)m)
                        ->Unit(benchmark::kMillisecond)
                        ->MinTime(2.0);
            }
            a = b + 1;
        }
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
