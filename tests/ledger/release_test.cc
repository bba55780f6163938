#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "daemon/ledger/buffer_ledger.h"
#include "tests/ledger/test_util.h"

namespace vnet::ledger::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kBase = 0x100000;

class ReleaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ledger_.RegisterRegion(1, Region(1, kBase, 4 * kPage)).ok());
    ASSERT_TRUE(ledger_.RegisterRegion(1, Region(2, kBase + 4 * kPage, kPage)).ok());
  }
  uint64_t Post(uint64_t region, uint64_t address) {
    std::vector<DescriptorResult> results;
    ledger_.Validate(1, {ToDevice(region, address, 64)}, &results);
    EXPECT_EQ(results[0].verdict, Verdict::kAccepted);
    return results[0].cookie;
  }

  BufferLedger ledger_;
};

TEST_F(ReleaseTest, UnregisterWithDescriptorsInFlightFailsNamingHowMany) {
  const uint64_t a = Post(1, kBase);
  const uint64_t b = Post(1, kBase + 128);
  const absl::Status s = ledger_.UnregisterRegion(1, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(s));
  EXPECT_THAT(s.message(), HasSubstr("2 descriptors in flight"));
  // The region is still there and still pinned.
  EXPECT_EQ(ledger_.ListRegions(1).at(0).in_flight, 2u);
  // Other regions of the context are free to go.
  EXPECT_TRUE(ledger_.UnregisterRegion(1, 2).ok());
  ledger_.Complete(1, {a});
  EXPECT_TRUE(absl::IsFailedPrecondition(ledger_.UnregisterRegion(1, 1)));
  ledger_.Complete(1, {b});
  EXPECT_TRUE(ledger_.UnregisterRegion(1, 1).ok());
  EXPECT_TRUE(ledger_.ListRegions(1).empty());
}

TEST_F(ReleaseTest, ReleaseWithDescriptorsInFlightFailsAndChangesNothing) {
  const uint64_t a = Post(1, kBase);
  Post(2, kBase + 4 * kPage);
  const auto report = ledger_.ReleaseContext(1);
  EXPECT_TRUE(absl::IsFailedPrecondition(report.status()));
  EXPECT_THAT(report.status().message(), HasSubstr("context 1 has 2 descriptors in flight"));
  EXPECT_EQ(ledger_.ListRegions(1).size(), 2u);
  EXPECT_EQ(ledger_.Complete(1, {a}), 1u);  // still tracked
  EXPECT_EQ(ledger_.Snapshot().contexts_released, 0u);
}

TEST_F(ReleaseTest, ReleaseDropsRegionsAndFreesTheirAddresses) {
  const uint64_t a = Post(1, kBase);
  ledger_.Complete(1, {a});
  const auto report = ledger_.ReleaseContext(1);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->regions, 2u);
  EXPECT_EQ(report->bytes, 5 * kPage);
  EXPECT_EQ(report->abandoned, 0u);
  EXPECT_TRUE(ledger_.ListRegions(1).empty());
  EXPECT_TRUE(ledger_.Snapshot().contexts.empty());
  EXPECT_TRUE(ledger_.RegisterRegion(2, Region(1, kBase, 5 * kPage)).ok());
}

TEST_F(ReleaseTest, ReleaseOfAnUnknownContextIsANoOp) {
  const auto report = ledger_.ReleaseContext(42);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->regions, 0u);
}

TEST_F(ReleaseTest, ForcedReleaseWaitsForCompletionsBeforeTheDeadline) {
  const uint64_t a = Post(1, kBase);
  const uint64_t b = Post(1, kBase + 128);
  std::thread completer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    ledger_.Complete(1, {a});
    absl::SleepFor(absl::Milliseconds(20));
    ledger_.Complete(1, {b});
  });
  const absl::Time start = absl::Now();
  const ReleaseReport report = ledger_.ForceReleaseContext(1, start + absl::Seconds(10));
  const absl::Duration waited = absl::Now() - start;
  completer.join();
  EXPECT_EQ(report.abandoned, 0u);
  EXPECT_EQ(report.regions, 2u);
  EXPECT_GE(waited, absl::Milliseconds(60));
  EXPECT_LT(waited, absl::Seconds(5));
  EXPECT_EQ(ledger_.Snapshot().descriptors_abandoned, 0u);
}

TEST_F(ReleaseTest, ForcedReleaseAbandonsWhatIsInFlightAtTheDeadline) {
  const uint64_t a = Post(1, kBase);
  Post(1, kBase + 128);
  Post(2, kBase + 4 * kPage);
  std::thread completer([&] { ledger_.Complete(1, {a}); });
  const absl::Time start = absl::Now();
  const ReleaseReport report = ledger_.ForceReleaseContext(1, start + absl::Milliseconds(100));
  completer.join();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  EXPECT_EQ(report.abandoned, 2u);
  EXPECT_EQ(report.regions, 2u);
  EXPECT_EQ(ledger_.Snapshot().descriptors_abandoned, 2u);
  EXPECT_EQ(ledger_.Snapshot().contexts_released, 1u);
  EXPECT_TRUE(ledger_.ListRegions(1).empty());
  // The addresses are free again, and late completions are just unknown.
  EXPECT_TRUE(ledger_.RegisterRegion(2, Region(1, kBase, kPage)).ok());
}

TEST_F(ReleaseTest, ForcedReleaseRefusesNewDescriptorsWhileItWaits) {
  const uint64_t a = Post(1, kBase);
  std::atomic<bool> saw_closing{false};
  std::thread poster([&] {
    for (int i = 0; i < 1000 && !saw_closing; ++i) {
      std::vector<DescriptorResult> results;
      ledger_.Validate(1, {ToDevice(1, kBase + 1024, 64)}, &results);
      if (results[0].verdict == Verdict::kContextClosing) {
        saw_closing = true;
        EXPECT_TRUE(absl::IsFailedPrecondition(ledger_.RegisterRegion(1, Region(9, 0, kPage))));
        ledger_.Complete(1, {a});
      } else if (results[0].verdict == Verdict::kAccepted) {
        ledger_.Complete(1, {results[0].cookie});
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
  });
  const ReleaseReport report = ledger_.ForceReleaseContext(1, absl::Now() + absl::Seconds(10));
  poster.join();
  EXPECT_TRUE(saw_closing);
  EXPECT_EQ(report.abandoned, 0u);
}

TEST_F(ReleaseTest, RegisteringAfterAReleaseStartsAFreshContext) {
  ASSERT_TRUE(ledger_.ReleaseContext(1).ok());
  ASSERT_TRUE(ledger_.RegisterRegion(1, Region(1, kBase, kPage)).ok());
  EXPECT_EQ(ledger_.ListRegions(1).size(), 1u);
  EXPECT_EQ(ledger_.Snapshot().contexts.at(0).accepted, 0u);
}

// The release in two steps. Aborted (the registry could not persist),
// the context keeps its regions and descriptors and takes new ones again.
TEST_F(ReleaseTest, AbortedTwoStepReleaseChangesNothing) {
  const uint64_t a = Post(1, kBase);
  ASSERT_TRUE(ledger_.BeginRelease(1, /*force=*/true, absl::Now(), nullptr).ok());
  std::vector<DescriptorResult> results;
  ledger_.Validate(1, {ToDevice(1, kBase + 1024, 64)}, &results);
  EXPECT_EQ(results[0].verdict, Verdict::kContextClosing);  // closed for new work meanwhile
  ledger_.AbortRelease(1);
  EXPECT_EQ(ledger_.ListRegions(1).size(), 2u);
  EXPECT_EQ(ledger_.ListRegions(1).at(0).in_flight, 1u);
  Post(1, kBase + 1024);  // open again
  EXPECT_EQ(ledger_.Complete(1, {a}), 1u);
  EXPECT_EQ(ledger_.Snapshot().contexts_released, 0u);
  EXPECT_EQ(ledger_.Snapshot().descriptors_abandoned, 0u);
}

TEST_F(ReleaseTest, CommittedTwoStepReleaseDropsEverything) {
  Post(1, kBase);
  ASSERT_TRUE(ledger_.BeginRelease(1, /*force=*/true, absl::Now(), nullptr).ok());
  const ReleaseReport report = ledger_.CommitRelease(1);
  EXPECT_EQ(report.regions, 2u);
  EXPECT_EQ(report.abandoned, 1u);
  EXPECT_TRUE(ledger_.ListRegions(1).empty());
  EXPECT_TRUE(ledger_.RegisterRegion(2, Region(1, kBase, kPage)).ok());  // addresses free
}

TEST_F(ReleaseTest, TwoStepReleaseUnforcedRefusesWhileInFlightAndChangesNothing) {
  Post(1, kBase);
  EXPECT_TRUE(
      absl::IsFailedPrecondition(ledger_.BeginRelease(1, /*force=*/false, absl::Now(), nullptr)));
  Post(1, kBase + 1024);  // still open
  // A second release while one is under way is told so.
  ASSERT_TRUE(ledger_.BeginRelease(1, /*force=*/true, absl::Now(), nullptr).ok());
  EXPECT_TRUE(absl::IsAborted(ledger_.BeginRelease(1, /*force=*/true, absl::Now(), nullptr)));
  ledger_.AbortRelease(1);
}

// A forced wait ends as soon as the caller gives up, well before its own deadline, and
// leaves the context open.
TEST_F(ReleaseTest, ForcedWaitEndsWhenTheCallerGivesUp) {
  Post(1, kBase);
  const absl::Time start = absl::Now();
  const absl::Time give_up = start + absl::Milliseconds(100);
  const absl::Status s = ledger_.BeginRelease(1, /*force=*/true, start + absl::Seconds(30), [&] {
    return absl::Now() >= give_up ? absl::DeadlineExceededError("gone") : absl::OkStatus();
  });
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  Post(1, kBase + 1024);  // open again
  EXPECT_EQ(ledger_.ListRegions(1).size(), 2u);
}

TEST(LedgerConcurrencyTest, ContextsWorkInParallelAndCountsAgree) {
  BufferLedger ledger;
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  for (uint32_t ctx = 1; ctx <= kThreads; ++ctx) {
    ASSERT_TRUE(ledger.RegisterRegion(ctx, Region(1, ctx * 0x1000000, 16 * kPage)).ok());
  }
  std::vector<std::thread> threads;
  for (uint32_t ctx = 1; ctx <= kThreads; ++ctx) {
    threads.emplace_back([&ledger, ctx] {
      std::vector<Descriptor> batch;
      batch.reserve(32);
      for (int i = 0; i < 32; ++i) batch.push_back(ToDevice(1, ctx * 0x1000000 + i * 256, 256));
      std::vector<DescriptorResult> results;
      std::vector<uint64_t> cookies;
      for (int round = 0; round < kRounds; ++round) {
        ledger.Validate(ctx, batch, &results);
        cookies.clear();
        for (const auto& r : results) cookies.push_back(r.cookie);
        ledger.Complete(ctx, cookies);
        if (round % 100 == 0) (void)ledger.Snapshot();  // readers interleave
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const ContextStats& stats : ledger.Snapshot().contexts) {
    EXPECT_EQ(stats.accepted, 32u * kRounds);
    EXPECT_EQ(stats.completed, 32u * kRounds);
    EXPECT_EQ(stats.in_flight, 0u);
  }
}

// The wait of a forced release without a thread: the ledger tells when the last
// descriptor in flight completes, once, and never after the notice is withdrawn.
TEST_F(ReleaseTest, DrainNoticeComesWithTheLastCompletion) {
  const uint64_t a = Post(1, kBase);
  const uint64_t b = Post(1, kBase + 1024);
  ASSERT_TRUE(ledger_.StartRelease(1, /*force=*/true).ok());
  EXPECT_TRUE(absl::IsAborted(ledger_.StartRelease(1, /*force=*/true)));  // one at a time
  int notices = 0;
  ledger_.NotifyWhenDrained(1, [&] { ++notices; });
  EXPECT_EQ(notices, 0);
  EXPECT_EQ(ledger_.Complete(1, {a}), 1u);
  EXPECT_EQ(notices, 0);  // one still in flight
  EXPECT_EQ(ledger_.Complete(1, {b}), 1u);
  EXPECT_EQ(notices, 1);
  ledger_.StopDrainNotice(1);
  const ReleaseReport report = ledger_.CommitRelease(1);
  EXPECT_EQ(report.abandoned, 0u);
  EXPECT_EQ(notices, 1);
}

TEST_F(ReleaseTest, DrainNoticeComesAtOnceWhenNothingIsInFlight) {
  ASSERT_TRUE(ledger_.StartRelease(1, /*force=*/true).ok());
  int notices = 0;
  ledger_.NotifyWhenDrained(1, [&] { ++notices; });
  EXPECT_EQ(notices, 1);
  ledger_.NotifyWhenDrained(99, [&] { ++notices; });  // a context the ledger never saw
  EXPECT_EQ(notices, 2);
  ledger_.AbortRelease(1);
}

TEST_F(ReleaseTest, WithdrawnDrainNoticeNeverComes) {
  const uint64_t a = Post(1, kBase);
  ASSERT_TRUE(ledger_.StartRelease(1, /*force=*/true).ok());
  int notices = 0;
  ledger_.NotifyWhenDrained(1, [&] { ++notices; });
  ledger_.StopDrainNotice(1);
  ledger_.AbortRelease(1);
  EXPECT_EQ(ledger_.Complete(1, {a}), 1u);
  EXPECT_EQ(notices, 0);
  Post(1, kBase + 1024);  // open again
}

TEST_F(ReleaseTest, StartReleaseUnforcedRefusesWhileInFlightAndChangesNothing) {
  Post(1, kBase);
  EXPECT_TRUE(absl::IsFailedPrecondition(ledger_.StartRelease(1, /*force=*/false)));
  Post(1, kBase + 1024);  // still open
}

}  // namespace
}  // namespace vnet::ledger::testing
