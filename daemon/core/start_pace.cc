#include "daemon/core/start_pace.h"

#include <algorithm>
#include <cmath>

namespace vnet {

StartPace::StartPace(double per_second)
    : interval_(per_second > 0 ? absl::Seconds(1.0 / per_second) : absl::ZeroDuration()),
      burst_(interval_ * std::max(std::ceil(per_second) - 1.0, 0.0)) {}

absl::Time StartPace::Reserve(absl::Time now) {
  if (interval_ == absl::ZeroDuration()) return now;
  const absl::Time start = std::max(now, next_ - burst_);
  next_ = std::max(next_, now) + interval_;
  return start;
}

}  // namespace vnet
