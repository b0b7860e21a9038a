// bench_codec.cc - the streaming decoders (pipeline/codec.h) against the
// reference library: ISA-L gzip through iocs_decoder_run() vs zlib's
// inflate() on the same .gz, and libzstd through iocs_decoder_run().
// Bytes/s are decompressed bytes.
//
// Input: IOCS_BENCH_CODEC_GZ and IOCS_BENCH_CODEC_ZST name a .gz and a
// .zst of the same text (compare with `igzip -d -c F.gz >/dev/null` and
// `zstd -d -c F.zst >/dev/null` on the same files); without them, 32 MiB
// of log-like lines are made and compressed in-process (zlib -6, zstd -3).
// The compressed bytes are in memory: no I/O is measured. Input is handed
// over in 128 KiB pieces (a reader slab), output goes to 64 KiB.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <zlib.h>
#include <zstd.h>

#include "pipeline/codec.h"

namespace
{

struct Inputs {
    std::vector<unsigned char> gz, zst;
    size_t plain_len = 0;
};

std::vector<unsigned char> read_all(const char *path)
{
    std::vector<unsigned char> v;
    FILE *f = fopen(path, "rb");
    unsigned char buf[1 << 16];
    size_t n;

    if (!f) {
        perror(path);
        exit(1);
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        v.insert(v.end(), buf, buf + n);
    fclose(f);
    return v;
}

std::vector<unsigned char> make_text(size_t want)
{
    static const char *verbs[] = {"Accepted publickey", "Failed password",
                                  "Connection closed", "session opened",
                                  "Invalid user"};
    std::vector<unsigned char> t;
    uint32_t x = 12345;
    char line[256];

    while (t.size() < want) {
        x = x * 1103515245u + 12345u;
        int n =
            snprintf(line, sizeof(line),
                     "Dec %2u %02u:%02u:%02u host%u sshd[%u]: %s for "
                     "user%u from 10.%u.%u.%u port %u ssh2\n",
                     1 + (x >> 8) % 28, (x >> 4) % 24, (x >> 9) % 60,
                     (x >> 13) % 60, (x >> 3) % 16, 1000 + (x >> 7) % 9000,
                     verbs[(x >> 17) % 5], (x >> 11) % 500, (x >> 5) % 256,
                     (x >> 15) % 256, (x >> 21) % 256, 1024 + (x >> 2) % 60000);
        t.insert(t.end(), line, line + n);
    }
    return t;
}

const Inputs &inputs()
{
    static Inputs in;
    static bool done;

    if (done)
        return in;
    done = true;
    const char *gz = getenv("IOCS_BENCH_CODEC_GZ");
    const char *zst = getenv("IOCS_BENCH_CODEC_ZST");
    if (gz && zst) {
        in.gz = read_all(gz);
        in.zst = read_all(zst);
        return in;
    }
    std::vector<unsigned char> t = make_text(32u << 20);
    z_stream s{};
    deflateInit2(&s, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    in.gz.resize(deflateBound(&s, t.size()));
    s.next_in = t.data();
    s.avail_in = unsigned(t.size());
    s.next_out = in.gz.data();
    s.avail_out = unsigned(in.gz.size());
    deflate(&s, Z_FINISH);
    in.gz.resize(s.total_out);
    deflateEnd(&s);
    in.zst.resize(ZSTD_compressBound(t.size()));
    in.zst.resize(
        ZSTD_compress(in.zst.data(), in.zst.size(), t.data(), t.size(), 3));
    return in;
}

constexpr size_t kPiece = 128 << 10, kOut = 64 << 10;

void run_decoder(benchmark::State &state, iocs_codec c,
                 const std::vector<unsigned char> &z)
{
    static unsigned char out[kOut];
    iocs_decoder *d;
    uint64_t total = 0;

    if (iocs_decoder_new(&d, c) != 0) {
        state.SkipWithError("iocs_decoder_new");
        return;
    }
    for (auto _ : state) {
        size_t pos = 0, in_len = 0, got;
        const unsigned char *in = z.data();
        int ret;

        iocs_decoder_reset(d);
        do {
            if (in_len == 0 && pos < z.size()) {
                in = z.data() + pos;
                in_len = std::min(kPiece, z.size() - pos);
                pos += in_len;
            }
            ret = iocs_decoder_run(d, &in, &in_len, pos == z.size(), out, kOut,
                                   &got);
            total += got;
            benchmark::DoNotOptimize(out[0]);
        } while (ret == 0);
        if (ret != 1)
            state.SkipWithError("decode failed");
    }
    state.SetBytesProcessed(int64_t(total));
    iocs_decoder_free(d);
}

void BM_decoder_gzip_isal(benchmark::State &state)
{
    run_decoder(state, IOCS_CODEC_GZIP, inputs().gz);
}

void BM_decoder_zstd(benchmark::State &state)
{
    run_decoder(state, IOCS_CODEC_ZSTD, inputs().zst);
}

// zlib's inflate() on the same .gz, same pieces and room: the baseline
// ISA-L is chosen over (single member: enough for the bench inputs).
void BM_zlib_inflate(benchmark::State &state)
{
    static unsigned char out[kOut];
    const std::vector<unsigned char> &z = inputs().gz;
    uint64_t total = 0;

    for (auto _ : state) {
        z_stream s{};
        size_t pos = 0;
        int ret = Z_OK;

        inflateInit2(&s, 31);
        while (ret != Z_STREAM_END) {
            if (s.avail_in == 0 && pos < z.size()) {
                size_t n = std::min(kPiece, z.size() - pos);
                s.next_in = const_cast<unsigned char *>(z.data() + pos);
                s.avail_in = unsigned(n);
                pos += n;
            }
            s.next_out = out;
            s.avail_out = kOut;
            ret = inflate(&s, Z_NO_FLUSH);
            if (ret != Z_OK && ret != Z_STREAM_END) {
                state.SkipWithError("inflate failed");
                break;
            }
            total += kOut - s.avail_out;
            benchmark::DoNotOptimize(out[0]);
        }
        inflateEnd(&s);
    }
    state.SetBytesProcessed(int64_t(total));
}

} // namespace

BENCHMARK(BM_decoder_gzip_isal)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_zlib_inflate)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_decoder_zstd)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
