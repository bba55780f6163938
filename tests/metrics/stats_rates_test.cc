// vnetctl's rate computation and formatting for stats --watch and top.
#include "cli/stats_rates.h"

#include <gtest/gtest.h>

#include "google/protobuf/util/time_util.h"

namespace vnetctl {
namespace {

using google::protobuf::util::TimeUtil;

vnet::v1::ContextStats Ctx(uint32_t id, const std::string& ifname, uint64_t rx_bytes,
                           uint64_t tx_bytes, uint64_t packets = 0) {
  vnet::v1::ContextStats s;
  s.set_context_id(id);
  s.set_interface_name(ifname);
  s.set_rx_bytes(rx_bytes);
  s.set_tx_bytes(tx_bytes);
  s.set_rx_packets(packets);
  return s;
}

vnet::v1::GetContextStatsResponse At(int64_t ms, std::vector<vnet::v1::ContextStats> ctxs) {
  vnet::v1::GetContextStatsResponse r;
  *r.mutable_read_time() = TimeUtil::MillisecondsToTimestamp(ms);
  for (auto& c : ctxs) *r.add_contexts() = c;
  return r;
}

TEST(StatsRatesTest, RatesPerSecondAndBusiestFirst) {
  auto before = At(1000, {Ctx(1, "a", 0, 0, 0), Ctx(2, "b", 0, 0), Ctx(3, "c", 100, 0)});
  auto d = Ctx(2, "b", 0, 0);
  d.add_drops()->set_packets(4);
  auto now = At(3000, {Ctx(1, "a", 1000, 0, 10), d, Ctx(3, "c", 50, 0), Ctx(4, "d", 9, 9)});
  auto rates = ComputeRates(before, now);
  ASSERT_EQ(rates.size(), 4u);
  EXPECT_TRUE(rates[0].known);
  EXPECT_DOUBLE_EQ(rates[0].rx_bps, 1000 * 8 / 2.0);
  EXPECT_DOUBLE_EQ(rates[0].rx_pps, 5);
  EXPECT_DOUBLE_EQ(rates[1].drops_ps, 2);
  EXPECT_FALSE(rates[2].known);  // counters went back: restarted, no rate
  EXPECT_FALSE(rates[3].known);  // new context

  SortByTraffic(rates);
  EXPECT_EQ(rates[0].context_id, 1u);
  EXPECT_EQ(rates[1].context_id, 2u);
  EXPECT_FALSE(rates[2].known);
  EXPECT_FALSE(rates[3].known);
}

TEST(StatsRatesTest, ReusedIdIsAnotherGuest) {
  auto rates = ComputeRates(At(0, {Ctx(1, "old", 0, 0)}), At(1000, {Ctx(1, "new", 500, 0)}));
  ASSERT_EQ(rates.size(), 1u);
  EXPECT_FALSE(rates[0].known);
}

TEST(StatsRatesTest, Formatting) {
  EXPECT_EQ(FormatBitRate(0), "0 bit/s");
  EXPECT_EQ(FormatBitRate(1500), "1.50 kbit/s");
  EXPECT_EQ(FormatBitRate(9.41e9), "9.41 Gbit/s");
  EXPECT_EQ(FormatBitRate(123.4e6), "123 Mbit/s");
  EXPECT_EQ(FormatCount(12), "12");
  EXPECT_EQ(FormatCount(45600), "45.6k");
}

}  // namespace
}  // namespace vnetctl
