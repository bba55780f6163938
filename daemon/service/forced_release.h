// The wait of a forced ReleaseContext, holding no thread: the call sleeps on a gRPC alarm
// until the context's descriptors in flight have drained (the ledger's notice cancels the
// alarm), its drain deadline has come, or the caller cancelled; only then is the commit
// queued on the write pool, as one step. A caller that gave up meanwhile (deadline passed,
// cancelled) gets its status and the context is reopened: nothing changed.
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/ledger/buffer_ledger.h"
#include "daemon/service/write_pool.h"

namespace vnet {

class ForcedRelease final : public grpc::ServerUnaryReactor {
 public:
  // The ledger already refuses new descriptors for `context_id` (BufferLedger::StartRelease
  // succeeded). The wait ends at `drain_deadline` at the latest; `caller_deadline` is the
  // call's own (a wait it ends releases nothing). `commit` runs on `pool` and owns what
  // follows: it commits the release or, failing, aborts it in the ledger.
  ForcedRelease(grpc::CallbackServerContext* ctx, ledger::BufferLedger* ledger, uint32_t context_id,
                absl::Time drain_deadline, absl::Time caller_deadline, WritePool* pool,
                std::function<grpc::Status()> commit);

  // Starts the wait; the call finishes on its own later.
  void Start();

  void OnCancel() override { Wake(/*drained=*/false); }
  void OnDone() override { delete this; }

 private:
  // Ends the wait now, if it has not ended yet; `drained`: nothing is in flight any more.
  void Wake(bool drained);
  // Runs once, when the alarm fires or is cancelled.
  void WaitOver();
  // Reopens the context in the ledger and answers `status`: nothing was released.
  void GiveUp(const grpc::Status& status);

  grpc::CallbackServerContext* const ctx_;
  ledger::BufferLedger* const ledger_;
  const uint32_t context_id_;
  const absl::Time drain_deadline_;
  const bool caller_deadline_ends_wait_;  // drain_deadline is the caller's deadline
  WritePool* const pool_;
  const std::function<grpc::Status()> commit_;

  absl::Mutex mu_;
  grpc::Alarm alarm_ ABSL_GUARDED_BY(mu_);
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  bool drained_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vnet
