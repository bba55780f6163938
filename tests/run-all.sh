#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build everything with
# AddressSanitizer and UBSan, run every test with ctest. Needs root (BPF, namespaces).
# Usage: tests/run-all.sh [CTEST_ARGS...]   e.g. tests/run-all.sh -L unit
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [ "$(id -u)" -ne 0 ]; then
  echo "tests/run-all.sh: run as root: the fast-path and namespace tests load BPF programs" >&2
  exit 2
fi
bash deploy/install-deps.sh
build_dir=${VNET_TEST_BUILD_DIR:-$root/build-sanitize}
bash deploy/build.sh "$build_dir" -DVNET_SANITIZE=ON

# LeakSanitizer on: a leak fails the test binary at exit, and vnetd/vnetctl started by a
# test exit non-zero, which the tests check (tests/integration/process.h, VnetDaemon.stop
# in tests/netns/topology.py). tests/lsan.supp names the third-party allocations that live
# as long as the process (each entry says why they are not ours).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build_dir"
# Everything runs, the real-Xen end-to-end test included (label xen_e2e: Xen + dom0 + PV
# guests under QEMU TCG on both dom0 kernels, ~5 min each on a quiet 2-core machine; it
# downloads Debian's Xen and kernel packages into /var/cache/vnet-xen-e2e the first time).
exec ctest --output-on-failure --timeout 900 "$@"
