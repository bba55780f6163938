#include "daemon/service/forced_release.h"

#include <utility>

#include "daemon/service/grpc_status.h"

namespace vnet {

ForcedRelease::ForcedRelease(grpc::CallbackServerContext* ctx, ledger::BufferLedger* ledger,
                             uint32_t context_id, absl::Time drain_deadline,
                             absl::Time caller_deadline, WritePool* pool,
                             std::function<grpc::Status()> commit)
    : ctx_(ctx),
      ledger_(ledger),
      context_id_(context_id),
      drain_deadline_(drain_deadline),
      caller_deadline_ends_wait_(drain_deadline >= caller_deadline),
      pool_(pool),
      commit_(std::move(commit)) {}

void ForcedRelease::Start() {
  {
    absl::MutexLock lock(&mu_);
    waiting_ = true;
    alarm_.Set(absl::ToChronoTime(drain_deadline_), [this](bool) { WaitOver(); });
  }
  // Outside mu_: the notice may run at once (nothing in flight) and takes mu_ in Wake.
  ledger_->NotifyWhenDrained(context_id_, [this] { Wake(/*drained=*/true); });
}

void ForcedRelease::Wake(bool drained) {
  absl::MutexLock lock(&mu_);
  if (!waiting_) return;
  drained_ = drained;
  waiting_ = false;
  alarm_.Cancel();  // WaitOver runs on gRPC's executor, never inside Cancel
}

void ForcedRelease::WaitOver() {
  bool drained = false;
  {
    absl::MutexLock lock(&mu_);
    waiting_ = false;
    drained = drained_;
  }
  // After this the ledger never calls Wake again: nothing refers to us but the call.
  ledger_->StopDrainNotice(context_id_);
  if (absl::Status gave_up = LimitsOf(ctx_).Check(); !gave_up.ok()) {
    return GiveUp(ToGrpcStatus(gave_up));
  }
  // The timer may fire a hair before the clock reaches the caller's deadline: a wait that
  // the caller's deadline ended is over for the caller too.
  if (!drained && caller_deadline_ends_wait_) {
    return GiveUp({grpc::StatusCode::DEADLINE_EXCEEDED,
                   "the call's deadline passed while descriptors were in flight; nothing "
                   "changed"});
  }
  absl::Status queued = pool_->Submit(
      [this] {
        // The caller may have given up while the job was queued.
        if (absl::Status gave_up = LimitsOf(ctx_).Check(); !gave_up.ok()) {
          return GiveUp(ToGrpcStatus(gave_up));
        }
        Finish(commit_());
      },
      [this] { return LimitsOf(ctx_).Check().ok(); });
  if (!queued.ok()) GiveUp(ToGrpcStatus(queued));
}

void ForcedRelease::GiveUp(const grpc::Status& status) {
  ledger_->AbortRelease(context_id_);
  Finish(status);
}

}  // namespace vnet
