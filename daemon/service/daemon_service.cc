#include "daemon/service/daemon_service.h"

#include "absl/time/clock.h"
#include "daemon/core/uplink_policy.h"
#include "daemon/service/grpc_status.h"
#include "daemon/service/unary_calls.h"
#include "google/protobuf/util/time_util.h"

namespace vnet {

DaemonServiceImpl::DaemonServiceImpl(const v1::DaemonConfig& config,
                                     std::vector<std::string> listen_addresses,
                                     ContextRegistry* registry, const Dataplane* dataplane,
                                     WritePool* writes)
    : config_(config),
      listen_addresses_(std::move(listen_addresses)),
      registry_(registry),
      dataplane_(dataplane),
      writes_(writes),
      start_time_(absl::Now()) {}

grpc::ServerUnaryReactor* DaemonServiceImpl::GetStatus(grpc::CallbackServerContext* ctx,
                                                       const v1::GetStatusRequest*,
                                                       v1::Status* resp) {
  FillStatus(resp);
  return AnswerNow(ctx, grpc::Status::OK);
}

void DaemonServiceImpl::FillStatus(v1::Status* resp) const {
  resp->set_version(VNET_VERSION);
  *resp->mutable_start_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(start_time_));
  resp->set_contexts_in_use(static_cast<uint32_t>(registry_->size()));
  resp->set_capacity(registry_->capacity());
  for (const std::string& addr : listen_addresses_) resp->add_listen_addresses(addr);
  resp->set_state_dir(config_.state_dir());
  resp->set_uplink(dataplane_->attaches() ? dataplane_->Uplink() : registry_->uplink());
  resp->set_fast_path(dataplane_->Describe());
}

grpc::ServerUnaryReactor* DaemonServiceImpl::SetUplink(grpc::CallbackServerContext* ctx,
                                                       const v1::SetUplinkRequest* req,
                                                       v1::Status* resp) {
  // The allow-list comes first: an interface the config does not allow is never touched.
  if (auto s = CheckUplinkAllowed(config_, req->interface_name()); !s.ok()) {
    return AnswerNow(ctx, ToGrpcStatus(s));
  }
  return AnswerFromPool(ctx, writes_, [this, ctx, req, resp] {
    if (auto s = registry_->SetUplink(req->interface_name(), LimitsOf(ctx)); !s.ok()) {
      return ToGrpcStatus(s);
    }
    FillStatus(resp);
    return grpc::Status::OK;
  });
}

}  // namespace vnet
