/* skb-path (TC) actions shared by the uplink and guest programs: deliver to a guest, flood a
 * VLAN. bpf_redirect* keep GSO packets whole; segmentation happens at the last device. */
#ifndef VNET_BPF_SKB_H_
#define VNET_BPF_SKB_H_

#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

#include "helpers.h"

/* Redirects to a guest: into a namespace veth's peer directly, else to the device's egress. */
static __always_inline int vnet_skb_deliver(struct __sk_buff* skb, __u32 ctx_id,
                                            const struct vnet_ctx_rec* rec) {
  __u32 ifindex = rec->ifindex;
  vnet_count_rx(ctx_id, skb->len);
  if (rec->flags & VNET_CTX_F_PEER) {
    vnet_trace_target(ifindex, ctx_id, 0, 1);
    return bpf_redirect_peer(ifindex, 0);
  }
  vnet_trace_target(ifindex, ctx_id, 0, 0);
  return bpf_redirect(ifindex, 0);
}

/* Clones the frame to every active member of `vlan` except `except_id`. Bounded loop:
 * the member array is at most VNET_VLAN_MAX_MEMBERS long. */
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
    if (bpf_clone_redirect(skb, rec->ifindex, 0) == 0) {
      vnet_count_rx(id, skb->len);
      vnet_trace_clone(rec->ifindex);
    }
  }
}

#endif /* VNET_BPF_SKB_H_ */
