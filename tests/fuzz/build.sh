#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, everything they reach instrumented (libFuzzer's
# coverage, ASan, UBSan), in a build directory of their own.
# Usage: tests/fuzz/build.sh [BUILD_DIR]   (default: build-fuzz at the top of the tree)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${1:-$root/build-fuzz}
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build_dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVNET_FUZZ=ON >/dev/null
fi
cmake --build "$build_dir" -j "$(nproc)" --target vnet_service_fuzz vnet_ledger_fuzz
