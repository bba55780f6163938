#include "daemon/ledger/in_flight_table.h"

namespace vnet::ledger {

uint64_t InFlightTable::TryInsert(const InFlightEntry& entry) {
  auto next = by_end_.upper_bound(entry.address);
  if (next != by_end_.end() && next->second < entry.end) return 0;
  by_end_.insert(next, {entry.end, entry.address});  // `next` is exactly where it goes

  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.entry = entry;
  s.used = true;
  return (uint64_t{s.generation} << 32) | slot;
}

std::optional<InFlightEntry> InFlightTable::Remove(uint64_t cookie) {
  const uint64_t slot = cookie & 0xffffffffu;
  const uint32_t generation = static_cast<uint32_t>(cookie >> 32);
  if (slot >= slots_.size()) return std::nullopt;
  Slot& s = slots_[slot];
  if (!s.used || s.generation != generation) return std::nullopt;
  s.used = false;
  s.generation = s.generation == UINT32_MAX ? 1 : s.generation + 1;  // 0 would allow cookie 0
  free_slots_.push_back(static_cast<uint32_t>(slot));
  by_end_.erase(s.entry.end);
  return s.entry;
}

void InFlightTable::Clear() {
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].used) continue;
    slots_[i].used = false;
    ++slots_[i].generation;
    if (slots_[i].generation == 0) slots_[i].generation = 1;
    free_slots_.push_back(i);
  }
  by_end_.clear();
}

}  // namespace vnet::ledger
