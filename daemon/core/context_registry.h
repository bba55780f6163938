// The pool made durable and connected: every change is persisted before it is answered,
// and pushed to the data plane. Thread-safe; readers share, writers serialise.
//
// Writers take a turn first, waiting only as long as their CallLimits allow, and check the
// limits again right before the state file's rename (the commit point): a caller that gave
// up (deadline passed, cancelled) never has its change committed later. A call that fails
// changes nothing: the pool, the data plane and the state file are as before.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "daemon/core/call_limits.h"
#include "daemon/core/context_pool.h"
#include "daemon/core/dataplane.h"
#include "daemon/core/state_file.h"

namespace vnet {

class ContextRegistry {
 public:
  ContextRegistry(uint32_t capacity, StateFile state, Dataplane* dataplane);

  // Loads the state file and reconciles the data plane with it. Errors leave the file as is.
  absl::Status Start();

  absl::StatusOr<v1::Context> Assign(const v1::Context& spec, const CallLimits& limits = {});

  struct ReleaseOptions {
    CallLimits limits;
    // If set, the release goes ahead only if `ref` still names this context (same id and
    // create_time); otherwise ABORTED.
    const v1::Context* expected = nullptr;
    // Runs once the release is committed, before the release listeners, under the writer
    // turn (so nothing else changes in between). Must not fail.
    std::function<void(const v1::Context&)> on_commit;
  };
  absl::StatusOr<v1::Context> Release(const v1::ContextRef& ref, bool allow_missing, bool* found,
                                      const ReleaseOptions& options);
  absl::StatusOr<v1::Context> Release(const v1::ContextRef& ref, bool allow_missing, bool* found) {
    return Release(ref, allow_missing, found, ReleaseOptions());
  }
  absl::StatusOr<v1::Context> Get(const v1::ContextRef& ref) const;
  absl::StatusOr<v1::Context> Update(const v1::ContextRef& ref, const v1::Context& patch,
                                     const google::protobuf::FieldMask& mask,
                                     const CallLimits& limits = {});
  std::vector<v1::Context> List() const;
  // Up to `max` contexts with ids above `after_id`, by id; `*more` tells whether any are
  // left after them.
  std::vector<v1::Context> ListPage(uint32_t after_id, size_t max, bool* more) const;
  // The uplink: set through the API and persisted with the contexts.
  absl::Status SetUplink(const std::string& ifname, const CallLimits& limits = {});
  std::string uplink() const;
  uint32_t capacity() const;
  size_t size() const;
  absl::Status Persist() const;

  // Called after a context is released, outside the lock (the buffer ledger drops its
  // regions, metrics drop its series).
  void OnRelease(std::function<void(const v1::Context&)> listener);

  // Tests: runs inside every state write, under the writer turn, after the new file is
  // synced and before the limits are checked and the file renamed (a slow disk).
  void SetBeforeCommitHookForTest(std::function<void()> hook);

 private:
  // Writes `state`; the limits are checked right before the commit. A caller that gave up
  // gets its DEADLINE_EXCEEDED/CANCELLED, a write error becomes UNAVAILABLE.
  absl::Status Save(const v1::PersistedState& state, const CallLimits& limits) const;
  absl::Status PersistLocked(const CallLimits& limits) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AttachLocked(uint32_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Turn write_turn_;  // taken before mu_ by every writer (Persist is const)
  mutable absl::Mutex mu_;
  ContextPool pool_ ABSL_GUARDED_BY(mu_);
  StateFile state_;
  Dataplane* dataplane_;
  std::vector<std::function<void(const v1::Context&)>> release_listeners_;
  std::string uplink_ ABSL_GUARDED_BY(mu_);
  std::function<void()> before_commit_hook_;
};

}  // namespace vnet
