// bench_framer.cc - the framer alone, on slabs already in memory: no I/O,
// so its cost (finding the last '\n' of each slab, copying the carried
// tail into the next slab's headroom) is not hidden behind the reader's.
// bench_reader.cc measures reader + framer over a page-cached file.
//
// 32 slabs of slab_kib KiB of log-like lines (40..240 bytes; or, with
// long_lines, lines of 4..12 KiB so carries are large) are made once, each
// with its own headroom; one iteration frames all of them as one source.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "pipeline/framer.h"
#include "pipeline/reader.h"

namespace
{

void BM_framer(benchmark::State &state)
{
    const size_t slab = size_t(state.range(0)) << 10;
    const bool long_lines = state.range(1) != 0;
    const size_t nslabs = 32;
    std::vector<std::vector<unsigned char>> mem(nslabs);
    std::vector<iocs_slab> slabs(nslabs);
    uint32_t x = 12345;
    size_t line = 0;

    for (size_t i = 0; i < nslabs; i++) {
        mem[i].resize(2 * slab);
        unsigned char *d = mem[i].data() + slab;
        for (size_t k = 0; k < slab; k++) {
            x = x * 1103515245u + 12345u;
            size_t min = long_lines ? 4096 : 40;
            uint32_t odds = long_lines ? 8192 : 200;
            if (line > min && (x >> 16) % odds == 0) {
                d[k] = '\n';
                line = 0;
            } else {
                d[k] = (unsigned char)('a' + (x >> 16) % 26);
                line++;
            }
        }
        iocs_slab &s = slabs[i];
        s = iocs_slab{};
        s.source = 0;
        s.offset = uint64_t(i) * slab;
        s.data = d;
        s.len = slab;
        s.headroom = slab;
        s.first = i == 0;
        s.last = i == nslabs - 1;
    }

    size_t units = 0;
    for (auto _ : state) {
        iocs_framer *f;
        iocs_unit u;

        if (iocs_framer_new(&f, slab, 256) < 0) {
            state.SkipWithError("iocs_framer_new failed");
            return;
        }
        for (auto &s : slabs) {
            if (iocs_framer_frame(f, &s, &u) == 1) {
                units++;
                if (u.len)
                    benchmark::DoNotOptimize(u.ptr[u.len - 1]);
            }
        }
        iocs_framer_free(f);
    }
    state.SetBytesProcessed(int64_t(state.iterations() * nslabs * slab));
    state.counters["units"] =
        double(units) / double(state.iterations() ? state.iterations() : 1);
}

} // namespace

BENCHMARK(BM_framer)
    ->ArgNames({"slab_kib", "long_lines"})
    ->Args({1024, 0})
    ->Args({128, 0})
    ->Args({1024, 1})
    ->Args({128, 1})
    ->UseRealTime();

BENCHMARK_MAIN();
