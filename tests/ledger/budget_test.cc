// The in-flight budget shared by all contexts (LedgerLimits::max_in_flight_total): reached
// across contexts it refuses as a context's own limit does, completions and releases give
// it back, and after a restart the descriptors restored from the journal hold it again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "daemon/ledger/buffer_ledger.h"
#include "daemon/ledger/file_journal.h"
#include "tests/ledger/test_util.h"

namespace vnet::ledger::testing {
namespace {

constexpr uint64_t kBase = 0x100000;

LedgerLimits SmallBudget() {
  LedgerLimits limits;
  limits.max_in_flight_per_context = 4;
  limits.max_in_flight_total = 5;  // more than one context's limit, less than two
  return limits;
}

// Accepts `n` descriptors of 64 bytes each at distinct addresses of region 1 of `ctx`.
std::vector<uint64_t> Fill(BufferLedger* ledger, uint32_t ctx, uint64_t base, int n) {
  std::vector<Descriptor> descriptors;
  descriptors.reserve(n);
  for (int i = 0; i < n; ++i) descriptors.push_back(ToDevice(1, base + i * 64, 64));
  std::vector<DescriptorResult> results;
  EXPECT_EQ(ledger->Validate(ctx, descriptors, &results), static_cast<size_t>(n));
  std::vector<uint64_t> cookies;
  cookies.reserve(results.size());
  for (const DescriptorResult& r : results) cookies.push_back(r.cookie);
  return cookies;
}

DescriptorResult One(BufferLedger* ledger, uint32_t ctx, const Descriptor& d) {
  std::vector<DescriptorResult> results;
  ledger->Validate(ctx, {d}, &results);
  return results.at(0);
}

class BudgetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ledger_.RegisterRegion(1, Region(1, kBase, 4 * kPage)).ok());
    ASSERT_TRUE(ledger_.RegisterRegion(2, Region(1, 2 * kBase, 4 * kPage)).ok());
  }
  BufferLedger ledger_{SmallBudget()};
};

TEST_F(BudgetTest, ReachedAcrossTwoContextsRefusesAndChangesNothing) {
  Fill(&ledger_, 1, kBase, 3);
  Fill(&ledger_, 2, 2 * kBase, 2);  // 5 of 5; context 2 is at 2 of its own 4
  const DescriptorResult refused = One(&ledger_, 2, ToDevice(1, 2 * kBase + kPage, 64));
  EXPECT_EQ(refused.verdict, Verdict::kInFlightLimit);
  EXPECT_EQ(refused.cookie, 0u);
  const LedgerStats stats = ledger_.Snapshot();
  EXPECT_EQ(stats.in_flight_budget, 5u);
  EXPECT_EQ(stats.in_flight_budget_used, 5u);
  EXPECT_EQ(stats.in_flight_budget_refused, 1u);
  ASSERT_EQ(stats.contexts.size(), 2u);
  EXPECT_EQ(stats.contexts[1].in_flight, 2u);  // nothing taken for the refused one
  EXPECT_EQ(stats.contexts[1].rejected[static_cast<int>(Verdict::kInFlightLimit)], 1u);
  EXPECT_EQ(ledger_.ListRegions(2)[0].in_flight, 2u);
  // The same bytes are free: refused is not in flight.
  EXPECT_EQ(One(&ledger_, 1, ToDevice(1, kBase + kPage, 64)).verdict, Verdict::kInFlightLimit);
}

TEST_F(BudgetTest, CompletionsAndReleasesGiveItBack) {
  std::vector<uint64_t> first = Fill(&ledger_, 1, kBase, 3);
  Fill(&ledger_, 2, 2 * kBase, 2);
  ASSERT_EQ(One(&ledger_, 2, ToDevice(1, 2 * kBase + kPage, 64)).verdict, Verdict::kInFlightLimit);
  ASSERT_EQ(ledger_.Complete(1, {first[0]}), 1u);
  EXPECT_EQ(One(&ledger_, 2, ToDevice(1, 2 * kBase + kPage, 64)).verdict, Verdict::kAccepted);
  EXPECT_EQ(ledger_.Snapshot().in_flight_budget_used, 5u);
  // A forced release abandons context 1's two: the other context may take them.
  EXPECT_EQ(ledger_.ForceReleaseContext(1, absl::Now()).abandoned, 2u);
  EXPECT_EQ(ledger_.Snapshot().in_flight_budget_used, 3u);
  EXPECT_EQ(One(&ledger_, 2, ToDevice(1, 2 * kBase + 2 * kPage, 64)).verdict, Verdict::kAccepted);
}

TEST_F(BudgetTest, ARefusedOverlapHoldsNone) {
  Fill(&ledger_, 1, kBase, 1);
  EXPECT_EQ(One(&ledger_, 1, ToDevice(1, kBase, 64)).verdict, Verdict::kOverlapsInFlight);
  EXPECT_EQ(ledger_.Snapshot().in_flight_budget_used, 1u);
  EXPECT_EQ(ledger_.Snapshot().in_flight_budget_refused, 0u);
}

TEST(BudgetRestartTest, DescriptorsRestoredFromTheJournalHoldTheBudget) {
  char tmpl[] = "/tmp/vnet-budget-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/ledger";
  const LedgerLimits limits = SmallBudget();
  std::vector<uint64_t> cookies;
  {
    FileJournal journal(dir, limits.max_in_flight_per_context, "boot");
    BufferLedger ledger(limits, &journal);
    ASSERT_TRUE(ledger.Restore(*journal.Load()).ok());
    ASSERT_TRUE(ledger.RegisterRegion(1, Region(1, kBase, 4 * kPage)).ok());
    ASSERT_TRUE(ledger.RegisterRegion(2, Region(1, 2 * kBase, 4 * kPage)).ok());
    cookies = Fill(&ledger, 1, kBase, 3);
    Fill(&ledger, 2, 2 * kBase, 1);
  }  // dropped without a release, as a killed vnetd leaves them
  FileJournal journal(dir, limits.max_in_flight_per_context, "boot");
  BufferLedger ledger(limits, &journal);
  auto saved = journal.Load();
  ASSERT_TRUE(saved.ok()) << saved.status();
  ASSERT_TRUE(ledger.Restore(*std::move(saved)).ok());
  EXPECT_EQ(ledger.Snapshot().in_flight_budget_used, 4u);
  EXPECT_EQ(One(&ledger, 2, ToDevice(1, 2 * kBase + kPage, 64)).verdict, Verdict::kAccepted);
  EXPECT_EQ(One(&ledger, 2, ToDevice(1, 2 * kBase + 2 * kPage, 64)).verdict,
            Verdict::kInFlightLimit);
  EXPECT_EQ(ledger.Complete(1, cookies), 3u);
  EXPECT_EQ(ledger.Snapshot().in_flight_budget_used, 2u);
  (void)system(("rm -rf " + std::string(tmpl)).c_str());
}

TEST(BudgetRestartTest, MoreRestoredThanTheBudgetAllowsAreKeptNewOnesRefused) {
  char tmpl[] = "/tmp/vnet-budget-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/ledger";
  LedgerLimits limits = SmallBudget();
  std::vector<uint64_t> cookies;
  {
    FileJournal journal(dir, limits.max_in_flight_per_context, "boot");
    BufferLedger ledger(limits, &journal);
    ASSERT_TRUE(ledger.Restore(*journal.Load()).ok());
    ASSERT_TRUE(ledger.RegisterRegion(1, Region(1, kBase, 4 * kPage)).ok());
    cookies = Fill(&ledger, 1, kBase, 3);  // the context may hold one more of its own 4
  }
  limits.max_in_flight_total = 2;  // lowered in the config across the restart
  FileJournal journal(dir, limits.max_in_flight_per_context, "boot");
  BufferLedger ledger(limits, &journal);
  ASSERT_TRUE(ledger.Restore(*journal.Load()).ok());
  EXPECT_EQ(ledger.Snapshot().in_flight_budget_used, 3u);
  EXPECT_EQ(One(&ledger, 1, ToDevice(1, kBase + kPage, 64)).verdict, Verdict::kInFlightLimit);
  EXPECT_EQ(ledger.Snapshot().in_flight_budget_refused, 1u);
  EXPECT_EQ(ledger.Complete(1, {cookies[0], cookies[1]}), 2u);
  EXPECT_EQ(One(&ledger, 1, ToDevice(1, kBase + kPage, 64)).verdict, Verdict::kAccepted);
  (void)system(("rm -rf " + std::string(tmpl)).c_str());
}

}  // namespace
}  // namespace vnet::ledger::testing
