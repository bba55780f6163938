#include "daemon/core/call_limits.h"

#include <gtest/gtest.h>

#include "absl/time/clock.h"

namespace vnet {
namespace {

TEST(CallLimitsTest, CheckReportsDeadlineAndCancellation) {
  CallLimits open;
  EXPECT_TRUE(open.Check().ok());
  CallLimits late;
  late.deadline = absl::Now() - absl::Milliseconds(1);
  EXPECT_TRUE(absl::IsDeadlineExceeded(late.Check()));
  CallLimits cancelled;
  cancelled.cancelled = [] { return true; };
  EXPECT_TRUE(absl::IsCancelled(cancelled.Check()));
}

}  // namespace
}  // namespace vnet
