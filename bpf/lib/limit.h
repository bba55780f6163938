/* Rate limits and storm control: token buckets in vnet_limit (see vnet/abi.h), one
 * bpf_spin_lock per context. A frame passes only when every bucket it draws from holds
 * enough, and then all of them are charged under the same lock: no CPU can spend credit
 * another CPU already spent.
 *
 * "Enough" differs by kind. A storm bucket counts packets and must hold a whole one. A
 * byte bucket passes a frame while its credit is positive and charges the frame in full,
 * so credit may go below zero by at most the largest frame less one unit (overdraft).
 * Without it a super-packet waits until smaller frames leave it room, and one larger than
 * the whole bucket (BIG TCP) never passes. (It does not change what one TCP stream gets;
 * the default burst does: daemon/core/rate_limits.h.) The bound stays: over any interval t
 * a byte bucket passes at most
 *     rate x t + cap + one frame (the largest, a super-packet by its wire length),
 * because credit starts at most at cap, grows by at most rate x t, and ends above minus
 * one frame; every step is taken under the lock, so this holds across CPUs.
 * Xen's rate= (credit bytes per interval) maps onto rate and cap (xen-hooks/README.md). */
#ifndef VNET_BPF_LIMIT_H_
#define VNET_BPF_LIMIT_H_

#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include "helpers.h"
#include "maps.h"
#include "offload.h"

/* Brings a bucket's credit up to `now`. Credit grows by at most elapsed x rate (that is
 * the bound above), capped at cap. elapsed is clamped to fill_ns (cap / rate + 1), so
 * elapsed x rate stays below cap + rate and nothing overflows for the caps the daemon
 * accepts; a bucket in overdraft that stayed idle longer may come back up to one frame
 * short of full, never over. */
static __always_inline void vnet_bucket_refill(struct vnet_bucket* b, __u64 now) {
  __u64 elapsed;
  __s64 credit;
  if (now <= b->last_ns) return;
  elapsed = now - b->last_ns;
  b->last_ns = now;
  if (elapsed > b->fill_ns) elapsed = b->fill_ns;
  credit = b->credit + (__s64)(elapsed * b->rate);
  b->credit = credit > (__s64)b->cap ? (__s64)b->cap : credit;
}

/* 1 when bucket `b` is limited and holds less than `need` (after a refill). */
static __always_inline int vnet_bucket_short(struct vnet_bucket* b, __s64 need, __u64 now) {
  if (!b->rate) return 0;
  vnet_bucket_refill(b, now);
  return b->credit < need;
}

static __always_inline void vnet_bucket_charge(struct vnet_bucket* b, __u64 cost) {
  if (b->rate) b->credit -= (__s64)cost;
}

/* Takes `bits` from byte bucket `bits_kind` (VNET_BUCKET_TX or _RX) and one packet from
 * storm bucket `pkt_kind` (VNET_BUCKET_MAX: none) of context `ctx_id`, both or neither.
 * Returns 0 when admitted, else 1 + the kind of the bucket that refused. A global
 * function: verified once, and the lock is taken and released inside it. */
__attribute__((noinline)) int vnet_limit_admit(__u32 ctx_id, __u32 bits_kind, __u64 bits,
                                               __u32 pkt_kind) {
  struct vnet_limit* l;
  struct vnet_bucket *bb, *pb = 0;
  __u64 now, bits_cost = bits * VNET_LIMIT_NS;
  int refused = 0;
  l = bpf_map_lookup_elem(&vnet_limit, &ctx_id);
  if (!l) return 0;
  /* Constant offsets only: the verifier loses a variable index's bounds to clang's
   * reordering of the check. */
  bb = bits_kind == VNET_BUCKET_RX ? &l->b[VNET_BUCKET_RX] : &l->b[VNET_BUCKET_TX];
  if (pkt_kind == VNET_BUCKET_BROADCAST)
    pb = &l->b[VNET_BUCKET_BROADCAST];
  else if (pkt_kind == VNET_BUCKET_MULTICAST)
    pb = &l->b[VNET_BUCKET_MULTICAST];
  else if (pkt_kind == VNET_BUCKET_UNKNOWN_UNICAST)
    pb = &l->b[VNET_BUCKET_UNKNOWN_UNICAST];
  /* Unlimited contexts never touch the lock (a racy read of configuration only). */
  if (!bb->rate && (!pb || !pb->rate)) return 0;
  now = bpf_ktime_get_ns();
  bpf_spin_lock(&l->lock);
  /* A storm bucket must hold the whole packet; a byte bucket only some credit (1 unit):
   * the overdraft above. */
  if (pb && vnet_bucket_short(pb, VNET_LIMIT_NS, now)) {
    refused = 1 + (int)pkt_kind;
  } else if (vnet_bucket_short(bb, 1, now)) {
    refused = 1 + (bits_kind == VNET_BUCKET_RX ? VNET_BUCKET_RX : VNET_BUCKET_TX);
  } else {
    vnet_bucket_charge(bb, bits_cost);
    if (pb) vnet_bucket_charge(pb, VNET_LIMIT_NS);
  }
  bpf_spin_unlock(&l->lock);
  return refused;
}

/* Bytes a frame takes on the wire: a super-packet becomes gso_segs frames, each with the
 * headers (`hdr_len`, 0 when not TCP: then its payload alone is counted). */
static __always_inline __u64 vnet_wire_len(struct __sk_buff* skb, __u32 hdr_len) {
  __u32 segs;
  if (!skb->gso_size) return skb->len;
  segs = vnet_gso_segs(skb, hdr_len);
  if (segs > 1) return (__u64)skb->len + (__u64)(segs - 1) * hdr_len;
  return skb->len;
}

/* The drop reason for a refusal of vnet_limit_admit (0: admitted). */
static __always_inline __u32 vnet_limit_reason(int refused) {
  if (refused == 0) return VNET_DROP_NONE;
  if (refused == 1 + VNET_BUCKET_BROADCAST) return VNET_DROP_STORM_BROADCAST;
  if (refused == 1 + VNET_BUCKET_MULTICAST) return VNET_DROP_STORM_MULTICAST;
  if (refused == 1 + VNET_BUCKET_UNKNOWN_UNICAST) return VNET_DROP_STORM_UNKNOWN_UNICAST;
  return VNET_DROP_RATE_LIMIT;
}

/* Whether context `ctx_id` (record `rec`) may receive `bytes` now; counts the drop when it
 * may not. A context without limits (VNET_CTX_F_LIMITED clear) never touches its buckets. */
static __always_inline int vnet_rx_admit(const struct vnet_ctx_rec* rec, __u32 ctx_id,
                                         __u64 bytes) {
  if (!(rec->flags & VNET_CTX_F_LIMITED)) return 1;
  if (vnet_limit_admit(ctx_id, VNET_BUCKET_RX, bytes * 8, VNET_BUCKET_MAX) == 0) return 1;
  vnet_drop(ctx_id, VNET_DIR_RX, VNET_DROP_RATE_LIMIT, 0);
  return 0;
}

#endif /* VNET_BPF_LIMIT_H_ */
