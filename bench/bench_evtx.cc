/*
 * bench_evtx.cc - the .evtx reader (pipeline/codec_evtx.h) against
 * libevtx's own tool, one core, over a directory of .evtx files
 * (IOCS_EVTX_DIR, default ../shared/corpus/logs/windows-evtx, i.e. run
 * from the source tree). The files are page-cached after the first pass.
 *
 *   BM_evtx_reader     iocs_evtx_open + iocs_evtx_next over every record
 *                      (recovered ones too): libevtx decode + JSON render
 *   BM_evtx_libevtx    libevtx alone: open, each record's UTF-8 XML, no
 *                      rendering (what the reader cannot go below)
 *   BM_evtxexport      `evtxexport -m all -f xml FILE > /dev/null` per file
 *                      (the same records; process start included)
 *
 * Counters: records/s (items_per_second) and file bytes/s.
 */
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <string>
#include <sys/stat.h>
#include <vector>

extern "C" {
#include "pipeline/codec_evtx.h"
/* libevtx.h wants libbfio.h, which Debian does not ship with it. */
#include <libevtx/features.h>
#undef LIBEVTX_HAVE_BFIO
#include <libevtx.h>
}

namespace
{

struct corpus {
    std::vector<std::string> files;
    int64_t bytes = 0;
};

const corpus &files()
{
    static corpus c;

    if (!c.files.empty())
        return c;
    const char *env = std::getenv("IOCS_EVTX_DIR");
    std::string dir = env && *env ? env : "../shared/corpus/logs/windows-evtx";
    if (DIR *d = opendir(dir.c_str())) {
        while (struct dirent *de = readdir(d)) {
            std::string n = de->d_name;
            struct stat st;

            if (n.size() < 5 || n.compare(n.size() - 5, 5, ".evtx") != 0)
                continue;
            n = dir + "/" + n;
            if (stat(n.c_str(), &st) == 0) {
                c.files.push_back(n);
                c.bytes += st.st_size;
            }
        }
        closedir(d);
    }
    return c;
}

void BM_evtx_reader(benchmark::State &state)
{
    const corpus &c = files();
    int64_t records = 0;

    if (c.files.empty()) {
        state.SkipWithError("no .evtx files (set IOCS_EVTX_DIR)");
        return;
    }
    for (auto _ : state) {
        for (const std::string &f : c.files) {
            struct iocs_evtx *r;
            struct iocs_evtx_record rec;

            if (iocs_evtx_open(&r, f.c_str(), nullptr, nullptr, nullptr, 0))
                continue;
            while (iocs_evtx_next(r, &rec) == 1) {
                benchmark::DoNotOptimize(rec.line[rec.len - 1]);
                records++;
            }
            iocs_evtx_free(r);
        }
    }
    state.SetItemsProcessed(records);
    state.SetBytesProcessed(c.bytes * int64_t(state.iterations()));
}

void BM_evtx_libevtx(benchmark::State &state)
{
    const corpus &c = files();
    std::vector<uint8_t> xml(1 << 16);
    int64_t records = 0;

    if (c.files.empty()) {
        state.SkipWithError("no .evtx files (set IOCS_EVTX_DIR)");
        return;
    }
    for (auto _ : state) {
        for (const std::string &f : c.files) {
            libevtx_file_t *file = nullptr;
            int n = 0, nr = 0;

            libevtx_file_initialize(&file, nullptr);
            if (libevtx_file_open(file, f.c_str(),
                                  libevtx_get_access_flags_read(),
                                  nullptr) != 1) {
                libevtx_file_free(&file, nullptr);
                continue;
            }
            libevtx_file_get_number_of_records(file, &n, nullptr);
            libevtx_file_get_number_of_recovered_records(file, &nr, nullptr);
            for (int i = 0; i < n + nr; i++) {
                libevtx_record_t *rec = nullptr;
                size_t size = 0;
                int ok = i < n ? libevtx_file_get_record_by_index(file, i, &rec,
                                                                  nullptr)
                               : libevtx_file_get_recovered_record_by_index(
                                     file, i - n, &rec, nullptr);

                if (ok != 1)
                    continue;
                if (libevtx_record_get_utf8_xml_string_size(rec, &size,
                                                            nullptr) == 1) {
                    if (size > xml.size())
                        xml.resize(size);
                    if (libevtx_record_get_utf8_xml_string(rec, xml.data(),
                                                           size, nullptr) == 1)
                        records++;
                }
                libevtx_record_free(&rec, nullptr);
            }
            libevtx_file_close(file, nullptr);
            libevtx_file_free(&file, nullptr);
        }
    }
    state.SetItemsProcessed(records);
    state.SetBytesProcessed(c.bytes * int64_t(state.iterations()));
}

void BM_evtxexport(benchmark::State &state)
{
    const corpus &c = files();
    int64_t records = 0;

    if (c.files.empty() || std::system("command -v evtxexport >/dev/null")) {
        state.SkipWithError("no .evtx files or no evtxexport");
        return;
    }
    /* The record count, once, from evtxexport's own output. */
    int64_t per_pass = 0;
    for (const std::string &f : c.files) {
        std::string cmd =
            "evtxexport -m all -f xml '" + f + "' | grep -c '^<Event '";
        if (std::FILE *p = popen(cmd.c_str(), "r")) {
            long n = 0;
            if (std::fscanf(p, "%ld", &n) == 1)
                per_pass += n;
            pclose(p);
        }
    }
    for (auto _ : state) {
        for (const std::string &f : c.files) {
            std::string cmd =
                "evtxexport -m all -f xml '" + f + "' >/dev/null 2>&1";
            benchmark::DoNotOptimize(std::system(cmd.c_str()));
        }
        records += per_pass;
    }
    state.SetItemsProcessed(records);
    state.SetBytesProcessed(c.bytes * int64_t(state.iterations()));
}

} // namespace

BENCHMARK(BM_evtx_reader)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_evtx_libevtx)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_evtxexport)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
