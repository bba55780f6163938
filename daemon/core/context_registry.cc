#include "daemon/core/context_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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

absl::Status ContextRegistry::PersistLocked() const {
  v1::PersistedState state;
  state.set_uplink(uplink_);
  for (v1::Context& ctx : pool_.List()) *state.add_contexts() = std::move(ctx);
  return state_.Save(state);
}

absl::Status ContextRegistry::Persist() const {
  absl::ReaderMutexLock lock(&mu_);
  return PersistLocked();
}

absl::StatusOr<v1::Context> ContextRegistry::Assign(const v1::Context& spec) {
  absl::MutexLock lock(&mu_);
  auto result = pool_.Assign(spec, absl::Now());
  if (!result.ok()) return result.status();
  if (!result->created) return result->context;
  const uint32_t id = result->context.id();
  // Persist before answering: a context the caller was told about survives a crash.
  if (auto s = PersistLocked(); !s.ok()) {
    v1::ContextRef ref;
    ref.set_id(id);
    (void)pool_.Release(ref);
    return absl::UnavailableError(absl::StrCat("cannot persist state: ", s.message()));
  }
  AttachLocked(id);
  LogInfo("assigned context %d to domain %d device %d (%s)", id, spec.domain_id(), spec.device_id(),
          spec.interface_name());
  v1::ContextRef ref;
  ref.set_id(id);
  return pool_.Get(ref);
}

absl::StatusOr<v1::Context> ContextRegistry::Release(const v1::ContextRef& ref, bool allow_missing,
                                                     bool* found) {
  v1::Context released;
  {
    absl::MutexLock lock(&mu_);
    auto target = pool_.Get(ref);
    if (!target.ok()) {
      *found = false;
      if (allow_missing && absl::IsNotFound(target.status())) return v1::Context();
      return target.status();
    }
    // Persist the state without it first, so a failed write changes nothing.
    v1::PersistedState state;
    state.set_uplink(uplink_);
    for (v1::Context& ctx : pool_.List()) {
      if (ctx.id() != target->id()) *state.add_contexts() = std::move(ctx);
    }
    if (auto s = state_.Save(state); !s.ok()) {
      return absl::UnavailableError(absl::StrCat("cannot persist state: ", s.message()));
    }
    *found = true;
    released = *pool_.Release(ref);
    if (auto s = dataplane_->Detach(released); !s.ok()) {
      LogWarning("context %d (%s): fast path detach: %s", released.id(), released.interface_name(),
                 s.ToString());
    }
  }
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
                                                    const google::protobuf::FieldMask& mask) {
  absl::MutexLock lock(&mu_);
  auto before = pool_.Get(ref);
  if (!before.ok()) return before.status();
  auto updated = pool_.Update(ref, patch, mask);
  if (!updated.ok()) return updated.status();
  if (auto s = PersistLocked(); !s.ok()) {
    google::protobuf::FieldMask all;
    for (const char* f : {"mac", "ipv4_addresses", "ipv6_addresses", "ipv6_link_local_addresses",
                          "vlan", "mtu", "offloads", "rate_limit"}) {
      all.add_paths(f);
    }
    (void)pool_.Update(ref, *before, all);  // put the old spec back
    return absl::UnavailableError(absl::StrCat("cannot persist state: ", s.message()));
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

absl::Status ContextRegistry::SetUplink(const std::string& ifname) {
  absl::MutexLock lock(&mu_);
  if (!ifname.empty() && pool_
                             .Get([&] {
                               v1::ContextRef ref;
                               ref.set_interface_name(ifname);
                               return ref;
                             }())
                             .ok()) {
    return absl::InvalidArgumentError(absl::StrCat(ifname, " is a guest's interface"));
  }
  if (auto s = dataplane_->SetUplink(ifname); !s.ok()) return s;
  const std::string previous = uplink_;
  uplink_ = ifname;
  if (auto s = PersistLocked(); !s.ok()) {
    uplink_ = previous;
    (void)dataplane_->SetUplink(previous);
    return absl::UnavailableError(absl::StrCat("cannot persist state: ", s.message()));
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

}  // namespace vnet
