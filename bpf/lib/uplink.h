/* What a frame from the wire is to vnet: the decision the uplink's XDP and TC programs share.
 * They differ only in how they act on it (XDP redirects unicast to guests whose device
 * takes XDP frames and passes the rest up; TC floods and delivers the skb). */
#ifndef VNET_BPF_UPLINK_H_
#define VNET_BPF_UPLINK_H_

#include <linux/bpf.h>
#include <linux/if_ether.h>

#include "helpers.h"
#include "parse.h"

enum vnet_uplink_class {
  VNET_UPLINK_HOST,         /* not for a guest: the host's stack takes it */
  VNET_UPLINK_LOCAL_SOURCE, /* a local guest's own source MAC from the wire: a loop or an
                             * impostor, dropped and charged to that guest (*id) */
  VNET_UPLINK_GROUP,        /* broadcast or multicast in a VLAN that has guests */
  VNET_UPLINK_UNKNOWN,      /* unicast to no guest of a VLAN that has guests: dropped */
  VNET_UPLINK_GUEST,        /* unicast to guest *id, its record in *rec */
};

/* The VLAN of a frame from the wire, its Ethernet header in bounds: its 802.1Q tag's (returns
 * 1) or the uplink's native VLAN (0; 0 itself when there is none). -1 when the tag is cut
 * short: the frame is the host's to judge. */
static __always_inline int vnet_uplink_frame_vlan(const struct ethhdr* eth, const void* end,
                                                  const struct vnet_config* cfg, __u16* vlan) {
  if (vnet_eth_proto(eth) == bpf_htons(VNET_ETH_P_8021Q)) {
    const struct vnet_vlan_hdr* vh = (const void*)(eth + 1);
    if ((const void*)(vh + 1) > end) return -1;
    *vlan = bpf_ntohs(vh->tci) & VNET_VLAN_VID_MASK;
    return 1;
  }
  *vlan = cfg->native_vlan;
  return 0;
}

/* Classifies the frame at `eth` (its Ethernet header in bounds) in `vlan` (0: untagged on
 * an uplink without a native VLAN). The destination is read once as a word; unicast tries
 * the wire's delivery hint before the fdb, and a hit from the fdb becomes the hint. *rec is
 * meant for VNET_UPLINK_GUEST only. */
static __always_inline enum vnet_uplink_class vnet_uplink_classify(const struct ethhdr* eth,
                                                                   __u16 vlan,
                                                                   const struct vnet_config* cfg,
                                                                   __u32* id,
                                                                   struct vnet_ctx_rec** rec) {
  struct vnet_stats_cpu* hint;
  __u64 dst = vnet_mac_word(eth->h_dest);
  __u32 src;
  *id = 0;
  *rec = 0;
  if (vlan == 0 || dst == vnet_mac_word(cfg->uplink_mac)) return VNET_UPLINK_HOST;
  /* Unicast to the guest this CPU delivered to last: that guest is a member of the VLAN,
   * so the VLAN and fdb lookups below would only confirm the hint. */
  hint = vnet_uplink_hint();
  if (!vnet_is_multicast(eth->h_dest)) *id = vnet_fdb_hint_take(hint, vlan, dst, rec);
  if (!*id && !vnet_vlan_has_members(vlan)) return VNET_UPLINK_HOST;
  /* Never delivered, not even to the owner of the MAC. */
  src = vnet_fdb_lookup_word(vlan, vnet_mac_word(eth->h_source));
  if (src) {
    *id = src;
    return VNET_UPLINK_LOCAL_SOURCE;
  }
  if (*id) return VNET_UPLINK_GUEST;
  if (vnet_is_multicast(eth->h_dest)) return VNET_UPLINK_GROUP;
  *id = vnet_fdb_lookup_to_hint(hint, vlan, dst, rec);
  return *rec ? VNET_UPLINK_GUEST : VNET_UPLINK_UNKNOWN;
}

#endif /* VNET_BPF_UPLINK_H_ */
