#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/ledger/buffer_ledger.h"
#include "tests/ledger/test_util.h"

namespace vnet::ledger::testing {
namespace {

using ::testing::HasSubstr;

class RegionRulesTest : public ::testing::Test {
 protected:
  static LedgerLimits Limits() {
    LedgerLimits limits;
    limits.max_region_bytes = 16 * kPage;
    limits.max_context_bytes = 24 * kPage;
    limits.max_regions_per_context = 3;
    return limits;
  }
  BufferLedger ledger_{Limits()};
};

TEST_F(RegionRulesTest, AcceptsAPageAlignedRegionAndListsIt) {
  RegionSpec spec = Region(7, 0x10000, 2 * kPage, Access::kReadOnly);
  spec.grant_refs = {11, 12};
  ASSERT_TRUE(ledger_.RegisterRegion(1, spec).ok());
  const auto regions = ledger_.ListRegions(1);
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].spec.region_id, 7u);
  EXPECT_EQ(regions[0].spec.guest_address, 0x10000u);
  EXPECT_EQ(regions[0].spec.length, 2 * kPage);
  EXPECT_EQ(regions[0].spec.access, Access::kReadOnly);
  EXPECT_THAT(regions[0].spec.grant_refs, ::testing::ElementsAre(11u, 12u));
  EXPECT_EQ(regions[0].in_flight, 0u);
}

TEST_F(RegionRulesTest, RefusesContextZero) {
  EXPECT_TRUE(absl::IsInvalidArgument(ledger_.RegisterRegion(0, Region(1, 0, kPage))));
}

TEST_F(RegionRulesTest, RefusesRegionIdZero) {
  EXPECT_TRUE(absl::IsInvalidArgument(ledger_.RegisterRegion(1, Region(0, 0, kPage))));
}

TEST_F(RegionRulesTest, RefusesBadPageSizes) {
  for (uint32_t page : {0u, 512u, 3000u, 12288u, 1u << 31}) {
    RegionSpec spec = Region(1, 0, 4 * kPage);
    spec.page_size = page;
    const absl::Status s = ledger_.RegisterRegion(1, spec);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << page;
    EXPECT_THAT(s.message(), HasSubstr("page_size")) << page;
  }
}

TEST_F(RegionRulesTest, RefusesMisalignedAddressOrLength) {
  const absl::Status address = ledger_.RegisterRegion(1, Region(1, 0x10010, kPage));
  EXPECT_TRUE(absl::IsInvalidArgument(address));
  EXPECT_THAT(address.message(), HasSubstr("multiples of the page size"));
  EXPECT_TRUE(absl::IsInvalidArgument(ledger_.RegisterRegion(1, Region(1, 0x10000, 100))));
  // Aligned to 4 KiB but not to the region's own 8 KiB pages.
  RegionSpec big_pages = Region(1, 0x11000, 2 * kPage);
  big_pages.page_size = 8192;
  EXPECT_TRUE(absl::IsInvalidArgument(ledger_.RegisterRegion(1, big_pages)));
  big_pages.guest_address = 0x12000;
  EXPECT_TRUE(ledger_.RegisterRegion(1, big_pages).ok());
}

TEST_F(RegionRulesTest, RefusesEmptyRegion) {
  EXPECT_TRUE(absl::IsInvalidArgument(ledger_.RegisterRegion(1, Region(1, 0, 0))));
}

TEST_F(RegionRulesTest, RefusesRegionWrappingTheAddressSpace) {
  const absl::Status s = ledger_.RegisterRegion(1, Region(1, UINT64_MAX - kPage + 1, 2 * kPage));
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("past the end"));
}

TEST_F(RegionRulesTest, RefusesRegionAccessUnset) {
  RegionSpec spec = Region(1, 0, kPage);
  spec.access = static_cast<Access>(0);
  EXPECT_TRUE(absl::IsInvalidArgument(ledger_.RegisterRegion(1, spec)));
}

TEST_F(RegionRulesTest, RefusesRegionOverTheSizeLimit) {
  const absl::Status s = ledger_.RegisterRegion(1, Region(1, 0, 17 * kPage));
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("length 69632 exceeds the limit of 65536 bytes per region"));
  EXPECT_TRUE(ledger_.RegisterRegion(1, Region(1, 0, 16 * kPage)).ok());
}

TEST_F(RegionRulesTest, RequiresOneGrantPerFrame) {
  RegionSpec spec = Region(1, 0, 2 * kPage);
  spec.grant_refs = {1};
  const absl::Status s = ledger_.RegisterRegion(1, spec);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(),
              HasSubstr("1 grant references for 8192 bytes; expected one per 4096-byte frame (2)"));
}

TEST_F(RegionRulesTest, RefusesDuplicateRegionId) {
  ASSERT_TRUE(ledger_.RegisterRegion(1, Region(5, 0, kPage)).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(ledger_.RegisterRegion(1, Region(5, 8 * kPage, kPage))));
  // Region ids are per context.
  EXPECT_TRUE(ledger_.RegisterRegion(2, Region(5, 8 * kPage, kPage)).ok());
}

TEST_F(RegionRulesTest, EnforcesRegionCountQuota) {
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(ledger_.RegisterRegion(1, Region(id, id * kPage, kPage)).ok());
  }
  EXPECT_TRUE(absl::IsResourceExhausted(ledger_.RegisterRegion(1, Region(4, 0, kPage))));
  ASSERT_TRUE(ledger_.UnregisterRegion(1, 2).ok());
  EXPECT_TRUE(ledger_.RegisterRegion(1, Region(4, 0, kPage)).ok());
}

TEST_F(RegionRulesTest, EnforcesByteQuotaPerContext) {
  ASSERT_TRUE(ledger_.RegisterRegion(1, Region(1, 0, 16 * kPage)).ok());
  const absl::Status s = ledger_.RegisterRegion(1, Region(2, 0x100000, 9 * kPage));
  EXPECT_TRUE(absl::IsResourceExhausted(s));
  EXPECT_THAT(s.message(),
              HasSubstr("65536 bytes registered + 36864 would exceed the quota of 98304 bytes"));
  EXPECT_TRUE(ledger_.RegisterRegion(1, Region(2, 0x100000, 8 * kPage)).ok());
  // The quota is per context: another context starts from zero.
  EXPECT_TRUE(ledger_.RegisterRegion(2, Region(1, 0x200000, 16 * kPage)).ok());
}

TEST_F(RegionRulesTest, RefusesOverlapWithAnotherContextNamingTheOwner) {
  ASSERT_TRUE(ledger_.RegisterRegion(1, Region(3, 0x10000, 4 * kPage)).ok());
  for (uint64_t start : {0x10000 - kPage, 0x10000 + kPage, 0x10000 + 3 * kPage}) {
    const absl::Status s = ledger_.RegisterRegion(2, Region(1, start, 2 * kPage));
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << start;
    EXPECT_THAT(s.message(), HasSubstr("region 3 of context 1")) << start;
  }
  // A region covering the other wholly is refused too.
  EXPECT_TRUE(
      absl::IsFailedPrecondition(ledger_.RegisterRegion(2, Region(1, 0x10000 - kPage, 8 * kPage))));
  // Adjacent ranges touch no byte in common.
  EXPECT_TRUE(ledger_.RegisterRegion(2, Region(1, 0x10000 - kPage, kPage)).ok());
  EXPECT_TRUE(ledger_.RegisterRegion(2, Region(2, 0x10000 + 4 * kPage, kPage)).ok());
}

TEST_F(RegionRulesTest, FindsOverlapBehindANearerRegion) {
  // The nearest region before the new one does not overlap it, but a longer one further
  // back does: a check of the neighbour alone would miss it.
  ASSERT_TRUE(ledger_.RegisterRegion(1, Region(1, 0, 16 * kPage)).ok());
  ASSERT_TRUE(ledger_.RegisterRegion(1, Region(2, 14 * kPage, kPage)).ok());
  const absl::Status s = ledger_.RegisterRegion(3, Region(1, 15 * kPage, kPage));
  EXPECT_TRUE(absl::IsFailedPrecondition(s));
  EXPECT_THAT(s.message(), HasSubstr("region 1 of context 1"));
}

TEST_F(RegionRulesTest, AllowsOverlapInsideOneContext) {
  ASSERT_TRUE(ledger_.RegisterRegion(1, Region(1, 0, 4 * kPage, Access::kReadOnly)).ok());
  EXPECT_TRUE(ledger_.RegisterRegion(1, Region(2, kPage, kPage, Access::kReadWrite)).ok());
}

TEST_F(RegionRulesTest, UnregisteredRangeCanBeTakenByAnotherContext) {
  ASSERT_TRUE(ledger_.RegisterRegion(1, Region(1, 0, 4 * kPage)).ok());
  ASSERT_TRUE(ledger_.UnregisterRegion(1, 1).ok());
  EXPECT_TRUE(ledger_.RegisterRegion(2, Region(1, 0, 4 * kPage)).ok());
}

TEST_F(RegionRulesTest, UnregisterOfUnknownRegionIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(ledger_.UnregisterRegion(1, 1)));
  ASSERT_TRUE(ledger_.RegisterRegion(1, Region(1, 0, kPage)).ok());
  const absl::Status s = ledger_.UnregisterRegion(1, 2);
  EXPECT_TRUE(absl::IsNotFound(s));
  EXPECT_THAT(s.message(), HasSubstr("no region 2"));
}

}  // namespace
}  // namespace vnet::ledger::testing
