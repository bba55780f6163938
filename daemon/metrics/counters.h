// What the metrics and the stats service read per context, and the interface a data plane
// offers them. Plain data sized by the shared ABI enums, so a new drop reason in
// bpf/include/vnet/abi.h grows every consumer at once.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vnet/abi.h"

namespace vnet::metrics {

// One context's counters, summed over CPUs. RX is toward the guest, TX from it. All are
// monotonic while the fast path's maps live (they are pinned, so across daemon restarts).
struct ContextCounters {
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  std::array<std::array<uint64_t, VNET_DROP_MAX>, VNET_DIR_MAX> drops{};  // [dir][reason]
  // Offloads, zero until the data path fills them. Per direction, indexed by vnet_dir:
  std::array<uint64_t, VNET_DIR_MAX> gso_super_packets{};  // GSO packets forwarded whole
  std::array<uint64_t, VNET_DIR_MAX> gso_segments{};       // segments they stand for
  // Toward the guest only: what the kernel did at the last device because the guest
  // lacks the offload.
  uint64_t gso_segmented = 0;        // super-packets segmented (guest without TSO)
  uint64_t gso_resized = 0;          // super-packets whose segment size was cut to its MTU
  uint64_t checksums_completed = 0;  // partial checksums completed (guest without rx csum)
  uint64_t rate_limit_drops = 0;     // dropped by the context's transmit limit
};

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
