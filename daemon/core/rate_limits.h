// Rate limits and storm control: the API's bounds and how a context's limits become the
// fast path's token buckets (struct vnet_limit in vnet/abi.h). Pure arithmetic.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "vnet/abi.h"
#include "vnet/v1/context.pb.h"

namespace vnet {

inline constexpr uint64_t kMinRateBitsPerSecond = 1000;
inline constexpr uint64_t kMaxRateBitsPerSecond = 400'000'000'000;  // 400 Gbit/s
inline constexpr uint64_t kMaxBurstBytes = 256ull << 20;
// Xen's netback lets at least 128 KiB through per credit interval, so that one full
// super-packet always fits; so do we.
inline constexpr uint64_t kMinBucketBytes = 128ull << 10;
// burst_bytes 0: this much of the rate. A policer that drops when the bucket runs dry
// costs one TCP stream its window's tail, and Linux then waits for a retransmission
// timeout (at least 200 ms) with nothing in flight: the stream gets about burst / 200 ms of
// the rate. 50 ms (Xen's credit interval) gave one stream 25% of the limit; 250 ms covers
// the timeout and gave 93-97% (docs/benchmarks.md, "Rate limits"). Long-run rates are the
// same either way; only an idle guest's burst is larger.
inline constexpr uint64_t kDefaultBurstMs = 250;
inline constexpr uint64_t kMaxStormPps = 100'000'000;

// INVALID_ARGUMENT naming the field (`field`.bits_per_second, ...) when out of bounds.
absl::Status ValidateRateLimit(const v1::RateLimit& limit, const char* field);
absl::Status ValidateStormControl(const v1::StormControl& storm);

// The bucket of a byte limit (rate in bits, cap in bit-nanoseconds); zero when unlimited.
vnet_bucket ByteBucket(const v1::RateLimit& limit);
// The bucket of a packets-per-second limit; zero when unlimited.
vnet_bucket PacketBucket(uint64_t pps);
// Every bucket of `ctx`, full.
vnet_limit LimitsOf(const v1::Context& ctx);

}  // namespace vnet
