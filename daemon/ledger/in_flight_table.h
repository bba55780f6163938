// The descriptors of one context that are in flight: found by cookie in O(1) and by address
// in O(log n). Entries never overlap, so they are ordered by end as much as by start, and
// the overlap check is one search: the first entry ending after our start must begin at or
// after our end.
// Not thread-safe: the owning ContextLedger serialises access.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/btree_map.h"

namespace vnet::ledger {

struct InFlightEntry {
  uint64_t address = 0;
  uint64_t end = 0;  // one past the last byte
  uint64_t region_id = 0;
};

class InFlightTable {
 public:
  // Adds [address, end) unless it overlaps an entry; returns its cookie (non-zero), or 0.
  uint64_t TryInsert(const InFlightEntry& entry);

  // Removes the entry the cookie names; nullopt for a stale, repeated or forged cookie.
  std::optional<InFlightEntry> Remove(uint64_t cookie);

  size_t size() const { return by_end_.size(); }
  void Clear();

 private:
  // A cookie is (generation << 32 | slot); the generation changes whenever a slot is
  // freed, so an old cookie never completes the slot's next descriptor.
  struct Slot {
    InFlightEntry entry;
    uint32_t generation = 1;
    bool used = false;
  };

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  absl::btree_map<uint64_t, uint64_t> by_end_;  // end -> start
};

}  // namespace vnet::ledger
