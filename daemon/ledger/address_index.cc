#include "daemon/ledger/address_index.h"

#include "absl/strings/str_format.h"

namespace vnet::ledger {

absl::Status AddressIndex::Claim(uint32_t space, uint32_t context_id, uint64_t region_id,
                                 uint64_t start, uint64_t end) {
  absl::MutexLock lock(&mu_);
  Space& sp = spaces_[space];
  auto& by_start = sp.by_start;
  // Regions of different contexts are disjoint, but one context's regions may overlap each
  // other, so walk back from the last region starting before `end` until none could reach.
  auto it = by_start.lower_bound(end);
  while (it != by_start.begin()) {
    --it;
    if (it->first <= start && start - it->first >= sp.longest) break;  // no overflow
    const Claimant& other = it->second;
    if (other.context_id != context_id && other.end > start) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "guest range [%#x, %#x) overlaps region %d of context %d at [%#x, %#x) (domain %d)",
          start, end, other.region_id, other.context_id, it->first, other.end, space));
    }
  }
  by_start.insert({start, Claimant{end, context_id, region_id}});
  if (end - start > sp.longest) sp.longest = end - start;
  return absl::OkStatus();
}

void AddressIndex::Drop(uint32_t space, uint32_t context_id, uint64_t region_id, uint64_t start) {
  absl::MutexLock lock(&mu_);
  auto sp = spaces_.find(space);
  if (sp == spaces_.end()) return;
  auto& by_start = sp->second.by_start;
  auto [first, last] = by_start.equal_range(start);
  for (auto it = first; it != last; ++it) {
    if (it->second.context_id == context_id && it->second.region_id == region_id) {
      by_start.erase(it);
      break;
    }
  }
  if (by_start.empty()) spaces_.erase(sp);  // a departed domain leaves nothing behind
}

}  // namespace vnet::ledger
