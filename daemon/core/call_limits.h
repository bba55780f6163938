// What a caller tells the core about itself: how long it will wait and whether it has
// given up. A change is committed only while both still allow it, and a caller waits for
// its turn only as long as they allow (checking at least every kPollInterval).
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace vnet {

struct CallLimits {
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> cancelled;  // empty: the caller never cancels

  // OK while the caller still waits; DEADLINE_EXCEEDED or CANCELLED (saying that nothing
  // was changed) once it does not.
  absl::Status Check() const;

  // How often a waiting caller looks at its limits: cancellation has no wake-up (a deadline
  // is waited for exactly).
  static constexpr absl::Duration kPollInterval = absl::Milliseconds(100);
};

}  // namespace vnet
