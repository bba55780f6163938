// gRPC ContextService: a thin layer that calls the registry and maps its errors.
#pragma once

#include "daemon/core/context_registry.h"
#include "daemon/ledger/buffer_ledger.h"
#include "vnet/v1/context.grpc.pb.h"

namespace vnet {

class ContextServiceImpl final : public v1::ContextService::Service {
 public:
  // `ledger` may be null (no buffer validation): releases are then never held back.
  ContextServiceImpl(ContextRegistry* registry, ledger::BufferLedger* ledger)
      : registry_(registry), ledger_(ledger) {}

  grpc::Status AssignContext(grpc::ServerContext* ctx, const v1::AssignContextRequest* req,
                             v1::Context* resp) override;
  grpc::Status ReleaseContext(grpc::ServerContext* ctx, const v1::ReleaseContextRequest* req,
                              v1::ReleaseContextResponse* resp) override;
  grpc::Status GetContext(grpc::ServerContext* ctx, const v1::GetContextRequest* req,
                          v1::Context* resp) override;
  grpc::Status ListContexts(grpc::ServerContext* ctx, const v1::ListContextsRequest* req,
                            v1::ListContextsResponse* resp) override;
  grpc::Status UpdateContext(grpc::ServerContext* ctx, const v1::UpdateContextRequest* req,
                             v1::Context* resp) override;

 private:
  ContextRegistry* registry_;
  ledger::BufferLedger* ledger_;
};

}  // namespace vnet
