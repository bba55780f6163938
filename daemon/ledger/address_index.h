// One ordered index per address space (a guest's physical memory: one per Xen domain) of
// every registered region, so a registration that overlaps another context's region in the
// same space is refused. Two domains' addresses are unrelated, so regions of contexts in
// different spaces never conflict. Touched on register and unregister only, never per
// descriptor. Thread-safe with its own lock.
#pragma once

#include <cstdint>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace vnet::ledger {

class AddressIndex {
 public:
  // Records [start, end) in `space` for the context, or fails with FAILED_PRECONDITION
  // naming the owner of an overlapping region of another context in that space. Overlap
  // inside one context is allowed (a guest may describe one buffer twice, e.g. read-only
  // and read-write views).
  absl::Status Claim(uint32_t space, uint32_t context_id, uint64_t region_id, uint64_t start,
                     uint64_t end);

  // Forgets one claim made by Claim with the same arguments.
  void Drop(uint32_t space, uint32_t context_id, uint64_t region_id, uint64_t start);

 private:
  struct Claimant {
    uint64_t end;
    uint32_t context_id;
    uint64_t region_id;
  };

  struct Space {
    // Keyed by start; several regions of one context may share a start.
    absl::btree_multimap<uint64_t, Claimant> by_start;
    // Longest region ever claimed: bounds how far back an overlapping region can start.
    uint64_t longest = 0;
  };

  absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, Space> spaces_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vnet::ledger
