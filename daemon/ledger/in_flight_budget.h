// The in-flight budget shared by every context: how many descriptors the whole daemon holds
// in flight at once. Each context has its own limit (LedgerLimits::max_in_flight_per_context);
// without a shared one, N contexts could hold N times that, and each descriptor in flight
// costs memory (its in-flight index entry and its 32-byte journal record).
//
// Lock-free: contexts take and give back units under their own locks only, never a shared
// one, so contexts still never wait for each other on the hot path.
#pragma once

#include <atomic>
#include <cstdint>

namespace vnet::ledger {

class InFlightBudget {
 public:
  explicit InFlightBudget(uint64_t limit) : limit_(limit) {}
  InFlightBudget(const InFlightBudget&) = delete;
  InFlightBudget& operator=(const InFlightBudget&) = delete;

  // Takes one unit; false (and nothing taken, the refusal counted) when all are in use.
  bool TryTake();
  // Gives back `n` units taken before.
  void Give(uint64_t n);
  // Takes `n` units whatever the limit: descriptors restored after a restart are in flight
  // already (the limit may have been lowered meanwhile); new ones wait until below it.
  void TakeRestored(uint64_t n);

  uint64_t limit() const { return limit_; }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace vnet::ledger
