/* Offloads on the skb path: header pulls, super-packet (GSO) accounting, checksum state,
 * and fitting a super-packet's segment size to a destination's MTU. BPF cannot segment or
 * complete checksums itself: the kernel does both on a device's transmit path when the
 * device lacks the feature, so the programs only choose that path (see skb.h). */
#ifndef VNET_BPF_OFFLOAD_H_
#define VNET_BPF_OFFLOAD_H_

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "helpers.h"

/* Enough for Ethernet, IPv6 with a few extension headers and ND options, or IPv4 + TCP with
 * options: everything the programs read. */
#define VNET_PULL_LEN 160
#define VNET_CHECKSUM_PARTIAL 3 /* skb->ip_summed */
#define VNET_ETH_HLEN 14

/* Each TC program is built twice (bpf/CMakeLists.txt): with VNET_HAVE_KERN_CTX=1 for
 * kernels that have the kfunc bpf_cast_to_kern_ctx (6.2+), and with 0 for older ones
 * (Debian 12's 6.1). vnetd probes the running kernel's BTF and loads the build that fits.
 * The only use is reading the checksum state, which __sk_buff does not expose. */
#ifndef VNET_HAVE_KERN_CTX
#define VNET_HAVE_KERN_CTX 1
#endif

#if VNET_HAVE_KERN_CTX
/* sk_buff's checksum state, relocated against the running kernel's BTF (CO-RE). */
struct sk_buff___vnet {
  __u8 ip_summed : 2;
} __attribute__((preserve_access_index));
extern void* bpf_cast_to_kern_ctx(void* obj) __ksym;

static __always_inline int vnet_csum_partial(struct __sk_buff* skb) {
  struct sk_buff___vnet* k = bpf_cast_to_kern_ctx(skb);
  return BPF_CORE_READ_BITFIELD(k, ip_summed) == VNET_CHECKSUM_PARTIAL;
}
#else
/* Without the kfunc the checksum state cannot be read: the "checksums completed" counter
 * is not kept (vnetd reports it as unavailable). Forwarding does not depend on it. */
static __always_inline int vnet_csum_partial(struct __sk_buff* skb) { return 0; }
#endif

static __always_inline __u32 vnet_linear_len(struct __sk_buff* skb) {
  return (__u32)((long)skb->data_end - (long)skb->data);
}

/* Makes the first `want` bytes (or the whole frame if shorter) linear. Only called when a
 * header was not in the linear part: frames built in page fragments (trafgen's TX ring,
 * Xen netback) carry little more than the Ethernet header there. Pulling un-clones the
 * head, so it is not done for frames whose headers are already linear. */
static __always_inline int vnet_skb_pull(struct __sk_buff* skb, __u32 want) {
  __u32 len = skb->len;
  if (len > want) len = want;
  if (vnet_linear_len(skb) >= len) return 0;
  return bpf_skb_pull_data(skb, len) == 0;
}

/* Ethernet + IP + TCP header bytes of a TCP super-packet; 0 when not TCP over IPv4 or
 * over IPv6 without extension headers. */
static __always_inline __u32 vnet_tcp_hdr_len_at(void* data, void* end) {
  struct ethhdr* eth = data;
  struct tcphdr* tcp;
  __u32 l3;
  if ((void*)(eth + 1) > end) return 0;
  if (vnet_eth_proto(eth) == bpf_htons(ETH_P_IP)) {
    struct iphdr* ip = (void*)(eth + 1);
    if ((void*)(ip + 1) > end || ip->protocol != IPPROTO_TCP) return 0;
    l3 = (ip->ihl * 4) & 0x3c;
    tcp = (void*)ip + l3;
  } else if (vnet_eth_proto(eth) == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr* ip6 = (void*)(eth + 1);
    if ((void*)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP) return 0;
    l3 = sizeof(*ip6);
    tcp = (void*)(ip6 + 1);
  } else {
    return 0;
  }
  if ((void*)(tcp + 1) > end) return 0;
  return VNET_ETH_HLEN + l3 + ((tcp->doff * 4) & 0x3c);
}

static __always_inline __u32 vnet_tcp_hdr_len(struct __sk_buff* skb) {
  __u32 n = vnet_tcp_hdr_len_at((void*)(long)skb->data, (void*)(long)skb->data_end);
  if (n || !vnet_skb_pull(skb, VNET_PULL_LEN)) return n;
  return vnet_tcp_hdr_len_at((void*)(long)skb->data, (void*)(long)skb->data_end);
}

/* Segments a super-packet stands for: gso_segs, or computed when the sender left it 0. */
static __always_inline __u32 vnet_gso_segs(struct __sk_buff* skb, __u32 hdr_len) {
  __u32 gso = skb->gso_size, segs = skb->gso_segs;
  if (segs || !gso) return segs;
  if (hdr_len == 0 || skb->len <= hdr_len) return 1;
  return (skb->len - hdr_len + gso - 1) / gso;
}

/* Lowers a TCP super-packet's segment size by `by` bytes, bytes unchanged. No helper sets
 * gso_size; bpf_skb_adjust_room lowers it by the room it inserts (without
 * BPF_F_ADJ_ROOM_FIXED_GSO) and leaves it alone when removing room with that flag. So
 * insert then remove the same room behind the MAC header, at most 4095 bytes a step. The
 * kernel marks the packet for header checks and recounts gso_segs; it is segmented at the
 * new size wherever it is segmented. Returns 0 on success. */
static __always_inline int vnet_gso_shrink(struct __sk_buff* skb, __u32 by) {
  int i;
  for (i = 0; i < 16; i++) {
    __u32 step = by > 0xfff ? 0xfff : by;
    if (step == 0) return 0;
    if (bpf_skb_adjust_room(skb, (__s32)step, BPF_ADJ_ROOM_MAC, 0)) return -1;
    if (bpf_skb_adjust_room(skb, -(__s32)step, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO))
      return -1;
    by -= step;
  }
  return by ? -1 : 0;
}

/* Fits an IP packet to `mtu` (bytes after the Ethernet header). A non-GSO frame must fit;
 * a TCP super-packet whose segments would not is resegmented (its gso_size lowered).
 * Returns VNET_DROP_NONE, or VNET_DROP_MTU; *resized is set when gso_size was lowered. */
static __always_inline __u32 vnet_fit_mtu(struct __sk_buff* skb, __u32 mtu, __u32 hdr_len,
                                          int* resized) {
  __u32 gso = skb->gso_size, l34;
  *resized = 0;
  if (mtu == 0) return VNET_DROP_NONE;
  if (!gso) return skb->len > mtu + VNET_ETH_HLEN ? VNET_DROP_MTU : VNET_DROP_NONE;
  if (hdr_len == 0) return VNET_DROP_NONE; /* not TCP: no segment size to check */
  l34 = hdr_len - VNET_ETH_HLEN;
  if (gso + l34 <= mtu) return VNET_DROP_NONE;
  if (mtu <= l34 + 8) return VNET_DROP_MTU;
  if (vnet_gso_shrink(skb, gso + l34 - mtu)) return VNET_DROP_MTU;
  *resized = 1;
  return VNET_DROP_NONE;
}

static __always_inline void vnet_count_tx_gso(__u32 ctx_id, __u32 segs) {
  struct vnet_ctx_stats* s = vnet_stats_of(ctx_id);
  if (s) {
    s->tx_gso_packets++;
    s->tx_gso_segments += segs;
  }
}

#endif /* VNET_BPF_OFFLOAD_H_ */
