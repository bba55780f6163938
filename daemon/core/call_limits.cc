#include "daemon/core/call_limits.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace vnet {

absl::Status CallLimits::Check() const {
  if (cancelled && cancelled()) {
    return absl::CancelledError(
        "the call was cancelled before its change was committed; nothing changed");
  }
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError(
        "the call's deadline passed before its change was committed; nothing changed");
  }
  return absl::OkStatus();
}

absl::Status Turn::Acquire(const CallLimits& limits) {
  absl::MutexLock lock(&mu_);
  auto free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !taken_; };
  while (taken_) {
    if (auto s = limits.Check(); !s.ok()) return s;
    mu_.AwaitWithDeadline(absl::Condition(&free),
                          std::min(limits.deadline, absl::Now() + kPollInterval));
  }
  if (auto s = limits.Check(); !s.ok()) return s;
  taken_ = true;
  return absl::OkStatus();
}

void Turn::Release() {
  absl::MutexLock lock(&mu_);
  taken_ = false;
}

}  // namespace vnet
