/* BIG TCP: TCP super-packets over 64 KiB (gso_max_size above 65536 on the sender's link).
 * Their IP length field cannot hold the length, so the kernel writes 0 there (IPv4
 * tot_len, IPv6 payload_len; receivers take the length from the skb). That is legal only
 * on such a packet; a zero length anywhere else, or a big packet with a length in its
 * header, is malformed. */
#ifndef VNET_BPF_BIGTCP_H_
#define VNET_BPF_BIGTCP_H_

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "vnet/abi.h"

#define VNET_IP_MAX_LEN 0xffff /* the IP length fields' largest value */
#define VNET_IP6_HOPOPTS 0     /* hop-by-hop header: the jumbo payload option (RFC 2675) */

/* Whether the frame is bigger than the 64 KiB every guest takes: an IP datagram (IPv4) or
 * payload (IPv6) over 65535 bytes. */
static __always_inline int vnet_bigtcp_is_big(struct __sk_buff* skb, int ipv6) {
  __u32 l3 = skb->len > ETH_HLEN ? skb->len - ETH_HLEN : 0;
  if (ipv6) l3 = l3 > sizeof(struct ipv6hdr) ? l3 - sizeof(struct ipv6hdr) : 0;
  return l3 > VNET_IP_MAX_LEN;
}

/* The verdict from a frame's IP length field being 0 (`zero`), its size (`big`) and its
 * transport (`tcp`): VNET_DROP_NONE, VNET_DROP_MALFORMED for a length field only BIG TCP
 * may leave 0 used otherwise (or a big packet that is not one), VNET_DROP_OFFLOAD for a
 * BIG TCP packet from a guest without it (`flags`: its record's). */
static __always_inline __u32 vnet_bigtcp_verdict(struct __sk_buff* skb, int zero, int big, int tcp,
                                                 __u32 flags) {
  if (!zero && !big) return VNET_DROP_NONE;
  /* As the kernel builds it: a TCP super-packet, length 0 exactly when it does not fit. */
  if (zero != big || !tcp || skb->gso_size == 0) return VNET_DROP_MALFORMED;
  return (flags & VNET_CTX_F_BIG_TCP) ? VNET_DROP_NONE : VNET_DROP_OFFLOAD;
}

/* A guest's IPv4 frame, its header `ip` already bounds-checked by the caller (the L3 checks,
 * which read it anyway: no second parse). */
static __always_inline __u32 vnet_bigtcp_check4(struct __sk_buff* skb, const struct iphdr* ip,
                                                __u32 flags) {
  return vnet_bigtcp_verdict(skb, ip->tot_len == 0, vnet_bigtcp_is_big(skb, 0),
                             ip->protocol == IPPROTO_TCP, flags);
}

/* The same for IPv6. An empty payload (e.g. next header 59, "none") is legal with length 0. */
static __always_inline __u32 vnet_bigtcp_check6(struct __sk_buff* skb, const struct ipv6hdr* ip6,
                                                __u32 flags) {
  return vnet_bigtcp_verdict(
      skb, ip6->payload_len == 0 && skb->len > ETH_HLEN + sizeof(*ip6), vnet_bigtcp_is_big(skb, 1),
      ip6->nexthdr == IPPROTO_TCP || ip6->nexthdr == VNET_IP6_HOPOPTS, flags);
}

/* Whether a guest with `flags` takes this packet's size as it is: a BIG TCP packet only when
 * its interface has BIG TCP; else its interface's egress segments it (gso_max_size 64 KiB
 * there: the kernel's gso_features_check). */
static __always_inline int vnet_bigtcp_fits(struct __sk_buff* skb, __u32 flags) {
  if (skb->gso_size == 0 || (flags & VNET_CTX_F_BIG_TCP)) return 1;
  return !vnet_bigtcp_is_big(skb, skb->protocol == bpf_htons(ETH_P_IPV6));
}

#endif /* VNET_BPF_BIGTCP_H_ */
