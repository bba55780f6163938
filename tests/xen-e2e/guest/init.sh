#!/bin/busybox sh
# domU /init: bring up the PV NIC with the addresses from the kernel command line
# (e2e.ip4=A/N e2e.ip6=B/M), start an iperf3 server, then hand over to the control agent.
/bin/busybox --install -s /bin
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# devtmpfs has no /dev/fd or /dev/std*: bash process substitution and Xen's locking.sh use them.
ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /tmp /run

# xl shutdown / xl reboot make the kernel run /sbin/poweroff or /sbin/reboot; our /init is
# no busybox init that would act on their signal, so these act at once.
printf '#!/bin/sh\nsync\nexec /bin/busybox poweroff -f\n' >/sbin/poweroff
printf '#!/bin/sh\nsync\nexec /bin/busybox reboot -f\n' >/sbin/reboot
chmod +x /sbin/poweroff /sbin/reboot

arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
ip4=$(arg e2e.ip4) ip6=$(arg e2e.ip6)

for m in $(cat /lib/modules/e2e/order); do insmod /lib/modules/e2e/$m.ko; done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
# Answer ARP only for addresses of the interface asked (a second vif shares the subnet);
# keep IPv6 addresses across link down/up (the MAC spoof test sets the link down).
echo 1 >/proc/sys/net/ipv4/conf/all/arp_ignore
echo 1 >/proc/sys/net/ipv6/conf/all/keep_addr_on_down
echo 1 >/proc/sys/net/ipv6/conf/default/keep_addr_on_down
# Full paths: busybox's shell prefers its own applets (its ip lacks nodad).
IP=/usr/bin/ip
$IP link set lo up
[ -n "$ip4" ] && $IP addr add "$ip4" dev eth0
[ -n "$ip6" ] && $IP -6 addr add "$ip6" dev eth0 nodad
$IP link set eth0 up
echo "E2E-GUEST net ip4=$ip4 ip6=$ip6 uptime=$(cut -d' ' -f1 /proc/uptime)"
/usr/bin/iperf3 -s -D
exec /sbin/e2e-agent
