#!/usr/bin/env bash
# Boots Xen with dom0 under QEMU (TCG) and waits for it to power off, at most SECONDS.
# The console goes to LOG with a timestamp (seconds since start) on every line.
# QEMU never outlives this script: timeout kills it at the deadline, timeout gets SIGKILL
# when this script dies and QEMU when timeout dies (setpriv --pdeathsig), so killing this
# script (as run-e2e.sh does on any exit) takes QEMU down too. QEMU's pid: IMAGES_DIR/qemu.pid.
#
# Usage: run-qemu.sh IMAGES_DIR LOG SECONDS [DOM0_DEADLINE]
#   IMAGES_DIR holds xen, vmlinux, dom0.cpio (build-images.sh)
set -euo pipefail
img=$1 log=$2 secs=$3 dom0_deadline=${4:-$(($3 - 60))}
for f in xen vmlinux dom0.cpio; do [ -s "$img/$f" ] || { echo "run-qemu: missing $img/$f" >&2; exit 1; }; done

# Xen: 1.5 GB for dom0 (its initramfs holds the domU images; an ASan vnetd needs room),
# the rest of QEMU's 3 GB for the guests. qemu64: -cpu max/Skylake crash a PV dom0 (SMAP).
xen_args="dom0_mem=1536M,max:1536M dom0_max_vcpus=2 console=com1 com1=115200,8n1 noreboot"
# KEY=VALUE words on dom0's command line reach /init (and the scenario) as environment.
dom0_args="console=hvc0 earlyprintk=xen rdinit=/init E2E_DOM0_DEADLINE=$dom0_deadline ${E2E_DOM0_ENV:-}"

set +e
# -nic none: no NIC at all, so nothing in the guest can reach the host's network.
setpriv --pdeathsig KILL timeout --kill-after=5 "$secs" setpriv --pdeathsig KILL \
  qemu-system-x86_64 -machine q35,accel=tcg -cpu qemu64 -smp 2 -m 3072 \
    -nographic -no-reboot -nic none -monitor none -serial stdio -pidfile "$img/qemu.pid" \
    -kernel "$img/xen" -append "$xen_args" \
    -initrd "$img/vmlinux $dom0_args,$img/dom0.cpio" </dev/null 2>&1 \
  | perl -MTime::HiRes=time -ne 'BEGIN { $| = 1; $t0 = time } s/\r//g; printf "[%7.2f] %s", time - $t0, $_' >"$log"
rc=${PIPESTATUS[0]}
echo "[qemu exit status $rc]" >>"$log"
exit "$rc"
