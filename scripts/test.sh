#!/usr/bin/env bash
# Build with -Werror and run every test, then the same suite under
# ASan+UBSan, the threaded tests under TSan, then each fuzz target for a
# short while. This is what CI runs
# (.ci/run) and what README.md tells a new user to run.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
jobs=$(nproc)

echo "== clang-format --dry-run --Werror"
git ls-files '*.c' '*.h' '*.cc' 2>/dev/null | xargs -r clang-format --dry-run --Werror

echo "== ci build (-Werror) + tests"
cmake --preset ci >/dev/null
cmake --build build/ci -j"$jobs"
ctest --test-dir build/ci --output-on-failure -j"$jobs"

echo "== asan+ubsan build + tests"
cmake --preset asan >/dev/null
cmake --build build/asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build/asan --output-on-failure -j"$jobs"

echo "== tsan build + the tests that run worker threads"
cmake --preset tsan >/dev/null
cmake --build build/tsan -j"$jobs" --target iocstream test_scanner test_workers \
    test_mapguard shrink_shim
# (e2e_mmap's deterministic cut needs an LD_PRELOAD shim that TSan's mmap
# interceptor bypasses: that part is skipped here, the mapped scans run.)
IOCS_E2E_NO_SHIM=1 TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan --output-on-failure \
    -R "test_scanner|test_workers|test_mapguard|e2e_generated|e2e_cli|e2e_evtx|e2e_mmap"

echo "== fuzz targets (${IOCS_FUZZ_SECONDS:-20} s each)"
cmake --preset fuzz >/dev/null
cmake --build build/fuzz -j"$jobs"
for f in build/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    "$f" -max_total_time="${IOCS_FUZZ_SECONDS:-20}" -rss_limit_mb=2048 -print_final_stats=1 \
        >"$f.log" 2>&1 || { tail -50 "$f.log"; echo "FAIL: $f"; exit 1; }
    echo "fuzz: $(basename "$f") ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$f.log" || tail -1 "$f.log"))"
done
echo "all tests passed"
