// Value types of the buffer ledger: what a guest registers, what a backend posts, and what
// the ledger answers. Plain data, no behaviour.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace vnet::ledger {

enum class Access : uint8_t { kReadOnly = 1, kReadWrite = 2 };

// Seen from the device (backend): kToDevice reads guest memory (guest transmit), so a
// read-only region is enough; kFromDevice writes guest memory (guest receive) and needs a
// read-write region.
enum class Direction : uint8_t { kToDevice = 1, kFromDevice = 2 };

// Why a descriptor was or was not accepted. The numbers match vnet.v1.DescriptorVerdict.
enum class Verdict : uint8_t {
  kAccepted = 1,
  kUnknownRegion = 2,     // no region with that id in the posting context
  kOutsideRegion = 3,     // not wholly inside the named region
  kAccessDenied = 4,      // device write into a read-only region
  kOverlapsInFlight = 5,  // touches bytes of a descriptor of this context still in flight
  kEmpty = 6,             // zero length
  kBadDirection = 7,      // direction is neither to nor from the device
  kInFlightLimit = 8,     // the context already has its maximum in flight
  kContextClosing = 9,    // the context is being released
};
constexpr int kVerdictCount = 10;  // indexable by static_cast<int>(Verdict)

struct RegionSpec {
  uint64_t region_id = 0;  // chosen by the guest, unique in its context, non-zero
  uint64_t guest_address = 0;
  uint64_t length = 0;
  uint32_t page_size = 4096;
  Access access = Access::kReadOnly;
  std::vector<uint32_t> grant_refs;  // empty, or one Xen grant reference per page
};

struct RegionInfo {
  RegionSpec spec;
  uint64_t in_flight = 0;  // descriptors currently in flight in this region
};

struct Descriptor {
  uint64_t guest_address = 0;
  uint32_t length = 0;
  Direction direction = Direction::kToDevice;
  uint64_t region_id = 0;
};

struct DescriptorResult {
  Verdict verdict = Verdict::kUnknownRegion;
  uint64_t cookie = 0;  // non-zero exactly when accepted; hands the descriptor back
};

// Shape of the in-flight index (see in_flight_table.h). Any values are correct; these are
// fast for packet buffers. Tests shrink them to reach every path with small addresses.
struct InFlightTuning {
  int chunk_shift = 16;         // chunks of 64 KiB: a 64 KiB GSO buffer touches two at most
  size_t bucket_capacity = 32;  // ranges per chunk before the B-tree takes the rest
};

// Descriptors in flight across all contexts (LedgerLimits::max_in_flight_total). At about
// 55 bytes each (the in-flight index entry plus the 32-byte journal record), 4 Mi bound
// ~230 MB, where 4096 contexts at their own limit could hold ~225 GB; and 4096 contexts can
// each keep 1024 in flight at once: two full 256-slot transmit and receive rings.
inline constexpr uint32_t kDefaultMaxInFlightTotal = 1u << 22;

struct LedgerLimits {
  uint64_t max_region_bytes = uint64_t{1} << 30;   // one region: 1 GiB
  uint64_t max_context_bytes = uint64_t{4} << 30;  // quota per context: 4 GiB
  uint32_t max_regions_per_context = 1024;
  uint32_t max_in_flight_per_context = 1u << 20;
  uint64_t max_in_flight_total = kDefaultMaxInFlightTotal;  // all contexts together
  InFlightTuning in_flight_tuning;
};

struct ReleaseReport {
  uint64_t regions = 0;    // regions dropped
  uint64_t bytes = 0;      // bytes they covered
  uint64_t abandoned = 0;  // descriptors still in flight at the deadline (forced only)
};

// Counters for metrics, per context. Monotonic except regions, bytes and in_flight.
struct ContextStats {
  uint32_t context_id = 0;
  uint64_t regions = 0;
  uint64_t bytes_registered = 0;
  uint64_t in_flight = 0;
  uint64_t accepted = 0;
  uint64_t completed = 0;
  uint64_t unknown_completions = 0;  // cookies not in flight (stale, forged or repeated)
  std::array<uint64_t, kVerdictCount> rejected{};  // indexed by Verdict
};

struct LedgerStats {
  std::vector<ContextStats> contexts;  // ordered by context id
  uint64_t contexts_released = 0;
  uint64_t descriptors_abandoned = 0;  // total over all forced releases
  // The budget shared by all contexts (max_in_flight_total): its size, the descriptors
  // holding it, and the descriptors refused because it was used up (monotonic; also
  // counted as kInFlightLimit in the context's `rejected`).
  uint64_t in_flight_budget = 0;
  uint64_t in_flight_budget_used = 0;
  uint64_t in_flight_budget_refused = 0;
};

}  // namespace vnet::ledger
