// The pool made durable and connected: every change is persisted before it is answered,
// and pushed to the data plane. Thread-safe.
//
// Reads never wait for a disk write: writers work on a second copy of the state (`next_`,
// kept in step with the committed one a context at a time, never copied whole), write the
// changed contexts to the state file, and only then copy them into the committed state
// under a short exclusive lock. Writers commit in groups: changes that queue while one
// write is under way are applied together and share one append to the state file and its
// sync (or, now and then, one snapshot of the whole state: see state_file.h). A writer
// waits in the queue only as long as its CallLimits allow, and the limits of every change
// in a group are checked again right before the commit point (the append, or the
// snapshot's rename): a caller that gave up (deadline passed, cancelled) never has its
// change committed later. A call that fails changes nothing: the pool, the data plane and
// the state file are as before.
#pragma once

#include <functional>
#include <memory>
#include <string>
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
    // Runs once the release is committed, before the release listeners and before the next
    // group of changes. Must not fail.
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
  absl::Status Persist();  // writes the state as it is

  // Called after a context is released, outside the lock (the buffer ledger drops its
  // regions, metrics drop its series).
  void OnRelease(std::function<void(const v1::Context&)> listener);

  // Tests: runs inside every state write right before the limits are checked at the commit
  // point (a slow disk).
  void SetBeforeCommitHookForTest(std::function<void()> hook);

 private:
  struct State {
    ContextPool pool;
    std::string uplink;
  };
  // One change, committed alone or in a group with others.
  struct Write {
    const CallLimits* limits = nullptr;
    // Applies the change to the next state (`next_`); an error refuses this change only. May
    // clear `changes` (nothing to write: an identical assign again). Runs again if the
    // group is formed anew, so it must only depend on `next` and the request.
    std::function<absl::Status(State& next, bool* changes)> apply;
    // Undoes what apply did outside `next` (the fast path's uplink) when the group is not
    // committed; an error is added to the call's answer.
    std::function<absl::Status()> undo;
    // Runs after the commit, before the next group (the fast path follows the state).
    std::function<void()> after_commit;
    absl::Status result;
    bool done = false;
  };

  // Queues `w` and returns its result once its group is committed or refused; one of the
  // waiting writers leads each group.
  absl::Status Submit(Write* w);
  void RunGroup(std::vector<Write*> members);
  // Writes what the group changed in `next_` (the contexts `touched`, the uplink); the
  // limits of `changed` are checked right before the commit, and those whose caller gave up
  // are returned in `gave_up` (nothing is then written).
  absl::Status Save(const std::vector<uint32_t>& touched, const std::vector<Write*>& changed,
                    std::vector<Write*>* gave_up);
  // Makes `to` what `from` is for the contexts `ids` and the uplink.
  static void CopyChanges(const State& from, const std::vector<uint32_t>& ids, State& to);
  void Attach(uint32_t id);
  void AttachLocked(uint32_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;  // guards state_; held only briefly, never across a disk write
  State state_ ABSL_GUARDED_BY(mu_);
  // The writers' state: `state_` plus the changes of the group under way. Only the leader of
  // a group touches it (and Start, before any writer).
  State next_;
  StateFile state_file_;
  Dataplane* dataplane_;
  std::vector<std::function<void(const v1::Context&)>> release_listeners_;
  std::function<void()> before_commit_hook_;

  absl::Mutex queue_mu_;
  std::vector<Write*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool leading_ ABSL_GUARDED_BY(queue_mu_) = false;  // a group is being written
};

}  // namespace vnet
