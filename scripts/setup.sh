#!/usr/bin/env bash
# Install the Debian 12 packages iocstream needs to build, test and
# benchmark, when they are missing. Safe to run again; needs root (or sudo).
set -euo pipefail

pkgs=(build-essential cmake pkg-config clang llvm libclang-rt-14-dev
      libhyperscan-dev liburing-dev libmsgpack-dev libjansson-dev libcmocka-dev
      libbenchmark-dev clang-format python3 jq
      libisal-dev isal libzstd-dev zstd libbz2-dev bzip2 liblzma-dev xz-utils
      zlib1g-dev libpsl-dev publicsuffix libevtx-dev libevtx-utils
      libnats-dev nats-server libssl-dev python3-fluent-logger
      python3-msgpack)
if [ "${1:-}" = "--bench" ]; then
    pkgs+=(ugrep ripgrep grep hyperfine time)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
# Node.js and npm for tests/e2e_forward_node.sh (the fluent organisation's
# own Forward server): Debian's, unless a node and npm are there already.
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
