// SPDX-License-Identifier: GPL-2.0
/* Uplink ingress, XDP: the cheap decisions for frames from the wire. Drops unknown unicast in
 * guest VLANs, passes what is the host's, and redirects unicast straight to guests whose
 * device takes XDP redirects; drops frames that carry a local guest's source MAC (a loop
 * or an impostor). Everything else for guests (broadcast, multicast, targets
 * without XDP support) passes to the uplink TC program, which has the skb path. */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include "lib/helpers.h"
#include "lib/limit.h"
#include "lib/parse.h"
#include "lib/uplink.h"

/* Removes the 802.1Q tag in place: move the MACs forward 4 bytes, then trim the head. The
 * 12 MAC bytes move as an 8- and a 4-byte word: a byte array would be copied byte by byte
 * (24 loads and stores) on every tagged frame. */
static __always_inline int vnet_xdp_pop_vlan(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  __u64 macs_lo;
  __u32 macs_hi;
  if (data + sizeof(struct ethhdr) + sizeof(struct vnet_vlan_hdr) > end) return -1;
  macs_lo = *(const __u64*)data;
  macs_hi = *(const __u32*)(data + 8);
  if (bpf_xdp_adjust_head(ctx, (int)sizeof(struct vnet_vlan_hdr))) return -1;
  data = (void*)(long)ctx->data;
  end = (void*)(long)ctx->data_end;
  if (data + 12 > end) return -1;
  *(__u64*)data = macs_lo;
  *(__u32*)(data + 8) = macs_hi;
  return 0;
}

static __always_inline int vnet_uplink_xdp_verdict(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  struct vnet_config* cfg;
  struct vnet_ctx_rec* rec;
  __u32 id;
  __u16 vlan;
  int tagged;

  vnet_trace_begin();
  if ((void*)(eth + 1) > end) return XDP_PASS; /* not ours to judge: the host's stack will */
  cfg = vnet_config_get();
  if (!cfg) return XDP_PASS;
  tagged = vnet_uplink_frame_vlan(eth, end, cfg, &vlan);
  if (tagged < 0) return XDP_PASS;
  switch (vnet_uplink_classify(eth, vlan, cfg, &id, &rec)) {
    case VNET_UPLINK_HOST:
      return XDP_PASS;
    case VNET_UPLINK_LOCAL_SOURCE:
      return vnet_drop(id, VNET_DIR_RX, VNET_DROP_LOCAL_SOURCE_MAC, XDP_DROP);
    case VNET_UPLINK_UNKNOWN:
      return vnet_drop(0, VNET_DIR_RX, VNET_DROP_UNKNOWN_UNICAST, XDP_DROP);
    case VNET_UPLINK_GROUP:
      /* Reserved group addresses are the host's (its LLDP, LACP, 802.1X), never the
       * guests': the skb path counts them and gives them to the host only. Other multicast
       * fans out there too. */
      return XDP_PASS;
    case VNET_UPLINK_GUEST:
      break;
  }
  /* Targets without XDP transmit get the frame through the skb path. */
  if (!(rec->flags & VNET_CTX_F_XDP_TARGET)) return XDP_PASS;

  if (tagged && vnet_xdp_pop_vlan(ctx))
    return vnet_drop(id, VNET_DIR_RX, VNET_DROP_REDIRECT_FAILED, XDP_DROP);
  if (!vnet_rx_admit(rec, id, (__u64)(ctx->data_end - ctx->data))) return XDP_DROP;
  vnet_count_rx(id, (__u64)(ctx->data_end - ctx->data));
  vnet_trace_target(rec->ifindex, id, 0, 0);
  return bpf_redirect_map(&vnet_xdp_tx, id, 0);
}

/* The verdict, then the drop event of a frame it dropped (only while someone watches). */
SEC("xdp")
int vnet_uplink_xdp(struct xdp_md* ctx) {
  int verdict;
  vnet_monitor_begin();
  verdict = vnet_uplink_xdp_verdict(ctx);
  vnet_monitor_emit_xdp(ctx);
  return verdict;
}

char LICENSE[] SEC("license") = "GPL";
