// gRPC DaemonService: what `vnetctl status` shows.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "daemon/core/context_registry.h"
#include "daemon/core/dataplane.h"
#include "vnet/v1/daemon.grpc.pb.h"

namespace vnet {

class DaemonServiceImpl final : public v1::DaemonService::Service {
 public:
  DaemonServiceImpl(const v1::DaemonConfig& config, std::vector<std::string> listen_addresses,
                    ContextRegistry* registry, const Dataplane* dataplane);

  grpc::Status GetStatus(grpc::ServerContext* ctx, const v1::GetStatusRequest* req,
                         v1::Status* resp) override;
  grpc::Status SetUplink(grpc::ServerContext* ctx, const v1::SetUplinkRequest* req,
                         v1::Status* resp) override;

 private:
  v1::DaemonConfig config_;
  std::vector<std::string> listen_addresses_;
  ContextRegistry* registry_;
  const Dataplane* dataplane_;
  absl::Time start_time_;
};

}  // namespace vnet
