/* skb-path (TC) actions shared by the uplink and guest programs: deliver to a guest, flood a
 * VLAN. bpf_redirect* keep GSO packets whole; segmentation happens at the last device. */
#ifndef VNET_BPF_SKB_H_
#define VNET_BPF_SKB_H_

#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

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
  return skb->gso_size == 0 || (flags & tso);
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
  if (!vnet_rx_admit(ctx_id, vnet_wire_len(skb, hdr))) return TC_ACT_SHOT;
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

/* Clones the frame to every active member of `vlan` except `except_id`, each within its
 * receive limit. Bounded loop: the member array is at most VNET_VLAN_MAX_MEMBERS long. */
static __always_inline void vnet_skb_flood(struct __sk_buff* skb, __u32 vlan, __u32 except_id) {
  struct vnet_vlan_members* m = bpf_map_lookup_elem(&vnet_vlan, &vlan);
  __u32 i, count;
  if (!m) return;
  count = m->count;
  for (i = 0; i < VNET_VLAN_MAX_MEMBERS; i++) {
    __u32 id;
    struct vnet_ctx_rec* rec;
    if (i >= count) break;
    id = m->ids[i];
    if (id == except_id) continue;
    rec = vnet_ctx_get(id);
    if (!rec || rec->vlan != vlan) continue;
    if (rec->mtu && skb->len > rec->mtu + VNET_ETH_HLEN) {
      vnet_drop(id, VNET_DIR_RX, VNET_DROP_MTU, 0);
      continue;
    }
    if (!vnet_rx_admit(id, skb->len)) continue;
    if (bpf_clone_redirect(skb, rec->ifindex, 0) == 0) {
      vnet_count_rx(id, skb->len);
      vnet_trace_clone(rec->ifindex);
    }
  }
}

#endif /* VNET_BPF_SKB_H_ */
