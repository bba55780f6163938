#!/usr/bin/env bash
# Installs every build, run and test dependency of vnet from Debian 12 packages.
# Idempotent: apt skips what is already there; re-running costs one apt-get update.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get needs it)" >&2
  exit 2
fi

packages=(
  # build
  build-essential cmake ninja-build pkg-config git
  clang llvm bpftool libbpf-dev libxdp-dev linux-libc-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev libxen-dev libmnl-dev
  clang-format clang-tidy libclang-rt-14-dev
  # run
  iproute2 ethtool xdp-tools kmod
  # test, demo and benchmark
  iperf3 iputils-ping python3 python3-scapy tshark netsniff-ng prometheus jq procps
  # access-control tests: a throwaway CA and client certificates
  openssl
  # dashboard check against Grafana's dashboard schema (tests/metrics/dashboard_schema.py)
  python3-jsonschema
  # Python client (stubs built with protoc + grpc_python_plugin), man pages
  python3-grpcio python3-protobuf groff-base
  # package tests: lintian (tests/package), a Debian 12 system under systemd-nspawn
  # (tests/systemd)
  lintian debootstrap systemd-container zstd
  # tests/xen-e2e: Xen + dom0 under QEMU (the Xen and kernel .debs are only downloaded)
  qemu-system-x86 qemu-utils busybox-static cpio xz-utils zstd tcpdump util-linux file
)

export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer once, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian's prometheus package starts a service on :9090; tests run their own server on
# loopback ports, so keep the packaged one from holding ports or scraping anything.
if command -v systemctl >/dev/null && systemctl is-active -q prometheus 2>/dev/null; then
  systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
fi
