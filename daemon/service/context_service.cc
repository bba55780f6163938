#include "daemon/service/context_service.h"

#include "absl/time/clock.h"
#include "daemon/service/grpc_status.h"

namespace vnet {
namespace {

template <typename T>
grpc::Status Answer(absl::StatusOr<T> result, T* resp) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *resp = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ContextServiceImpl::AssignContext(grpc::ServerContext*,
                                               const v1::AssignContextRequest* req,
                                               v1::Context* resp) {
  if (!req->has_context()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "context: required"};
  }
  return Answer(registry_->Assign(req->context()), resp);
}

grpc::Status ContextServiceImpl::ReleaseContext(grpc::ServerContext*,
                                                const v1::ReleaseContextRequest* req,
                                                v1::ReleaseContextResponse* resp) {
  // CDNA's rule: no buffer is given back while a descriptor on it is in flight. The ledger
  // drops the context's regions first, so nothing new can be validated against them.
  if (auto target = registry_->Get(req->ref()); target.ok() && ledger_ != nullptr) {
    if (req->has_force_wait()) {
      const absl::Duration wait =
          absl::Seconds(req->force_wait().seconds()) + absl::Nanoseconds(req->force_wait().nanos());
      const ledger::ReleaseReport report =
          ledger_->ForceReleaseContext(target->id(), absl::Now() + wait);
      resp->set_abandoned_descriptors(report.abandoned);
    } else if (auto report = ledger_->ReleaseContext(target->id()); !report.ok()) {
      return ToGrpcStatus(report.status());
    }
  }
  bool found = false;
  auto released = registry_->Release(req->ref(), req->allow_missing(), &found);
  if (!released.ok()) return ToGrpcStatus(released.status());
  if (found) *resp->mutable_context() = std::move(*released);
  return grpc::Status::OK;
}

grpc::Status ContextServiceImpl::GetContext(grpc::ServerContext*, const v1::GetContextRequest* req,
                                            v1::Context* resp) {
  return Answer(registry_->Get(req->ref()), resp);
}

grpc::Status ContextServiceImpl::ListContexts(grpc::ServerContext*, const v1::ListContextsRequest*,
                                              v1::ListContextsResponse* resp) {
  for (v1::Context& ctx : registry_->List()) *resp->add_contexts() = std::move(ctx);
  resp->set_capacity(registry_->capacity());
  return grpc::Status::OK;
}

grpc::Status ContextServiceImpl::UpdateContext(grpc::ServerContext*,
                                               const v1::UpdateContextRequest* req,
                                               v1::Context* resp) {
  return Answer(registry_->Update(req->ref(), req->context(), req->update_mask()), resp);
}

}  // namespace vnet
