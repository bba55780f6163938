#include "daemon/service/daemon_service.h"

#include "absl/time/clock.h"
#include "daemon/core/uplink_policy.h"
#include "daemon/service/grpc_status.h"
#include "google/protobuf/util/time_util.h"

namespace vnet {

DaemonServiceImpl::DaemonServiceImpl(const v1::DaemonConfig& config,
                                     std::vector<std::string> listen_addresses,
                                     ContextRegistry* registry, const Dataplane* dataplane)
    : config_(config),
      listen_addresses_(std::move(listen_addresses)),
      registry_(registry),
      dataplane_(dataplane),
      start_time_(absl::Now()) {}

grpc::Status DaemonServiceImpl::GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*,
                                          v1::Status* resp) {
  resp->set_version(VNET_VERSION);
  *resp->mutable_start_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(start_time_));
  resp->set_contexts_in_use(static_cast<uint32_t>(registry_->size()));
  resp->set_capacity(registry_->capacity());
  for (const std::string& addr : listen_addresses_) resp->add_listen_addresses(addr);
  resp->set_state_dir(config_.state_dir());
  resp->set_uplink(dataplane_->attaches() ? dataplane_->Uplink() : registry_->uplink());
  resp->set_fast_path(dataplane_->Describe());
  return grpc::Status::OK;
}

grpc::Status DaemonServiceImpl::SetUplink(grpc::ServerContext* ctx, const v1::SetUplinkRequest* req,
                                          v1::Status* resp) {
  // The allow-list comes first: an interface the config does not allow is never touched.
  if (auto s = CheckUplinkAllowed(config_, req->interface_name()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (auto s = registry_->SetUplink(req->interface_name(), LimitsOf(ctx)); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return GetStatus(ctx, nullptr, resp);
}

}  // namespace vnet
