// clsact ingress attachment of one vnet program per interface (libbpf bpf_tc_*; Debian 12's
// libbpf has no tcx). A fixed handle and priority make a re-attach an atomic replace.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vnet {

constexpr uint32_t kTcHandle = 0x564e;  // "VN"
constexpr uint32_t kTcPriority = 1;

// Creates clsact if needed and attaches (or replaces) the filter.
absl::Status TcAttachIngress(int ifindex, int prog_fd);
// Removes the vnet filter; with `remove_clsact` also the clsact qdisc (guest interfaces,
// which vnet owns). Missing filter, qdisc or interface is success.
absl::Status TcDetachIngress(int ifindex, bool remove_clsact);
// The id of the program in the vnet filter slot, 0 when there is none.
absl::StatusOr<uint32_t> TcQueryIngress(int ifindex);

}  // namespace vnet
