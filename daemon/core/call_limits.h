// What a caller tells the core about itself: how long it will wait and whether it has
// given up. A change is committed only while both still allow it, and a caller waits for
// its turn only as long as they allow.
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vnet {

struct CallLimits {
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> cancelled;  // empty: the caller never cancels

  // OK while the caller still waits; DEADLINE_EXCEEDED or CANCELLED (saying that nothing
  // was changed) once it does not.
  absl::Status Check() const;
};

// Mutual exclusion for writers that wait only as long as their CallLimits allow (an
// absl::Mutex cannot be given up on while waiting). Not reentrant.
class Turn {
 public:
  // Waits for the turn; DEADLINE_EXCEEDED/CANCELLED (turn not taken) when the caller gives
  // up first. Cancellation is noticed within kPollInterval.
  absl::Status Acquire(const CallLimits& limits);
  void Release();

  static constexpr absl::Duration kPollInterval = absl::Milliseconds(20);

 private:
  absl::Mutex mu_;
  bool taken_ ABSL_GUARDED_BY(mu_) = false;
};

// Releases a Turn taken with Acquire when it goes out of scope.
class TurnHolder {
 public:
  explicit TurnHolder(Turn* turn) : turn_(turn) {}
  ~TurnHolder() {
    if (turn_ != nullptr) turn_->Release();
  }
  TurnHolder(const TurnHolder&) = delete;
  TurnHolder& operator=(const TurnHolder&) = delete;

 private:
  Turn* turn_;
};

}  // namespace vnet
