// bench_emit.cc - events/s through the encoder and the file sink into
// /dev/null, msgpack vs JSON, for a short and a long (4 KiB, escape-heavy)
// log line, and the same lengths in plain ASCII (the common case, which
// takes the encoder's ASCII fast path). The write(2) to /dev/null is included,
// so the numbers are encode + syscall cost per 256 KiB batch, the inline path
// (-j 0) of a real scan minus the device.
#include <benchmark/benchmark.h>

#include <string.h>

#include <string>

#include "pipeline/encode.h"
#include "pipeline/sink.h"

namespace
{

void run(benchmark::State &state, iocs_format fmt, size_t line_len,
         bool ascii = false)
{
    std::string line = "Nov 22 03:56:57 vpn sshd[1]: from 192.81.209.168 ";
    while (line.size() < line_len)
        line += ascii ? "GET /a?q=x&id=42 HTTP/1.1 200 "
                      : "GET /a?q=\"x\"\t\\ caf\xc3\xa9 \xff ";
    line.resize(line_len);

    iocs_ioc ioc{};
    ioc.type = IOCS_IPV4;
    ioc.severity = 73;
    ioc.value = "192.81.209.168";
    ioc.len = strlen(ioc.value);
    ioc.feed = "beyondtrust.csv";
    ioc.provider = "CISA";

    iocs_event ev{};
    ev.ioc = &ioc;
    ev.ioc_id = 4242;
    ev.path = "/var/log/auth.log";
    ev.offset = 123456789;
    ev.original = reinterpret_cast<const unsigned char *>(line.data());
    ev.original_len = line.size();
    ev.line_len = line.size();
    ev.atomic = ev.original + 34;
    ev.atomic_len = 14;
    ev.start = 34;
    ev.end = 48;
    ev.count = 1;
    ev.timestamp = {1795000000, 123456789};
    ev.created = {1795000001, 0};

    iocs_sink_opts so{};
    so.format = fmt;
    iocs_encoder_opts eo{};
    eo.format = fmt;
    eo.db_id = "db-hash-1";
    iocs_sink *sink = nullptr;
    iocs_encoder *e = nullptr;
    char errbuf[256];
    if (iocs_sink_open(&sink, "/dev/null", &so, errbuf, sizeof(errbuf)) != 0 ||
        iocs_encoder_new(&e, &eo) != 0) {
        state.SkipWithError("cannot open /dev/null or make an encoder");
        iocs_sink_close(sink);
        return;
    }
    iocs_sink_batch b{};
    for (auto _ : state) {
        ev.line++;
        if (iocs_encoder_event(e, &ev) != 0) {
            state.SkipWithError("iocs_encoder_event failed");
            break;
        }
        if (iocs_encoder_len(e) >= IOCS_ENCODE_FLUSH_AT) {
            iocs_encoder_batch(e, &b);
            b.seq++;
            if (iocs_sink_write(sink, &b) != 0) {
                state.SkipWithError("iocs_sink_write failed");
                break;
            }
            iocs_encoder_clear(e);
        }
    }
    iocs_encoder_free(e);
    iocs_sink_close(sink);
    state.SetItemsProcessed(state.iterations());
}

void BM_emit_msgpack(benchmark::State &state)
{
    run(state, IOCS_FORMAT_MSGPACK, static_cast<size_t>(state.range(0)));
}

void BM_emit_json(benchmark::State &state)
{
    run(state, IOCS_FORMAT_JSON, static_cast<size_t>(state.range(0)));
}

void BM_emit_msgpack_ascii(benchmark::State &state)
{
    run(state, IOCS_FORMAT_MSGPACK, static_cast<size_t>(state.range(0)), true);
}

void BM_emit_json_ascii(benchmark::State &state)
{
    run(state, IOCS_FORMAT_JSON, static_cast<size_t>(state.range(0)), true);
}

} // namespace

BENCHMARK(BM_emit_msgpack)->Arg(80)->Arg(4096);
BENCHMARK(BM_emit_json)->Arg(80)->Arg(4096);
BENCHMARK(BM_emit_msgpack_ascii)->Arg(80)->Arg(4096);
BENCHMARK(BM_emit_json_ascii)->Arg(80)->Arg(4096);

BENCHMARK_MAIN();
