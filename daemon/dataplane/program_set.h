// Which build of the TC programs fits the running kernel, and libbpf's own words when a
// program does not load.
//
// Each TC program is compiled twice (bpf/CMakeLists.txt): the full build uses the kfunc
// bpf_cast_to_kern_ctx (Linux 6.2+) to read an skb's checksum state; the compat build does
// without it (Debian 12's 6.1) and does not keep the "checksums completed" counter. Both
// have the same maps and programs, so both open through the same skeleton type.
#pragma once

#include <string>

#include "absl/status/status.h"

struct bpf_object_open_opts;
struct vnet_guest_tc;
struct vnet_uplink_tc;

namespace vnet {

struct KernelFeatures {
  bool kern_ctx = false;  // kfunc bpf_cast_to_kern_ctx (6.2+): checksum state readable
};

// The helpers every build needs, probed rather than assumed: bpf_loop (5.17+) walks a VLAN's
// members for broadcast. FAILED_PRECONDITION naming the helper and the kernel it needs.
absl::Status CheckRequiredHelpers();

// Looks the kfuncs up in the running kernel's BTF (/sys/kernel/btf/vmlinux).
KernelFeatures ProbeKernelFeatures();

// Open (not load) the build of each TC program that fits `features`; nullptr and errno on
// failure, like the skeletons' own __open_opts.
vnet_guest_tc* OpenGuestTc(const bpf_object_open_opts* opts, const KernelFeatures& features);
vnet_uplink_tc* OpenUplinkTc(const bpf_object_open_opts* opts, const KernelFeatures& features);

// Routes libbpf's messages to a buffer of the last warnings, so a failed load can name its
// cause (the verifier's or libbpf's words). Idempotent.
void CaptureLibbpfLog();
// The last warnings libbpf printed since the previous call, joined and bounded in size;
// empty if none. Clears the buffer.
std::string TakeLibbpfLog();

}  // namespace vnet
