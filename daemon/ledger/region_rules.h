// The checks a region passes on its own before it is registered: shape, alignment, size
// limit and grant references. Overlap and quota need the ledger's state and live there.
#pragma once

#include "absl/status/status.h"
#include "daemon/ledger/ledger_types.h"

namespace vnet::ledger {

constexpr uint32_t kMinPageSize = 4096;      // Xen grants 4 KiB frames
constexpr uint32_t kMaxPageSize = 1u << 30;  // 1 GiB superpages
constexpr uint32_t kGrantPageSize = 4096;

// INVALID_ARGUMENT naming the first rule broken, or OK.
absl::Status CheckRegionSpec(const RegionSpec& spec, const LedgerLimits& limits);

}  // namespace vnet::ledger
