/* Counters, traces and small actions shared by the programs. */
#ifndef VNET_BPF_HELPERS_H_
#define VNET_BPF_HELPERS_H_

#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include "maps.h"
#include "monitor.h"
#include "vnet/abi.h"

/* Set by tests at load time; the verifier removes the trace code when it is 0. */
const volatile __u32 vnet_trace_on = 0;

static __always_inline struct vnet_ctx_stats* vnet_stats_of(__u32 ctx_id) {
  return bpf_map_lookup_elem(&vnet_stats, &ctx_id);
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

/* Counts a drop against a context (0: none), notes it for the drop events (lib/monitor.h)
 * and returns the program's drop verdict. */
static __always_inline int vnet_drop(__u32 ctx_id, __u32 dir, __u32 reason, int verdict) {
  struct vnet_ctx_stats* s = vnet_stats_of(ctx_id);
  struct vnet_trace* t = vnet_trace_get();
  __u64 idx = reason;
  /* Bounds the index in the register that indexes: clang may otherwise test one copy of a
   * reason whose range the verifier does not know and index with another. */
  asm volatile("if %[i] < %[max] goto +1\n\t%[i] = 0" : [i] "+r"(idx) : [max] "i"(VNET_DROP_MAX));
  if (s && dir < VNET_DIR_MAX && idx) s->drops[dir][idx]++;
  if (t) t->reason = reason;
  vnet_monitor_note(ctx_id, dir, reason);
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

static __always_inline __u32 vnet_fdb_lookup(__u16 vlan, const __u8* mac) {
  struct vnet_fdb_key key = {.vlan = vlan};
  __u32* id;
  __builtin_memcpy(key.mac, mac, 6);
  id = bpf_map_lookup_elem(&vnet_fdb, &key);
  return id ? *id : 0;
}

#endif /* VNET_BPF_HELPERS_H_ */
