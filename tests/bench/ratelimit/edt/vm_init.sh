#!/bin/busybox sh
# /init of the bench VM (the 6.1 dom0 kernel booted directly by QEMU, no Xen): mounts,
# the modules the bench needs, vm_bench.sh under a watchdog, power off.
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /sys/fs/bpf /run/vnet /var/lib/vnet /tmp /run/netns
mount -t devpts devpts /dev/pts
ln -sf /proc/self/fd /dev/fd
mount -t bpf bpf /sys/fs/bpf
dmesg -n 1
( sleep "${EDT_VM_DEADLINE:-540}"; echo "EDT-WATCHDOG deadline reached"; poweroff -f ) &
for m in veth sch_ingress cls_bpf sch_fq; do
  [ -f /lib/modules/e2e/$m.ko ] && { insmod /lib/modules/e2e/$m.ko || echo "EDT-INFO insmod $m failed"; }
done
ip link set lo up
echo "EDT-BOOT kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)"
bash /edt/vm_bench.sh
echo "EDT-END rc=$?"
poweroff -f
