#include "daemon/core/call_limits.h"

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

}  // namespace vnet
