#include "daemon/core/start_pace.h"

#include <gtest/gtest.h>

namespace vnet {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

// A second's worth start at once; then one every 1/rate, in the order they asked.
TEST(StartPaceTest, BurstThenOneEveryInterval) {
  StartPace pace(4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pace.Reserve(kT0), kT0) << i;
  EXPECT_EQ(pace.Reserve(kT0), kT0 + absl::Milliseconds(250));
  EXPECT_EQ(pace.Reserve(kT0), kT0 + absl::Milliseconds(500));
  EXPECT_EQ(pace.Reserve(kT0 + absl::Milliseconds(100)), kT0 + absl::Milliseconds(750));
}

// Over a long storm the average stays at the rate: 100 jobs ready at once at 10/s start
// within 9 s (10 at once, then 90 at 0.1 s apart).
TEST(StartPaceTest, StormKeepsTheRate) {
  StartPace pace(10);
  absl::Time last;
  for (int i = 0; i < 100; ++i) last = pace.Reserve(kT0);
  EXPECT_EQ(last, kT0 + absl::Seconds(9));
}

// After a pause the burst is back, and no start is ever before the job is ready.
TEST(StartPaceTest, PauseRefillsTheBurstNeverStartsEarly) {
  StartPace pace(2);
  EXPECT_EQ(pace.Reserve(kT0), kT0);
  EXPECT_EQ(pace.Reserve(kT0), kT0);
  EXPECT_EQ(pace.Reserve(kT0), kT0 + absl::Milliseconds(500));
  const absl::Time later = kT0 + absl::Seconds(10);
  EXPECT_EQ(pace.Reserve(later), later);
  EXPECT_EQ(pace.Reserve(later), later);
  EXPECT_EQ(pace.Reserve(later), later + absl::Milliseconds(500));
}

// A rate under one a second still lets one job start at once.
TEST(StartPaceTest, SlowRateStartsOneAtOnce) {
  StartPace pace(0.5);
  EXPECT_EQ(pace.Reserve(kT0), kT0);
  EXPECT_EQ(pace.Reserve(kT0), kT0 + absl::Seconds(2));
}

TEST(StartPaceTest, ZeroMeansUnpaced) {
  StartPace pace(0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(pace.Reserve(kT0), kT0);
}

}  // namespace
}  // namespace vnet
