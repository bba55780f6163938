// The bounded pool of guest contexts and its invariants. Pure logic: no kernel, no I/O,
// no locking (the owner serialises calls).
//
// Invariants: unique id (1..capacity, 0 is "none" so zeroed BPF array slots mean nothing),
// unique (domain, device), unique interface, unique MAC within a VLAN, no IP address claimed
// by two contexts of the same VLAN.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/field_mask.pb.h"
#include "vnet/v1/context.pb.h"

namespace vnet {

inline constexpr uint32_t kDefaultCapacity = 128;  // what the CDNA NIC exported
inline constexpr uint32_t kMaxCapacity = 65535;

class ContextPool {
 public:
  explicit ContextPool(uint32_t capacity);

  struct AssignResult {
    v1::Context context;
    bool created = false;  // false: the same request had already been granted
  };
  // Validates `spec` and grants a context, or returns the existing one for an identical
  // request. Conflicts: ALREADY_EXISTS (device or interface taken), FAILED_PRECONDITION
  // (MAC or IP taken in the VLAN); a full pool is RESOURCE_EXHAUSTED.
  absl::StatusOr<AssignResult> Assign(v1::Context spec, absl::Time now);
  absl::StatusOr<v1::Context> Release(const v1::ContextRef& ref);
  absl::StatusOr<v1::Context> Get(const v1::ContextRef& ref) const;
  absl::StatusOr<v1::Context> Update(const v1::ContextRef& ref, const v1::Context& patch,
                                     const google::protobuf::FieldMask& mask);
  // Records the fast path's view of a context: its state and (if known) the offloads in
  // effect.
  absl::Status SetState(uint32_t id, v1::ContextState state,
                        const v1::Offloads* effective_offloads = nullptr);
  // Loads contexts from persisted state into an empty pool, keeping their ids; every
  // invariant is checked and the first violation is returned (the pool is then empty).
  absl::Status Restore(const std::vector<v1::Context>& contexts);

  // The ids that Assign, Release and Update changed since the last call (SetState is not a
  // change: it is the fast path's view, not the client's). The registry persists only these.
  std::vector<uint32_t> TakeTouched();
  // Makes context `id` here what it is in `other` (present or absent), without the checks:
  // `other` holds the invariants already. Keeps two pools in step one context at a time.
  void CopyFrom(const ContextPool& other, uint32_t id);
  // The context with this id, or nullptr.
  const v1::Context* Lookup(uint32_t id) const;

  std::vector<v1::Context> List() const;  // ordered by id
  // Up to `max` contexts with ids above `after_id`, ordered by id; `*more` is set when
  // contexts are left after them.
  std::vector<v1::Context> ListPage(uint32_t after_id, size_t max, bool* more) const;
  uint32_t capacity() const { return capacity_; }
  size_t size() const { return contexts_.size(); }

 private:
  using VlanKey = std::pair<uint32_t, std::string>;  // (vlan, canonical address)

  absl::StatusOr<uint32_t> Find(const v1::ContextRef& ref) const;
  // Checks that `ctx` could be indexed without breaking an invariant, ignoring context
  // `self` (the one being updated, or 0).
  absl::Status CheckConflicts(const v1::Context& ctx, uint32_t self) const;
  // RESOURCE_EXHAUSTED when `vlan` already holds kMaxContextsPerVlan contexts.
  absl::Status CheckVlanRoom(uint32_t vlan) const;
  void Index(const v1::Context& ctx);
  void Unindex(const v1::Context& ctx);

  uint32_t capacity_;
  std::map<uint32_t, v1::Context> contexts_;
  std::set<uint32_t> free_ids_;
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> by_device_;
  std::map<std::string, uint32_t> by_interface_;
  std::map<VlanKey, uint32_t> by_mac_;
  std::map<VlanKey, uint32_t> by_ip_;
  std::map<uint32_t, uint32_t> members_per_vlan_;
  std::set<uint32_t> touched_;
};

// Every address of a context, IPv4 then IPv6, in canonical form.
std::vector<std::string> AllAddresses(const v1::Context& ctx);

}  // namespace vnet
