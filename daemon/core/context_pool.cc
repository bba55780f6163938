#include "daemon/core/context_pool.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "daemon/core/context_validation.h"
#include "daemon/core/echo.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"

namespace vnet {
namespace {

using google::protobuf::util::FieldMaskUtil;
using google::protobuf::util::MessageDifferencer;

const std::set<std::string>& UpdatableFields() {
  static const auto* fields = new std::set<std::string>{"mac",
                                                        "ipv4_addresses",
                                                        "ipv6_addresses",
                                                        "ipv6_link_local_addresses",
                                                        "vlan",
                                                        "mtu",
                                                        "offloads",
                                                        "rate_limit",
                                                        "rx_rate_limit",
                                                        "storm_control",
                                                        "storm_control.broadcast_pps",
                                                        "storm_control.multicast_pps",
                                                        "storm_control.unknown_unicast_pps"};
  return *fields;
}

std::string Describe(const v1::ContextRef& ref) {
  switch (ref.ref_case()) {
    case v1::ContextRef::kId:
      return absl::StrCat("context ", ref.id());
    case v1::ContextRef::kDevice:
      return absl::StrCat("domain ", ref.device().domain_id(), " device ",
                          ref.device().device_id());
    case v1::ContextRef::kInterfaceName:
      return absl::StrCat("interface ", Echo(ref.interface_name()));
    case v1::ContextRef::REF_NOT_SET:
      break;
  }
  return "no context";
}

// The fields a client chose, without those the pool sets.
v1::Context SpecOf(const v1::Context& ctx) {
  v1::Context spec = ctx;
  spec.clear_id();
  spec.clear_state();
  spec.clear_create_time();
  spec.clear_effective_offloads();
  return spec;
}

}  // namespace

std::vector<std::string> AllAddresses(const v1::Context& ctx) {
  std::vector<std::string> all(ctx.ipv4_addresses().begin(), ctx.ipv4_addresses().end());
  all.insert(all.end(), ctx.ipv6_addresses().begin(), ctx.ipv6_addresses().end());
  // Link-locals are per link: two guests of one VLAN cannot share one either. The EUI-64
  // default counts as well: the fast path lets the guest claim it like an explicit one.
  const std::vector<std::string> link_locals = EffectiveLinkLocals(ctx);
  all.insert(all.end(), link_locals.begin(), link_locals.end());
  return all;
}

ContextPool::ContextPool(uint32_t capacity) : capacity_(capacity) {
  for (uint32_t id = 1; id <= capacity_; ++id) free_ids_.insert(free_ids_.end(), id);
}

absl::StatusOr<uint32_t> ContextPool::Find(const v1::ContextRef& ref) const {
  switch (ref.ref_case()) {
    case v1::ContextRef::kId:
      if (contexts_.count(ref.id()) != 0) return ref.id();
      break;
    case v1::ContextRef::kDevice: {
      auto it = by_device_.find({ref.device().domain_id(), ref.device().device_id()});
      if (it != by_device_.end()) return it->second;
      break;
    }
    case v1::ContextRef::kInterfaceName: {
      auto it = by_interface_.find(ref.interface_name());
      if (it != by_interface_.end()) return it->second;
      break;
    }
    case v1::ContextRef::REF_NOT_SET:
      return absl::InvalidArgumentError("ref: give an id, a (domain, device) or an interface name");
  }
  return absl::NotFoundError(absl::StrCat(Describe(ref), " has no context"));
}

absl::Status ContextPool::CheckConflicts(const v1::Context& ctx, uint32_t self) const {
  auto held_by_other = [self](auto& index, const auto& key) -> uint32_t {
    auto it = index.find(key);
    return (it != index.end() && it->second != self) ? it->second : 0;
  };
  if (uint32_t other =
          held_by_other(by_device_, std::make_pair(ctx.domain_id(), ctx.device_id()))) {
    return absl::AlreadyExistsError(absl::StrCat(
        "domain ", ctx.domain_id(), " device ", ctx.device_id(), " already has context ", other,
        " (interface ", contexts_.at(other).interface_name(), ") with a different spec"));
  }
  if (uint32_t other = held_by_other(by_interface_, ctx.interface_name())) {
    const v1::Context& o = contexts_.at(other);
    return absl::AlreadyExistsError(absl::StrCat("interface ", ctx.interface_name(),
                                                 " is held by context ", other, " (domain ",
                                                 o.domain_id(), " device ", o.device_id(), ")"));
  }
  if (uint32_t other = held_by_other(by_mac_, VlanKey{ctx.vlan(), ctx.mac()})) {
    return absl::FailedPreconditionError(absl::StrCat(
        "mac ", ctx.mac(), " is already used in vlan ", ctx.vlan(), " by context ", other));
  }
  for (const std::string& addr : AllAddresses(ctx)) {
    if (uint32_t other = held_by_other(by_ip_, VlanKey{ctx.vlan(), addr})) {
      return absl::FailedPreconditionError(absl::StrCat(
          "address ", addr, " is already claimed in vlan ", ctx.vlan(), " by context ", other));
    }
  }
  return absl::OkStatus();
}

absl::Status ContextPool::CheckVlanRoom(uint32_t vlan) const {
  auto it = members_per_vlan_.find(vlan);
  if (it == members_per_vlan_.end() || it->second < kMaxContextsPerVlan) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat("vlan ", vlan, " holds ", it->second,
                                                   " contexts, the most the fast path floods to"));
}

void ContextPool::Index(const v1::Context& ctx) {
  ++members_per_vlan_[ctx.vlan()];
  by_device_[{ctx.domain_id(), ctx.device_id()}] = ctx.id();
  by_interface_[ctx.interface_name()] = ctx.id();
  by_mac_[{ctx.vlan(), ctx.mac()}] = ctx.id();
  for (const std::string& addr : AllAddresses(ctx)) by_ip_[{ctx.vlan(), addr}] = ctx.id();
}

void ContextPool::Unindex(const v1::Context& ctx) {
  if (auto it = members_per_vlan_.find(ctx.vlan());
      it != members_per_vlan_.end() && --it->second == 0)
    members_per_vlan_.erase(it);
  by_device_.erase({ctx.domain_id(), ctx.device_id()});
  by_interface_.erase(ctx.interface_name());
  by_mac_.erase({ctx.vlan(), ctx.mac()});
  for (const std::string& addr : AllAddresses(ctx)) by_ip_.erase({ctx.vlan(), addr});
}

absl::StatusOr<ContextPool::AssignResult> ContextPool::Assign(v1::Context spec, absl::Time now) {
  if (auto s = NormalizeAndValidate(spec); !s.ok()) return s;
  if (auto s = CheckFastPathCapacity(spec); !s.ok()) return s;
  // A hotplug script may run twice: the identical request gets the identical answer.
  auto existing = by_device_.find({spec.domain_id(), spec.device_id()});
  if (existing != by_device_.end()) {
    const v1::Context& held = contexts_.at(existing->second);
    if (MessageDifferencer::Equals(SpecOf(held), spec)) return AssignResult{held, false};
  }
  if (auto s = CheckConflicts(spec, 0); !s.ok()) return s;
  if (auto s = CheckVlanRoom(spec.vlan()); !s.ok()) return s;
  if (free_ids_.empty()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("context pool is full (", contexts_.size(), " of ", capacity_, " in use)"));
  }
  const uint32_t id = *free_ids_.begin();
  free_ids_.erase(free_ids_.begin());
  spec.set_id(id);
  spec.set_state(v1::CONTEXT_STATE_ASSIGNED);
  *spec.mutable_create_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  Index(spec);
  touched_.insert(id);
  const v1::Context& stored = contexts_[id] = std::move(spec);
  return AssignResult{stored, true};
}

absl::StatusOr<v1::Context> ContextPool::Release(const v1::ContextRef& ref) {
  auto id = Find(ref);
  if (!id.ok()) return id.status();
  auto node = contexts_.extract(*id);
  Unindex(node.mapped());
  free_ids_.insert(*id);
  touched_.insert(*id);
  return std::move(node.mapped());
}

absl::StatusOr<v1::Context> ContextPool::Get(const v1::ContextRef& ref) const {
  auto id = Find(ref);
  if (!id.ok()) return id.status();
  return contexts_.at(*id);
}

absl::StatusOr<v1::Context> ContextPool::Update(const v1::ContextRef& ref, const v1::Context& patch,
                                                const google::protobuf::FieldMask& mask) {
  auto id = Find(ref);
  if (!id.ok()) return id.status();
  if (mask.paths_size() == 0)
    return absl::InvalidArgumentError("update_mask: name the fields to change");
  for (const std::string& path : mask.paths()) {
    if (UpdatableFields().count(path) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("update_mask: '", Echo(path),
                       "' cannot be changed (updatable: mac, ipv4_addresses, ipv6_addresses, "
                       "ipv6_link_local_addresses, vlan, mtu, offloads, rate_limit, rx_rate_limit, "
                       "storm_control)"));
    }
  }
  const v1::Context& current = contexts_.at(*id);
  v1::Context updated = SpecOf(current);
  FieldMaskUtil::MergeOptions replace;
  replace.set_replace_message_fields(true);
  replace.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(patch, mask, replace, &updated);
  if (auto s = NormalizeAndValidate(updated); !s.ok()) return s;
  if (auto s = CheckFastPathCapacity(updated); !s.ok()) return s;
  updated.set_id(current.id());
  updated.set_state(current.state());
  *updated.mutable_create_time() = current.create_time();
  if (auto s = CheckConflicts(updated, current.id()); !s.ok()) return s;
  if (updated.vlan() != current.vlan()) {
    if (auto s = CheckVlanRoom(updated.vlan()); !s.ok()) return s;
  }
  Unindex(current);
  Index(updated);
  contexts_[updated.id()] = updated;
  touched_.insert(updated.id());
  return updated;
}

absl::Status ContextPool::SetState(uint32_t id, v1::ContextState state,
                                   const v1::Offloads* effective_offloads) {
  auto it = contexts_.find(id);
  if (it == contexts_.end())
    return absl::NotFoundError(absl::StrCat("context ", id, " has no entry"));
  it->second.set_state(state);
  if (effective_offloads != nullptr) {
    *it->second.mutable_effective_offloads() = *effective_offloads;
  } else {
    it->second.clear_effective_offloads();
  }
  return absl::OkStatus();
}

absl::Status ContextPool::Restore(const std::vector<v1::Context>& contexts) {
  if (!contexts_.empty()) return absl::FailedPreconditionError("restore needs an empty pool");
  auto fail = [this](absl::Status s) {
    for (auto& [id, ctx] : contexts_) free_ids_.insert(id);
    contexts_.clear();
    by_device_.clear();
    by_interface_.clear();
    by_mac_.clear();
    by_ip_.clear();
    return s;
  };
  for (const v1::Context& saved : contexts) {
    v1::Context ctx = saved;
    if (auto s = NormalizeAndValidate(ctx); !s.ok()) {
      return fail(absl::DataLossError(absl::StrCat("context ", saved.id(), ": ", s.message())));
    }
    if (saved.id() == 0 || saved.id() > capacity_) {
      return fail(absl::DataLossError(
          absl::StrCat("context id ", saved.id(), " is outside the pool's 1..", capacity_)));
    }
    if (contexts_.count(saved.id()) != 0) {
      return fail(absl::DataLossError(absl::StrCat("context id ", saved.id(), " appears twice")));
    }
    ctx.set_id(saved.id());
    ctx.set_state(v1::CONTEXT_STATE_ASSIGNED);
    *ctx.mutable_create_time() = saved.create_time();
    if (auto s = CheckConflicts(ctx, 0); !s.ok()) {
      return fail(absl::DataLossError(absl::StrCat("context ", saved.id(), ": ", s.message())));
    }
    Index(ctx);
    free_ids_.erase(ctx.id());
    contexts_[ctx.id()] = std::move(ctx);
  }
  return absl::OkStatus();
}

std::vector<uint32_t> ContextPool::TakeTouched() {
  std::vector<uint32_t> ids(touched_.begin(), touched_.end());
  touched_.clear();
  return ids;
}

const v1::Context* ContextPool::Lookup(uint32_t id) const {
  auto it = contexts_.find(id);
  return it == contexts_.end() ? nullptr : &it->second;
}

void ContextPool::CopyFrom(const ContextPool& other, uint32_t id) {
  if (auto it = contexts_.find(id); it != contexts_.end()) {
    Unindex(it->second);
    contexts_.erase(it);
    free_ids_.insert(id);
  }
  const v1::Context* theirs = other.Lookup(id);
  if (theirs == nullptr) return;
  Index(*theirs);
  free_ids_.erase(id);
  contexts_[id] = *theirs;
}

std::vector<v1::Context> ContextPool::List() const {
  std::vector<v1::Context> all;
  all.reserve(contexts_.size());
  for (const auto& [id, ctx] : contexts_) all.push_back(ctx);
  return all;
}

std::vector<v1::Context> ContextPool::ListPage(uint32_t after_id, size_t max, bool* more) const {
  std::vector<v1::Context> page;
  auto it = contexts_.upper_bound(after_id);
  for (; it != contexts_.end() && page.size() < max; ++it) page.push_back(it->second);
  *more = it != contexts_.end();
  return page;
}

}  // namespace vnet
