// gRPC ContextService (callback API): a thin layer that calls the registry and maps its
// errors. Reads answer on gRPC's thread; changes, which wait for the registry's group
// commit, run on the write pool. A forced release waits for buffers in flight without a
// thread (daemon/service/forced_release.h) and then commits on the write pool.
#pragma once

#include "daemon/core/context_registry.h"
#include "daemon/ledger/buffer_ledger.h"
#include "daemon/service/write_pool.h"
#include "vnet/v1/context.grpc.pb.h"

namespace vnet {

class ContextServiceImpl final : public v1::ContextService::CallbackService {
 public:
  // `ledger` may be null (no buffer validation): releases are then never held back.
  // `writes` (not owned) runs the changes; null runs them on gRPC's thread.
  ContextServiceImpl(ContextRegistry* registry, ledger::BufferLedger* ledger, WritePool* writes)
      : registry_(registry), ledger_(ledger), writes_(writes) {}

  grpc::ServerUnaryReactor* AssignContext(grpc::CallbackServerContext* ctx,
                                          const v1::AssignContextRequest* req,
                                          v1::Context* resp) override;
  grpc::ServerUnaryReactor* ReleaseContext(grpc::CallbackServerContext* ctx,
                                           const v1::ReleaseContextRequest* req,
                                           v1::ReleaseContextResponse* resp) override;
  grpc::ServerUnaryReactor* GetContext(grpc::CallbackServerContext* ctx,
                                       const v1::GetContextRequest* req,
                                       v1::Context* resp) override;
  grpc::ServerUnaryReactor* ListContexts(grpc::CallbackServerContext* ctx,
                                         const v1::ListContextsRequest* req,
                                         v1::ListContextsResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateContext(grpc::CallbackServerContext* ctx,
                                          const v1::UpdateContextRequest* req,
                                          v1::Context* resp) override;

 private:
  grpc::Status Release(grpc::ServerContextBase* ctx, const v1::ReleaseContextRequest* req,
                       v1::ReleaseContextResponse* resp);
  // The registry's half of a release whose ledger half has begun (`target` non-null) or
  // that has no ledger half (null): persists it and, committed, drops the context's
  // regions; failed, reopens the context in the ledger.
  grpc::Status CommitRelease(grpc::ServerContextBase* ctx, const v1::ReleaseContextRequest* req,
                             const v1::Context* target, v1::ReleaseContextResponse* resp);
  // When the caller waits at most until `deadline`: how long a forced release drains.
  static absl::Time DrainDeadline(const v1::ReleaseContextRequest& req, absl::Time deadline);
  grpc::Status List(const v1::ListContextsRequest* req, v1::ListContextsResponse* resp);

  ContextRegistry* registry_;
  ledger::BufferLedger* ledger_;
  WritePool* writes_;
};

}  // namespace vnet
