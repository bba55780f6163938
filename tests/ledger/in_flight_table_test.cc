#include "daemon/ledger/in_flight_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace vnet::ledger {
namespace {

// Tiny chunks and buckets, so bucketed, overflowing and long ranges all mix.
InFlightTable Small() { return InFlightTable(InFlightTuning{4, 2}); }

TEST(InFlightTableTest, RefusesOverlapAcrossBucketsAndTree) {
  InFlightTable table = Small();
  ASSERT_NE(table.TryInsert({100, 104, 1}), 0u);  // one chunk
  ASSERT_NE(table.TryInsert({104, 108, 1}), 0u);
  ASSERT_NE(table.TryInsert({108, 110, 1}), 0u);  // bucket of chunk 6 full: goes to the tree
  EXPECT_EQ(table.TryInsert({109, 111, 1}), 0u);  // overlaps the tree entry
  EXPECT_EQ(table.TryInsert({50, 101, 1}), 0u);   // long, ends inside a bucketed range
  EXPECT_EQ(table.TryInsert({0, 1000, 1}), 0u);   // long, covers everything
  EXPECT_NE(table.TryInsert({0, 100, 1}), 0u);    // long, touches but does not overlap
  EXPECT_NE(table.TryInsert({110, 400, 1}), 0u);
  EXPECT_EQ(table.size(), 5u);
}

TEST(InFlightTableTest, StaleCookiesDoNotRemove) {
  InFlightTable table = Small();
  const uint64_t cookie = table.TryInsert({0, 10, 1});
  ASSERT_TRUE(table.Remove(cookie).has_value());
  EXPECT_FALSE(table.Remove(cookie).has_value());
  const uint64_t reused = table.TryInsert({0, 10, 1});
  EXPECT_NE(reused, cookie);
  EXPECT_FALSE(table.Remove(cookie).has_value());
  EXPECT_TRUE(table.Remove(reused).has_value());
  EXPECT_FALSE(table.Remove(0).has_value());
}

// Random inserts and removals against a brute-force list, for several shapes.
TEST(InFlightTableTest, AgreesWithBruteForce) {
  for (const InFlightTuning tuning :
       {InFlightTuning{4, 1}, InFlightTuning{4, 2}, InFlightTuning{6, 3}, InFlightTuning{16, 32}}) {
    InFlightTable table(tuning);
    std::map<uint64_t, InFlightEntry> model;  // cookie -> entry
    std::mt19937_64 rng(tuning.chunk_shift * 100 + tuning.bucket_capacity);
    for (int step = 0; step < 20000; ++step) {
      if (rng() % 3 != 0 || model.empty()) {
        const uint64_t start = rng() % 2048;
        const uint64_t length = rng() % 8 == 0 ? 1 + rng() % 512 : 1 + rng() % 24;
        const InFlightEntry e{start, start + length, 1};
        bool overlaps = false;
        for (const auto& [c, m] : model) overlaps |= m.address < e.end && e.address < m.end;
        const uint64_t cookie = table.TryInsert(e);
        ASSERT_EQ(cookie == 0, overlaps) << "step " << step << " [" << start << ", +" << length;
        if (cookie != 0) {
          ASSERT_EQ(model.count(cookie), 0u);
          model[cookie] = e;
        }
      } else {
        auto it = model.begin();
        std::advance(it, rng() % model.size());
        auto removed = table.Remove(it->first);
        ASSERT_TRUE(removed.has_value());
        ASSERT_EQ(removed->address, it->second.address);
        ASSERT_EQ(removed->end, it->second.end);
        model.erase(it);
      }
      ASSERT_EQ(table.size(), model.size());
    }
  }
}

}  // namespace
}  // namespace vnet::ledger
