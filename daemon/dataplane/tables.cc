#include "daemon/dataplane/tables.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <functional>

#include "absl/strings/str_cat.h"
#include "daemon/core/context_validation.h"
#include "daemon/core/net_address.h"
#include "daemon/core/rate_limits.h"

namespace vnet {
namespace {

// The layouts the BPF side compiled against (bpf/include/vnet/abi.h); a change here is an
// ABI change that makes pinned maps of an older build incompatible.
static_assert(sizeof(vnet_fdb_key) == 8);
static_assert((VNET_IF_SLOTS & (VNET_IF_SLOTS - 1)) == 0, "slots are found by masking");
constexpr size_t kIfSlotsBytes = sizeof(uint64_t) * VNET_IF_SLOTS;
static_assert(sizeof(vnet_ctx_rec) == 64);
static_assert(sizeof(vnet_ip4_key) == 8);
static_assert(sizeof(vnet_ip6_key) == 20);
static_assert(sizeof(vnet_config) == 20);
static_assert(sizeof(vnet_stats_cpu) % 8 == 0, "per-CPU values are 8-byte aligned");
static_assert(offsetof(vnet_stats_cpu, c) == sizeof(vnet_fdb_hint) && sizeof(vnet_fdb_hint) == 8,
              "the hint first, on the line of the tx counters");
static_assert(sizeof(vnet_bucket) == 40);
static_assert(sizeof(vnet_limit) == 8 + 40 * VNET_BUCKET_MAX);
static_assert(sizeof(vnet_vlan_members) == sizeof(__u32) * (1 + VNET_VLAN_MAX_MEMBERS));
static_assert(VNET_VLAN_MAX_MEMBERS == kMaxContextsPerVlan,
              "the API refuses what the flood list cannot hold");

absl::Status Errno(int err, absl::string_view what) {
  return absl::ErrnoToStatus(err < 0 ? -err : err, what);
}

// Collects every key first: deleting while walking a hash map can skip entries.
template <typename K>
std::vector<K> Keys(int fd) {
  std::vector<K> keys;
  K key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    keys.push_back(next);
    key = next;
    prev = &key;
  }
  return keys;
}

template <typename K, typename V>
absl::Status DeleteIf(int fd, const std::function<bool(const K&, const V&)>& pred) {
  for (const K& k : Keys<K>(fd)) {
    V v{};
    if (bpf_map_lookup_elem(fd, &k, &v) != 0) continue;
    if (pred(k, v) && bpf_map_delete_elem(fd, &k) != 0 && errno != ENOENT)
      return Errno(errno, "map delete");
  }
  return absl::OkStatus();
}

static_assert(kMaxFastPathAddressesPerFamily == VNET_MAX_ADDRS_PER_CTX,
              "the API's address limit must be what the fast path holds");

std::array<uint8_t, 16> LinkLocalOf(const MacAddress& mac) {
  std::array<uint8_t, 16> a{};
  a[0] = 0xfe;
  a[1] = 0x80;
  a[8] = mac[0] ^ 0x02;
  a[9] = mac[1];
  a[10] = mac[2];
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = mac[3];
  a[14] = mac[4];
  a[15] = mac[5];
  return a;
}

// The record's per-packet shortcuts (abi.h): addresses inline when they all fit, and
// whether any bucket limits the context.
void FillShortcuts(ContextEntry& e) {
  if (e.ipv4.size() <= VNET_CTX_INLINE_IP4) {
    e.rec.flags |= VNET_CTX_F_IP4_INLINE;
    e.rec.n_ip4 = static_cast<uint16_t>(e.ipv4.size());
    for (size_t i = 0; i < e.ipv4.size(); ++i) std::memcpy(&e.rec.ip4[i], e.ipv4[i].data(), 4);
  }
  if (e.ipv6.size() <= VNET_CTX_INLINE_IP6) {
    e.rec.flags |= VNET_CTX_F_IP6_INLINE;
    e.rec.n_ip6 = static_cast<uint16_t>(e.ipv6.size());
    for (size_t i = 0; i < e.ipv6.size(); ++i) std::memcpy(e.rec.ip6[i], e.ipv6[i].data(), 16);
  }
  for (const vnet_bucket& b : e.limit.b)
    if (b.rate != 0) e.rec.flags |= VNET_CTX_F_LIMITED;
}

}  // namespace

absl::StatusOr<ContextEntry> MakeContextEntry(const v1::Context& ctx, uint32_t ifindex,
                                              uint32_t device_flags) {
  ContextEntry e;
  e.id = ctx.id();
  auto mac = ParseMac(ctx.mac());
  if (!mac || !IsUnicastMac(*mac) || IsZeroMac(*mac))
    return absl::InvalidArgumentError(absl::StrCat("bad MAC '", ctx.mac(), "'"));
  uint32_t vlan = ctx.vlan() == 0 ? 1 : ctx.vlan();
  if (vlan > 4094) return absl::InvalidArgumentError(absl::StrCat("bad VLAN ", vlan));
  if (ctx.ipv4_addresses_size() > VNET_MAX_ADDRS_PER_CTX)
    return absl::InvalidArgumentError("too many IPv4 addresses for the fast path");
  e.rec.ifindex = ifindex;
  e.rec.vlan = static_cast<uint16_t>(vlan);
  std::memcpy(e.rec.mac, mac->data(), 6);
  e.rec.mtu = ctx.mtu() == 0 ? 1500 : ctx.mtu();
  uint32_t flags = VNET_CTX_F_ACTIVE | device_flags;
  // Unset offloads mean every offload on (the "smart" virtual NIC).
  const v1::Offloads& o = ctx.offloads();
  bool all = !ctx.has_offloads();
  if (all || o.tx_checksum()) flags |= VNET_CTX_F_TX_CSUM;
  if (all || o.tso_v4()) flags |= VNET_CTX_F_TSO4;
  if (all || o.tso_v6()) flags |= VNET_CTX_F_TSO6;
  if (all || o.scatter_gather()) flags |= VNET_CTX_F_SG;
  if (all || o.rx_checksum()) flags |= VNET_CTX_F_RX_CSUM;
  if (all || o.rx_scatter_gather()) flags |= VNET_CTX_F_RX_SG;
  if (all || o.rx_tso_v4()) flags |= VNET_CTX_F_RX_TSO4;
  if (all || o.rx_tso_v6()) flags |= VNET_CTX_F_RX_TSO6;
  if (o.big_tcp_max_size() > 65536) flags |= VNET_CTX_F_BIG_TCP;
  e.rec.flags = flags;
  for (const std::string& s : ctx.ipv4_addresses()) {
    auto a = ParseIpv4(s);
    if (!a) return absl::InvalidArgumentError(absl::StrCat("bad IPv4 '", s, "'"));
    e.ipv4.push_back(*a);
  }
  // Its link-local addresses are its own too (ND, DAD, MLD, DHCPv6): the ones the context
  // lists, or else the EUI-64 one derived from its MAC.
  auto add6 = [&e](const std::array<uint8_t, 16>& a) {
    if (std::find(e.ipv6.begin(), e.ipv6.end(), a) == e.ipv6.end()) e.ipv6.push_back(a);
  };
  if (ctx.ipv6_link_local_addresses_size() == 0) add6(LinkLocalOf(*mac));
  for (const std::string& s : ctx.ipv6_link_local_addresses()) {
    auto a = ParseIpv6(s);
    if (!a || (*a)[0] != 0xfe || ((*a)[1] & 0xc0) != 0x80)
      return absl::InvalidArgumentError(absl::StrCat("bad IPv6 link-local '", s, "'"));
    add6(*a);
  }
  for (const std::string& s : ctx.ipv6_addresses()) {
    auto a = ParseIpv6(s);
    if (!a) return absl::InvalidArgumentError(absl::StrCat("bad IPv6 '", s, "'"));
    add6(*a);
  }
  if (e.ipv6.size() > VNET_MAX_ADDRS_PER_CTX)
    return absl::InvalidArgumentError("too many IPv6 addresses for the fast path");
  e.limit = LimitsOf(ctx);
  FillShortcuts(e);
  return e;
}

Tables::~Tables() {
  if (if_slots_) munmap(if_slots_, kIfSlotsBytes);
}

absl::StatusOr<uint64_t*> Tables::IfSlots() {
  if (if_slots_) return if_slots_;
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fds_.if_ctx, &info, &len) != 0) return Errno(errno, "vnet_if_ctx");
  if (info.max_entries != VNET_IF_SLOTS || info.value_size != sizeof(uint64_t) ||
      !(info.map_flags & BPF_F_MMAPABLE))
    return absl::FailedPreconditionError("vnet_if_ctx is not this build's slot array");
  void* p = mmap(nullptr, kIfSlotsBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fds_.if_ctx, 0);
  if (p == MAP_FAILED) return Errno(errno, "map vnet_if_ctx");
  if_slots_ = static_cast<uint64_t*>(p);
  return if_slots_;
}

absl::StatusOr<uint32_t> Tables::ContextOfInterface(uint32_t ifindex) {
  auto slots = IfSlots();
  if (!slots.ok()) return slots.status();
  const uint64_t word = __atomic_load_n(&(*slots)[ifindex & (VNET_IF_SLOTS - 1)], __ATOMIC_ACQUIRE);
  if (word != 0 && static_cast<uint32_t>(word) == ifindex) return static_cast<uint32_t>(word >> 32);
  uint32_t id = 0;
  if (bpf_map_lookup_elem(fds_.if_ctx_more, &ifindex, &id) != 0) return 0u;
  return id;
}

absl::Status Tables::PutInterface(uint32_t ifindex, uint32_t id) {
  auto slots = IfSlots();
  if (!slots.ok()) return slots.status();
  uint64_t* slot = &(*slots)[ifindex & (VNET_IF_SLOTS - 1)];
  const uint64_t word = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (word == 0 || static_cast<uint32_t>(word) == ifindex) {
    __atomic_store_n(slot, VNET_IF_SLOT(id, ifindex), __ATOMIC_RELEASE);
    // An overflow entry of this interface is shadowed by the slot now.
    if (bpf_map_delete_elem(fds_.if_ctx_more, &ifindex) != 0 && errno != ENOENT)
      return Errno(errno, "delete vnet_if_ctx_more");
    return absl::OkStatus();
  }
  // The slot is another interface's (same low bits): this one goes to the overflow.
  if (bpf_map_update_elem(fds_.if_ctx_more, &ifindex, &id, BPF_ANY) != 0)
    return Errno(errno, "write vnet_if_ctx_more");
  return absl::OkStatus();
}

absl::Status Tables::DeleteInterface(uint32_t ifindex, uint32_t id) {
  auto slots = IfSlots();
  if (!slots.ok()) return slots.status();
  uint64_t expected = VNET_IF_SLOT(id, ifindex);
  __atomic_compare_exchange_n(&(*slots)[ifindex & (VNET_IF_SLOTS - 1)], &expected, uint64_t{0},
                              false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  uint32_t owner = 0;
  if (bpf_map_lookup_elem(fds_.if_ctx_more, &ifindex, &owner) == 0 && owner == id &&
      bpf_map_delete_elem(fds_.if_ctx_more, &ifindex) != 0 && errno != ENOENT)
    return Errno(errno, "delete vnet_if_ctx_more");
  return absl::OkStatus();
}

absl::Status Tables::CheckId(uint32_t id) const {
  if (id == 0 || id > capacity_)
    return absl::InvalidArgumentError(absl::StrCat("context id ", id, " outside 1..", capacity_));
  return absl::OkStatus();
}

absl::StatusOr<vnet_ctx_rec> Tables::Get(uint32_t id) const {
  if (auto st = CheckId(id); !st.ok()) return st;
  vnet_ctx_rec rec{};
  if (bpf_map_lookup_elem(fds_.ctx, &id, &rec) != 0) return Errno(errno, "read vnet_ctx");
  return rec;
}

std::vector<uint32_t> Tables::ActiveIds() const {
  std::vector<uint32_t> ids;
  for (uint32_t id = 1; id <= capacity_; ++id) {
    vnet_ctx_rec rec{};
    if (bpf_map_lookup_elem(fds_.ctx, &id, &rec) == 0 && (rec.flags & VNET_CTX_F_ACTIVE))
      ids.push_back(id);
  }
  return ids;
}

absl::Status Tables::AddVlanMember(uint32_t vlan, uint32_t id) {
  vnet_vlan_members m{};
  bpf_map_lookup_elem(fds_.vlan, &vlan, &m);  // absent: starts empty
  for (uint32_t i = 0; i < m.count && i < VNET_VLAN_MAX_MEMBERS; ++i)
    if (m.ids[i] == id) return absl::OkStatus();
  if (m.count >= VNET_VLAN_MAX_MEMBERS)
    return absl::ResourceExhaustedError(absl::StrCat("VLAN ", vlan, " is full"));
  m.ids[m.count++] = id;
  if (bpf_map_update_elem(fds_.vlan, &vlan, &m, BPF_ANY) != 0)
    return Errno(errno, "write vnet_vlan");
  return absl::OkStatus();
}

absl::Status Tables::RemoveVlanMember(uint32_t vlan, uint32_t id) {
  vnet_vlan_members m{};
  if (bpf_map_lookup_elem(fds_.vlan, &vlan, &m) != 0) return absl::OkStatus();
  vnet_vlan_members out{};
  for (uint32_t i = 0; i < m.count && i < VNET_VLAN_MAX_MEMBERS; ++i)
    if (m.ids[i] != id) out.ids[out.count++] = m.ids[i];
  int rc = out.count == 0 ? bpf_map_delete_elem(fds_.vlan, &vlan)
                          : bpf_map_update_elem(fds_.vlan, &vlan, &out, BPF_ANY);
  if (rc != 0 && errno != ENOENT) return Errno(errno, "write vnet_vlan");
  return absl::OkStatus();
}

absl::Status Tables::ZeroStats(uint32_t id) {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return Errno(ncpu, "possible cpus");
  std::vector<vnet_stats_cpu> zero(static_cast<size_t>(ncpu));  // counters and hints
  if (bpf_map_update_elem(fds_.stats, &id, zero.data(), BPF_ANY) != 0)
    return Errno(errno, "write vnet_stats");
  return absl::OkStatus();
}

// Writes the buckets' configuration. With `keep_credit`, a bucket whose configuration is
// unchanged keeps its credit (a refresh must not hand out a fresh burst); others start full.
absl::Status Tables::PutLimit(uint32_t id, const vnet_limit& limit, bool keep_credit) {
  vnet_limit now{};
  vnet_limit next = limit;
  if (bpf_map_lookup_elem_flags(fds_.limit, &id, &now, BPF_F_LOCK) != 0)
    return Errno(errno, "read vnet_limit");
  for (int k = 0; k < VNET_BUCKET_MAX && keep_credit; ++k) {
    const vnet_bucket &old = now.b[k], &want = limit.b[k];
    if (old.rate == want.rate && old.cap == want.cap && old.fill_ns == want.fill_ns) {
      next.b[k].credit = old.credit;
      next.b[k].last_ns = old.last_ns;
    }
  }
  if (bpf_map_update_elem(fds_.limit, &id, &next, BPF_F_LOCK) != 0)
    return Errno(errno, "write vnet_limit");
  return absl::OkStatus();
}

absl::StatusOr<vnet_limit> Tables::ReadLimit(uint32_t id) const {
  if (auto st = CheckId(id); !st.ok()) return st;
  vnet_limit l{};
  if (bpf_map_lookup_elem_flags(fds_.limit, &id, &l, BPF_F_LOCK) != 0)
    return Errno(errno, "read vnet_limit");
  return l;
}

absl::Status Tables::Put(const ContextEntry& e) {
  if (auto st = CheckId(e.id); !st.ok()) return st;
  if (auto st = EnsureOwnedIndex(); !st.ok()) return st;
  auto old_or = Get(e.id);
  if (!old_or.ok()) return old_or.status();
  const vnet_ctx_rec old = *old_or;
  const bool was_active = old.flags & VNET_CTX_F_ACTIVE;

  vnet_fdb_key key{};
  key.vlan = e.rec.vlan;
  std::memcpy(key.mac, e.rec.mac, 6);
  uint32_t owner = 0;
  if (bpf_map_lookup_elem(fds_.fdb, &key, &owner) == 0 && owner != e.id)
    return absl::AlreadyExistsError(absl::StrCat("MAC already used by context ", owner));

  if (!was_active) {
    if (auto st = ZeroStats(e.id); !st.ok()) return st;
  }
  // Limits before the record: a context is never active without its limits.
  if (auto st = PutLimit(e.id, e.limit, was_active); !st.ok()) return st;
  if (bpf_map_update_elem(fds_.ctx, &e.id, &e.rec, BPF_ANY) != 0)
    return Errno(errno, "write vnet_ctx");
  if (bpf_map_update_elem(fds_.fdb, &key, &e.id, BPF_ANY) != 0)
    return Errno(errno, "write vnet_fdb");
  uint32_t ifindex = e.rec.ifindex;
  if (auto st = PutInterface(ifindex, e.id); !st.ok()) return st;

  const uint8_t one = 1;
  std::set<uint32_t> v4;
  for (const auto& a : e.ipv4) {
    vnet_ip4_key k{e.id, 0};
    std::memcpy(&k.addr, a.data(), 4);
    if (bpf_map_update_elem(fds_.ip4, &k, &one, BPF_ANY) != 0)
      return Errno(errno, "write vnet_ip4");
    v4.insert(k.addr);
  }
  std::set<std::array<uint8_t, 16>> v6(e.ipv6.begin(), e.ipv6.end());
  for (const auto& a : e.ipv6) {
    vnet_ip6_key k{};
    k.ctx_id = e.id;
    std::memcpy(k.addr, a.data(), 16);
    if (bpf_map_update_elem(fds_.ip6, &k, &one, BPF_ANY) != 0)
      return Errno(errno, "write vnet_ip6");
  }
  if (auto st = AddVlanMember(e.rec.vlan, e.id); !st.ok()) return st;
  if (e.rec.flags & VNET_CTX_F_XDP_TARGET) {
    if (bpf_map_update_elem(fds_.xdp_tx, &e.id, &ifindex, BPF_ANY) != 0)
      return Errno(errno, "write vnet_xdp_tx");
  } else {
    bpf_map_delete_elem(fds_.xdp_tx, &e.id);  // ENOENT is the usual answer
  }

  // Now the stale parts of the previous version of this context.
  OwnedKeys now;
  now.fdb.push_back(key);
  now.ifindex.push_back(ifindex);
  for (uint32_t a : v4) now.ip4.push_back(a);
  for (const auto& a : v6) now.ip6.push_back(a);
  auto& owned = (*owned_)[e.id];
  if (auto st = DeleteOwned(e.id, owned, &now); !st.ok()) return st;
  owned = std::move(now);
  if (was_active && old.vlan != e.rec.vlan) return RemoveVlanMember(old.vlan, e.id);
  return absl::OkStatus();
}

absl::Status Tables::Remove(uint32_t id) {
  if (auto st = CheckId(id); !st.ok()) return st;
  if (auto st = EnsureOwnedIndex(); !st.ok()) return st;
  auto old = Get(id);
  if (!old.ok()) return old.status();
  // First the record: the programs stop treating the context as active at once.
  vnet_ctx_rec zero{};
  if (bpf_map_update_elem(fds_.ctx, &id, &zero, BPF_ANY) != 0)
    return Errno(errno, "write vnet_ctx");
  bpf_map_delete_elem(fds_.xdp_tx, &id);
  if (auto st = PutLimit(id, vnet_limit{}, false); !st.ok()) return st;
  if (auto it = owned_->find(id); it != owned_->end()) {
    if (auto st = DeleteOwned(id, it->second, nullptr); !st.ok()) return st;
    owned_->erase(it);
  }
  if (old->flags != 0) {
    if (auto st = RemoveVlanMember(old->vlan, id); !st.ok()) return st;
  }
  return ZeroStats(id);
}

absl::Status Tables::EnsureOwnedIndex() {
  if (owned_) return absl::OkStatus();
  std::map<uint32_t, OwnedKeys> owned;
  for (const auto& k : Keys<vnet_fdb_key>(fds_.fdb)) {
    uint32_t id = 0;
    if (bpf_map_lookup_elem(fds_.fdb, &k, &id) == 0) owned[id].fdb.push_back(k);
  }
  auto slots = IfSlots();
  if (!slots.ok()) return slots.status();
  for (uint32_t i = 0; i < VNET_IF_SLOTS; ++i) {
    const uint64_t word = __atomic_load_n(&(*slots)[i], __ATOMIC_ACQUIRE);
    if (word != 0)
      owned[static_cast<uint32_t>(word >> 32)].ifindex.push_back(static_cast<uint32_t>(word));
  }
  for (uint32_t ifindex : Keys<uint32_t>(fds_.if_ctx_more)) {
    uint32_t id = 0;
    if (bpf_map_lookup_elem(fds_.if_ctx_more, &ifindex, &id) == 0)
      owned[id].ifindex.push_back(ifindex);
  }
  for (const auto& k : Keys<vnet_ip4_key>(fds_.ip4)) owned[k.ctx_id].ip4.push_back(k.addr);
  for (const auto& k : Keys<vnet_ip6_key>(fds_.ip6)) {
    std::array<uint8_t, 16> a;
    std::memcpy(a.data(), k.addr, 16);
    owned[k.ctx_id].ip6.push_back(a);
  }
  owned_ = std::move(owned);
  return absl::OkStatus();
}

absl::Status Tables::DeleteOwned(uint32_t id, const OwnedKeys& keys, const OwnedKeys* keep) {
  auto kept = [keep](const auto OwnedKeys::*list, const auto& k) {
    return keep && std::find((keep->*list).begin(), (keep->*list).end(), k) != (keep->*list).end();
  };
  auto del = [](int fd, const void* k, const char* what) -> absl::Status {
    if (bpf_map_delete_elem(fd, k) != 0 && errno != ENOENT) return Errno(errno, what);
    return absl::OkStatus();
  };
  // A MAC or an interface index may have passed to another context since (a guest's vif
  // removed and its ifindex reused): delete the key only while it still maps to `id`.
  auto del_ours = [id, &del](int fd, const void* k, const char* what) -> absl::Status {
    uint32_t owner = 0;
    if (bpf_map_lookup_elem(fd, k, &owner) == 0 && owner != id) return absl::OkStatus();
    return del(fd, k, what);
  };
  for (const vnet_fdb_key& k : keys.fdb) {
    const bool same =
        keep && std::any_of(keep->fdb.begin(), keep->fdb.end(), [&](const vnet_fdb_key& o) {
          return std::memcmp(&o, &k, sizeof(k)) == 0;
        });
    if (same) continue;
    if (auto st = del_ours(fds_.fdb, &k, "delete vnet_fdb"); !st.ok()) return st;
  }
  for (uint32_t ifindex : keys.ifindex) {
    if (kept(&OwnedKeys::ifindex, ifindex)) continue;
    if (auto st = DeleteInterface(ifindex, id); !st.ok()) return st;
  }
  for (uint32_t a : keys.ip4) {
    if (kept(&OwnedKeys::ip4, a)) continue;
    const vnet_ip4_key k{id, a};
    if (auto st = del(fds_.ip4, &k, "delete vnet_ip4"); !st.ok()) return st;
  }
  for (const auto& a : keys.ip6) {
    if (kept(&OwnedKeys::ip6, a)) continue;
    vnet_ip6_key k{};
    k.ctx_id = id;
    std::memcpy(k.addr, a.data(), 16);
    if (auto st = del(fds_.ip6, &k, "delete vnet_ip6"); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status Tables::SweepOrphans(const std::set<uint32_t>& keep) {
  owned_.reset();  // rebuilt from what the sweep leaves
  auto stale = [&](uint32_t id) { return keep.count(id) == 0; };
  absl::Status st = DeleteIf<vnet_fdb_key, uint32_t>(
      fds_.fdb, [&](const vnet_fdb_key&, const uint32_t& v) { return stale(v); });
  if (!st.ok()) return st;
  st = DeleteIf<uint32_t, uint32_t>(fds_.if_ctx_more,
                                    [&](const uint32_t&, const uint32_t& v) { return stale(v); });
  if (!st.ok()) return st;
  auto slots = IfSlots();
  if (!slots.ok()) return slots.status();
  for (uint32_t i = 0; i < VNET_IF_SLOTS; ++i) {
    uint64_t word = __atomic_load_n(&(*slots)[i], __ATOMIC_ACQUIRE);
    if (word != 0 && stale(static_cast<uint32_t>(word >> 32)))
      __atomic_compare_exchange_n(&(*slots)[i], &word, uint64_t{0}, false, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE);
  }
  st = DeleteIf<vnet_ip4_key, uint8_t>(
      fds_.ip4, [&](const vnet_ip4_key& k, const uint8_t&) { return stale(k.ctx_id); });
  if (!st.ok()) return st;
  st = DeleteIf<vnet_ip6_key, uint8_t>(
      fds_.ip6, [&](const vnet_ip6_key& k, const uint8_t&) { return stale(k.ctx_id); });
  if (!st.ok()) return st;
  for (uint32_t vlan : Keys<uint32_t>(fds_.vlan)) {
    vnet_vlan_members m{};
    if (bpf_map_lookup_elem(fds_.vlan, &vlan, &m) != 0) continue;
    for (uint32_t i = 0; i < m.count && i < VNET_VLAN_MAX_MEMBERS; ++i) {
      if (stale(m.ids[i])) {
        if (auto s = RemoveVlanMember(vlan, m.ids[i]); !s.ok()) return s;
      }
    }
  }
  for (uint32_t id = 1; id <= capacity_; ++id) {
    if (!stale(id)) continue;
    vnet_ctx_rec rec{};
    if (bpf_map_lookup_elem(fds_.ctx, &id, &rec) == 0 && rec.flags != 0) {
      vnet_ctx_rec zero{};
      bpf_map_update_elem(fds_.ctx, &id, &zero, BPF_ANY);
      bpf_map_delete_elem(fds_.xdp_tx, &id);
      PutLimit(id, vnet_limit{}, false).IgnoreError();
    }
  }
  return absl::OkStatus();
}

absl::Status Tables::SetConfig(const vnet_config& cfg) {
  uint32_t zero = 0;
  if (bpf_map_update_elem(fds_.config, &zero, &cfg, BPF_ANY) != 0)
    return Errno(errno, "write vnet_config");
  return absl::OkStatus();
}

absl::StatusOr<vnet_config> Tables::GetConfig() const {
  uint32_t zero = 0;
  vnet_config cfg{};
  if (bpf_map_lookup_elem(fds_.config, &zero, &cfg) != 0) return Errno(errno, "read vnet_config");
  return cfg;
}

absl::StatusOr<ContextCounters> Tables::ReadCounters(uint32_t id) const {
  if (id > capacity_) return absl::InvalidArgumentError(absl::StrCat("context id ", id));
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return Errno(ncpu, "possible cpus");
  std::vector<vnet_stats_cpu> per_cpu(static_cast<size_t>(ncpu));
  if (bpf_map_lookup_elem(fds_.stats, &id, per_cpu.data()) != 0)
    return Errno(errno, "read vnet_stats");
  // Every field is a __u64 counter (abi.h): sum them word by word.
  static_assert(sizeof(vnet_ctx_stats) % sizeof(uint64_t) == 0, "vnet_ctx_stats holds __u64s");
  constexpr size_t kWords = sizeof(vnet_ctx_stats) / sizeof(uint64_t);
  std::array<uint64_t, kWords> sum{};
  for (const vnet_stats_cpu& s : per_cpu) {
    std::array<uint64_t, kWords> words;
    std::memcpy(words.data(), &s.c, sizeof(s.c));
    for (size_t i = 0; i < kWords; ++i) sum[i] += words[i];
  }
  ContextCounters c{};
  std::memcpy(&c, sum.data(), sizeof(c));
  return c;
}

}  // namespace vnet
