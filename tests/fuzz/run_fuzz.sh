#!/usr/bin/env bash
# A bounded libFuzzer run, as the suite runs it: builds the target if needed, starts from
# its seeds and stops after VNET_FUZZ_RUNS inputs or VNET_FUZZ_SECONDS, whichever is first.
# A finding fails the run and leaves the input in the work directory, named in the output.
# Usage: tests/fuzz/run_fuzz.sh service|ledger [FUZZ_BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
target=$1
build_dir=${2:-$root/build-fuzz}
runs=${VNET_FUZZ_RUNS:-20000}
seconds=${VNET_FUZZ_SECONDS:-120}
extra=
case "$target" in
  # The service target sees coverage from gRPC's threads as well: libFuzzer's entropic
  # schedule spent 40% of the time ranking it (perf); without it, 1.5x the inputs per second.
  service) binary=$build_dir/tests/fuzz/vnet_service_fuzz; extra=-entropic=0 ;;
  ledger) binary=$build_dir/tests/ledger/vnet_ledger_fuzz ;;
  *) echo "run_fuzz.sh: unknown target '$target' (service or ledger)" >&2; exit 2 ;;
esac
bash "$root/tests/fuzz/build.sh" "$build_dir"

work=$(mktemp -d /tmp/vnet-fuzz-"$target"-XXXXXX)
corpus=$work/corpus
mkdir -p "$corpus"
if [ "$target" = service ]; then
  VNET_FUZZ_WRITE_SEEDS=$corpus "$binary"
fi
# LeakSanitizer stays on: the fuzzer's own process must not leak per input.
status=0
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1} \
  "$binary" $extra -runs="$runs" -max_total_time="$seconds" -max_len=4096 -timeout=30 \
  -print_final_stats=1 -artifact_prefix="$work/" "$corpus" 2>"$work/log" || status=$?
grep -E '^(Done [0-9]+ runs|stat::|service fuzz finding|==[0-9]+==ERROR)' "$work/log" || true
if [ "$status" -ne 0 ]; then
  # The daemon's state directory at the finding (the harness stops without cleaning up).
  mv /dev/shm/vnet-service-fuzz-* /tmp/vnet-service-fuzz-* "$work"/ 2>/dev/null || true
  tail -n 60 "$work/log"
  echo "run_fuzz.sh: $target fuzzer failed (exit $status); input and log kept in $work" >&2
  exit 1
fi
rm -rf "$work"
