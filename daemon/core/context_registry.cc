#include "daemon/core/context_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/core/context_validation.h"
#include "daemon/core/echo.h"
#include "daemon/core/log.h"

namespace vnet {

ContextRegistry::ContextRegistry(uint32_t capacity, StateFile state, Dataplane* dataplane)
    : pool_(capacity), state_(std::move(state)), dataplane_(dataplane) {}

absl::Status ContextRegistry::Start() {
  auto saved = state_.Load();
  if (!saved.ok()) return saved.status();
  absl::MutexLock lock(&mu_);
  uplink_ = saved->uplink();
  std::vector<v1::Context> contexts(saved->contexts().begin(), saved->contexts().end());
  if (auto s = pool_.Restore(contexts); !s.ok()) {
    return absl::DataLossError(
        absl::StrCat("state file ", state_.path(), ": ", s.message(), "; it was left untouched"));
  }
  if (auto s = dataplane_->Reconcile(pool_.List()); !s.ok()) {
    LogWarning("fast path reconcile failed: %s", s.ToString());
  }
  for (const v1::Context& ctx : pool_.List()) AttachLocked(ctx.id());
  LogInfo("restored %d contexts from %s", pool_.size(), state_.path());
  return absl::OkStatus();
}

void ContextRegistry::AttachLocked(uint32_t id) {
  v1::ContextRef ref;
  ref.set_id(id);
  auto ctx = pool_.Get(ref);
  if (!ctx.ok() || !dataplane_->attaches()) return;
  const absl::Status s = dataplane_->Attach(*ctx);
  if (!s.ok()) {
    LogWarning("context %d (%s): fast path not attached: %s", id, ctx->interface_name(),
               s.ToString());
  }
  auto effective = dataplane_->EffectiveOffloads(id);
  (void)pool_.SetState(id, s.ok() ? v1::CONTEXT_STATE_ACTIVE : v1::CONTEXT_STATE_DEGRADED,
                       effective.ok() ? &*effective : nullptr);
}

absl::Status ContextRegistry::Save(const v1::PersistedState& state,
                                   const CallLimits& limits) const {
  bool gave_up = false;
  absl::Status s = state_.Save(state, [&]() -> absl::Status {
    if (before_commit_hook_) before_commit_hook_();
    absl::Status check = limits.Check();
    gave_up = !check.ok();
    return check;
  });
  if (s.ok() || gave_up) return s;
  return absl::UnavailableError(absl::StrCat("cannot persist state: ", s.message()));
}

absl::Status ContextRegistry::PersistLocked(const CallLimits& limits) const {
  v1::PersistedState state;
  state.set_uplink(uplink_);
  for (v1::Context& ctx : pool_.List()) *state.add_contexts() = std::move(ctx);
  return Save(state, limits);
}

absl::Status ContextRegistry::Persist() const {
  const CallLimits none;
  if (auto s = write_turn_.Acquire(none); !s.ok()) return s;
  TurnHolder turn(&write_turn_);
  absl::ReaderMutexLock lock(&mu_);
  return PersistLocked(none);
}

absl::StatusOr<v1::Context> ContextRegistry::Assign(const v1::Context& spec,
                                                    const CallLimits& limits) {
  if (auto s = write_turn_.Acquire(limits); !s.ok()) return s;
  TurnHolder turn(&write_turn_);
  absl::MutexLock lock(&mu_);
  auto result = pool_.Assign(spec, absl::Now());
  if (!result.ok()) return result.status();
  if (!result->created) return result->context;
  const uint32_t id = result->context.id();
  // Persist before answering: a context the caller was told about survives a crash. A
  // failed write, or a caller gone by the commit point, takes the context back out.
  if (auto s = PersistLocked(limits); !s.ok()) {
    v1::ContextRef ref;
    ref.set_id(id);
    (void)pool_.Release(ref);
    return s;
  }
  AttachLocked(id);
  LogInfo("assigned context %d to domain %d device %d (%s)", id, spec.domain_id(), spec.device_id(),
          spec.interface_name());
  v1::ContextRef ref;
  ref.set_id(id);
  return pool_.Get(ref);
}

absl::StatusOr<v1::Context> ContextRegistry::Release(const v1::ContextRef& ref, bool allow_missing,
                                                     bool* found, const ReleaseOptions& options) {
  *found = false;
  if (auto s = write_turn_.Acquire(options.limits); !s.ok()) return s;
  TurnHolder turn(&write_turn_);
  v1::Context released;
  {
    absl::MutexLock lock(&mu_);
    auto target = pool_.Get(ref);
    if (!target.ok()) {
      if (allow_missing && absl::IsNotFound(target.status())) return v1::Context();
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
    // Persist the state without it first, so a failed write changes nothing.
    v1::PersistedState state;
    state.set_uplink(uplink_);
    for (v1::Context& ctx : pool_.List()) {
      if (ctx.id() != target->id()) *state.add_contexts() = std::move(ctx);
    }
    if (auto s = Save(state, options.limits); !s.ok()) return s;
    *found = true;
    released = *pool_.Release(ref);
    if (auto s = dataplane_->Detach(released); !s.ok()) {
      LogWarning("context %d (%s): fast path detach: %s", released.id(), released.interface_name(),
                 s.ToString());
    }
  }
  if (options.on_commit) options.on_commit(released);
  for (const auto& listener : release_listeners_) listener(released);
  LogInfo("released context %d (%s)", released.id(), released.interface_name());
  return released;
}

absl::StatusOr<v1::Context> ContextRegistry::Get(const v1::ContextRef& ref) const {
  absl::ReaderMutexLock lock(&mu_);
  return pool_.Get(ref);
}

absl::StatusOr<v1::Context> ContextRegistry::Update(const v1::ContextRef& ref,
                                                    const v1::Context& patch,
                                                    const google::protobuf::FieldMask& mask,
                                                    const CallLimits& limits) {
  if (auto s = write_turn_.Acquire(limits); !s.ok()) return s;
  TurnHolder turn(&write_turn_);
  absl::MutexLock lock(&mu_);
  auto before = pool_.Get(ref);
  if (!before.ok()) return before.status();
  auto updated = pool_.Update(ref, patch, mask);
  if (!updated.ok()) return updated.status();
  if (auto s = PersistLocked(limits); !s.ok()) {
    google::protobuf::FieldMask all;
    for (const char* f :
         {"mac", "ipv4_addresses", "ipv6_addresses", "vlan", "mtu", "offloads", "rate_limit"}) {
      all.add_paths(f);
    }
    // Put the old spec back, and what the fast path reported of it (Update clears it).
    v1::ContextRef by_id;
    by_id.set_id(before->id());
    (void)pool_.Update(by_id, *before, all);
    (void)pool_.SetState(
        before->id(), before->state(),
        before->has_effective_offloads() ? &before->effective_offloads() : nullptr);
    return s;
  }
  // The old VLAN/MAC entries must go before the new ones are written.
  (void)dataplane_->Detach(*before);
  AttachLocked(updated->id());
  return pool_.Get(ref);
}

std::vector<v1::Context> ContextRegistry::List() const {
  absl::ReaderMutexLock lock(&mu_);
  return pool_.List();
}

std::vector<v1::Context> ContextRegistry::ListPage(uint32_t after_id, size_t max,
                                                   bool* more) const {
  absl::ReaderMutexLock lock(&mu_);
  return pool_.ListPage(after_id, max, more);
}

absl::Status ContextRegistry::SetUplink(const std::string& ifname, const CallLimits& limits) {
  if (!ifname.empty()) {
    if (auto s = ValidateInterfaceName(ifname); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("interface_name: ", Echo(ifname), " is not an interface name"));
    }
  }
  if (auto s = write_turn_.Acquire(limits); !s.ok()) return s;
  TurnHolder turn(&write_turn_);
  absl::MutexLock lock(&mu_);
  v1::ContextRef guest;
  guest.set_interface_name(ifname);
  if (!ifname.empty() && pool_.Get(guest).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(ifname, " is a guest's interface"));
  }
  // The last moment a caller that gave up is told so before anything changes.
  if (auto s = limits.Check(); !s.ok()) return s;
  if (auto s = dataplane_->SetUplink(ifname); !s.ok()) return s;
  const std::string previous = uplink_;
  uplink_ = ifname;
  if (auto s = PersistLocked(limits); !s.ok()) {
    uplink_ = previous;
    if (auto back = dataplane_->SetUplink(previous); !back.ok()) {
      // Cannot happen unless the previous uplink vanished meanwhile: say so, loudly.
      LogError("uplink: could not go back to '%s' after a failed change: %s", previous,
               back.ToString());
      return absl::InternalError(absl::StrCat(s.message(),
                                              "; and the fast path could not go back to '",
                                              previous, "': ", back.message()));
    }
    return s;
  }
  LogInfo("uplink set to '%s'", ifname);
  return absl::OkStatus();
}

std::string ContextRegistry::uplink() const {
  absl::ReaderMutexLock lock(&mu_);
  return uplink_;
}

uint32_t ContextRegistry::capacity() const { return pool_.capacity(); }

size_t ContextRegistry::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return pool_.size();
}

void ContextRegistry::OnRelease(std::function<void(const v1::Context&)> listener) {
  release_listeners_.push_back(std::move(listener));
}

void ContextRegistry::SetBeforeCommitHookForTest(std::function<void()> hook) {
  before_commit_hook_ = std::move(hook);
}

}  // namespace vnet
