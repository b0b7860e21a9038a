# lib_e2e.sh - shared by the end-to-end tests (sourced, not run).
# CTest sets IOCS_BINARY, IOCS_SOURCE_DIR and IOCS_WORK.
set -euo pipefail

B=${IOCS_BINARY:?IOCS_BINARY not set}
S=${IOCS_SOURCE_DIR:?IOCS_SOURCE_DIR not set}
W=${IOCS_WORK:-$(mktemp -d)}
rm -rf "$W"
mkdir -p "$W"
export XDG_CACHE_HOME="$W/cache" # keep the IOC database cache out of $HOME

# The built-in pack's BeyondTrust addresses (genlogs.py --builtin plants
# them), so a scan with -i can cover the whole truth.
BUILTIN_VALUES="24.144.114.85 142.93.119.175 157.230.183.1 192.81.209.168
2604:a880:400:d1::7293:c001 2604:a880:400:d1::72ad:3001
2604:a880:400:d1::7716:1 2604:a880:400:d1::7df0:7001
2604:a880:400:d1::8622:f001"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Run the binary, capture its status without tripping set -e.
run() {
    set +e
    "$@"
    rc=$?
    set -e
}

# expect_status WANT: compare with the last run's status.
expect_status() {
    [ "$rc" -eq "$1" ] || fail "exit status $rc, want $1 (${2:-})"
}
