// The fast path's tables (see bpf/include/vnet/abi.h), written and read through map fds.
// The one place that knows how a context is spread over the maps; shared by BpfDataplane
// and the BPF fixture tests so both exercise the same writer.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/core/dataplane.h"
#include "vnet/abi.h"
#include "vnet/v1/context.pb.h"

namespace vnet {

// File descriptors of the maps; owned by whoever loaded them.
struct MapFds {
  int fdb = -1;
  int ctx = -1;
  int if_ctx = -1;
  int if_ctx_more = -1;
  int ip4 = -1;
  int ip6 = -1;
  int vlan = -1;
  int stats = -1;
  int config = -1;
  int xdp_tx = -1;
  int limit = -1;
};

// A context as the fast path holds it.
struct ContextEntry {
  uint32_t id = 0;
  vnet_ctx_rec rec{};
  std::vector<std::array<uint8_t, 4>> ipv4;
  std::vector<std::array<uint8_t, 16>> ipv6;  // with its link-locals (or the EUI-64 one)
  vnet_limit limit{};                         // rate limits and storm control, full
};

// Builds the entry of `ctx` on device `ifindex`; `device_flags` are the VNET_CTX_F_PEER /
// VNET_CTX_F_XDP_TARGET bits the caller detected. Validates addresses and limits.
absl::StatusOr<ContextEntry> MakeContextEntry(const v1::Context& ctx, uint32_t ifindex,
                                              uint32_t device_flags);

class Tables {
 public:
  Tables(const MapFds& fds, uint32_t capacity) : fds_(fds), capacity_(capacity) {}
  ~Tables();
  Tables(const Tables&) = delete;
  Tables& operator=(const Tables&) = delete;

  // Adds or refreshes a context: new keys are written before stale ones are removed, so a
  // refresh never leaves a gap. Counters restart only for a context that was not active.
  absl::Status Put(const ContextEntry& entry);
  // Removes every key and value that refers to `id`, active or not. Idempotent.
  absl::Status Remove(uint32_t id);
  // Deletes entries in any table that refer to an id outside `keep` (crash leftovers).
  absl::Status SweepOrphans(const std::set<uint32_t>& keep);

  // The record of `id`; flags == 0 when it is not in use.
  absl::StatusOr<vnet_ctx_rec> Get(uint32_t id) const;
  // The context interface `ifindex` belongs to, 0 when none.
  absl::StatusOr<uint32_t> ContextOfInterface(uint32_t ifindex);
  std::vector<uint32_t> ActiveIds() const;
  absl::Status SetConfig(const vnet_config& cfg);
  absl::StatusOr<vnet_config> GetConfig() const;
  absl::StatusOr<ContextCounters> ReadCounters(uint32_t id) const;
  // The token buckets of `id` as the fast path holds them now (read under their lock).
  absl::StatusOr<vnet_limit> ReadLimit(uint32_t id) const;

 private:
  absl::Status CheckId(uint32_t id) const;
  absl::Status AddVlanMember(uint32_t vlan, uint32_t id);
  absl::Status RemoveVlanMember(uint32_t vlan, uint32_t id);
  absl::Status ZeroStats(uint32_t id);
  // vnet_if_ctx's slots, mapped on first use (abi.h: one atomic store per update).
  absl::StatusOr<uint64_t*> IfSlots();
  // Gives interface `ifindex` to context `id`: its slot when free or already its own, else
  // the overflow table.
  absl::Status PutInterface(uint32_t ifindex, uint32_t id);
  // Takes interface `ifindex` from context `id`, only where it still maps to `id`.
  absl::Status DeleteInterface(uint32_t ifindex, uint32_t id);
  absl::Status PutLimit(uint32_t id, const vnet_limit& limit, bool keep_credit);

  // The hash-map keys written for one context: what a refresh or a removal must delete.
  struct OwnedKeys {
    std::vector<vnet_fdb_key> fdb;
    std::vector<uint32_t> ifindex;
    std::vector<uint32_t> ip4;
    std::vector<std::array<uint8_t, 16>> ip6;
  };
  // Builds owned_ from one walk of the maps (they may hold a previous daemon's entries);
  // afterwards Put and Remove keep it current, so neither walks a map again: per-context
  // work stays constant however many contexts there are.
  absl::Status EnsureOwnedIndex();
  // Deletes context `id`'s keys in `keys` that `keep` does not hold (nullptr: all of them).
  absl::Status DeleteOwned(uint32_t id, const OwnedKeys& keys, const OwnedKeys* keep);

  MapFds fds_;
  uint32_t capacity_;
  std::optional<std::map<uint32_t, OwnedKeys>> owned_;
  uint64_t* if_slots_ = nullptr;
};

}  // namespace vnet
