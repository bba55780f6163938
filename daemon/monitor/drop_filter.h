// Which drop events a watcher wants: contexts and reasons, validated from a request.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vnet/abi.h"

namespace vnet::monitor {

// Bounds on one filter, so a request cannot make vnetd hold much.
inline constexpr size_t kMaxFilterContexts = 64;
inline constexpr size_t kMaxFilterReasons = 64;

class DropFilter {
 public:
  // Empty lists match everything.
  static absl::StatusOr<DropFilter> Parse(const std::vector<uint32_t>& context_ids,
                                          const std::vector<std::string>& reasons);

  bool Matches(const vnet_drop_event& ev) const;

 private:
  absl::flat_hash_set<uint32_t> contexts_;  // empty: every context
  std::bitset<256> reasons_;                // none set: every reason
};

// The drop reason with this metric name ("spoof_mac"); INVALID_ARGUMENT naming the valid
// ones otherwise. "none" is no drop reason.
absl::StatusOr<uint32_t> DropReasonByName(absl::string_view name);

}  // namespace vnet::monitor
