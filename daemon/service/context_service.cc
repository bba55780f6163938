#include "daemon/service/context_service.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "daemon/service/forced_release.h"
#include "daemon/service/grpc_status.h"
#include "daemon/service/paging.h"
#include "daemon/service/unary_calls.h"

namespace vnet {
namespace {

template <typename T>
grpc::Status Answer(absl::StatusOr<T> result, T* resp) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *resp = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace

grpc::ServerUnaryReactor* ContextServiceImpl::AssignContext(grpc::CallbackServerContext* ctx,
                                                            const v1::AssignContextRequest* req,
                                                            v1::Context* resp) {
  if (!req->has_context()) {
    return AnswerNow(ctx, {grpc::StatusCode::INVALID_ARGUMENT, "context: required"});
  }
  return AnswerFromPool(ctx, writes_, [this, ctx, req, resp] {
    return Answer(registry_->Assign(req->context(), LimitsOf(ctx)), resp);
  });
}

grpc::ServerUnaryReactor* ContextServiceImpl::ReleaseContext(grpc::CallbackServerContext* ctx,
                                                             const v1::ReleaseContextRequest* req,
                                                             v1::ReleaseContextResponse* resp) {
  auto target = registry_->Get(req->ref());
  // A forced release of a known context waits for its buffers in flight holding no thread:
  // a write-pool thread would be held until the drain deadline, and enough of them would
  // stop every write.
  if (req->has_force_wait() && target.ok() && ledger_ != nullptr && writes_ != nullptr) {
    if (absl::Status gave_up = LimitsOf(ctx).Check(); !gave_up.ok()) {
      return AnswerNow(ctx, ToGrpcStatus(gave_up));
    }
    if (absl::Status s = ledger_->StartRelease(target->id(), /*force=*/true); !s.ok()) {
      return AnswerNow(ctx, ToGrpcStatus(s));
    }
    const absl::Time deadline = LimitsOf(ctx).deadline;
    const uint32_t id = target->id();  // before the commit below takes target
    auto* release = new ForcedRelease(ctx, ledger_, id, DrainDeadline(*req, deadline), deadline,
                                      writes_, [this, ctx, req, resp, target = *std::move(target)] {
                                        return CommitRelease(ctx, req, &target, resp);
                                      });
    release->Start();
    return release;
  }
  return AnswerFromPool(ctx, writes_, [this, ctx, req, resp] { return Release(ctx, req, resp); });
}

absl::Time ContextServiceImpl::DrainDeadline(const v1::ReleaseContextRequest& req,
                                             absl::Time deadline) {
  // CDNA's rule: no buffer is given back while a descriptor on it is in flight. A forced
  // wait never outlives the caller's deadline.
  absl::Time drain_deadline = absl::Now();
  if (req.has_force_wait()) {
    drain_deadline +=
        absl::Seconds(req.force_wait().seconds()) + absl::Nanoseconds(req.force_wait().nanos());
  }
  return std::min(drain_deadline, deadline);
}

// One transaction over the ledger and the registry: the ledger stops taking descriptors
// for the context (and, forced, waits for those in flight), the registry persists the
// release, and only then the ledger drops the regions. If the registry refuses (a failed
// write, the caller gone), the ledger reopens the context with its regions intact: a
// failed release changes nothing. (Forced releases from gRPC wait in ForcedRelease
// instead; this waits on the calling thread, for a service without a write pool.)
grpc::Status ContextServiceImpl::Release(grpc::ServerContextBase* ctx,
                                         const v1::ReleaseContextRequest* req,
                                         v1::ReleaseContextResponse* resp) {
  const CallLimits limits = LimitsOf(ctx);
  auto target = registry_->Get(req->ref());
  if (!target.ok() || ledger_ == nullptr) return CommitRelease(ctx, req, nullptr, resp);
  if (auto s = ledger_->BeginRelease(target->id(), req->has_force_wait(),
                                     DrainDeadline(*req, limits.deadline),
                                     [&limits] { return limits.Check(); });
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  return CommitRelease(ctx, req, &*target, resp);
}

grpc::Status ContextServiceImpl::CommitRelease(grpc::ServerContextBase* ctx,
                                               const v1::ReleaseContextRequest* req,
                                               const v1::Context* target,
                                               v1::ReleaseContextResponse* resp) {
  ContextRegistry::ReleaseOptions options;
  options.limits = LimitsOf(ctx);
  ledger::ReleaseReport report;
  const bool with_ledger = target != nullptr;
  if (with_ledger) {
    options.expected = target;
    options.on_commit = [this, &report](const v1::Context& released) {
      report = ledger_->CommitRelease(released.id());
    };
  }
  bool found = false;
  auto released = registry_->Release(req->ref(), req->allow_missing(), &found, options);
  if (!released.ok()) {
    if (with_ledger) ledger_->AbortRelease(target->id());
    return ToGrpcStatus(released.status());
  }
  // Gone meanwhile (another release, allow_missing): nothing was committed here, so the
  // ledger must not stay closed on our account.
  if (!found && with_ledger) ledger_->AbortRelease(target->id());
  if (found) *resp->mutable_context() = std::move(*released);
  resp->set_abandoned_descriptors(report.abandoned);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* ContextServiceImpl::GetContext(grpc::CallbackServerContext* ctx,
                                                         const v1::GetContextRequest* req,
                                                         v1::Context* resp) {
  return AnswerNow(ctx, Answer(registry_->Get(req->ref()), resp));
}

grpc::ServerUnaryReactor* ContextServiceImpl::ListContexts(grpc::CallbackServerContext* ctx,
                                                           const v1::ListContextsRequest* req,
                                                           v1::ListContextsResponse* resp) {
  return AnswerNow(ctx, List(req, resp));
}

grpc::Status ContextServiceImpl::List(const v1::ListContextsRequest* req,
                                      v1::ListContextsResponse* resp) {
  auto page_size = PageSize(req->page_size());
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  auto position = DecodePageToken("contexts", 1, req->page_token());
  if (!position.ok()) return ToGrpcStatus(position.status());
  const uint32_t after = position->empty() ? 0 : static_cast<uint32_t>((*position)[0]);
  bool more = false;
  size_t bytes = 0;
  std::vector<v1::Context> page = registry_->ListPage(after, *page_size, &more);
  for (size_t i = 0; i < page.size(); ++i) {
    bytes += page[i].ByteSizeLong();
    if (i > 0 && bytes > kMaxPageBytes) {
      more = true;
      break;
    }
    *resp->add_contexts() = std::move(page[i]);
  }
  resp->set_capacity(registry_->capacity());
  if (more && resp->contexts_size() > 0) {
    resp->set_next_page_token(
        EncodePageToken("contexts", {resp->contexts(resp->contexts_size() - 1).id()}));
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* ContextServiceImpl::UpdateContext(grpc::CallbackServerContext* ctx,
                                                            const v1::UpdateContextRequest* req,
                                                            v1::Context* resp) {
  return AnswerFromPool(ctx, writes_, [this, ctx, req, resp] {
    return Answer(registry_->Update(req->ref(), req->context(), req->update_mask(), LimitsOf(ctx)),
                  resp);
  });
}

}  // namespace vnet
