// When the next job may start, so that jobs start at most `per_second` a second on average
// and at most `per_second` at once after a pause (one second's worth). A generic cell rate
// algorithm: each start reserves the next slot, so callers that ask together get slots
// 1/per_second apart once the burst is spent. Not thread-safe: the caller holds its lock.
#pragma once

#include "absl/time/time.h"

namespace vnet {

class StartPace {
 public:
  // `per_second` 0: no pace, every job may start at once.
  explicit StartPace(double per_second);

  // Reserves a start for a job that is ready at `now` and says when it may start (`now` or
  // later).
  absl::Time Reserve(absl::Time now);

 private:
  absl::Duration interval_;  // between starts; zero when not paced
  absl::Duration burst_;     // how far ahead of `next_` a start may be: the burst, minus one
  absl::Time next_ = absl::InfinitePast();  // the theoretical start of the next job
};

}  // namespace vnet
