#include "daemon/core/call_limits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

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

// A writer waiting for the turn gives up at its deadline (an absl::Mutex would make it
// wait for as long as the holder holds).
TEST(TurnTest, WaitingEndsAtTheCallerDeadline) {
  Turn turn;
  ASSERT_TRUE(turn.Acquire({}).ok());
  CallLimits limits;
  const absl::Time start = absl::Now();
  limits.deadline = start + absl::Milliseconds(100);
  EXPECT_TRUE(absl::IsDeadlineExceeded(turn.Acquire(limits)));
  const absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(100));
  EXPECT_LT(waited, absl::Seconds(5));
  turn.Release();
  EXPECT_TRUE(turn.Acquire(limits.deadline > absl::Now() ? limits : CallLimits{}).ok());
  turn.Release();
}

TEST(TurnTest, WaitingEndsWhenTheCallerCancels) {
  Turn turn;
  ASSERT_TRUE(turn.Acquire({}).ok());
  std::atomic<bool> cancel{false};
  CallLimits limits;
  limits.cancelled = [&] { return cancel.load(); };
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(50));
    cancel = true;
  });
  const absl::Time start = absl::Now();
  EXPECT_TRUE(absl::IsCancelled(turn.Acquire(limits)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  canceller.join();
  turn.Release();
}

TEST(TurnTest, OneHolderAtATime) {
  Turn turn;
  int inside = 0;
  int most = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(turn.Acquire({}).ok());
        most = std::max(most, ++inside);
        --inside;
        turn.Release();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(most, 1);
}

}  // namespace
}  // namespace vnet
