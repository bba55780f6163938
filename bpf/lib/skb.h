/* skb-path (TC) actions shared by the uplink and guest programs: deliver to a guest, flood a
 * VLAN. bpf_redirect* keep GSO packets whole; segmentation happens at the last device. */
#ifndef VNET_BPF_SKB_H_
#define VNET_BPF_SKB_H_

#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

#include "bigtcp.h"
#include "helpers.h"
#include "limit.h"
#include "offload.h"

/* Whether `rec` takes this packet as it is. A guest that lacks rx checksum or SG, or rx TSO
 * for a super-packet's family, gets it through its interface's transmit path, where the
 * kernel completes the checksum, linearises or segments (the daemon gave the interface
 * the same features). */
static __always_inline int vnet_takes_as_is(struct __sk_buff* skb, __u32 flags) {
  __u32 tso = skb->protocol == bpf_htons(ETH_P_IPV6) ? VNET_CTX_F_RX_TSO6 : VNET_CTX_F_RX_TSO4;
  if ((flags & (VNET_CTX_F_RX_CSUM | VNET_CTX_F_RX_SG)) != (VNET_CTX_F_RX_CSUM | VNET_CTX_F_RX_SG))
    return 0;
  return (skb->gso_size == 0 || (flags & tso)) && vnet_bigtcp_fits(skb, flags);
}

/* Redirects to a guest: into a namespace veth's peer directly when it takes the packet as
 * it is, else to the device's egress (the kernel's checksum/segmentation path). */
static __always_inline int vnet_skb_deliver(struct __sk_buff* skb, __u32 ctx_id,
                                            const struct vnet_ctx_rec* rec) {
  __u32 ifindex = rec->ifindex, flags = rec->flags, gso = skb->gso_size, hdr = 0, segs = 0;
  int resized = 0, as_is;
  struct vnet_ctx_stats* s;
  if (gso) hdr = vnet_tcp_hdr_len(skb);
  if (vnet_fit_mtu(skb, rec->mtu, hdr, &resized) != VNET_DROP_NONE)
    return vnet_drop(ctx_id, VNET_DIR_RX, VNET_DROP_MTU, TC_ACT_SHOT);
  /* The receive limit, by what the guest's link carries (after any resegmentation). */
  if (!vnet_rx_admit(rec, ctx_id, vnet_wire_len(skb, hdr))) return TC_ACT_SHOT;
  as_is = vnet_takes_as_is(skb, flags);
  s = vnet_stats_of(ctx_id);
  if (s) {
    s->rx_packets++;
    s->rx_bytes += skb->len;
    if (gso) {
      segs = vnet_gso_segs(skb, hdr);
      s->rx_gso_packets++;
      s->rx_gso_segments += segs;
      s->rx_gso_resized += resized;
      /* Not taken as is: the interface lacks TSO, or SG/checksum which TSO needs. */
      if (!as_is) s->rx_gso_segmented++;
    }
    if (!(flags & VNET_CTX_F_RX_CSUM) && vnet_csum_partial(skb)) s->rx_csum_completed++;
  }
  if ((flags & VNET_CTX_F_PEER) && as_is) {
    vnet_trace_target(ifindex, ctx_id, 0, 1);
    return bpf_redirect_peer(ifindex, 0);
  }
  vnet_trace_target(ifindex, ctx_id, 0, 0);
  return bpf_redirect(ifindex, 0);
}

_Static_assert((VNET_VLAN_MAX_MEMBERS & (VNET_VLAN_MAX_MEMBERS - 1)) == 0,
               "the fan-out masks its index: a power of two");

/* What the fan-out callback needs: bpf_loop hands it one pointer. */
struct vnet_flood_ctx {
  struct __sk_buff* skb;
  struct vnet_vlan_members* m;
  __u32 vlan;
  __u32 except_id;
};

/* One member of the fan-out: clones the frame to it within its MTU and receive limit.
 * Returns 1 (stop) past the end of the list. */
static long vnet_flood_one(__u32 i, void* arg) {
  struct vnet_flood_ctx* f = arg;
  struct __sk_buff* skb = f->skb;
  struct vnet_ctx_rec* rec;
  __u64 idx = i;
  __u32 id;
  if (i >= VNET_VLAN_MAX_MEMBERS || i >= f->m->count) return 1;
  /* Bounds the index in the register that indexes (a no-op on the value: i < the bound, a
   * power of two); clang may otherwise test one copy and index with another. */
  asm volatile("%[i] &= %[mask]" : [i] "+r"(idx) : [mask] "i"(VNET_VLAN_MAX_MEMBERS - 1));
  id = f->m->ids[idx];
  if (id == f->except_id) return 0;
  rec = vnet_ctx_get(id);
  if (!rec || rec->vlan != f->vlan) return 0;
  if (rec->mtu && skb->len > rec->mtu + VNET_ETH_HLEN) {
    vnet_drop(id, VNET_DIR_RX, VNET_DROP_MTU, 0);
    return 0;
  }
  if (!vnet_rx_admit(rec, id, skb->len)) return 0;
  if (bpf_clone_redirect(skb, rec->ifindex, 0) == 0) {
    vnet_count_rx(id, skb->len);
    vnet_trace_clone(rec->ifindex);
  }
  return 0;
}

/* Clones the frame to every active member of `vlan` except `except_id`, each within its
 * receive limit. bpf_loop (5.17+): the callback is verified once, so a VLAN of thousands
 * of guests costs the verifier no more than one of two. */
static __always_inline void vnet_skb_flood(struct __sk_buff* skb, __u32 vlan, __u32 except_id) {
  struct vnet_flood_ctx f = {.skb = skb, .vlan = vlan, .except_id = except_id};
  __u32 count;
  f.m = bpf_map_lookup_elem(&vnet_vlan, &vlan);
  if (!f.m) return;
  count = f.m->count;
  if (count > VNET_VLAN_MAX_MEMBERS) count = VNET_VLAN_MAX_MEMBERS;
  bpf_loop(count, vnet_flood_one, &f, 0);
}

#endif /* VNET_BPF_SKB_H_ */
