#!/usr/bin/env bash
# Builds what QEMU boots: the Xen image, the dom0 kernel and a dom0 initramfs that carries
# the toolstack, vnetd/vnetctl under test, vif-vnet, the scenario and (inside it) the domU
# kernel + initramfs. Everything comes from the extracted .debs (fetch.sh), the host's own
# binaries (busybox-static, bash, iproute2, iperf3, ...) and the build under test.
#
# Usage: build-images.sh XROOT KVER VNETD VNETCTL SRC_DIR OUT_DIR
#   XROOT  root fetch.sh extracted into     KVER   dom0 kernel version (uname -r)
#   OUT_DIR gets: xen, vmlinux (dom0's and the guests' kernel), dom0.cpio
set -euo pipefail
trap 'echo "${0##*/}: FAIL at line $LINENO: $BASH_COMMAND" >&2' ERR
xroot=$1 kver=$2 vnetd=$3 vnetctl=$4 src=$5 out=$6
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "build-images: FAIL: $*" >&2; exit 1; }

mods=$xroot/lib/modules/$kver
[ -d "$mods/kernel" ] || die "no modules for $kver under $xroot"
for f in "$vnetd" "$vnetctl"; do [ -x "$f" ] || die "not executable: $f"; done
mkdir -p "$out"
# Extracted Xen libraries first, so ldd resolves the toolstack's dependencies.
export LD_LIBRARY_PATH=$xroot/usr/lib/x86_64-linux-gnu

# add_bin ROOTFS FILE [DEST]: FILE (at DEST, default its own path with the extracted root
# stripped) and every shared library ldd names, at the library's real path.
add_bin() {
  local rootfs=$1 file=$2 dest=${3:-} lib
  [ -e "$file" ] || die "missing binary $file (install the host package; see deploy/install-deps.sh)"
  [ -n "$dest" ] || dest=${file#"$xroot"}
  mkdir -p "$rootfs$(dirname "$dest")"
  cp -L "$file" "$rootfs$dest"
  ldd "$file" 2>/dev/null | awk '/=> \// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
    local d=${lib#"$xroot"}
    [ -e "$rootfs$d" ] && continue
    mkdir -p "$rootfs$(dirname "$d")"
    cp -L "$lib" "$rootfs$d"
  done
  if ldd "$file" 2>/dev/null | grep -q "not found"; then
    die "$file: $(ldd "$file" | grep 'not found' | head -3 | tr '\n' ' ')"
  fi
}

# add_modules ROOTFS NAME...: the modules, dependencies first, decompressed, into
# /lib/modules/e2e/ with their load order in /lib/modules/e2e/order. Built-in ones (per
# modules.builtin) are skipped; a module neither built in nor present is an error.
add_modules() {
  local rootfs=$1; shift
  mkdir -p "$rootfs/lib/modules/e2e"
  : >"$rootfs/lib/modules/e2e/order"
  local m
  for m in "$@"; do add_module "$rootfs" "$m"; done
}
add_module() {
  local rootfs=$1 name=$2 alt file dep
  alt=$(echo "$name" | tr '_-' '-_')
  grep -qxF "$name" "$rootfs/lib/modules/e2e/order" && return 0
  if grep -qE "/($name|$alt)\.ko" "$mods/modules.builtin"; then return 0; fi
  file=$(find "$mods/kernel" \( -name "$name.ko*" -o -name "$alt.ko*" \) | head -1)
  [ -n "$file" ] || die "kernel $kver has module '$name' neither built in nor as a file"
  for dep in $(modinfo -F depends "$file" | tr ',' ' '); do add_module "$rootfs" "$dep"; done
  case "$file" in
    *.ko.xz) xz -dc "$file" ;;
    *.ko.zst) zstd -qdc "$file" ;;
    *.ko.gz) gzip -dc "$file" ;;
    *) cat "$file" ;;
  esac >"$rootfs/lib/modules/e2e/$name.ko"
  echo "$name" >>"$rootfs/lib/modules/e2e/order"
}

base_tree() {  # base_tree ROOTFS: busybox and the directories every image needs
  local rootfs=$1
  rm -rf "$rootfs"
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root,var/log}
  cp /bin/busybox "$rootfs/bin/busybox"
  case "$(file -L /bin/busybox)" in
    *"statically linked"*) ;;
    *) die "/bin/busybox is not busybox-static" ;;
  esac
  ln -s /run "$rootfs/var/run"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\n' >"$rootfs/etc/group"
}

pack() {  # pack ROOTFS FILE
  # A linker cache: without one ld.so probes every library directory for each of vnetctl's
  # ~60 libraries, and each failed open is a slow system call in a PV guest under TCG.
  printf '/usr/local/lib\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n' >"$1/etc/ld.so.conf"
  ldconfig -r "$1" || die "ldconfig -r $1 failed"
  # Uncompressed: under TCG, unpacking in the guest kernel (or in libxc, which inflates
  # a PV guest's ramdisk in dom0) costs more than moving the bytes.
  (cd "$1" && find . | cpio -o -H newc --quiet) >"$2"
}

# extract_vmlinux BZIMAGE OUT: the ELF kernel inside a bzImage (what the kernel's
# scripts/extract-vmlinux does). Xen and libxc load an ELF as is; a bzImage they first
# decompress, which under TCG takes tens of seconds per domain (xz on 6.1, zstd on 6.12).
extract_vmlinux() {
  local img=$1 out=$2 pair magic cmd off
  for pair in 'fd377a585a00|xz -dc --single-stream' '28b52ffd|zstd -dcq' '1f8b0800|gzip -dc'; do
    magic=${pair%%|*} cmd=${pair#*|}
    for off in $(LC_ALL=C grep -obUaP "$(sed 's/../\\x&/g' <<<"$magic")" "$img" | cut -d: -f1); do
      tail -c +$((off + 1)) "$img" | $cmd >"$out" 2>/dev/null || true  # trailing data: non-zero
      [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] && return 0
    done
  done
  die "no ELF kernel found inside $img"
}

host_bin() { command -v "$1" || die "host lacks '$1' (see deploy/install-deps.sh)"; }

# ---------------------------------------------------------------- domU
domu=$out/domU-root
base_tree "$domu"
# ethtool: the offload benchmark turns the guest's own NIC features off (a "dumb" netfront).
for b in ip iperf3 ping jq ethtool; do add_bin "$domu" "$(host_bin "$b")" "/usr/bin/$b"; done
add_bin "$domu" "$xroot/usr/bin/xenstore"
for t in read write ls list exists rm watch; do ln -sf xenstore "$domu/usr/bin/xenstore-$t"; done
add_modules "$domu" xen-netfront
install -m 0755 "$here/guest/init.sh" "$domu/init"
install -m 0755 "$here/guest/agent.sh" "$domu/sbin/e2e-agent"
install -m 0755 "$here/guest/probe.sh" "$domu/sbin/probe"
pack "$domu" "$out/domU.cpio"

# ---------------------------------------------------------------- dom0
dom0=$out/dom0-root
base_tree "$dom0"
mkdir -p "$dom0"/{e2e,etc/xen/scripts,etc/vnet,var/lib/xen,var/lib/xenstored,var/log/xen/console,usr/local/bin}
for b in bash ip tc bridge iperf3 jq tcpdump ethtool; do
  add_bin "$dom0" "$(host_bin "$b")" "/usr/bin/$b"
done
ln -s /usr/bin/bash "$dom0/bin/bash"  # libxl runs hotplug scripts with /bin/bash
# bpftool is optional (it only reports which programs are attached).
if bpftool=$(command -v bpftool); then add_bin "$dom0" "$bpftool" /usr/bin/bpftool; fi
# xl aborts without libgcc_s (pthread_cancel unwinds through it); ldd does not name it.
# (awk reads to the end: an early exit would SIGPIPE ldconfig and trip pipefail.)
libgcc=$(ldconfig -p | awk '/libgcc_s\.so\.1 .*x86-64/ && !f {print $NF; f = 1}')
[ -n "$libgcc" ] || die "host has no libgcc_s.so.1"
mkdir -p "$dom0$(dirname "$libgcc")"; cp -L "$libgcc" "$dom0$libgcc"
for b in xl xenstored xenconsoled xen-init-dom0 libxl-save-helper; do
  add_bin "$dom0" "$xroot/usr/lib/xen-4.17/bin/$b"
done
add_bin "$dom0" "$xroot/usr/bin/xenstore"
for t in read write ls list exists rm watch chmod; do ln -sf xenstore "$dom0/usr/bin/xenstore-$t"; done
cp -r "$xroot/etc/xen/scripts/." "$dom0/etc/xen/scripts/"
cp "$xroot/etc/xen/xl.conf" "$dom0/etc/xen/xl.conf"
install -m 0755 "$src/xen-hooks/vif-vnet" "$dom0/etc/xen/scripts/vif-vnet"
# vif-vnet's vnetctl deadline (10 s by default) is short for a loaded TCG machine; libxl
# still kills the script after 40 s.
printf 'VNETCTL=/usr/local/bin/vnetctl\nVNET_TIMEOUT=30\n' >"$dom0/etc/vnet/vif-vnet.conf"
add_bin "$dom0" "$vnetd" /usr/local/bin/vnetd
add_bin "$dom0" "$vnetctl" /usr/local/bin/vnetctl
dispatcher=/usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o
[ -f "$dispatcher" ] || die "no $dispatcher (libxdp-dev / libxdp1)"
mkdir -p "$dom0$(dirname "$dispatcher")"; cp "$dispatcher" "$dom0$dispatcher"
add_modules "$dom0" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback \
  sch_ingress cls_bpf bridge stp llc veth
install -m 0755 "$here/dom0/init.sh" "$dom0/init"
install -m 0644 "$here/dom0/lib.sh" "$dom0/e2e/lib.sh"
install -m 0755 "$here/dom0/scenario.sh" "$dom0/e2e/scenario.sh"
extract_vmlinux "$xroot/boot/vmlinuz-$kver" "$out/vmlinux"
cp "$out/vmlinux" "$dom0/e2e/vmlinux"
mv "$out/domU.cpio" "$dom0/e2e/domU.cpio"
pack "$dom0" "$out/dom0.cpio"

gzip -dc "$xroot/boot/xen-4.17-amd64.gz" >"$out/xen"
rm -rf "$domu" "$dom0"
ls -la "$out" >&2
