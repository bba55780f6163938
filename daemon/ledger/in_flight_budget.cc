#include "daemon/ledger/in_flight_budget.h"

namespace vnet::ledger {

bool InFlightBudget::TryTake() {
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (used >= limit_) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  } while (!used_.compare_exchange_weak(used, used + 1, std::memory_order_relaxed));
  return true;
}

void InFlightBudget::Give(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

void InFlightBudget::TakeRestored(uint64_t n) { used_.fetch_add(n, std::memory_order_relaxed); }

}  // namespace vnet::ledger
