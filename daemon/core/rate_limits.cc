#include "daemon/core/rate_limits.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace vnet {
namespace {

vnet_bucket Bucket(uint64_t rate, uint64_t cap) {
  vnet_bucket b{};
  if (rate == 0) return b;
  b.rate = rate;
  b.cap = cap;
  b.credit = cap;
  b.fill_ns = cap / rate + 1;
  return b;
}

}  // namespace

absl::Status ValidateRateLimit(const v1::RateLimit& limit, const char* field) {
  const uint64_t bps = limit.bits_per_second();
  if (bps == 0 && limit.burst_bytes() != 0)
    return absl::InvalidArgumentError(absl::StrCat(field, ": burst_bytes needs bits_per_second"));
  if (bps != 0 && (bps < kMinRateBitsPerSecond || bps > kMaxRateBitsPerSecond)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".bits_per_second: ", bps, " is not 0 (unlimited) or in ",
                     kMinRateBitsPerSecond, "..", kMaxRateBitsPerSecond));
  }
  if (limit.burst_bytes() > kMaxBurstBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".burst_bytes: ", limit.burst_bytes(), " is above ", kMaxBurstBytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateStormControl(const v1::StormControl& storm) {
  const std::pair<const char*, uint64_t> kinds[] = {
      {"broadcast_pps", storm.broadcast_pps()},
      {"multicast_pps", storm.multicast_pps()},
      {"unknown_unicast_pps", storm.unknown_unicast_pps()}};
  for (const auto& [name, pps] : kinds) {
    if (pps > kMaxStormPps) {
      return absl::InvalidArgumentError(
          absl::StrCat("storm_control.", name, ": ", pps, " is above ", kMaxStormPps));
    }
  }
  return absl::OkStatus();
}

vnet_bucket ByteBucket(const v1::RateLimit& limit) {
  const uint64_t bps = limit.bits_per_second();
  if (bps == 0) return vnet_bucket{};
  uint64_t burst = limit.burst_bytes();
  if (burst == 0) burst = bps / 8 * kDefaultBurstMs / 1000;
  burst = std::clamp(burst, kMinBucketBytes, kMaxBurstBytes);
  return Bucket(bps, burst * 8 * VNET_LIMIT_NS);
}

vnet_bucket PacketBucket(uint64_t pps) {
  pps = std::min(pps, kMaxStormPps);
  return Bucket(pps, std::max<uint64_t>(1, pps / 10) * VNET_LIMIT_NS);
}

vnet_limit LimitsOf(const v1::Context& ctx) {
  vnet_limit l{};
  l.b[VNET_BUCKET_TX] = ByteBucket(ctx.rate_limit());
  l.b[VNET_BUCKET_RX] = ByteBucket(ctx.rx_rate_limit());
  l.b[VNET_BUCKET_BROADCAST] = PacketBucket(ctx.storm_control().broadcast_pps());
  l.b[VNET_BUCKET_MULTICAST] = PacketBucket(ctx.storm_control().multicast_pps());
  l.b[VNET_BUCKET_UNKNOWN_UNICAST] = PacketBucket(ctx.storm_control().unknown_unicast_pps());
  return l;
}

}  // namespace vnet
