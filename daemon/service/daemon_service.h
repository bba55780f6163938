// gRPC DaemonService (callback API): what `vnetctl status` shows, answered on gRPC's thread;
// SetUplink, which persists and attaches, runs on the write pool.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "daemon/core/context_registry.h"
#include "daemon/core/dataplane.h"
#include "daemon/service/write_pool.h"
#include "vnet/v1/daemon.grpc.pb.h"

namespace vnet {

class DaemonServiceImpl final : public v1::DaemonService::CallbackService {
 public:
  // `writes` (not owned) runs SetUplink; null runs it on gRPC's thread.
  DaemonServiceImpl(const v1::DaemonConfig& config, std::vector<std::string> listen_addresses,
                    ContextRegistry* registry, const Dataplane* dataplane, WritePool* writes);

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const v1::GetStatusRequest* req, v1::Status* resp) override;
  grpc::ServerUnaryReactor* SetUplink(grpc::CallbackServerContext* ctx,
                                      const v1::SetUplinkRequest* req, v1::Status* resp) override;

 private:
  void FillStatus(v1::Status* resp) const;

  v1::DaemonConfig config_;
  std::vector<std::string> listen_addresses_;
  ContextRegistry* registry_;
  const Dataplane* dataplane_;
  WritePool* writes_;
  absl::Time start_time_;
};

}  // namespace vnet
