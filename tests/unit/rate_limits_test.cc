// Rate limits and storm control at the API: bounds (INVALID_ARGUMENT naming the field, and
// nothing changed), and the buckets a context's limits become in the fast path.
#include "daemon/core/rate_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/time.h"
#include "daemon/core/context_pool.h"
#include "daemon/core/context_validation.h"
#include "tests/unit/valid_context.h"

namespace vnet {
namespace {

using ::testing::HasSubstr;

template <typename Mutate>
absl::Status After(Mutate mutate) {
  v1::Context c = testing::ValidContext();
  mutate(c);
  return NormalizeAndValidate(c);
}

TEST(RateLimitValidationTest, ZeroIsUnlimitedAndSaneValuesPass) {
  EXPECT_TRUE(After([](v1::Context&) {}).ok());
  EXPECT_TRUE(After([](v1::Context& c) {
                c.mutable_rate_limit()->set_bits_per_second(10'000'000);
                c.mutable_rate_limit()->set_burst_bytes(25'000);
                c.mutable_rx_rate_limit()->set_bits_per_second(kMaxRateBitsPerSecond);
                c.mutable_storm_control()->set_broadcast_pps(100);
                c.mutable_storm_control()->set_unknown_unicast_pps(kMaxStormPps);
              }).ok());
}

TEST(RateLimitValidationTest, OutOfBoundsIsInvalidArgumentNamingTheField) {
  struct Case {
    void (*mutate)(v1::Context&);
    const char* field;
  };
  const Case cases[] = {
      {[](v1::Context& c) { c.mutable_rate_limit()->set_bits_per_second(999); },
       "rate_limit.bits_per_second"},
      {[](v1::Context& c) {
         c.mutable_rate_limit()->set_bits_per_second(kMaxRateBitsPerSecond + 1);
       },
       "rate_limit.bits_per_second"},
      {[](v1::Context& c) {
         c.mutable_rate_limit()->set_bits_per_second(1'000'000);
         c.mutable_rate_limit()->set_burst_bytes(kMaxBurstBytes + 1);
       },
       "rate_limit.burst_bytes"},
      {[](v1::Context& c) { c.mutable_rate_limit()->set_burst_bytes(10); },
       "rate_limit: burst_bytes needs bits_per_second"},
      {[](v1::Context& c) { c.mutable_rx_rate_limit()->set_bits_per_second(1); },
       "rx_rate_limit.bits_per_second"},
      {[](v1::Context& c) { c.mutable_rx_rate_limit()->set_burst_bytes(1); },
       "rx_rate_limit: burst_bytes needs bits_per_second"},
      {[](v1::Context& c) { c.mutable_storm_control()->set_broadcast_pps(kMaxStormPps + 1); },
       "storm_control.broadcast_pps"},
      {[](v1::Context& c) { c.mutable_storm_control()->set_multicast_pps(~0ull); },
       "storm_control.multicast_pps"},
      {[](v1::Context& c) { c.mutable_storm_control()->set_unknown_unicast_pps(kMaxStormPps + 1); },
       "storm_control.unknown_unicast_pps"},
  };
  for (const Case& k : cases) {
    absl::Status s = After(k.mutate);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << k.field;
    EXPECT_THAT(std::string(s.message()), HasSubstr(k.field));
  }
}

TEST(RateLimitValidationTest, RefusedUpdateChangesNothing) {
  ContextPool pool(4);
  v1::Context c = testing::ValidContext();
  c.mutable_rate_limit()->set_bits_per_second(5'000'000);
  ASSERT_TRUE(pool.Assign(c, absl::UnixEpoch()).ok());
  v1::ContextRef ref;
  ref.set_id(1);

  v1::Context bad;
  bad.mutable_rx_rate_limit()->set_bits_per_second(10);
  bad.mutable_storm_control()->set_broadcast_pps(kMaxStormPps + 1);
  google::protobuf::FieldMask mask;
  mask.add_paths("rx_rate_limit");
  auto r = pool.Update(ref, bad, mask);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("rx_rate_limit"));
  google::protobuf::FieldMask storm;
  storm.add_paths("storm_control.broadcast_pps");
  EXPECT_EQ(pool.Update(ref, bad, storm).status().code(), absl::StatusCode::kInvalidArgument);
  auto now = pool.Get(ref);
  ASSERT_TRUE(now.ok());
  EXPECT_FALSE(now->has_rx_rate_limit());
  EXPECT_FALSE(now->has_storm_control());
  EXPECT_EQ(now->rate_limit().bits_per_second(), 5'000'000u);

  // One storm kind by its path leaves the others alone.
  v1::Context good;
  good.mutable_storm_control()->set_multicast_pps(50);
  google::protobuf::FieldMask mcast;
  mcast.add_paths("storm_control.multicast_pps");
  ASSERT_TRUE(pool.Update(ref, good, mcast).ok());
  good.mutable_storm_control()->set_multicast_pps(0);
  good.mutable_storm_control()->set_broadcast_pps(7);
  ASSERT_TRUE(pool.Update(ref, good, storm).ok());
  EXPECT_EQ(pool.Get(ref)->storm_control().multicast_pps(), 50u);
  EXPECT_EQ(pool.Get(ref)->storm_control().broadcast_pps(), 7u);
}

TEST(RateLimitBucketTest, XenRateMapsOntoRateAndBurst) {
  // rate=10Mb/s@20ms: 25000 bytes per 20 ms -> 10 Mbit/s, burst 25000 raised to 128 KiB.
  v1::RateLimit xen;
  xen.set_bits_per_second(10'000'000);
  xen.set_burst_bytes(25'000);
  vnet_bucket b = ByteBucket(xen);
  EXPECT_EQ(b.rate, 10'000'000u);
  EXPECT_EQ(b.cap, kMinBucketBytes * 8 * VNET_LIMIT_NS);
  EXPECT_EQ(static_cast<uint64_t>(b.credit), b.cap);  // starts full
  EXPECT_EQ(b.fill_ns, b.cap / b.rate + 1);

  // A burst above the floor is kept; 0 means 250 ms of the rate (here above the floor).
  xen.set_burst_bytes(1'000'000);
  EXPECT_EQ(ByteBucket(xen).cap, 1'000'000ull * 8 * VNET_LIMIT_NS);
  v1::RateLimit fast;
  fast.set_bits_per_second(1'000'000'000);
  EXPECT_EQ(ByteBucket(fast).cap, 1'000'000'000ull / 8 * 250 / 1000 * 8 * VNET_LIMIT_NS);
  EXPECT_EQ(ByteBucket(v1::RateLimit()).rate, 0u);  // unlimited
}

TEST(RateLimitBucketTest, NoOverflowAtTheBounds) {
  // The fast path adds at most elapsed x rate < fill_ns x rate <= cap + rate to a credit of
  // at most cap, and takes at most one frame below zero (the overdraft of a byte bucket):
  // that must fit in a signed 64-bit credit at the largest rate and burst accepted, for a
  // frame far larger than any skb (BIG TCP's super-packets stay under 512 KiB).
  v1::RateLimit big;
  big.set_bits_per_second(kMaxRateBitsPerSecond);
  big.set_burst_bytes(kMaxBurstBytes);
  const unsigned __int128 max_credit = ~0ull >> 1;
  const unsigned __int128 frame = static_cast<unsigned __int128>(16u << 20) * 8 * VNET_LIMIT_NS;
  for (const vnet_bucket& b : {ByteBucket(big), PacketBucket(kMaxStormPps)}) {
    const unsigned __int128 worst = static_cast<unsigned __int128>(b.cap) * 2 + b.rate;
    EXPECT_LT(worst, max_credit);
    EXPECT_LT(frame, max_credit);
    EXPECT_LE(static_cast<unsigned __int128>(b.fill_ns) * b.rate,
              static_cast<unsigned __int128>(b.cap) + b.rate);
  }
  big.set_bits_per_second(kMinRateBitsPerSecond);
  vnet_bucket slow = ByteBucket(big);
  EXPECT_LE(static_cast<unsigned __int128>(slow.fill_ns) * slow.rate,
            static_cast<unsigned __int128>(slow.cap) + slow.rate);
}

TEST(RateLimitBucketTest, StormBucketsHoldATenthOfASecond) {
  EXPECT_EQ(PacketBucket(0).rate, 0u);
  EXPECT_EQ(PacketBucket(5).cap, 1 * VNET_LIMIT_NS);  // at least one packet
  EXPECT_EQ(PacketBucket(1000).cap, 100 * VNET_LIMIT_NS);
  v1::Context c;
  c.mutable_storm_control()->set_multicast_pps(1000);
  c.mutable_rx_rate_limit()->set_bits_per_second(1'000'000);
  vnet_limit l = LimitsOf(c);
  EXPECT_EQ(l.b[VNET_BUCKET_TX].rate, 0u);
  EXPECT_EQ(l.b[VNET_BUCKET_RX].rate, 1'000'000u);
  EXPECT_EQ(l.b[VNET_BUCKET_MULTICAST].rate, 1000u);
  EXPECT_EQ(l.b[VNET_BUCKET_BROADCAST].rate, 0u);
}

}  // namespace
}  // namespace vnet
