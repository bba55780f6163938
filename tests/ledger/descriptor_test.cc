#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/ledger/buffer_ledger.h"
#include "tests/ledger/test_util.h"

namespace vnet::ledger::testing {
namespace {

constexpr uint64_t kBase = 0x100000;

class DescriptorTest : public ::testing::Test {
 protected:
  static LedgerLimits Limits() {
    LedgerLimits limits;
    limits.max_in_flight_per_context = 4;
    return limits;
  }
  void SetUp() override {
    ASSERT_TRUE(ledger_.RegisterRegion(1, Region(1, kBase, 4 * kPage, Access::kReadWrite)).ok());
    ASSERT_TRUE(
        ledger_.RegisterRegion(1, Region(2, kBase + 8 * kPage, kPage, Access::kReadOnly)).ok());
    ASSERT_TRUE(ledger_.RegisterRegion(2, Region(1, 2 * kBase, 4 * kPage)).ok());
  }
  DescriptorResult One(uint32_t ctx, const Descriptor& d) {
    std::vector<DescriptorResult> results;
    ledger_.Validate(ctx, {d}, &results);
    return results.at(0);
  }
  Verdict VerdictOf(uint32_t ctx, const Descriptor& d) { return One(ctx, d).verdict; }

  BufferLedger ledger_{Limits()};
};

TEST_F(DescriptorTest, AcceptsADescriptorInsideItsRegionWithACookie) {
  const DescriptorResult r = One(1, ToDevice(1, kBase + 100, 1500));
  EXPECT_EQ(r.verdict, Verdict::kAccepted);
  EXPECT_NE(r.cookie, 0u);
  // Exactly up to the last byte of the region is inside.
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase + 4 * kPage - 10, 10)), Verdict::kAccepted);
}

TEST_F(DescriptorTest, RefusesUnknownRegion) {
  EXPECT_EQ(VerdictOf(1, ToDevice(9, kBase, 64)), Verdict::kUnknownRegion);
}

TEST_F(DescriptorTest, RefusesAnotherContextsMemory) {
  // Context 1 names its own region id but points into context 2's region...
  EXPECT_EQ(VerdictOf(1, ToDevice(1, 2 * kBase, 64)), Verdict::kOutsideRegion);
  // ...and a context with no regions at all owns nothing.
  EXPECT_EQ(VerdictOf(3, ToDevice(1, kBase, 64)), Verdict::kUnknownRegion);
}

TEST_F(DescriptorTest, RefusesDescriptorsNotWhollyInsideTheRegion) {
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase - 1, 64)), Verdict::kOutsideRegion);
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase + 4 * kPage - 10, 11)), Verdict::kOutsideRegion);
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase + 4 * kPage, 1)), Verdict::kOutsideRegion);
  EXPECT_EQ(VerdictOf(1, ToDevice(1, UINT64_MAX - 10, 64)), Verdict::kOutsideRegion);
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase, UINT32_MAX)), Verdict::kOutsideRegion);
}

TEST_F(DescriptorTest, DeviceWritesNeedAReadWriteRegion) {
  EXPECT_EQ(VerdictOf(1, FromDevice(2, kBase + 8 * kPage, 64)), Verdict::kAccessDenied);
  EXPECT_EQ(VerdictOf(1, ToDevice(2, kBase + 8 * kPage, 64)), Verdict::kAccepted);
  EXPECT_EQ(VerdictOf(1, FromDevice(1, kBase, 64)), Verdict::kAccepted);
}

TEST_F(DescriptorTest, RefusesEmptyAndDirectionless) {
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase, 0)), Verdict::kEmpty);
  Descriptor d = ToDevice(1, kBase, 64);
  d.direction = static_cast<Direction>(0);
  EXPECT_EQ(VerdictOf(1, d), Verdict::kBadDirection);
}

TEST_F(DescriptorTest, RefusesOverlapWithADescriptorInFlight) {
  ASSERT_EQ(VerdictOf(1, ToDevice(1, kBase + 1000, 1000)), Verdict::kAccepted);
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase + 1999, 10)), Verdict::kOverlapsInFlight);
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase + 991, 10)), Verdict::kOverlapsInFlight);
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase, 4096)), Verdict::kOverlapsInFlight);
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase + 1500, 1)), Verdict::kOverlapsInFlight);
  // Touching is not overlapping.
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase + 990, 10)), Verdict::kAccepted);
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase + 2000, 10)), Verdict::kAccepted);
}

TEST_F(DescriptorTest, ABatchSeesItsOwnEarlierDescriptorsInFlight) {
  std::vector<DescriptorResult> results;
  const size_t accepted = ledger_.Validate(1,
                                           {ToDevice(1, kBase, 100), ToDevice(1, kBase + 50, 100),
                                            ToDevice(9, kBase, 1), ToDevice(1, kBase + 100, 100)},
                                           &results);
  EXPECT_EQ(accepted, 2u);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].verdict, Verdict::kAccepted);
  EXPECT_EQ(results[1].verdict, Verdict::kOverlapsInFlight);
  EXPECT_EQ(results[1].cookie, 0u);
  EXPECT_EQ(results[2].verdict, Verdict::kUnknownRegion);
  EXPECT_EQ(results[3].verdict, Verdict::kAccepted);
  EXPECT_NE(results[0].cookie, results[3].cookie);
}

TEST_F(DescriptorTest, OverlapIsCheckedPerContext) {
  // Two views of the same bytes in one context: overlap is checked by address, not region.
  ASSERT_TRUE(ledger_.RegisterRegion(1, Region(3, kBase, kPage, Access::kReadOnly)).ok());
  ASSERT_EQ(VerdictOf(1, ToDevice(1, kBase, 100)), Verdict::kAccepted);
  EXPECT_EQ(VerdictOf(1, ToDevice(3, kBase + 10, 10)), Verdict::kOverlapsInFlight);
  // Context 2's descriptors are not disturbed by context 1's.
  EXPECT_EQ(VerdictOf(2, ToDevice(1, 2 * kBase, 100)), Verdict::kAccepted);
}

TEST_F(DescriptorTest, EnforcesTheInFlightLimit) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(VerdictOf(1, ToDevice(1, kBase + i * 100, 100)), Verdict::kAccepted);
  }
  const DescriptorResult refused = One(1, ToDevice(1, kBase + 1000, 100));
  EXPECT_EQ(refused.verdict, Verdict::kInFlightLimit);
  EXPECT_EQ(refused.cookie, 0u);
}

TEST_F(DescriptorTest, CompletionReleasesTheBytes) {
  const DescriptorResult r = One(1, ToDevice(1, kBase, 100));
  ASSERT_EQ(r.verdict, Verdict::kAccepted);
  EXPECT_EQ(ledger_.Complete(1, {r.cookie}), 1u);
  EXPECT_EQ(VerdictOf(1, ToDevice(1, kBase, 100)), Verdict::kAccepted);
}

TEST_F(DescriptorTest, RefusesStaleRepeatedForgedAndForeignCookies) {
  const DescriptorResult first = One(1, ToDevice(1, kBase, 100));
  ASSERT_EQ(ledger_.Complete(1, {first.cookie}), 1u);
  // The slot is reused by the next descriptor; the old cookie must not complete it.
  const DescriptorResult second = One(1, ToDevice(1, kBase + 500, 100));
  ASSERT_EQ(second.verdict, Verdict::kAccepted);
  EXPECT_NE(second.cookie, first.cookie);
  std::vector<uint64_t> unknown;
  EXPECT_EQ(ledger_.Complete(1, {first.cookie, 0, 12345, second.cookie, second.cookie}, &unknown),
            1u);
  EXPECT_THAT(unknown, ::testing::ElementsAre(first.cookie, 0u, 12345u, second.cookie));
  // A cookie of context 1 does not complete anything in context 2.
  const DescriptorResult third = One(1, ToDevice(1, kBase, 100));
  unknown.clear();
  EXPECT_EQ(ledger_.Complete(2, {third.cookie}, &unknown), 0u);
  EXPECT_EQ(unknown.size(), 1u);
  EXPECT_EQ(ledger_.Complete(1, {third.cookie}), 1u);
}

TEST_F(DescriptorTest, CountsAcceptedRejectedByReasonAndInFlightPerContext) {
  std::vector<DescriptorResult> results;
  ledger_.Validate(1,
                   {ToDevice(1, kBase, 100), ToDevice(1, kBase, 100), ToDevice(9, kBase, 1),
                    FromDevice(2, kBase + 8 * kPage, 1), ToDevice(1, kBase + 200, 0)},
                   &results);
  ledger_.Complete(1, {results[0].cookie, 777});
  ledger_.Validate(2, {ToDevice(1, 2 * kBase, 1)}, &results);

  const LedgerStats stats = ledger_.Snapshot();
  ASSERT_EQ(stats.contexts.size(), 2u);
  const ContextStats& one = stats.contexts[0];
  EXPECT_EQ(one.context_id, 1u);
  EXPECT_EQ(one.regions, 2u);
  EXPECT_EQ(one.bytes_registered, 5 * kPage);
  EXPECT_EQ(one.accepted, 1u);
  EXPECT_EQ(one.completed, 1u);
  EXPECT_EQ(one.in_flight, 0u);
  EXPECT_EQ(one.unknown_completions, 1u);
  EXPECT_EQ(one.rejected[static_cast<int>(Verdict::kOverlapsInFlight)], 1u);
  EXPECT_EQ(one.rejected[static_cast<int>(Verdict::kUnknownRegion)], 1u);
  EXPECT_EQ(one.rejected[static_cast<int>(Verdict::kAccessDenied)], 1u);
  EXPECT_EQ(one.rejected[static_cast<int>(Verdict::kEmpty)], 1u);
  EXPECT_EQ(stats.contexts[1].context_id, 2u);
  EXPECT_EQ(stats.contexts[1].in_flight, 1u);
}

}  // namespace
}  // namespace vnet::ledger::testing
