// tcx (Linux 6.6+): a vnet program on an interface's ingress as a BPF link, pinned so that
// it outlives vnetd and so that the next vnetd swaps the program in the same link
// (bpf_link_update, atomic). Other tools' tcx programs and clsact filters are never touched.
// Debian 12's libbpf (1.1.2) and headers predate tcx: the attach type and flags come from
// the kernel's stable uapi, and libbpf's generic bpf_link_create carries them.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vnet {

// Whether the running kernel has tcx: a read-only BPF_PROG_QUERY for tcx ingress on
// loopback, which kernels without tcx refuse (EINVAL).
bool KernelHasTcx();

// Attaches `prog_fd` to the ingress of `ifindex` through the link pinned at `pin_path`:
// replaces the program of that link if it is alive, else creates a link in front of any
// other tcx program (vnet's guards run first, as under cls_bpf) and pins it there.
absl::Status TcxAttachIngress(int ifindex, int prog_fd, const std::string& pin_path);
// Detaches and unpins the link at `pin_path`. Missing pin or gone interface is success.
absl::Status TcxDetach(const std::string& pin_path);
// The program id of the live link pinned at `pin_path`; 0 when there is none (no pin, or a
// link whose interface is gone).
absl::StatusOr<uint32_t> TcxQuery(const std::string& pin_path);

}  // namespace vnet
