#include "daemon/core/context_registry.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/core/context_validation.h"
#include "daemon/core/echo.h"
#include "daemon/core/log.h"

namespace vnet {
namespace {

v1::ContextRef ById(uint32_t id) {
  v1::ContextRef ref;
  ref.set_id(id);
  return ref;
}

v1::PersistedState ToPersisted(const ContextPool& pool, const std::string& uplink) {
  v1::PersistedState state;
  state.set_uplink(uplink);
  for (v1::Context& ctx : pool.List()) *state.add_contexts() = std::move(ctx);
  return state;
}

}  // namespace

ContextRegistry::ContextRegistry(uint32_t capacity, StateFile state, Dataplane* dataplane)
    : state_{ContextPool(capacity), ""},
      next_{ContextPool(capacity), ""},
      state_file_(std::move(state)),
      dataplane_(dataplane) {}

absl::Status ContextRegistry::Start() {
  auto saved = state_file_.Load();
  if (!saved.ok()) return saved.status();
  absl::MutexLock lock(&mu_);
  state_.uplink = saved->uplink();
  std::vector<v1::Context> contexts(saved->contexts().begin(), saved->contexts().end());
  if (auto s = state_.pool.Restore(contexts); !s.ok()) {
    return absl::DataLossError(absl::StrCat("state file ", state_file_.path(), ": ", s.message(),
                                            "; it was left untouched"));
  }
  std::set<uint32_t> keep;
  for (const v1::Context& ctx : state_.pool.List()) keep.insert(ctx.id());
  if (auto s = dataplane_->RemoveOthers(keep); !s.ok()) {
    LogWarning("fast path: removing contexts the state file no longer holds: %s", s.ToString());
  }
  for (uint32_t id : keep) AttachLocked(id);
  next_ = state_;  // the only whole copy: from here on they move a context at a time
  LogInfo("restored %d contexts from %s", state_.pool.size(), state_file_.path());
  return absl::OkStatus();
}

void ContextRegistry::AttachLocked(uint32_t id) {
  auto ctx = state_.pool.Get(ById(id));
  if (!ctx.ok() || !dataplane_->attaches()) return;
  const absl::Status s = dataplane_->Attach(*ctx);
  if (!s.ok()) {
    LogWarning("context %d (%s): fast path not attached: %s", id, ctx->interface_name(),
               s.ToString());
  }
  auto effective = dataplane_->EffectiveOffloads(id);
  (void)state_.pool.SetState(id, s.ok() ? v1::CONTEXT_STATE_ACTIVE : v1::CONTEXT_STATE_DEGRADED,
                             effective.ok() ? &*effective : nullptr);
}

// Called by a group's leader after the commit: no other writer runs, so the context read
// here is the one written; readers wait only for the state update at the end.
void ContextRegistry::Attach(uint32_t id) {
  if (!dataplane_->attaches()) return;
  absl::StatusOr<v1::Context> ctx;
  {
    absl::ReaderMutexLock lock(&mu_);
    ctx = state_.pool.Get(ById(id));
  }
  if (!ctx.ok()) return;
  const absl::Status s = dataplane_->Attach(*ctx);
  if (!s.ok()) {
    LogWarning("context %d (%s): fast path not attached: %s", id, ctx->interface_name(),
               s.ToString());
  }
  auto effective = dataplane_->EffectiveOffloads(id);
  const v1::ContextState state = s.ok() ? v1::CONTEXT_STATE_ACTIVE : v1::CONTEXT_STATE_DEGRADED;
  const v1::Offloads* offloads = effective.ok() ? &*effective : nullptr;
  (void)next_.pool.SetState(id, state, offloads);
  absl::MutexLock lock(&mu_);
  (void)state_.pool.SetState(id, state, offloads);
}

absl::Status ContextRegistry::Save(const std::vector<uint32_t>& touched,
                                   const std::vector<Write*>& changed,
                                   std::vector<Write*>* gave_up) {
  auto check = [&]() -> absl::Status {
    if (before_commit_hook_) before_commit_hook_();
    for (Write* w : changed) {
      if (!w->limits->Check().ok()) gave_up->push_back(w);
    }
    return gave_up->empty() ? absl::OkStatus()
                            : absl::AbortedError("a caller gave up before the commit");
  };
  StateChanges changes;
  for (uint32_t id : touched) {
    if (const v1::Context* ctx = next_.pool.Lookup(id)) {
      changes.put.push_back(*ctx);
    } else {
      changes.removed.push_back(id);
    }
  }
  {
    absl::ReaderMutexLock lock(&mu_);
    if (next_.uplink != state_.uplink) changes.uplink = next_.uplink;
  }
  // Nothing to append (Persist) or a journal to fold: the whole state, atomically.
  absl::Status s = changes.empty() || state_file_.NeedsSnapshot()
                       ? state_file_.Save(ToPersisted(next_.pool, next_.uplink), check)
                       : state_file_.Append(changes, check);
  if (s.ok() || !gave_up->empty()) return s;
  return absl::UnavailableError(absl::StrCat("cannot persist state: ", s.message()));
}

void ContextRegistry::CopyChanges(const State& from, const std::vector<uint32_t>& ids, State& to) {
  for (uint32_t id : ids) to.pool.CopyFrom(from.pool, id);
  to.uplink = from.uplink;
}

absl::Status ContextRegistry::Submit(Write* w) {
  queue_mu_.Lock();
  queue_.push_back(w);
  while (!w->done) {
    if (!leading_) {
      // Lead the group of everything queued so far (this change included).
      leading_ = true;
      std::vector<Write*> group;
      group.swap(queue_);
      queue_mu_.Unlock();
      RunGroup(group);
      queue_mu_.Lock();
      leading_ = false;
      for (Write* member : group) member->done = true;
      continue;
    }
    auto turn = [this, w]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) { return w->done || !leading_; };
    queue_mu_.AwaitWithDeadline(
        absl::Condition(&turn),
        std::min(w->limits->deadline, absl::Now() + CallLimits::kPollInterval));
    // Still queued (not yet in a group): a caller that gave up leaves the queue.
    auto queued = std::find(queue_.begin(), queue_.end(), w);
    if (!w->done && queued != queue_.end()) {
      if (absl::Status s = w->limits->Check(); !s.ok()) {
        queue_.erase(queued);
        queue_mu_.Unlock();
        return s;
      }
    }
  }
  queue_mu_.Unlock();
  return w->result;
}

void ContextRegistry::RunGroup(std::vector<Write*> members) {
  for (;;) {
    std::vector<Write*> changed;
    for (Write* w : members) {
      if (absl::Status s = w->limits->Check(); !s.ok()) {
        w->result = s;
        continue;
      }
      bool changes = true;
      w->result = w->apply(next_, &changes);
      if (w->result.ok() && changes) changed.push_back(w);
    }
    const std::vector<uint32_t> touched = next_.pool.TakeTouched();
    std::vector<Write*> gave_up;
    const absl::Status saved =
        changed.empty() ? absl::OkStatus() : Save(touched, changed, &gave_up);
    if (changed.empty() || !saved.ok() || !gave_up.empty()) {
      // Not committed (or nothing to commit: refusals, repeats): next_ goes back.
      absl::ReaderMutexLock lock(&mu_);
      CopyChanges(state_, touched, next_);
    }
    if (changed.empty()) return;  // answers without a write
    if (!saved.ok()) {
      for (auto it = changed.rbegin(); it != changed.rend(); ++it) {
        Write* w = *it;
        w->result = saved;
        if (w->undo) {
          if (absl::Status undone = w->undo(); !undone.ok()) {
            w->result = absl::InternalError(
                absl::StrCat(saved.message(), "; and undoing it: ", undone.message()));
          }
        }
      }
    }
    if (!gave_up.empty()) {
      // Form the group again without them: the others' answers may have depended on what
      // those would have changed.
      for (Write* w : gave_up) {
        w->result = w->limits->Check();
        members.erase(std::find(members.begin(), members.end(), w));
      }
      continue;
    }
    if (!saved.ok()) return;
    {
      absl::MutexLock lock(&mu_);
      CopyChanges(next_, touched, state_);
    }
    for (Write* w : changed) {
      if (w->after_commit) w->after_commit();
    }
    return;
  }
}

absl::Status ContextRegistry::Persist() {
  const CallLimits none;
  Write w;
  w.limits = &none;
  w.apply = [](State&, bool*) { return absl::OkStatus(); };
  return Submit(&w);
}

absl::StatusOr<v1::Context> ContextRegistry::Assign(const v1::Context& spec,
                                                    const CallLimits& limits) {
  if (absl::Status s = dataplane_->CheckOffloads(spec.offloads()); !s.ok()) return s;
  v1::Context assigned;
  bool created = false;
  Write w;
  w.limits = &limits;
  w.apply = [&](State& next, bool* changes) -> absl::Status {
    auto result = next.pool.Assign(spec, absl::Now());
    if (!result.ok()) return result.status();
    assigned = result->context;
    created = result->created;
    *changes = created;
    return absl::OkStatus();
  };
  w.after_commit = [&] { Attach(assigned.id()); };
  if (absl::Status s = Submit(&w); !s.ok()) return s;
  if (!created) return assigned;
  LogInfo("assigned context %d to domain %d device %d (%s)", assigned.id(), spec.domain_id(),
          spec.device_id(), spec.interface_name());
  absl::ReaderMutexLock lock(&mu_);
  auto now = state_.pool.Get(ById(assigned.id()));
  return now.ok() ? *now : assigned;  // released again meanwhile: what was assigned
}

absl::StatusOr<v1::Context> ContextRegistry::Release(const v1::ContextRef& ref, bool allow_missing,
                                                     bool* found, const ReleaseOptions& options) {
  *found = false;
  v1::Context released;
  Write w;
  w.limits = &options.limits;
  w.apply = [&](State& next, bool* changes) -> absl::Status {
    *found = false;
    auto target = next.pool.Get(ref);
    if (!target.ok()) {
      *changes = false;
      if (allow_missing && absl::IsNotFound(target.status())) return absl::OkStatus();
      return target.status();
    }
    if (options.expected != nullptr &&
        (target->id() != options.expected->id() ||
         target->create_time().seconds() != options.expected->create_time().seconds() ||
         target->create_time().nanos() != options.expected->create_time().nanos())) {
      return absl::AbortedError(
          absl::StrCat("the context changed while the release waited (now context ", target->id(),
                       "); nothing was released, try again"));
    }
    released = *next.pool.Release(ref);
    *found = true;
    return absl::OkStatus();
  };
  w.after_commit = [&] {
    if (auto s = dataplane_->Detach(released); !s.ok()) {
      LogWarning("context %d (%s): fast path detach: %s", released.id(), released.interface_name(),
                 s.ToString());
    }
    if (options.on_commit) options.on_commit(released);
  };
  if (absl::Status s = Submit(&w); !s.ok()) {
    *found = false;
    return s;
  }
  if (!*found) return v1::Context();
  for (const auto& listener : release_listeners_) listener(released);
  LogInfo("released context %d (%s)", released.id(), released.interface_name());
  return released;
}

absl::StatusOr<v1::Context> ContextRegistry::Get(const v1::ContextRef& ref) const {
  absl::ReaderMutexLock lock(&mu_);
  return state_.pool.Get(ref);
}

absl::StatusOr<v1::Context> ContextRegistry::Update(const v1::ContextRef& ref,
                                                    const v1::Context& patch,
                                                    const google::protobuf::FieldMask& mask,
                                                    const CallLimits& limits) {
  if (absl::Status s = dataplane_->CheckOffloads(patch.offloads()); !s.ok()) return s;
  v1::Context before;
  v1::Context updated;
  Write w;
  w.limits = &limits;
  w.apply = [&](State& next, bool*) -> absl::Status {
    auto current = next.pool.Get(ref);
    if (!current.ok()) return current.status();
    before = *current;
    auto result = next.pool.Update(ref, patch, mask);
    if (!result.ok()) return result.status();
    updated = *result;
    return absl::OkStatus();
  };
  w.after_commit = [&] {
    // The old VLAN/MAC entries must go before the new ones are written.
    (void)dataplane_->Detach(before);
    Attach(updated.id());
  };
  if (absl::Status s = Submit(&w); !s.ok()) return s;
  absl::ReaderMutexLock lock(&mu_);
  auto now = state_.pool.Get(ById(updated.id()));
  return now.ok() ? *now : updated;
}

std::vector<v1::Context> ContextRegistry::List() const {
  absl::ReaderMutexLock lock(&mu_);
  return state_.pool.List();
}

std::vector<v1::Context> ContextRegistry::ListPage(uint32_t after_id, size_t max,
                                                   bool* more) const {
  absl::ReaderMutexLock lock(&mu_);
  return state_.pool.ListPage(after_id, max, more);
}

absl::Status ContextRegistry::SetUplink(const std::string& ifname, const CallLimits& limits) {
  if (!ifname.empty()) {
    if (auto s = ValidateInterfaceName(ifname); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("interface_name: ", Echo(ifname), " is not an interface name"));
    }
  }
  std::string previous;
  Write w;
  w.limits = &limits;
  // The fast path moves before the commit (an interface it cannot attach to refuses the
  // change); undo moves it back if the group is not committed.
  w.apply = [&](State& next, bool*) -> absl::Status {
    v1::ContextRef guest;
    guest.set_interface_name(ifname);
    if (!ifname.empty() && next.pool.Get(guest).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(ifname, " is a guest's interface"));
    }
    if (auto s = dataplane_->SetUplink(ifname); !s.ok()) return s;
    previous = next.uplink;
    next.uplink = ifname;
    return absl::OkStatus();
  };
  w.undo = [&]() -> absl::Status {
    absl::Status back = dataplane_->SetUplink(previous);
    if (!back.ok()) {
      LogError("uplink: could not go back to '%s' after a failed change: %s", previous,
               back.ToString());
    }
    return back;
  };
  if (absl::Status s = Submit(&w); !s.ok()) return s;
  LogInfo("uplink set to '%s'", ifname);
  return absl::OkStatus();
}

std::string ContextRegistry::uplink() const {
  absl::ReaderMutexLock lock(&mu_);
  return state_.uplink;
}

uint32_t ContextRegistry::capacity() const {
  absl::ReaderMutexLock lock(&mu_);
  return state_.pool.capacity();
}

size_t ContextRegistry::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return state_.pool.size();
}

void ContextRegistry::OnRelease(std::function<void(const v1::Context&)> listener) {
  release_listeners_.push_back(std::move(listener));
}

void ContextRegistry::SetBeforeCommitHookForTest(std::function<void()> hook) {
  before_commit_hook_ = std::move(hook);
}

}  // namespace vnet
