// gRPC MonitorService (callback API): streams the fast path's drop events to watchers
// (`vnetctl monitor`). A watcher holds no thread and no periodic timer: the hub wakes its
// stream when an event is queued, and one timer stands for its deadline or max_duration.
#pragma once

#include <atomic>
#include <cstdint>

#include "daemon/monitor/drop_event_hub.h"
#include "vnet/v1/monitor.grpc.pb.h"

namespace vnet {

class MonitorServiceImpl final : public v1::MonitorService::CallbackService {
 public:
  // `hub` is not owned; null when vnetd runs without a fast path (FAILED_PRECONDITION).
  explicit MonitorServiceImpl(monitor::DropEventHub* hub) : hub_(hub) {}

  grpc::ServerWriteReactor<v1::DropEvent>* WatchDrops(grpc::CallbackServerContext* ctx,
                                                      const v1::WatchDropsRequest* req) override;

  // How often a watcher has looked at its queue, all watchers together: once per event
  // written plus once per wake-up (event, cancellation, end). An idle watcher adds nothing.
  uint64_t looks() const { return looks_.load(std::memory_order_relaxed); }

 private:
  monitor::DropEventHub* hub_;
  std::atomic<uint64_t> looks_{0};
};

// The message form of one event; `lost_before` as the watcher's queue reported it.
v1::DropEvent ToDropEvent(const vnet_drop_event& ev, uint64_t lost_before);

}  // namespace vnet
