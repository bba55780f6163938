/* Counters, traces and small actions shared by the programs. */
#ifndef VNET_BPF_HELPERS_H_
#define VNET_BPF_HELPERS_H_

#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include "maps.h"
#include "monitor.h"
#include "parse.h"
#include "vnet/abi.h"

/* Set by tests at load time; the verifier removes the trace code when it is 0. */
const volatile __u32 vnet_trace_on = 0;

/* The CPU's counters of a context (and its hint: struct vnet_stats_cpu). */
static __always_inline struct vnet_stats_cpu* vnet_stats_cpu_of(__u32 ctx_id) {
  return bpf_map_lookup_elem(&vnet_stats, &ctx_id);
}

static __always_inline struct vnet_ctx_stats* vnet_stats_of(__u32 ctx_id) {
  struct vnet_stats_cpu* s = vnet_stats_cpu_of(ctx_id);
  return s ? &s->c : 0;
}

static __always_inline void vnet_count_rx(__u32 ctx_id, __u64 bytes) {
  struct vnet_ctx_stats* s = vnet_stats_of(ctx_id);
  if (s) {
    s->rx_packets++;
    s->rx_bytes += bytes;
  }
}

static __always_inline void vnet_count_tx(__u32 ctx_id, __u64 bytes) {
  struct vnet_ctx_stats* s = vnet_stats_of(ctx_id);
  if (s) {
    s->tx_packets++;
    s->tx_bytes += bytes;
  }
}

static __always_inline struct vnet_trace* vnet_trace_get(void) {
  __u32 zero = 0;
  if (!vnet_trace_on) return 0;
  return bpf_map_lookup_elem(&vnet_trace, &zero);
}

/* Starts a new trace record for this packet. */
static __always_inline void vnet_trace_begin(void) {
  struct vnet_trace* t = vnet_trace_get();
  if (t) {
    __u32 seq = t->seq + 1;
    __builtin_memset(t, 0, sizeof(*t));
    t->seq = seq;
  }
}

static __always_inline void vnet_trace_target(__u32 ifindex, __u32 ctx_id, __u16 vlan_push,
                                              __u32 peer) {
  struct vnet_trace* t = vnet_trace_get();
  if (t) {
    t->target_ifindex = ifindex;
    t->target_ctx = ctx_id;
    t->vlan_push = vlan_push;
    t->peer = peer;
  }
}

static __always_inline void vnet_trace_clone(__u32 ifindex) {
  struct vnet_trace* t = vnet_trace_get();
  if (t) {
    __u32 n = t->n_clones;
    if (n < VNET_TRACE_MAX_CLONES) t->clones[n] = ifindex;
    t->n_clones = n + 1;
  }
}

/* Counts a drop against a context (0: none) and notes it for the drop events
 * (lib/monitor.h). A global (noinline) function: one copy, verified once, instead of code
 * inlined wherever a drop is decided (a smaller image around the forwarding path).
 * Returns 0. */
__attribute__((noinline)) int vnet_count_drop(__u32 ctx_id, __u32 dir, __u32 reason) {
  struct vnet_ctx_stats* s = vnet_stats_of(ctx_id);
  struct vnet_trace* t = vnet_trace_get();
  __u64 idx = reason, d = dir;
  /* Bounds the indexes in the registers that index: a global function's arguments have no
   * known range, and clang may test one copy and index with another. */
  asm volatile("if %[i] < %[max] goto +1\n\t%[i] = 0" : [i] "+r"(idx) : [max] "i"(VNET_DROP_MAX));
  asm volatile("if %[d] < %[max] goto +1\n\t%[d] = 0" : [d] "+r"(d) : [max] "i"(VNET_DIR_MAX));
  if (s && idx) s->drops[d][idx]++;
  if (t) t->reason = reason;
  vnet_monitor_note(ctx_id, dir, reason);
  return 0;
}

/* Counts the drop and returns the program's drop verdict (a constant the caller knows). */
static __always_inline int vnet_drop(__u32 ctx_id, __u32 dir, __u32 reason, int verdict) {
  vnet_count_drop(ctx_id, dir, reason);
  return verdict;
}

static __always_inline struct vnet_config* vnet_config_get(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&vnet_config, &zero);
}

static __always_inline struct vnet_ctx_rec* vnet_ctx_get(__u32 ctx_id) {
  struct vnet_ctx_rec* rec;
  if (ctx_id == 0) return 0;
  rec = bpf_map_lookup_elem(&vnet_ctx, &ctx_id);
  if (!rec || !(rec->flags & VNET_CTX_F_ACTIVE)) return 0;
  return rec;
}

/* The context of guest interface `ifindex`, 0 when none: its slot when the slot names it
 * (one load of the whole word: vnetd replaces a slot with one store), else the overflow. */
static __always_inline __u32 vnet_ctx_of_ifindex(__u32 ifindex) {
  __u32 slot = ifindex & (VNET_IF_SLOTS - 1);
  __u64* v = bpf_map_lookup_elem(&vnet_if_ctx, &slot);
  __u32* id;
  if (v) {
    __u64 word = *(volatile __u64*)v;
    if ((__u32)word == ifindex) return (__u32)(word >> 32);
  }
  id = bpf_map_lookup_elem(&vnet_if_ctx_more, &ifindex);
  return id ? *id : 0;
}

/* The context that owns MAC `mac` (a vnet_mac_word()) in `vlan`, 0 if none. */
static __always_inline __u32 vnet_fdb_lookup_word(__u16 vlan, __u64 mac) {
  union {
    struct vnet_fdb_key k;
    __u64 align;
  } key = {.k = {.vlan = vlan}};
  __u32* id;
  vnet_mac_word_store(key.k.mac, mac);
  id = bpf_map_lookup_elem(&vnet_fdb, &key.k);
  return id ? *id : 0;
}

/* Whether record `rec` is the active context with `vlan` and MAC `mac` (vnet_mac_word). */
static __always_inline int vnet_ctx_is(const struct vnet_ctx_rec* rec, __u16 vlan, __u64 mac) {
  return rec && rec->vlan == vlan && vnet_mac_word(rec->mac) == mac;
}

/* The context the hint in `s` names when that context is the active one with (vlan, mac),
 * with its record in *to; else 0 and no record. No table lookup either way. */
static __always_inline __u32 vnet_fdb_hint_take(struct vnet_stats_cpu* s, __u16 vlan, __u64 mac,
                                                struct vnet_ctx_rec** to) {
  __u32 id;
  *to = 0;
  if (!s) return 0;
  id = s->hint.ctx_id;
  *to = vnet_ctx_get(id);
  if (vnet_ctx_is(*to, vlan, mac)) return id;
  *to = 0;
  return 0;
}

/* The fdb's answer for (vlan, mac), its record in *to; a context found becomes the hint in
 * `s` (when given). */
static __always_inline __u32 vnet_fdb_lookup_to_hint(struct vnet_stats_cpu* s, __u16 vlan,
                                                     __u64 mac, struct vnet_ctx_rec** to) {
  __u32 id = vnet_fdb_lookup_word(vlan, mac);
  *to = vnet_ctx_get(id);
  if (s && *to) s->hint.ctx_id = id;
  return id;
}

/* The local context that has (vlan, mac), 0 when none, and its record in *to: the sender's
 * hint (`s`, its per-CPU counters) when it names that context, else the fdb, whose answer
 * becomes the hint. The same answer either way (vnet/abi.h, struct vnet_fdb_hint). */
static __always_inline __u32 vnet_fdb_lookup_hinted(struct vnet_stats_cpu* s, __u16 vlan, __u64 mac,
                                                    struct vnet_ctx_rec** to) {
  __u32 id = vnet_fdb_hint_take(s, vlan, mac, to);
  return id ? id : vnet_fdb_lookup_to_hint(s, vlan, mac, to);
}

/* The uplink programs' hint: context 0's per-CPU value. No guest sends as context 0 (its
 * counters are the drops of no context), so its hint slot is the wire's, shared by the XDP
 * and TC programs under the same rule as a guest's. */
static __always_inline struct vnet_stats_cpu* vnet_uplink_hint(void) {
  return vnet_stats_cpu_of(0);
}

/* Whether VLAN `vlan` has a guest: frames for a VLAN without one are the host's. */
static __always_inline int vnet_vlan_has_members(__u32 vlan) {
  struct vnet_vlan_members* m = bpf_map_lookup_elem(&vnet_vlan, &vlan);
  return m && m->count != 0;
}

#endif /* VNET_BPF_HELPERS_H_ */
