#!/usr/bin/env bash
# One end-to-end run under real Xen for one dom0 kernel: fetch -> build images -> boot and
# run the scenario in QEMU -> report. Exit 0 only if every planned check passed.
#
# Usage: run-e2e.sh linux61|linux612 VNETD VNETCTL
# Environment: VNET_XEN_E2E_CACHE (default /var/cache/vnet-xen-e2e): .debs, kept across runs;
#              the last console log per kernel is kept there too (logs/).
#              VNET_XEN_E2E_TIMEOUT (default 720): seconds QEMU may run.
set -euo pipefail
kernel=$1 vnetd=$2 vnetctl=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
cache=${VNET_XEN_E2E_CACHE:-/var/cache/vnet-xen-e2e}
qemu_secs=${VNET_XEN_E2E_TIMEOUT:-720}

die() { echo "xen-e2e[$kernel]: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (apt-get download into $cache, dpkg-deb, QEMU)"
for c in apt-get apt-cache dpkg-deb qemu-system-x86_64 cpio gzip xz zstd modinfo setpriv perl \
         python3 jq iperf3 tcpdump; do
  command -v "$c" >/dev/null || die "missing '$c' on the host: run deploy/install-deps.sh"
done

scratch=$(mktemp -d "/tmp/vnet-xen-e2e.$kernel.XXXXXX")
cleanup() { rm -rf "$scratch"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

stage_t0=$SECONDS
host_stages=()
host_stage() { host_stages+=("$1 $((SECONDS - stage_t0))"); stage_t0=$SECONDS; }

echo "xen-e2e[$kernel]: fetching into $cache"
kver=$(bash "$here/fetch.sh" "$cache" "$scratch/root" "$kernel" | tail -n 1) \
  || die "fetch failed (see above)"
host_stage fetch
echo "xen-e2e[$kernel]: dom0 kernel $kver; building images"
bash "$here/build-images.sh" "$scratch/root" "$kver" "$vnetd" "$vnetctl" "$src" "$scratch/img" \
  2>"$scratch/build.log" || { cat "$scratch/build.log" >&2; die "building the images failed"; }
rm -rf "$scratch/root"  # 1 GB of extracted .debs: not needed any more
host_stage build-images

mkdir -p "$cache/logs"
log=$cache/logs/$kernel-console.log
echo "xen-e2e[$kernel]: booting Xen + dom0 in QEMU (at most $qemu_secs s); console: $log"
qemu_rc=0
bash "$here/run-qemu.sh" "$scratch/img" "$log" "$qemu_secs" || qemu_rc=$?
host_stage qemu

report_rc=0
python3 "$here/report.py" "$log" "$qemu_rc" "${host_stages[@]}" || report_rc=$?
exit "$report_rc"
