#!/bin/busybox sh
# dom0 /init: mount what the toolstack and vnetd need, load the modules, start the Xen
# daemons, run the scenario under a watchdog, power off. Markers for the host: E2E-*.
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin:/usr/lib/xen-4.17/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm /proc/xen /sys/fs/bpf /run/xen /run/vnet /var/lib/vnet /tmp
mount -t devpts devpts /dev/pts
# devtmpfs has no /dev/fd or /dev/std*: bash process substitution and Xen's locking.sh use them.
ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs tmpfs /dev/shm
mount -t bpf bpf /sys/fs/bpf
# Kernel messages go to a file, not the console the host parses (dumped on failure).
dmesg -n 1
echo "E2E-BOOT dom0 kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)"

# Bound the whole run inside dom0 too: the host's timeout is the last resort.
( sleep "${E2E_DOM0_DEADLINE:-780}"; echo "E2E-WATCHDOG dom0 deadline reached"; sync
  poweroff -f ) &

for m in $(cat /lib/modules/e2e/order); do
  insmod /lib/modules/e2e/$m.ko || echo "E2E-INFO insmod $m failed"
done
mount -t xenfs xenfs /proc/xen
ip link set lo up
bash /e2e/scenario.sh
echo "E2E-END rc=$?"
sync
poweroff -f
