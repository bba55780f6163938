// gRPC BufferService (callback API): a thin layer over the buffer ledger. It refuses contexts
// the registry does not know, converts messages, and maps the ledger's errors to gRPC status
// codes. The data path (Validate, Complete, the descriptor stream) and ListRegions answer on
// gRPC's thread; region changes, which write the ledger's files, run on the write pool.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "daemon/core/context_registry.h"
#include "daemon/ledger/buffer_ledger.h"
#include "daemon/service/write_pool.h"
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

// The callback service with StreamDescriptors raw (its batches arrive as bytes): gRPC 1.51
// tells a typed bidi reactor "no message" both when the client half-closes and when a batch
// does not parse, so a malformed batch would end the stream with OK. Raw, vnetd parses
// each batch itself and answers a bad one INVALID_ARGUMENT.
using BufferServiceBase = v1::BufferService::WithCallbackMethod_RegisterRegion<
    v1::BufferService::WithCallbackMethod_UnregisterRegion<
        v1::BufferService::WithCallbackMethod_ListRegions<
            v1::BufferService::WithCallbackMethod_ValidateDescriptors<
                v1::BufferService::WithCallbackMethod_CompleteDescriptors<
                    v1::BufferService::WithRawCallbackMethod_StreamDescriptors<
                        v1::BufferService::Service>>>>>>;

class BufferServiceImpl final : public BufferServiceBase {
 public:
  // Most descriptors (or cookies) one request or stream batch may carry.
  static constexpr int kMaxBatch = 65536;

  // `writes` (not owned) runs region changes; null runs them on gRPC's thread.
  BufferServiceImpl(ledger::BufferLedger* ledger, ContextDomain context_domain,
                    WritePool* writes = nullptr)
      : ledger_(ledger), context_domain_(std::move(context_domain)), writes_(writes) {}

  grpc::ServerUnaryReactor* RegisterRegion(grpc::CallbackServerContext* ctx,
                                           const v1::RegisterRegionRequest* req,
                                           v1::Region* resp) override;
  grpc::ServerUnaryReactor* UnregisterRegion(grpc::CallbackServerContext* ctx,
                                             const v1::UnregisterRegionRequest* req,
                                             v1::UnregisterRegionResponse* resp) override;
  grpc::ServerUnaryReactor* ListRegions(grpc::CallbackServerContext* ctx,
                                        const v1::ListRegionsRequest* req,
                                        v1::ListRegionsResponse* resp) override;
  grpc::ServerUnaryReactor* ValidateDescriptors(grpc::CallbackServerContext* ctx,
                                                const v1::ValidateDescriptorsRequest* req,
                                                v1::ValidateDescriptorsResponse* resp) override;
  grpc::ServerUnaryReactor* CompleteDescriptors(grpc::CallbackServerContext* ctx,
                                                const v1::CompleteDescriptorsRequest* req,
                                                v1::CompleteDescriptorsResponse* resp) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamDescriptors(
      grpc::CallbackServerContext* ctx) override;

  // RegisterRegion's work without gRPC, on the calling thread (tests call it directly).
  grpc::Status Register(const v1::RegisterRegionRequest& req, const CallLimits& limits,
                        v1::Region* resp);

 private:
  class DescriptorStream;

  grpc::Status List(const v1::ListRegionsRequest* req, v1::ListRegionsResponse* resp) const;
  // One stream batch: completions first, then the new descriptors.
  void HandleBatch(const v1::DescriptorBatch& batch, std::vector<ledger::Descriptor>* scratch,
                   std::vector<ledger::DescriptorResult>* results, std::vector<uint64_t>* unknown,
                   v1::DescriptorBatchResult* result);
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
  WritePool* writes_;
};

}  // namespace vnet
