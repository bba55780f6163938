// SPDX-License-Identifier: GPL-2.0
/* Uplink ingress, TC: the skb path for frames from the wire that XDP passed up. Delivers
 * unicast to guests (bpf_redirect_peer into namespace veths, bpf_redirect to vifs and taps)
 * and clones broadcast/multicast to every guest of the VLAN. The tag is popped for guests.
 * Never to a guest: IEEE 802.1D reserved group addresses (the host's), frames carrying a
 * local guest's source MAC (dropped). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

#include "lib/helpers.h"
#include "lib/offload.h"
#include "lib/parse.h"
#include "lib/skb.h"
#include "lib/uplink.h"

/* A frame for the host goes on as "next", not "pass": other tools' programs and filters
 * behind vnet's see it too (TCX_NEXT on a tcx link, the next filter under cls_bpf). With
 * none left, the stack takes it exactly as after TC_ACT_OK. */
#define VNET_TC_HOST TC_ACT_UNSPEC

static __always_inline int vnet_uplink_tc_verdict(struct __sk_buff* skb) {
  void *data, *end;
  struct ethhdr* eth;
  struct vnet_config* cfg;
  struct vnet_ctx_rec* rec;
  __u32 id;
  __u16 vlan;
  int tagged;

  vnet_trace_begin();
  /* Ethernet and a tag must be linear; frames from a NIC nearly always are. */
  vnet_skb_pull(skb, VNET_ETH_HLEN + sizeof(struct vnet_vlan_hdr));
  data = (void*)(long)skb->data;
  end = (void*)(long)skb->data_end;
  eth = data;
  if ((void*)(eth + 1) > end) return VNET_TC_HOST;
  cfg = vnet_config_get();
  if (!cfg) return VNET_TC_HOST;
  /* The stack usually moved the tag into skb metadata before TC runs; a test run has not. */
  if (skb->vlan_present) {
    vlan = skb->vlan_tci & VNET_VLAN_VID_MASK;
    tagged = 1;
  } else {
    tagged = vnet_uplink_frame_vlan(eth, end, cfg, &vlan);
    if (tagged < 0) return VNET_TC_HOST;
  }
  switch (vnet_uplink_classify(eth, vlan, cfg, &id, &rec)) {
    case VNET_UPLINK_HOST:
      return VNET_TC_HOST;
    case VNET_UPLINK_LOCAL_SOURCE:
      return vnet_drop(id, VNET_DIR_RX, VNET_DROP_LOCAL_SOURCE_MAC, TC_ACT_SHOT);
    case VNET_UPLINK_UNKNOWN:
      return vnet_drop(0, VNET_DIR_RX, VNET_DROP_UNKNOWN_UNICAST, TC_ACT_SHOT);
    case VNET_UPLINK_GROUP:
      /* STP, pause, LACP, 802.1X, LLDP: link-local to the wire. Like a Linux bridge, give
       * them to the host (its own lldpd, bonding, supplicant) and never to a guest. */
      if (vnet_is_reserved_group(eth->h_dest))
        return vnet_drop(0, VNET_DIR_RX, VNET_DROP_RESERVED_GROUP, VNET_TC_HOST);
      if (tagged && bpf_skb_vlan_pop(skb))
        return vnet_drop(0, VNET_DIR_RX, VNET_DROP_REDIRECT_FAILED, TC_ACT_SHOT);
      vnet_skb_flood(skb, vlan, 0);
      /* The host sees the frame as it arrived (its own VLAN devices may want it). */
      if (tagged && bpf_skb_vlan_push(skb, bpf_htons(VNET_ETH_P_8021Q), vlan)) return TC_ACT_SHOT;
      return VNET_TC_HOST;
    case VNET_UPLINK_GUEST:
      break;
  }
  if (tagged && bpf_skb_vlan_pop(skb))
    return vnet_drop(id, VNET_DIR_RX, VNET_DROP_REDIRECT_FAILED, TC_ACT_SHOT);
  return vnet_skb_deliver(skb, id, rec);
}

/* The verdict, then the drop event of a frame it dropped (only while someone watches). */
SEC("tc")
int vnet_uplink_tc(struct __sk_buff* skb) {
  int verdict;
  vnet_monitor_begin();
  verdict = vnet_uplink_tc_verdict(skb);
  vnet_monitor_emit_skb(skb);
  return verdict;
}

char LICENSE[] SEC("license") = "GPL";
