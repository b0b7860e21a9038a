/*
 * bench_reader.cc - reader + framer throughput over a page-cached file,
 * io_uring against read(2).
 *
 * The file is IOCS_BENCH_FILE if set, else a generated log of
 * IOCS_BENCH_MB MiB (default 1024) under $TMPDIR, made once and reused.
 * One iteration streams the whole file through the reader and framer and
 * touches the last byte of each unit (as a scanner would start there).
 * Arguments: slab KiB, depth, io_uring (1) or read(2) (0).
 */
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <vector>

extern "C" {
#include "pipeline/framer.h"
#include "pipeline/reader.h"
}

namespace
{

std::string bench_file()
{
    if (const char *p = std::getenv("IOCS_BENCH_FILE"))
        return p;
    const char *tmp = std::getenv("TMPDIR");
    const char *mb_env = std::getenv("IOCS_BENCH_MB");
    size_t mb = mb_env ? std::strtoul(mb_env, nullptr, 10) : 1024;
    std::string path = std::string(tmp && *tmp ? tmp : "/tmp") +
                       "/iocs_bench_" + std::to_string(mb) + "m.log";
    struct stat st;

    if (stat(path.c_str(), &st) == 0 && size_t(st.st_size) == mb << 20)
        return path;

    /* Log-like lines of 40..240 bytes. */
    std::vector<char> buf(1 << 20);
    uint32_t x = 12345;
    size_t line = 0;
    for (size_t i = 0; i < buf.size(); i++) {
        x = x * 1103515245u + 12345u;
        if (line > 40 && (x >> 16) % 200 == 0) {
            buf[i] = '\n';
            line = 0;
        } else {
            buf[i] = char('a' + (x >> 16) % 26);
            line++;
        }
    }
    std::FILE *fp = std::fopen(path.c_str(), "wb");
    if (!fp)
        return "";
    for (size_t i = 0; i < mb; i++)
        std::fwrite(buf.data(), 1, buf.size(), fp);
    std::fclose(fp);
    return path;
}

void BM_reader_framer(benchmark::State &state)
{
    static const std::string path = bench_file();
    const iocs_source src = iocs_source_of(path.c_str());
    iocs_reader_opts o{};
    o.slab_size = size_t(state.range(0)) << 10;
    o.headroom = o.slab_size;
    o.nslabs = 8;
    o.depth = unsigned(state.range(1));
    o.no_uring = state.range(2) == 0;
    uint64_t bytes = 0;

    for (auto _ : state) {
        iocs_reader *r;
        iocs_framer *f;
        iocs_slab *s;
        iocs_unit u;

        if (iocs_reader_new(&r, &o, &src, 1) < 0 ||
            iocs_framer_new(&f, o.slab_size, 256) < 0) {
            state.SkipWithError("setup failed");
            return;
        }
        if (state.range(2) && !iocs_reader_uring(r)) {
            state.SkipWithError("io_uring unavailable");
            return;
        }
        while (iocs_reader_next(r, &s) == 1) {
            if (s->err) {
                state.SkipWithError("read error");
                break;
            }
            bytes += s->len;
            if (iocs_framer_frame(f, s, &u) == 1 && u.len)
                benchmark::DoNotOptimize(u.ptr[u.len - 1]);
            iocs_reader_release(r, s);
        }
        iocs_framer_free(f);
        iocs_reader_free(r);
    }
    state.SetBytesProcessed(int64_t(bytes));
}

} // namespace

BENCHMARK(BM_reader_framer)
    ->ArgNames({"slab_kib", "depth", "uring"})
    ->Args({1024, 4, 1})
    ->Args({1024, 1, 1})
    ->Args({1024, 4, 0})
    ->Args({128, 4, 1})
    ->Args({128, 4, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
