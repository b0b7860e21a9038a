// bench_match.cc - matcher throughput on in-memory log text, and the
// scanner stage on top of it, so the scanner's cost over raw hs_scan shows.
//
// IOC lists (100, 1k, 10k, 100k; mixed types as genlogs.py writes them:
// IPv4, domains, URLs, IPv6, hashes, file names, emails, and optionally
// CIDRs) and a log buffer (IOCS_BENCH_MATCH_MB MiB, default 32, of
// syslog/VPN/JSON-like lines with background IPs, names and hashes) are
// generated inside the benchmark from a fixed seed. A planted IOC value
// replaces a field on a fraction of the lines: the hit rate, per mille.
// IOCS_BENCH_IOCS=FILE and IOCS_BENCH_LOG=FILE replace the generated list
// and log (then the n_iocs and hit-rate arguments only label the run).
//
// BM_db_scan:       iocs_db_scan per 1 MiB chunk, callback counts: the raw
//                   Hyperscan limit (as bench/rawlimit.c, in cache-warm
//                   memory).
// BM_scanner:       iocs_scanner_unit per 1 MiB unit of whole lines
//                   (boundary checks, CIDR lookups, line numbers, events);
//                   the event callback counts.
// BM_scanner_emit:  as BM_scanner, with each event packed as msgpack by the
//                   encoder (cleared at 256 KiB): one worker's whole job
//                   but the write.
// Arguments: n_iocs, hit rate in per mille, cidr (1: the list has CIDRs,
// whose IP token triggers fire on every address in the log).
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "matchers/db.h"
#include "matchers/feed.h"
#include "matchers/ioc.h"
#include "pipeline/encode.h"
#include "pipeline/framer.h"
#include "pipeline/scanner.h"

namespace
{

struct rng {
    uint64_t s;
    uint32_t next()
    {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return uint32_t(s >> 11);
    }
    uint32_t below(uint32_t n)
    {
        return next() % n;
    }
};

const char *const kTld[] = {"com", "net", "org", "ru", "io", "xyz", "top"};
const char *const kWord[] = {"update", "cdn",    "secure", "login", "mail",
                             "portal", "cloud",  "sync",   "api",   "static",
                             "files",  "auth",   "office", "share", "drive",
                             "status", "wallet", "verify", "admin", "vpn"};
const char *const kUser[] = {"alice", "bob",   "carol", "dave", "erin",
                             "frank", "grace", "heidi", "ivan", "judy"};
const char *const kBgHost[] = {"corp.example.com",          "www.microsoft.com",
                               "login.microsoftonline.com", "github.com",
                               "update.googleapis.com",     "zoom.us",
                               "outlook.office365.com",     "slack.com"};

std::string hex(rng &r, size_t n)
{
    static const char d[] = "0123456789abcdef";
    std::string s(n, '0');
    for (auto &c : s)
        c = d[r.below(16)];
    return s;
}

std::string label(rng &r)
{
    std::string s = kWord[r.below(20)];
    s += '-';
    for (int i = 0; i < 6; i++)
        s += char('a' + r.below(26));
    return s;
}

// IOC IPv4 addresses come from first octets the background never uses.
std::string ioc_ip(rng &r)
{
    static const int first[] = {5, 31, 45, 62, 77, 91, 103, 109, 146, 185};
    return std::to_string(first[r.below(10)]) + "." +
           std::to_string(r.below(256)) + "." + std::to_string(r.below(256)) +
           "." + std::to_string(1 + r.below(254));
}

std::string bg_ip(rng &r)
{
    static const char *const net[] = {"10.", "192.168.", "203.0.113.",
                                      "198.51.100.", "172.16."};
    const char *n = net[r.below(5)];
    std::string s = n;
    int dots = 0;
    for (const char *p = n; *p; p++)
        dots += *p == '.';
    for (int i = dots; i < 4; i++) {
        s += std::to_string(1 + r.below(254));
        if (i < 3)
            s += '.';
    }
    return s;
}

// One IOC value per line, normalised already (the planted text is the
// value itself, so every plant is a hit).
std::vector<std::string> make_iocs(size_t n, bool cidr)
{
    rng r{0x10c5u + n * 7919u};
    std::vector<std::string> v;
    v.reserve(n);
    for (size_t i = 0; i < n; i++) {
        std::string s;
        unsigned k = r.below(100);
        if (k < 26) {
            s = ioc_ip(r);
        } else if (k < 46) {
            s = label(r) + "." + kTld[r.below(7)];
        } else if (k < 56) {
            s = "http://" + label(r) + "." + kTld[r.below(7)] + "/" + label(r) +
                ".php";
        } else if (k < 63) {
            s = "2a0" + std::to_string(r.below(10)) + ":" + hex(r, 4) + ":" +
                hex(r, 3) + "::" + hex(r, 4);
        } else if (k < 70) {
            s = ioc_ip(r);
            if (cidr)
                s = s.substr(0, s.rfind('.')) + ".0/24";
        } else if (k < 87) {
            s = hex(r, r.below(2) ? 64 : 32);
        } else if (k < 93) {
            s = label(r) + ".exe";
        } else {
            s = std::string(kUser[r.below(10)]) + "." + label(r) + "@" +
                label(r) + ".com";
        }
        v.push_back(s);
    }
    return v;
}

// The text that makes a hit for IOC value v (CIDRs: an address inside;
// URLs: the scheme-less form a proxy log holds).
std::string plant(rng &r, const std::string &v)
{
    size_t slash = v.find("/24");
    if (slash != std::string::npos && v.find("://") == std::string::npos)
        return v.substr(0, v.rfind('.')) + "." +
               std::to_string(1 + r.below(254));
    if (v.compare(0, 7, "http://") == 0)
        return v.substr(7);
    return v;
}

std::string make_log(size_t bytes, const std::vector<std::string> &iocs,
                     unsigned permille)
{
    rng r{42 + permille};
    std::string out;
    out.reserve(bytes + 4096);
    char ts[64];
    unsigned sec = 0;
    while (out.size() < bytes) {
        bool hit = r.below(1000) < permille;
        std::string ioc = hit ? plant(r, iocs[r.below(unsigned(iocs.size()))])
                              : std::string();
        std::snprintf(ts, sizeof(ts), "2024-11-22T%02u:%02u:%02uZ",
                      (sec / 3600) % 24, (sec / 60) % 60, sec % 60);
        sec++;
        const char *user = kUser[r.below(10)];
        switch (r.below(4)) {
        case 0:
            out += std::string("Nov 22 ") + (ts + 11) + " vpn01 sshd[" +
                   std::to_string(1000 + r.below(30000)) +
                   "]: Accepted publickey for " + user + " from " +
                   (hit ? ioc : bg_ip(r)) + " port " +
                   std::to_string(1024 + r.below(60000)) + " ssh2\n";
            break;
        case 1:
            out += std::string(ts) +
                   " fw01 date=2024-11-22 type=traffic action=accept srcip=" +
                   bg_ip(r) + " dstip=" + bg_ip(r) + " dstport=443 hostname=" +
                   (hit ? ioc : kBgHost[r.below(8)]) + " user=" + user +
                   " sentbyte=" + std::to_string(r.below(100000)) + "\n";
            break;
        case 2:
            out += std::string("{\"EventID\":1,\"TimeCreated\":\"") + ts +
                   "\",\"Computer\":\"ws" + std::to_string(r.below(500)) +
                   ".corp.example.com\",\"Image\":\"C:"
                   "\\\\Windows\\\\System32\\\\" +
                   (hit ? ioc : std::string("svchost.exe")) +
                   "\",\"Hashes\":\"SHA256=" + hex(r, 64) +
                   "\",\"User\":\"CORP\\\\" + user + "\"}\n";
            break;
        default:
            out += std::string("<166>") + ts +
                   " asa01 %ASA-6-302013: Built outbound TCP connection " +
                   std::to_string(r.below(1u << 30)) +
                   " for outside:" + bg_ip(r) + "/443 (" + bg_ip(r) +
                   "/443) to inside:" + bg_ip(r) + "/" +
                   std::to_string(1024 + r.below(60000)) + " url " +
                   (hit ? ioc : std::string(kBgHost[r.below(8)])) +
                   "/index.html\n";
            break;
        }
    }
    return out;
}

std::string slurp(const char *path)
{
    std::string s;
    std::FILE *fp = std::fopen(path, "rb");
    if (!fp)
        return s;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), fp)) > 0)
        s.append(buf, n);
    std::fclose(fp);
    return s;
}

struct fixture {
    iocs_iocset *set = nullptr;
    iocs_db *db = nullptr;
    std::string log;
    std::vector<iocs_unit> units;
    std::string err;

    ~fixture()
    {
        iocs_db_free(db);
        iocs_iocset_free(set);
    }
};

// Build (once per argument set) the IOC set, database, log and units.
fixture *get(size_t n, unsigned permille, bool cidr)
{
    static std::map<std::tuple<size_t, unsigned, bool>,
                    std::unique_ptr<fixture>>
        cache;
    auto key = std::make_tuple(n, permille, cidr);
    auto it = cache.find(key);
    if (it != cache.end())
        return it->second.get();

    auto f = std::make_unique<fixture>();
    std::vector<std::string> iocs = make_iocs(n, cidr);
    std::string feed;
    if (const char *p = std::getenv("IOCS_BENCH_IOCS")) {
        feed = slurp(p);
    } else {
        for (auto &s : iocs)
            feed += s + "\n";
    }
    iocs_feed_report rep{};
    char errbuf[256] = "";
    if (iocs_iocset_new(&f->set) < 0 ||
        iocs_feed_load_mem(f->set, "bench", feed.data(), feed.size(), nullptr,
                           nullptr, &rep) < 0 ||
        iocs_db_compile(&f->db, f->set, errbuf, sizeof(errbuf)) < 0) {
        f->err = std::string("IOC setup failed: ") + errbuf;
    } else {
        if (const char *p = std::getenv("IOCS_BENCH_LOG")) {
            f->log = slurp(p);
        } else {
            const char *mb = std::getenv("IOCS_BENCH_MATCH_MB");
            size_t bytes = size_t(mb ? std::atoi(mb) : 32) << 20;
            f->log = make_log(bytes, iocs, permille);
        }
        // 1 MiB units of whole lines, as the framer cuts them.
        const auto *p = reinterpret_cast<const unsigned char *>(f->log.data());
        size_t len = f->log.size(), off = 0;
        while (off < len) {
            size_t end = off + (1u << 20) < len ? off + (1u << 20) : len;
            if (end < len) {
                const void *nl = memrchr(p + off, '\n', end - off);
                if (nl)
                    end =
                        size_t(static_cast<const unsigned char *>(nl) - p) + 1;
            }
            iocs_unit u{};
            u.source = 0;
            u.offset = off;
            u.ptr = p + off;
            u.len = end - off;
            u.starts_line = true;
            u.ends_line = true;
            u.first = off == 0;
            u.last = end == len;
            f->units.push_back(u);
            off = end;
        }
    }
    fixture *raw = f.get();
    cache.emplace(key, std::move(f));
    return raw;
}

int count_match(unsigned int, unsigned long long, unsigned long long,
                unsigned int, void *ctx)
{
    ++*static_cast<uint64_t *>(ctx);
    return 0;
}

int count_event(void *ctx, const iocs_event *)
{
    ++*static_cast<uint64_t *>(ctx);
    return 0;
}

int emit_event(void *ctx, const iocs_event *ev)
{
    iocs_encoder *e = static_cast<iocs_encoder *>(ctx);
    int err = iocs_encoder_event(e, ev);
    if (iocs_encoder_len(e) >= IOCS_ENCODE_FLUSH_AT)
        iocs_encoder_clear(e); // a job's batch, handed to a sink
    return err;
}

fixture *setup(benchmark::State &state)
{
    fixture *f = get(size_t(state.range(0)), unsigned(state.range(1)),
                     state.range(2) != 0);
    if (!f->err.empty())
        state.SkipWithError(f->err.c_str());
    return f;
}

void BM_db_scan(benchmark::State &state)
{
    fixture *f = setup(state);
    if (!f->err.empty())
        return;
    hs_scratch *scratch = nullptr;
    if (iocs_db_scratch_new(f->db, &scratch) < 0) {
        state.SkipWithError("scratch");
        return;
    }
    uint64_t matches = 0;
    for (auto _ : state) {
        matches = 0;
        for (const auto &u : f->units)
            iocs_db_scan(f->db, scratch, u.ptr, u.len, count_match, &matches);
    }
    iocs_db_scratch_free(scratch);
    state.SetBytesProcessed(int64_t(state.iterations() * f->log.size()));
    state.counters["matches"] = double(matches);
    state.counters["patterns"] = double(iocs_db_patterns(f->db));
}

void scanner_run(benchmark::State &state, bool emit)
{
    fixture *f = setup(state);
    if (!f->err.empty())
        return;
    iocs_scanner_opts o{};
    o.max_line = IOCS_MAX_LINE_DEFAULT;
    iocs_scanner *s = nullptr;
    iocs_encoder *e = nullptr;
    iocs_encoder_opts eo{};
    eo.format = IOCS_FORMAT_MSGPACK;
    eo.db_id = iocs_db_id(f->db);
    struct iocs_linestate *ls = nullptr;
    if (iocs_scanner_new(&s, f->db, &o) < 0 ||
        iocs_linestate_new(&ls, o.max_line) < 0 ||
        (emit && iocs_encoder_new(&e, &eo) < 0)) {
        state.SkipWithError("scanner or encoder setup failed");
        iocs_scanner_free(s);
        iocs_linestate_free(ls);
        return;
    }
    uint64_t events = 0;
    for (auto _ : state) {
        uint64_t line = 1, nl = 0;
        events = 0;
        for (const auto &u : f->units) {
            int rc = emit ? iocs_scanner_unit(s, &u, "bench.log", line, ls,
                                              emit_event, e, &nl)
                          : iocs_scanner_unit(s, &u, "bench.log", line, ls,
                                              count_event, &events, &nl);
            if (rc < 0) {
                state.SkipWithError("scan failed");
                break;
            }
            line += nl;
        }
    }
    iocs_scan_stats st{};
    iocs_scanner_stats(s, &st);
    iocs_encoder_free(e);
    iocs_scanner_free(s);
    iocs_linestate_free(ls);
    state.SetBytesProcessed(int64_t(state.iterations() * f->log.size()));
    double it = double(state.iterations() ? state.iterations() : 1);
    state.counters["matches"] = double(st.matches) / it;
    state.counters["events"] = double(st.events) / it;
    state.counters["splits"] = double(st.splits) / it;
}

void BM_scanner(benchmark::State &state)
{
    scanner_run(state, false);
}

void BM_scanner_emit(benchmark::State &state)
{
    scanner_run(state, true);
}

void args(benchmark::internal::Benchmark *b)
{
    b->ArgNames({"iocs", "hit_permille", "cidr"});
    for (long n : {100, 1000, 10000, 100000})
        for (long rate : {1, 50})
            b->Args({n, rate, 1});
    // Without CIDRs: no IP token triggers, only literals.
    b->Args({10000, 1, 0});
    b->Args({10000, 50, 0});
    b->Unit(benchmark::kMillisecond)->UseRealTime();
}

} // namespace

BENCHMARK(BM_db_scan)->Apply(args);
BENCHMARK(BM_scanner)->Apply(args);
BENCHMARK(BM_scanner_emit)
    ->ArgNames({"iocs", "hit_permille", "cidr"})
    ->Args({10000, 1, 1})
    ->Args({10000, 50, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
