// What the metrics and the stats service read per context, and the interface a data plane
// offers them. Plain data sized by the shared ABI enums, so a new drop reason in
// bpf/include/vnet/abi.h grows every consumer at once.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/core/dataplane.h"
#include "vnet/abi.h"

namespace vnet::metrics {

// One context's counters, summed over CPUs: vnet_ctx_stats, the fast path's own struct
// (bpf/include/vnet/abi.h). RX is toward the guest, TX from it. All are monotonic while the
// fast path's maps live (they are pinned, so across daemon restarts).
using ContextCounters = ::vnet::ContextCounters;

// How full one fast-path map is.
struct MapFill {
  std::string map;  // e.g. "vnet_fdb"
  uint64_t entries = 0;
  uint64_t max_entries = 0;
};

class CounterSource {
 public:
  virtual ~CounterSource() = default;
  // Called at scrape time from the exposer's threads: must be thread-safe and cheap.
  // Id 0 is what belongs to no context (its drops are exported as unattributed).
  virtual absl::StatusOr<ContextCounters> Read(uint32_t ctx_id) const = 0;
  // Optional; empty when the source cannot tell.
  virtual std::vector<MapFill> Fill() const { return {}; }
};

}  // namespace vnet::metrics
