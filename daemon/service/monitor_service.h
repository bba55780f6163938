// gRPC MonitorService (callback API): streams the fast path's drop events to watchers
// (`vnetctl monitor`). A watcher holds no thread: its stream writes what its queue has, then
// looks again after a short timer (kPollInterval).
#pragma once

#include "absl/time/time.h"
#include "daemon/monitor/drop_event_hub.h"
#include "vnet/v1/monitor.grpc.pb.h"

namespace vnet {

class MonitorServiceImpl final : public v1::MonitorService::CallbackService {
 public:
  // `hub` is not owned; null when vnetd runs without a fast path (FAILED_PRECONDITION).
  explicit MonitorServiceImpl(monitor::DropEventHub* hub) : hub_(hub) {}

  // How long an idle watcher waits before it looks at its queue, deadline, cancellation
  // and duration again: the most an event waits in the queue before it is sent.
  static constexpr absl::Duration kPollInterval = absl::Milliseconds(20);

  grpc::ServerWriteReactor<v1::DropEvent>* WatchDrops(grpc::CallbackServerContext* ctx,
                                                      const v1::WatchDropsRequest* req) override;

 private:
  monitor::DropEventHub* hub_;
};

// The message form of one event; `lost_before` as the watcher's queue reported it.
v1::DropEvent ToDropEvent(const vnet_drop_event& ev, uint64_t lost_before);

}  // namespace vnet
