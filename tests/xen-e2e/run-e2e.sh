#!/usr/bin/env bash
# One end-to-end run under real Xen for one dom0 kernel: fetch -> build images -> boot and
# run the scenario in QEMU -> report. Exit 0 only if every planned check passed.
#
# Usage: run-e2e.sh linux61|linux612 VNETD VNETCTL
# Environment: VNET_XEN_E2E_CACHE (default /var/cache/vnet-xen-e2e): .debs, kept across runs;
#              the last console log per kernel is kept there too (logs/).
#              VNET_XEN_E2E_TIMEOUT (default 1500): seconds QEMU may run.
#              VNET_XEN_E2E_NO_UPLINK=1: debugging only, vnetd without --uplink (never passes).
#              VNET_XEN_E2E_BENCH=offload: also the smart/dumb netfront benchmark (numbers
#              only, no check; docs/offload.md).
set -euo pipefail
kernel=$1 vnetd=$2 vnetctl=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
cache=${VNET_XEN_E2E_CACHE:-/var/cache/vnet-xen-e2e}
qemu_secs=${VNET_XEN_E2E_TIMEOUT:-1500}

die() { echo "xen-e2e[$kernel]: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (apt-get download into $cache, dpkg-deb, QEMU)"
for c in apt-get apt-cache dpkg-deb qemu-system-x86_64 cpio gzip xz zstd modinfo setpriv flock perl \
         python3 jq iperf3 tcpdump; do
  command -v "$c" >/dev/null || die "missing '$c' on the host: run deploy/install-deps.sh"
done

# Scratch dirs of earlier runs that were killed outright (no trap ran) go first: each
# records its owner's pid, and a dir whose owner is gone is garbage.
for old in /tmp/vnet-xen-e2e.*; do
  [ -f "$old/owner.pid" ] || continue
  kill -0 "$(cat "$old/owner.pid")" 2>/dev/null || rm -rf "$old"
done
scratch=$(mktemp -d "/tmp/vnet-xen-e2e.$kernel.XXXXXX")
echo $$ >"$scratch/owner.pid"
qemu_job=""
cleanup() {
  # QEMU dies with run-qemu.sh (pdeathsig); its pid file is the second line of defence.
  [ -n "$qemu_job" ] && kill "$qemu_job" 2>/dev/null
  local pid
  pid=$(cat "$scratch/img/qemu.pid" 2>/dev/null) || pid=""
  # Only if that pid is still our QEMU (its command line names our scratch dir).
  if [ -n "$pid" ] && grep -qF "$scratch" "/proc/$pid/cmdline" 2>/dev/null; then kill -KILL "$pid"; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stage_t0=$SECONDS
host_stages=()
host_stage() { host_stages+=("$1 $((SECONDS - stage_t0))"); stage_t0=$SECONDS; }

echo "xen-e2e[$kernel]: fetching into $cache"
mkdir -p "$cache"
# One fetch at a time per cache (another build dir's suite may run this test concurrently).
kver=$(flock "$cache/.lock" bash "$here/fetch.sh" "$cache" "$scratch/root" "$kernel" | tail -n 1) \
  || die "fetch failed (see above)"
host_stage fetch
echo "xen-e2e[$kernel]: dom0 kernel $kver; building images"
bash "$here/build-images.sh" "$scratch/root" "$kver" "$vnetd" "$vnetctl" "$src" "$scratch/img" \
  2>"$scratch/build.log" || { cat "$scratch/build.log" >&2; die "building the images failed"; }
rm -rf "$scratch/root"  # 1 GB of extracted .debs: not needed any more
host_stage build-images

log=$scratch/console.log
echo "xen-e2e[$kernel]: booting Xen + dom0 in QEMU (at most $qemu_secs s)"
qemu_rc=0
# In the background so that a signal to this script runs its trap at once (bash defers
# traps while a foreground child runs).
dom0_env=()
[ "${VNET_XEN_E2E_NO_UPLINK:-}" = 1 ] && dom0_env+=(E2E_NO_UPLINK=1)
# Debugging aid: VNET_XEN_E2E_TC_ATTACH=cls_bpf|tcx runs vnetd with --tc_attach=...
case "${VNET_XEN_E2E_TC_ATTACH:-}" in
  "") ;;
  auto|tcx|cls_bpf) dom0_env+=("E2E_TC_ATTACH=$VNET_XEN_E2E_TC_ATTACH") ;;
  *) die "VNET_XEN_E2E_TC_ATTACH: auto, tcx or cls_bpf" ;;
esac
case "${VNET_XEN_E2E_BENCH:-}" in
  "") ;;
  offload) dom0_env+=("E2E_BENCH=offload") ;;
  *) die "VNET_XEN_E2E_BENCH: offload" ;;
esac
export E2E_DOM0_ENV="${dom0_env[*]}"
setpriv --pdeathsig KILL bash "$here/run-qemu.sh" "$scratch/img" "$log" "$qemu_secs" &
qemu_job=$!
wait "$qemu_job" || qemu_rc=$?
qemu_job=""
host_stage qemu

report_rc=0
python3 "$here/report.py" "$log" "$qemu_rc" "${host_stages[@]}" || report_rc=$?
# The last console log per kernel stays beside the cache for a closer look.
mkdir -p "$cache/logs" && cp "$log" "$cache/logs/$kernel-console.log" \
  && echo "xen-e2e[$kernel]: console log kept in $cache/logs/$kernel-console.log"
exit "$report_rc"
