#include "daemon/service/buffer_service.h"

#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "daemon/core/log.h"
#include "daemon/service/grpc_status.h"
#include "daemon/service/paging.h"
#include "daemon/service/unary_calls.h"

namespace vnet {
namespace {

// The ledger's enums carry the wire numbers; keep them from drifting apart.
static_assert(static_cast<int>(ledger::Verdict::kAccepted) == v1::DESCRIPTOR_VERDICT_ACCEPTED);
static_assert(static_cast<int>(ledger::Verdict::kContextClosing) ==
              v1::DESCRIPTOR_VERDICT_CONTEXT_CLOSING);
static_assert(ledger::kVerdictCount == v1::DescriptorVerdict_ARRAYSIZE);
static_assert(static_cast<int>(ledger::Direction::kToDevice) == v1::DESCRIPTOR_DIRECTION_TO_DEVICE);
static_assert(static_cast<int>(ledger::Direction::kFromDevice) ==
              v1::DESCRIPTOR_DIRECTION_FROM_DEVICE);
static_assert(static_cast<int>(ledger::Access::kReadOnly) == v1::REGION_ACCESS_READ_ONLY);
static_assert(static_cast<int>(ledger::Access::kReadWrite) == v1::REGION_ACCESS_READ_WRITE);

ledger::RegionSpec ToSpec(const v1::Region& region) {
  ledger::RegionSpec spec;
  spec.region_id = region.region_id();
  spec.guest_address = region.guest_address();
  spec.length = region.length();
  spec.page_size = region.page_size() == 0 ? 4096 : region.page_size();
  // Unspecified stays 0, which the ledger refuses with a message.
  spec.access = static_cast<ledger::Access>(region.access());
  spec.grant_refs.assign(region.grant_refs().begin(), region.grant_refs().end());
  return spec;
}

void ToProto(const ledger::RegionInfo& info, v1::Region* region) {
  region->set_region_id(info.spec.region_id);
  region->set_guest_address(info.spec.guest_address);
  region->set_length(info.spec.length);
  region->set_page_size(info.spec.page_size);
  region->set_access(static_cast<v1::RegionAccess>(info.spec.access));
  region->mutable_grant_refs()->Add(info.spec.grant_refs.begin(), info.spec.grant_refs.end());
  region->set_in_flight(info.in_flight);
}

absl::Status CheckBatchSize(int size) {
  if (size > BufferServiceImpl::kMaxBatch) {
    return absl::InvalidArgumentError(absl::StrFormat("batch of %d entries: at most %d per request",
                                                      size, BufferServiceImpl::kMaxBatch));
  }
  return absl::OkStatus();
}

}  // namespace

ContextDomain ContextsIn(const ContextRegistry* registry) {
  return [registry](uint32_t context_id) -> std::optional<uint32_t> {
    v1::ContextRef ref;
    ref.set_id(context_id);
    auto ctx = registry->Get(ref);
    if (!ctx.ok()) return std::nullopt;
    return ctx->domain_id();
  };
}

void ReleaseBuffersWithContexts(ContextRegistry* registry, ledger::BufferLedger* ledger,
                                absl::Duration grace) {
  registry->OnRelease([ledger, grace](const v1::Context& ctx) {
    const ledger::ReleaseReport report = ledger->ForceReleaseContext(ctx.id(), absl::Now() + grace);
    if (report.abandoned != 0) {
      LogWarning("context %d released with %d descriptors still in flight after %s: abandoned",
                 ctx.id(), report.abandoned, absl::FormatDuration(grace));
    } else if (report.regions != 0) {
      LogInfo("context %d released: dropped %d buffer regions (%d bytes)", ctx.id(), report.regions,
              report.bytes);
    }
  });
}

absl::StatusOr<uint32_t> BufferServiceImpl::DomainOf(uint32_t context_id) const {
  if (context_id == 0) return absl::InvalidArgumentError("context_id: required (0 means none)");
  const std::optional<uint32_t> domain = context_domain_(context_id);
  if (!domain) return absl::NotFoundError(absl::StrFormat("context %d does not exist", context_id));
  return *domain;
}

absl::Status BufferServiceImpl::CheckContext(uint32_t context_id) const {
  return DomainOf(context_id).status();
}

grpc::ServerUnaryReactor* BufferServiceImpl::RegisterRegion(grpc::CallbackServerContext* ctx,
                                                            const v1::RegisterRegionRequest* req,
                                                            v1::Region* resp) {
  return AnswerFromPool(ctx, writes_,
                        [this, ctx, req, resp] { return Register(*req, LimitsOf(ctx), resp); });
}

grpc::Status BufferServiceImpl::Register(const v1::RegisterRegionRequest& req,
                                         const CallLimits& limits, v1::Region* resp) {
  absl::StatusOr<uint32_t> domain = DomainOf(req.context_id());
  if (!domain.ok()) return ToGrpcStatus(domain.status());
  if (!req.has_region()) return {grpc::StatusCode::INVALID_ARGUMENT, "region: required"};
  const ledger::RegionSpec spec = ToSpec(req.region());
  // The caller's limits are checked again once the context's earlier region changes are
  // saved: one that gave up while it waited for them changes nothing.
  if (auto s = ledger_->RegisterRegion(req.context_id(), spec, *domain,
                                       [&limits] { return limits.Check(); });
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  // A release that ran between the check and the registration has already dropped the
  // context's buffers; take this region back too, or a reused id would inherit it.
  if (context_domain_(req.context_id()) != *domain) {
    (void)ledger_->UnregisterRegion(req.context_id(), spec.region_id);
    return ToGrpcStatus(CheckContext(req.context_id()));
  }
  ToProto({spec, 0}, resp);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* BufferServiceImpl::UnregisterRegion(
    grpc::CallbackServerContext* ctx, const v1::UnregisterRegionRequest* req,
    v1::UnregisterRegionResponse*) {
  return AnswerFromPool(ctx, writes_, [this, ctx, req] {
    if (auto s = CheckContext(req->context_id()); !s.ok()) return ToGrpcStatus(s);
    const CallLimits limits = LimitsOf(ctx);
    return ToGrpcStatus(ledger_->UnregisterRegion(req->context_id(), req->region_id(),
                                                  [&limits] { return limits.Check(); }));
  });
}

grpc::ServerUnaryReactor* BufferServiceImpl::ListRegions(grpc::CallbackServerContext* ctx,
                                                         const v1::ListRegionsRequest* req,
                                                         v1::ListRegionsResponse* resp) {
  return AnswerNow(ctx, List(req, resp));
}

grpc::Status BufferServiceImpl::List(const v1::ListRegionsRequest* req,
                                     v1::ListRegionsResponse* resp) const {
  if (req->context_id() != 0) {
    if (auto s = CheckContext(req->context_id()); !s.ok()) return ToGrpcStatus(s);
  }
  auto page_size = PageSize(req->page_size());
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  // Position: (context filter, last context listed, last region listed).
  auto position = DecodePageToken("regions", 3, req->page_token());
  if (!position.ok()) return ToGrpcStatus(position.status());
  if (!position->empty() && (*position)[0] != req->context_id()) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "page_token: belongs to a listing of another context_id"};
  }
  const bool first_page = position->empty();
  const uint64_t after_context = first_page ? 0 : (*position)[1];
  const uint64_t after_region = first_page ? 0 : (*position)[2];
  size_t listed = 0;
  size_t bytes = 0;
  bool more = false;
  uint64_t last_context = 0;
  uint64_t last_region = 0;
  for (const ledger::ContextStats& stats : ledger_->Snapshot().contexts) {
    if (req->context_id() != 0 && stats.context_id != req->context_id()) continue;
    if (stats.context_id < after_context) continue;
    if (more) break;
    std::vector<ledger::RegionInfo> regions = ledger_->ListRegions(stats.context_id);
    v1::ContextRegions* out = nullptr;
    for (const ledger::RegionInfo& info : regions) {
      if (stats.context_id == after_context && info.spec.region_id <= after_region) continue;
      if (listed == *page_size || (listed > 0 && bytes > kMaxPageBytes)) {
        more = true;
        break;
      }
      if (out == nullptr) {
        out = resp->add_contexts();
        out->set_context_id(stats.context_id);
        out->set_bytes_registered(stats.bytes_registered);
        out->set_in_flight(stats.in_flight);
      }
      v1::Region* region = out->add_regions();
      ToProto(info, region);
      bytes += region->ByteSizeLong();
      ++listed;
      last_context = stats.context_id;
      last_region = info.spec.region_id;
    }
  }
  // A known context without regions still answers, with an empty entry.
  if (req->context_id() != 0 && first_page && resp->contexts_size() == 0) {
    resp->add_contexts()->set_context_id(req->context_id());
  }
  if (more) {
    resp->set_next_page_token(
        EncodePageToken("regions", {req->context_id(), last_context, last_region}));
  }
  return grpc::Status::OK;
}

absl::Status BufferServiceImpl::Validate(
    uint32_t context_id, const google::protobuf::RepeatedPtrField<v1::Descriptor>& descriptors,
    std::vector<ledger::Descriptor>* scratch, std::vector<ledger::DescriptorResult>* results,
    v1::ValidateDescriptorsResponse* resp) {
  if (auto s = CheckBatchSize(descriptors.size()); !s.ok()) return s;
  scratch->resize(descriptors.size());
  for (int i = 0; i < descriptors.size(); ++i) {
    const v1::Descriptor& d = descriptors[i];
    (*scratch)[i] = {d.guest_address(), d.length(), static_cast<ledger::Direction>(d.direction()),
                     d.region_id()};
  }
  const size_t accepted = ledger_->Validate(context_id, *scratch, results);
  resp->mutable_verdicts()->Reserve(results->size());
  resp->mutable_cookies()->Reserve(results->size());
  for (const ledger::DescriptorResult& r : *results) {
    resp->add_verdicts(static_cast<v1::DescriptorVerdict>(r.verdict));
    resp->add_cookies(r.cookie);
  }
  resp->set_accepted(static_cast<uint32_t>(accepted));
  return absl::OkStatus();
}

absl::Status BufferServiceImpl::Complete(uint32_t context_id,
                                         const google::protobuf::RepeatedField<uint64_t>& cookies,
                                         std::vector<uint64_t>* unknown, uint32_t* completed) {
  if (auto s = CheckBatchSize(cookies.size()); !s.ok()) return s;
  unknown->clear();
  *completed = static_cast<uint32_t>(
      ledger_->Complete(context_id, absl::MakeConstSpan(cookies.data(), cookies.size()), unknown));
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* BufferServiceImpl::ValidateDescriptors(
    grpc::CallbackServerContext* ctx, const v1::ValidateDescriptorsRequest* req,
    v1::ValidateDescriptorsResponse* resp) {
  if (auto s = CheckContext(req->context_id()); !s.ok()) return AnswerNow(ctx, ToGrpcStatus(s));
  std::vector<ledger::Descriptor> scratch;
  std::vector<ledger::DescriptorResult> results;
  return AnswerNow(
      ctx, ToGrpcStatus(Validate(req->context_id(), req->descriptors(), &scratch, &results, resp)));
}

grpc::ServerUnaryReactor* BufferServiceImpl::CompleteDescriptors(
    grpc::CallbackServerContext* ctx, const v1::CompleteDescriptorsRequest* req,
    v1::CompleteDescriptorsResponse* resp) {
  if (auto s = CheckContext(req->context_id()); !s.ok()) return AnswerNow(ctx, ToGrpcStatus(s));
  std::vector<uint64_t> unknown;
  uint32_t completed = 0;
  if (auto s = Complete(req->context_id(), req->cookies(), &unknown, &completed); !s.ok()) {
    return AnswerNow(ctx, ToGrpcStatus(s));
  }
  resp->set_completed(completed);
  resp->mutable_unknown_cookies()->Add(unknown.begin(), unknown.end());
  return AnswerNow(ctx, grpc::Status::OK);
}

void BufferServiceImpl::HandleBatch(const v1::DescriptorBatch& batch,
                                    std::vector<ledger::Descriptor>* scratch,
                                    std::vector<ledger::DescriptorResult>* results,
                                    std::vector<uint64_t>* unknown,
                                    v1::DescriptorBatchResult* result) {
  result->Clear();
  result->set_sequence(batch.sequence());
  uint32_t completed = 0;
  absl::Status s = CheckContext(batch.context_id());
  if (s.ok()) s = Complete(batch.context_id(), batch.complete_cookies(), unknown, &completed);
  if (s.ok()) {
    result->set_completed(completed);
    result->mutable_unknown_cookies()->Add(unknown->begin(), unknown->end());
    s = Validate(batch.context_id(), batch.descriptors(), scratch, results,
                 result->mutable_validation());
  }
  if (!s.ok()) {
    result->set_error_code(static_cast<int32_t>(s.code()));
    result->set_error_message(std::string(s.message()));
  }
}

// One batch read, parsed and handled on gRPC's thread, its result written, then the next
// read: one batch in flight per stream, and no thread held while the stream waits for the
// client. A batch that does not parse ends the stream with INVALID_ARGUMENT.
class BufferServiceImpl::DescriptorStream final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit DescriptorStream(BufferServiceImpl* service) : service_(service) { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client finished sending (or went away)
      Finish(grpc::Status::OK);
      return;
    }
    const grpc::Status parsed =
        grpc::SerializationTraits<v1::DescriptorBatch>::Deserialize(&in_, &batch_);
    if (!parsed.ok()) {
      Finish({grpc::StatusCode::INVALID_ARGUMENT,
              "a StreamDescriptors message is not a DescriptorBatch (it does not parse); the "
              "stream ends, the batches before it stand"});
      return;
    }
    service_->HandleBatch(batch_, &scratch_, &results_, &unknown_, &result_);
    bool own_buffer = false;
    out_.Clear();  // the last batch's answer, written already
    if (!grpc::SerializationTraits<v1::DescriptorBatchResult>::Serialize(result_, &out_,
                                                                         &own_buffer)
             .ok()) {
      Finish({grpc::StatusCode::INTERNAL, "cannot serialize a DescriptorBatchResult"});
      return;
    }
    StartWrite(&out_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {  // the client went away
      Finish(grpc::Status::OK);
      return;
    }
    StartRead(&in_);
  }
  void OnDone() override { delete this; }

 private:
  BufferServiceImpl* const service_;
  grpc::ByteBuffer in_;
  grpc::ByteBuffer out_;
  v1::DescriptorBatch batch_;
  v1::DescriptorBatchResult result_;
  std::vector<ledger::Descriptor> scratch_;  // reused between batches
  std::vector<ledger::DescriptorResult> results_;
  std::vector<uint64_t> unknown_;
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* BufferServiceImpl::StreamDescriptors(
    grpc::CallbackServerContext*) {
  return new DescriptorStream(this);
}

}  // namespace vnet
