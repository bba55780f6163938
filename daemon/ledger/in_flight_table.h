// The descriptors of one context that are in flight: found by cookie in O(1), and checked
// for overlap by address.
//
// Most descriptors are packet buffers that touch one or two chunks of guest memory
// (64 KiB by default). Those live in small sorted buckets per chunk, found through a hash
// map: the common case costs a hash look-up and a short scan. A descriptor that spans more
// chunks, or whose chunk's bucket is full, goes into a B-tree keyed by range end; an ordered
// set of non-empty chunks lets such a long descriptor find bucketed ones inside it. Every
// operation is O(log n) at worst (the buckets are bounded), O(1) in the common case.
// Not thread-safe: the owning ContextLedger serialises access.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "daemon/ledger/ledger_types.h"

namespace vnet::ledger {

struct InFlightEntry {
  uint64_t address = 0;
  uint64_t end = 0;  // one past the last byte; greater than address
  uint64_t region_id = 0;
};

class InFlightTable {
 public:
  explicit InFlightTable(InFlightTuning tuning = {}) : tuning_(tuning) {}

  // Adds [address, end) unless it overlaps an entry; returns its cookie (non-zero), or 0.
  uint64_t TryInsert(const InFlightEntry& entry);

  // Puts back the slots saved before a restart into an empty table: `slots[i]` is slot i,
  // `cookies[i]` the last cookie it issued (0: never used). In-flight slots keep their
  // cookie; free slots continue after theirs, so no cookie handed out before is issued
  // again. False (the table is then cleared) when an entry overlaps another.
  struct Saved {
    uint64_t cookie = 0;
    bool in_flight = false;
    InFlightEntry entry;
  };
  bool Restore(const std::vector<Saved>& slots);

  // Removes the entry the cookie names; nullopt for a stale, repeated or forged cookie.
  std::optional<InFlightEntry> Remove(uint64_t cookie);

  size_t size() const { return live_; }
  void Clear();

 private:
  struct Range {
    uint64_t start;
    uint64_t end;
  };
  using Bucket = std::vector<Range>;  // disjoint, so sorted by start and by end alike

  // A cookie is (generation << 32 | slot); the generation changes whenever a slot is
  // freed, so an old cookie never completes the slot's next descriptor.
  struct Slot {
    InFlightEntry entry;
    uint32_t generation = 1;
    bool used = false;
    bool in_tree = false;
  };

  uint64_t Chunk(uint64_t address) const { return address >> tuning_.chunk_shift; }
  static bool BucketOverlaps(const Bucket& bucket, uint64_t start, uint64_t end);
  bool TreeOverlaps(uint64_t start, uint64_t end) const;
  // True when a bucketed range overlaps [start, end), which touches chunks first..last.
  bool BucketsOverlap(uint64_t start, uint64_t end, uint64_t first, uint64_t last) const;
  void AddToBucket(uint64_t chunk, Range range);
  void RemoveFromBucket(uint64_t chunk, uint64_t start);
  uint64_t NewSlot(const InFlightEntry& entry, bool in_tree);
  // Indexes [entry.address, entry.end) unless it overlaps; sets *in_tree to where it went.
  bool Place(const InFlightEntry& entry, bool* in_tree);
  static uint32_t NextGeneration(uint32_t g) { return g == UINT32_MAX ? 1 : g + 1; }

  const InFlightTuning tuning_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  size_t live_ = 0;
  absl::flat_hash_map<uint64_t, Bucket> buckets_;  // chunk -> ranges touching it
  absl::btree_set<uint64_t> occupied_;             // chunks whose bucket is non-empty
  absl::btree_map<uint64_t, uint64_t> tree_;       // end -> start, the rest
};

}  // namespace vnet::ledger
