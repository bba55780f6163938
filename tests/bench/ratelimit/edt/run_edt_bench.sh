#!/usr/bin/env bash
# EDT pacing against vnet's policer on Debian 12's 6.1 kernel (which has sch_fq), in QEMU.
# Boots the dom0 kernel of tests/xen-e2e directly (no Xen) with that test's dom0 image,
# built by its own fetch.sh/build-images.sh into a scratch dir (its files are not changed),
# plus an overlay: this bench's /init, vm_bench.sh, the bench-only edt_pacer.bpf.o and
# sch_fq.ko. Prints the console's EDT-* lines and a summary (summarize_edt.py).
#
# Usage: run_edt_bench.sh BUILD_DIR [TCP_RATES_MBIT [HORIZONS_MS [SECS [REPS]]]]
#   e.g. run_edt_bench.sh build "20 200" "20 50 200" 5 3   ("" for no TCP rows)
# EDT_UDP_RATES (default 1): limits (Mbit/s) of the 10x UDP flood rows; TCG sends only
# ~1k UDP frames a second, so 10x of 20 Mbit/s is not reached there.
# As root. QEMU runs under flock /tmp/vnet-bench.lock, with -nic none.
set -euo pipefail
build=$(cd "$1" && pwd) rates=${2-20} horizons=${3:-50} secs=${4:-5} reps=${5:-3}
udp_rates=${EDT_UDP_RATES:-1}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../../../.." && pwd)
e2e=$src/tests/xen-e2e
cache=${VNET_XEN_E2E_CACHE:-/var/cache/vnet-xen-e2e}
die() { echo "edt-bench: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (dpkg-deb, QEMU)"
for f in "$build/daemon/vnetd" "$build/cli/vnetctl"; do [ -x "$f" ] || die "not built: $f"; done
for c in qemu-system-x86_64 clang cpio flock jq bpftool; do command -v "$c" >/dev/null || die "missing $c"; done

scratch=$(mktemp -d /tmp/vnet-edt.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM

kver=$(flock "$cache/.lock" bash "$e2e/fetch.sh" "$cache" "$scratch/root" linux61 | tail -n 1)
bash "$e2e/build-images.sh" "$scratch/root" "$kver" "$build/daemon/vnetd" "$build/cli/vnetctl" \
  "$src" "$scratch/img" 2>"$scratch/build.log" || { cat "$scratch/build.log" >&2; die "images"; }

ov=$scratch/overlay
mkdir -p "$ov/edt" "$ov/lib/modules/e2e"
install -m 0755 "$here/vm_init.sh" "$ov/init"
install -m 0755 "$here/vm_bench.sh" "$ov/edt/vm_bench.sh"
clang -target bpf -mcpu=v3 -O2 -g -Wall -Wextra -Werror -I/usr/include/x86_64-linux-gnu \
  -c "$here/edt_pacer.bpf.c" -o "$ov/edt/edt_pacer.bpf.o"
fq=$(find "$scratch/root/lib/modules/$kver" -name 'sch_fq.ko*' | head -1)
[ -n "$fq" ] || die "kernel $kver has no sch_fq module"
case "$fq" in *.xz) xz -dc "$fq" ;; *.zst) zstd -qdc "$fq" ;; *) cat "$fq" ;; esac >"$ov/lib/modules/e2e/sch_fq.ko"
# The kernel unpacks concatenated archives in order: the overlay's /init replaces dom0's.
(cd "$ov" && find . | cpio -o -H newc --quiet) >"$scratch/overlay.cpio"
cat "$scratch/img/dom0.cpio" "$scratch/overlay.cpio" >"$scratch/initrd.cpio"
cp "$scratch/root/boot/vmlinuz-$kver" "$scratch/vmlinuz"
rm -rf "$scratch/root" "$scratch/img"

deadline=$((90 + 3 * (secs + 4) * reps * $(wc -w <<<"$rates") * (1 + $(wc -w <<<"$horizons")) + 3 * (secs + 4) * reps * $(wc -w <<<"$udp_rates") * $(wc -w <<<"$horizons")))
log=$scratch/console.log
echo "edt-bench: kernel $kver; tcp rates '$rates' Mbit/s, udp '$udp_rates', horizons '$horizons' ms, ${secs}s x $reps;" \
  "host load $(cut -d' ' -f1-3 /proc/loadavg); VM deadline ${deadline}s" >&2
# -nic none: the VM has no NIC, so nothing in it can reach the host's network.
flock /tmp/vnet-bench.lock setpriv --pdeathsig KILL timeout --kill-after=5 $((deadline + 30)) \
  qemu-system-x86_64 -machine q35,accel=tcg -cpu qemu64 -smp 2 -m 2048 -nographic -no-reboot \
    -nic none -monitor none -serial stdio -kernel "$scratch/vmlinuz" -initrd "$scratch/initrd.cpio" \
    -append "console=ttyS0 rdinit=/init quiet EDT_VM_DEADLINE=$deadline EDT_RATES=${rates// /,} EDT_HORIZONS=${horizons// /,} EDT_SECS=$secs EDT_REPS=$reps EDT_UDP_RATES=${udp_rates// /,}" \
    </dev/null 2>&1 | tr -d '\r' >"$log" || true
echo "edt-bench: host load after $(cut -d' ' -f1-3 /proc/loadavg)" >&2
grep -E '^EDT-' "$log" || { tail -n 40 "$log"; die "no EDT-* output"; }
grep -q '^EDT-DONE' "$log" || { tail -n 40 "$log"; die "the bench did not finish"; }
/usr/bin/python3 "$here/summarize_edt.py" "$log"
