#include "daemon/service/monitor_service.h"

#include <net/if.h>
#include <time.h>

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "daemon/service/grpc_status.h"
#include "google/protobuf/util/time_util.h"

namespace vnet {
namespace {

using google::protobuf::util::TimeUtil;

// How long a stream waits for an event before it looks at its deadline, cancellation and
// duration again.
constexpr absl::Duration kWakeInterval = absl::Milliseconds(200);

// The fast path stamps events with CLOCK_MONOTONIC; the API speaks wall-clock time.
absl::Time WallTimeOf(uint64_t monotonic_ns) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const int64_t mono_now = static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  return absl::Now() - absl::Nanoseconds(mono_now - static_cast<int64_t>(monotonic_ns));
}

}  // namespace

v1::DropEvent ToDropEvent(const vnet_drop_event& ev, uint64_t lost_before) {
  v1::DropEvent out;
  *out.mutable_time() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(WallTimeOf(ev.timestamp_ns)));
  out.set_context_id(ev.ctx_id);
  out.set_direction(ev.direction == VNET_DIR_RX ? "rx" : "tx");
  out.set_reason(vnet_drop_reason_name(ev.reason));
  out.set_ifindex(ev.ifindex);
  char name[IF_NAMESIZE] = {};
  if (ev.ifindex != 0 && if_indextoname(ev.ifindex, name) != nullptr) out.set_interface_name(name);
  out.set_frame_length(ev.frame_len);
  const size_t n = ev.captured_len < sizeof(ev.data) ? ev.captured_len : sizeof(ev.data);
  out.set_frame_head(reinterpret_cast<const char*>(ev.data), n);
  out.set_lost_before(lost_before);
  return out;
}

grpc::Status MonitorServiceImpl::WatchDrops(grpc::ServerContext* ctx,
                                            const v1::WatchDropsRequest* req,
                                            grpc::ServerWriter<v1::DropEvent>* writer) {
  if (hub_ == nullptr) {
    return {grpc::StatusCode::FAILED_PRECONDITION,
            "vnetd runs without a fast path: there are no drop events"};
  }
  if (req->has_max_duration() &&
      (req->max_duration().seconds() < 0 || req->max_duration().nanos() < 0)) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "max_duration: must not be negative"};
  }
  auto filter = monitor::DropFilter::Parse(
      std::vector<uint32_t>(req->context_ids().begin(), req->context_ids().end()),
      std::vector<std::string>(req->reasons().begin(), req->reasons().end()));
  if (!filter.ok()) return ToGrpcStatus(filter.status());
  auto sub = hub_->Subscribe(*std::move(filter));
  if (!sub.ok()) return ToGrpcStatus(sub.status());

  const CallLimits limits = LimitsOf(ctx);
  absl::Time end = absl::InfiniteFuture();
  if (req->has_max_duration()) {
    const int64_t ns = TimeUtil::DurationToNanoseconds(req->max_duration());
    if (ns > 0) end = absl::Now() + absl::Nanoseconds(ns);
  }
  uint64_t sent = 0;
  while (req->max_events() == 0 || sent < req->max_events()) {
    if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
    const absl::Time now = absl::Now();
    if (now >= end) break;
    if (now >= limits.deadline) {
      return {grpc::StatusCode::DEADLINE_EXCEEDED, "the call's deadline passed"};
    }
    auto item = (*sub)->Next(std::min({kWakeInterval, end - now, limits.deadline - now}));
    if ((*sub)->closed()) return {grpc::StatusCode::UNAVAILABLE, "vnetd is stopping"};
    if (!item) continue;
    if (!writer->Write(ToDropEvent(item->event, item->lost_before))) break;  // client gone
    ++sent;
  }
  return grpc::Status::OK;
}

}  // namespace vnet
