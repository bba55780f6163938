// gRPC MonitorService: streams the fast path's drop events to watchers (`vnetctl monitor`).
#pragma once

#include "daemon/monitor/drop_event_hub.h"
#include "vnet/v1/monitor.grpc.pb.h"

namespace vnet {

class MonitorServiceImpl final : public v1::MonitorService::Service {
 public:
  // `hub` is not owned; null when vnetd runs without a fast path (FAILED_PRECONDITION).
  explicit MonitorServiceImpl(monitor::DropEventHub* hub) : hub_(hub) {}

  grpc::Status WatchDrops(grpc::ServerContext* ctx, const v1::WatchDropsRequest* req,
                          grpc::ServerWriter<v1::DropEvent>* writer) override;

 private:
  monitor::DropEventHub* hub_;
};

// The message form of one event; `lost_before` as the watcher's queue reported it.
v1::DropEvent ToDropEvent(const vnet_drop_event& ev, uint64_t lost_before);

}  // namespace vnet
