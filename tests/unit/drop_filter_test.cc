// Drop-event filters: reason names validated, contexts and reasons matched.
#include "daemon/monitor/drop_filter.h"

#include <gtest/gtest.h>

namespace vnet::monitor {
namespace {

vnet_drop_event Event(uint32_t ctx, uint32_t reason) {
  vnet_drop_event ev{};
  ev.ctx_id = ctx;
  ev.reason = static_cast<uint8_t>(reason);
  return ev;
}

TEST(DropFilter, EmptyMatchesEverything) {
  auto f = DropFilter::Parse({}, {});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Matches(Event(0, VNET_DROP_UNKNOWN_UNICAST)));
  EXPECT_TRUE(f->Matches(Event(7, VNET_DROP_SPOOF_MAC)));
}

TEST(DropFilter, ContextsAndReasonsBothMustMatch) {
  auto f = DropFilter::Parse({2, 3}, {"spoof_mac", "spoof_ipv4"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Matches(Event(2, VNET_DROP_SPOOF_MAC)));
  EXPECT_TRUE(f->Matches(Event(3, VNET_DROP_SPOOF_IPV4)));
  EXPECT_FALSE(f->Matches(Event(4, VNET_DROP_SPOOF_MAC)));
  EXPECT_FALSE(f->Matches(Event(2, VNET_DROP_MTU)));
}

TEST(DropFilter, ContextZeroMeansUnattributed) {
  auto f = DropFilter::Parse({0}, {});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Matches(Event(0, VNET_DROP_UNKNOWN_UNICAST)));
  EXPECT_FALSE(f->Matches(Event(1, VNET_DROP_UNKNOWN_UNICAST)));
}

TEST(DropFilter, UnknownReasonIsInvalidArgumentNamingItAndTheValidOnes) {
  auto f = DropFilter::Parse({}, {"spoof_mac", "spoofed"});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(f.status().message().find("'spoofed' is not a drop reason"), std::string::npos);
  EXPECT_NE(f.status().message().find("local_source_mac"), std::string::npos);
}

TEST(DropFilter, NoneIsNoReasonAndLongValuesAreCut) {
  EXPECT_FALSE(DropReasonByName("none").ok());
  EXPECT_FALSE(DropReasonByName("").ok());
  auto long_name = DropReasonByName(std::string(1000, 'x'));
  ASSERT_FALSE(long_name.ok());
  EXPECT_LT(long_name.status().message().size(), 600u);
}

TEST(DropFilter, EveryReasonNameRoundTrips) {
  for (unsigned r = 1; r < VNET_DROP_MAX; ++r) {
    auto parsed = DropReasonByName(vnet_drop_reason_name(r));
    ASSERT_TRUE(parsed.ok()) << r;
    EXPECT_EQ(*parsed, r);
  }
}

TEST(DropFilter, BoundsTheLists) {
  std::vector<uint32_t> many(kMaxFilterContexts + 1, 1);
  EXPECT_EQ(DropFilter::Parse(many, {}).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> reasons(kMaxFilterReasons + 1, "mtu");
  EXPECT_EQ(DropFilter::Parse({}, reasons).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vnet::monitor
