#include "daemon/ledger/in_flight_table.h"

#include <algorithm>

namespace vnet::ledger {

bool InFlightTable::BucketOverlaps(const Bucket& bucket, uint64_t start, uint64_t end) {
  // The first range ending after our start is the only candidate; it overlaps unless it
  // begins at or after our end.
  auto it = std::partition_point(bucket.begin(), bucket.end(),
                                 [start](const Range& r) { return r.end <= start; });
  return it != bucket.end() && it->start < end;
}

bool InFlightTable::TreeOverlaps(uint64_t start, uint64_t end) const {
  auto next = tree_.upper_bound(start);  // first range ending after our start
  return next != tree_.end() && next->second < end;
}

bool InFlightTable::BucketsOverlap(uint64_t start, uint64_t end, uint64_t first,
                                   uint64_t last) const {
  // A bucketed range is listed under every chunk it touches, so the chunks at our two
  // ends are checked exactly; any non-empty chunk strictly between them lies wholly inside
  // [start, end) and overlaps for sure.
  if (auto it = buckets_.find(first); it != buckets_.end()) {
    if (BucketOverlaps(it->second, start, end)) return true;
  }
  if (last == first) return false;
  if (last - first >= 2) {
    auto inner = occupied_.upper_bound(first);
    if (inner != occupied_.end() && *inner < last) return true;
  }
  auto it = buckets_.find(last);
  return it != buckets_.end() && BucketOverlaps(it->second, start, end);
}

void InFlightTable::AddToBucket(uint64_t chunk, Range range) {
  Bucket& bucket = buckets_[chunk];
  if (bucket.empty()) {
    occupied_.insert(chunk);
    bucket.reserve(4);
  }
  auto at = std::partition_point(bucket.begin(), bucket.end(),
                                 [&range](const Range& r) { return r.end <= range.start; });
  bucket.insert(at, range);
}

void InFlightTable::RemoveFromBucket(uint64_t chunk, uint64_t start) {
  auto it = buckets_.find(chunk);
  Bucket& bucket = it->second;
  auto at = std::partition_point(bucket.begin(), bucket.end(),
                                 [start](const Range& r) { return r.start < start; });
  bucket.erase(at);
  // Empty buckets go, so memory follows what is in flight, not what ever was.
  if (bucket.empty()) {
    occupied_.erase(chunk);
    buckets_.erase(it);
  }
}

uint64_t InFlightTable::NewSlot(const InFlightEntry& entry, bool in_tree) {
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
  s.in_tree = in_tree;
  ++live_;
  return (uint64_t{s.generation} << 32) | slot;
}

bool InFlightTable::Place(const InFlightEntry& entry, bool* in_tree) {
  const uint64_t start = entry.address;
  const uint64_t end = entry.end;
  const uint64_t first = Chunk(start);
  const uint64_t last = Chunk(end - 1);
  if (!tree_.empty() && TreeOverlaps(start, end)) return false;

  // The common case, a range inside one chunk: one hash look-up serves the overlap check,
  // the room check and the insertion.
  if (first == last) {
    auto it = buckets_.find(first);
    if (it == buckets_.end()) {
      AddToBucket(first, {start, end});
      *in_tree = false;
      return true;
    }
    Bucket& bucket = it->second;
    auto at = std::partition_point(bucket.begin(), bucket.end(),
                                   [start](const Range& r) { return r.end <= start; });
    if (at != bucket.end() && at->start < end) return false;
    if (bucket.size() < tuning_.bucket_capacity) {
      bucket.insert(at, {start, end});
      *in_tree = false;
      return true;
    }
    tree_.emplace(end, start);
    *in_tree = true;
    return true;
  }

  if (!occupied_.empty() && BucketsOverlap(start, end, first, last)) return false;
  auto has_room = [this](uint64_t chunk) {
    auto it = buckets_.find(chunk);
    return it == buckets_.end() || it->second.size() < tuning_.bucket_capacity;
  };
  if (last - first == 1 && has_room(first) && has_room(last)) {
    AddToBucket(first, {start, end});
    AddToBucket(last, {start, end});
    *in_tree = false;
    return true;
  }
  tree_.emplace(end, start);
  *in_tree = true;
  return true;
}

uint64_t InFlightTable::TryInsert(const InFlightEntry& entry) {
  bool in_tree = false;
  return Place(entry, &in_tree) ? NewSlot(entry, in_tree) : 0;
}

bool InFlightTable::Restore(const std::vector<Saved>& slots) {
  Clear();
  slots_.clear();
  free_slots_.clear();
  slots_.resize(slots.size());
  for (size_t i = slots.size(); i-- > 0;) {  // free slots are reused lowest first
    Slot& s = slots_[i];
    const uint32_t last = static_cast<uint32_t>(slots[i].cookie >> 32);
    if (!slots[i].in_flight) {
      s.generation = last == 0 ? 1 : NextGeneration(last);
      free_slots_.push_back(static_cast<uint32_t>(i));
      continue;
    }
    if (!Place(slots[i].entry, &s.in_tree)) {
      Clear();
      return false;
    }
    s.entry = slots[i].entry;
    s.generation = last;
    s.used = true;
    ++live_;
  }
  return true;
}

std::optional<InFlightEntry> InFlightTable::Remove(uint64_t cookie) {
  const uint64_t slot = cookie & 0xffffffffu;
  const uint32_t generation = static_cast<uint32_t>(cookie >> 32);
  if (slot >= slots_.size()) return std::nullopt;
  Slot& s = slots_[slot];
  if (!s.used || s.generation != generation) return std::nullopt;
  const InFlightEntry entry = s.entry;
  if (s.in_tree) {
    tree_.erase(entry.end);
  } else {
    const uint64_t first = Chunk(entry.address);
    const uint64_t last = Chunk(entry.end - 1);
    RemoveFromBucket(first, entry.address);
    if (last != first) RemoveFromBucket(last, entry.address);
  }
  s.used = false;
  s.generation = NextGeneration(s.generation);  // 0 would allow cookie 0
  free_slots_.push_back(static_cast<uint32_t>(slot));
  --live_;
  return entry;
}

void InFlightTable::Clear() {
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (!s.used) continue;
    s.used = false;
    s.generation = NextGeneration(s.generation);
    free_slots_.push_back(i);
  }
  live_ = 0;
  buckets_.clear();
  occupied_.clear();
  tree_.clear();
}

}  // namespace vnet::ledger
