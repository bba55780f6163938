// gRPC BufferService: a thin layer over the buffer ledger. It refuses contexts the registry
// does not know, converts messages, and maps the ledger's errors to gRPC status codes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "daemon/core/context_registry.h"
#include "daemon/ledger/buffer_ledger.h"
#include "vnet/v1/buffer.grpc.pb.h"

namespace vnet {

// The domain of the context with this id, or nullopt when no such context is assigned.
// The domain names the guest physical address space its buffer regions live in.
using ContextDomain = std::function<std::optional<uint32_t>(uint32_t context_id)>;

// The usual ContextDomain: asks the registry.
ContextDomain ContextsIn(const ContextRegistry* registry);

// Makes every context release drop the context's regions: the context is already gone
// from the registry, so this is a forced release that waits up to `grace` for descriptors
// in flight to complete and logs what it abandoned.
void ReleaseBuffersWithContexts(ContextRegistry* registry, ledger::BufferLedger* ledger,
                                absl::Duration grace);

class BufferServiceImpl final : public v1::BufferService::Service {
 public:
  // Most descriptors (or cookies) one request or stream batch may carry.
  static constexpr int kMaxBatch = 65536;

  BufferServiceImpl(ledger::BufferLedger* ledger, ContextDomain context_domain)
      : ledger_(ledger), context_domain_(std::move(context_domain)) {}

  grpc::Status RegisterRegion(grpc::ServerContext* ctx, const v1::RegisterRegionRequest* req,
                              v1::Region* resp) override;
  grpc::Status UnregisterRegion(grpc::ServerContext* ctx, const v1::UnregisterRegionRequest* req,
                                v1::UnregisterRegionResponse* resp) override;
  grpc::Status ListRegions(grpc::ServerContext* ctx, const v1::ListRegionsRequest* req,
                           v1::ListRegionsResponse* resp) override;
  grpc::Status ValidateDescriptors(grpc::ServerContext* ctx,
                                   const v1::ValidateDescriptorsRequest* req,
                                   v1::ValidateDescriptorsResponse* resp) override;
  grpc::Status CompleteDescriptors(grpc::ServerContext* ctx,
                                   const v1::CompleteDescriptorsRequest* req,
                                   v1::CompleteDescriptorsResponse* resp) override;
  grpc::Status StreamDescriptors(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::DescriptorBatchResult, v1::DescriptorBatch>* stream) override;

 private:
  absl::Status CheckContext(uint32_t context_id) const;
  // The context's domain (its address space), or INVALID_ARGUMENT / NOT_FOUND.
  absl::StatusOr<uint32_t> DomainOf(uint32_t context_id) const;
  // Shared by the unary calls and the stream; `scratch` is reused between batches.
  absl::Status Validate(uint32_t context_id,
                        const google::protobuf::RepeatedPtrField<v1::Descriptor>& descriptors,
                        std::vector<ledger::Descriptor>* scratch,
                        std::vector<ledger::DescriptorResult>* results,
                        v1::ValidateDescriptorsResponse* resp);
  absl::Status Complete(uint32_t context_id,
                        const google::protobuf::RepeatedField<uint64_t>& cookies,
                        std::vector<uint64_t>* unknown, uint32_t* completed);

  ledger::BufferLedger* ledger_;
  ContextDomain context_domain_;
};

}  // namespace vnet
