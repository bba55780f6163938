// cls_bpf (kernels without tcx): a vnet program as one direct-action filter in clsact
// ingress, in vnet's own slot (handle kTcHandle, priority kTcPriority). Re-attaching
// replaces the filter in place (atomic); detaching removes that one filter and only when it
// runs a vnet program. The clsact qdisc is created when missing and never removed: it is
// shared with every other tool's filters, and netlink has no "delete if empty", so removing
// it could take a filter added a moment before with it. An empty clsact costs nothing.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vnet {

constexpr uint32_t kTcHandle = 0x564e;  // "VN"
// First in the chain: a guest's frames meet vnet's guards before any other filter can pass
// them. Filters of other tools at later priorities see what vnet hands on (TC_ACT_UNSPEC).
constexpr uint32_t kTcPriority = 1;

absl::Status ClsBpfAttachIngress(int ifindex, int prog_fd);
// Missing filter, qdisc or interface is success; a foreign program in vnet's slot is left
// alone (FailedPrecondition).
absl::Status ClsBpfDetachIngress(int ifindex);
// The id of the program in vnet's slot, 0 when there is none.
absl::StatusOr<uint32_t> ClsBpfQueryIngress(int ifindex);

}  // namespace vnet
