#include "daemon/service/monitor_service.h"

#include <grpcpp/alarm.h>
#include <net/if.h>
#include <time.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "daemon/service/grpc_status.h"
#include "google/protobuf/util/time_util.h"

namespace vnet {
namespace {

using google::protobuf::util::TimeUtil;

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

namespace {

// One watcher's stream. Exactly one of these is pending at a time: a write, a sleep on
// alarm_, or nothing once finished; so Pump never runs twice at once. A sleep ends when the
// alarm fires (deadline, max_duration) or is cancelled by Wake (an event, the hub closing,
// the call cancelled): an idle watcher costs no wake-ups.
class DropWatch final : public grpc::ServerWriteReactor<v1::DropEvent> {
 public:
  DropWatch(grpc::CallbackServerContext* ctx, absl::Time end, uint64_t max_events,
            std::atomic<uint64_t>* looks)
      : ctx_(ctx), end_(end), max_events_(max_events), looks_(looks) {}

  // Subscribes (refusals end the stream with their status) and starts streaming.
  void Start(monitor::DropEventHub* hub, monitor::DropFilter filter) {
    auto sub = hub->Subscribe(std::move(filter), [this] { Wake(); });
    if (!sub.ok()) return Finish(ToGrpcStatus(sub.status()));
    sub_ = *std::move(sub);
    Pump();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {  // the client went away
      Finish(grpc::Status::OK);
      return;
    }
    ++sent_;
    Pump();
  }
  void OnCancel() override {
    {
      // Seen by a Pump that is about to sleep, whatever IsCancelled said a moment before.
      absl::MutexLock lock(&wake_mu_);
      cancelled_ = true;
    }
    Wake();
  }
  void OnDone() override {
    // Unsubscribe first: after that the hub can no longer call Wake on what is deleted.
    sub_.reset();
    delete this;
  }

 private:
  // Ends a sleep now; a no-op while Pump is busy (it looks at the queue before it sleeps).
  void Wake() {
    absl::MutexLock lock(&wake_mu_);
    if (!sleeping_) return;
    sleeping_ = false;
    alarm_->Cancel();  // its callback runs on gRPC's executor, never inside Cancel
  }

  void Pump() {
    looks_->fetch_add(1, std::memory_order_relaxed);
    if (max_events_ != 0 && sent_ >= max_events_) return Finish(grpc::Status::OK);
    if (ctx_->IsCancelled()) return Finish(grpc::Status::CANCELLED);
    const absl::Time now = absl::Now();
    if (now >= end_) return Finish(grpc::Status::OK);
    const CallLimits limits = LimitsOf(ctx_);
    if (now >= limits.deadline) {
      return Finish({grpc::StatusCode::DEADLINE_EXCEEDED, "the call's deadline passed"});
    }
    std::optional<monitor::Subscription::Item> item;
    {
      // Looking and going to sleep are one step for Wake: an event queued after the look
      // finds sleeping_ set and cancels the alarm.
      absl::MutexLock lock(&wake_mu_);
      item = sub_->Next(absl::ZeroDuration());
      if (!item && !sub_->closed() && !cancelled_) {
        // A new alarm each time: the one that called us is still in its callback.
        alarm_ = std::make_unique<grpc::Alarm>();
        alarm_->Set(absl::ToChronoTime(std::min(end_, limits.deadline)), [this](bool) {
          {
            absl::MutexLock lock(&wake_mu_);
            sleeping_ = false;
          }
          Pump();
        });
        sleeping_ = true;
        return;
      }
    }
    // Outside wake_mu_: once Finish is called, OnDone may delete this at any time.
    if (!item && sub_->closed()) {
      return Finish({grpc::StatusCode::UNAVAILABLE, "vnetd is stopping"});
    }
    if (!item) return Finish(grpc::Status::CANCELLED);
    event_ = ToDropEvent(item->event, item->lost_before);
    StartWrite(&event_);
  }

  grpc::CallbackServerContext* const ctx_;
  const absl::Time end_;
  const uint64_t max_events_;
  std::atomic<uint64_t>* const looks_;
  std::unique_ptr<monitor::Subscription> sub_;
  uint64_t sent_ = 0;
  v1::DropEvent event_;
  absl::Mutex wake_mu_;
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(wake_mu_);
  bool sleeping_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(wake_mu_) = false;
};

// A stream that ends before it starts.
class RefusedWatch final : public grpc::ServerWriteReactor<v1::DropEvent> {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::DropEvent>* MonitorServiceImpl::WatchDrops(
    grpc::CallbackServerContext* ctx, const v1::WatchDropsRequest* req) {
  if (hub_ == nullptr) {
    return new RefusedWatch({grpc::StatusCode::FAILED_PRECONDITION,
                             "vnetd runs without a fast path: there are no drop events"});
  }
  if (req->has_max_duration() &&
      (req->max_duration().seconds() < 0 || req->max_duration().nanos() < 0)) {
    return new RefusedWatch(
        {grpc::StatusCode::INVALID_ARGUMENT, "max_duration: must not be negative"});
  }
  auto filter = monitor::DropFilter::Parse(
      std::vector<uint32_t>(req->context_ids().begin(), req->context_ids().end()),
      std::vector<std::string>(req->reasons().begin(), req->reasons().end()));
  if (!filter.ok()) return new RefusedWatch(ToGrpcStatus(filter.status()));
  absl::Time end = absl::InfiniteFuture();
  if (req->has_max_duration()) {
    const int64_t ns = TimeUtil::DurationToNanoseconds(req->max_duration());
    if (ns > 0) end = absl::Now() + absl::Nanoseconds(ns);
  }
  auto* watch = new DropWatch(ctx, end, req->max_events(), &looks_);
  watch->Start(hub_, *std::move(filter));
  return watch;
}

}  // namespace vnet
