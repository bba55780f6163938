// SPDX-License-Identifier: GPL-2.0
/* Guest interface ingress, TC: every frame a guest sends. A guest may only speak as itself
 * (its MAC, its addresses, in ARP and ND too), may not act as a DHCP server or router, and
 * only reaches its own VLAN: same-VLAN guests directly, everything else through the uplink
 * tagged with its VLAN. Tables come from the daemon only; nothing is learned here. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

#include "lib/bigtcp.h"
#include "lib/helpers.h"
#include "lib/ipv6.h"
#include "lib/limit.h"
#include "lib/offload.h"
#include "lib/parse.h"
#include "lib/skb.h"

#define VNET_DHCP_SERVER_PORT 67
#define VNET_DHCP_CLIENT_PORT 68
#define VNET_DHCP6_CLIENT_PORT 546
#define VNET_DHCP6_SERVER_PORT 547
#define VNET_IP_MF 0x2000
#define VNET_IP_OFFSET 0x1fff
/* ND options walked per message; more is malformed (fail closed). */
#define VNET_MAX_ND_OPTS 32

/* Whether `addr` is one of the context's IPv4 addresses: from the record when they all fit
 * there (no table lookup), else from vnet_ip4. */
static __always_inline int vnet_ip4_allowed(const struct vnet_ctx_rec* rec, __u32 ctx_id,
                                            __u32 addr) {
  struct vnet_ip4_key key = {.ctx_id = ctx_id, .addr = addr};
  if (rec->flags & VNET_CTX_F_IP4_INLINE)
    return (rec->n_ip4 > 0 && rec->ip4[0] == addr) || (rec->n_ip4 > 1 && rec->ip4[1] == addr);
  return bpf_map_lookup_elem(&vnet_ip4, &key) != 0;
}

static __always_inline int vnet_ip6_allowed(const struct vnet_ctx_rec* rec, __u32 ctx_id,
                                            struct vnet_ip6_words a) {
  struct vnet_ip6_key key = {.ctx_id = ctx_id};
  if (rec->flags & VNET_CTX_F_IP6_INLINE)
    return (rec->n_ip6 > 0 && rec->ip6[0][0] == a.w[0] && rec->ip6[0][1] == a.w[1]) ||
           (rec->n_ip6 > 1 && rec->ip6[1][0] == a.w[0] && rec->ip6[1][1] == a.w[1]);
  __builtin_memcpy(key.addr, a.w, 16);
  return bpf_map_lookup_elem(&vnet_ip6, &key) != 0;
}

/* Returns a drop reason, or VNET_DROP_NONE to forward. */
static __always_inline __u32 vnet_check_ipv4(void* l3, void* end, __u32 id,
                                             const struct vnet_ctx_rec* rec) {
  struct iphdr* ip = l3;
  __u32 hlen;
  if ((void*)(ip + 1) > end) return VNET_DROP_MALFORMED;
  hlen = ip->ihl * 4;
  if (hlen < sizeof(*ip)) return VNET_DROP_MALFORMED;
  if (ip->protocol == IPPROTO_UDP && !(ip->frag_off & bpf_htons(VNET_IP_OFFSET))) {
    struct udphdr* udp = l3 + hlen;
    if ((void*)(udp + 1) > end) return VNET_DROP_MALFORMED;
    /* A server answers from 67 to 68; nothing a guest legitimately sends goes to 68. */
    if (udp->source == bpf_htons(VNET_DHCP_SERVER_PORT) ||
        udp->dest == bpf_htons(VNET_DHCP_CLIENT_PORT))
      return VNET_DROP_DHCP_SERVER;
    /* DHCP client before it has an address: 0.0.0.0:68 -> :67. */
    if (ip->saddr == 0 && udp->source == bpf_htons(VNET_DHCP_CLIENT_PORT) &&
        udp->dest == bpf_htons(VNET_DHCP_SERVER_PORT))
      return VNET_DROP_NONE;
  }
  return vnet_ip4_allowed(rec, id, ip->saddr) ? VNET_DROP_NONE : VNET_DROP_SPOOF_IPV4;
}

static __always_inline __u32 vnet_check_arp(void* l3, void* end, __u32 id, __u64 mac,
                                            const struct vnet_ctx_rec* rec) {
  struct vnet_arp_eth4* arp = l3;
  __u32 sip;
  if ((void*)(arp + 1) > end) return VNET_DROP_MALFORMED;
  if (arp->hrd != bpf_htons(1) || arp->pro != bpf_htons(ETH_P_IP) || arp->hln != 6 || arp->pln != 4)
    return VNET_DROP_SPOOF_ARP;
  if (vnet_mac_word(arp->sha) != mac) return VNET_DROP_SPOOF_ARP;
  __builtin_memcpy(&sip, arp->sip, 4);
  if (sip == 0) return VNET_DROP_NONE; /* ARP probe (address conflict detection) */
  return vnet_ip4_allowed(rec, id, sip) ? VNET_DROP_NONE : VNET_DROP_SPOOF_ARP;
}

/* Every option of an NS/NA/RS, [off, end_off): source and target link-layer address options
 * must carry the guest's own MAC (`mac`, the 6 bytes in network order in the low bits),
 * whichever of several a receiver honours. The options must tile the message exactly, as
 * a receiver requires (ndisc_parse_options): a zero-length option, one running past the
 * message or a stray byte is malformed, and so is a list longer than the bound (fail
 * closed; real NS/NA/RS carry one to three). A global function: verified once. */
__attribute__((noinline)) int vnet_check_nd_opts(struct __sk_buff* skb, __u32 off, __u32 end_off,
                                                 __u64 mac) {
  int i;
  if (!skb) return VNET_DROP_MALFORMED;
  for (i = 0; i < VNET_MAX_ND_OPTS; i++) {
    __u8 o[8];
    __u32 len;
    /* Past the end only when the message is shorter than its fixed part. */
    if (off >= end_off) return off == end_off ? VNET_DROP_NONE : VNET_DROP_MALFORMED;
    if (off + 2 > end_off || off > 0xffff || vnet_load(skb, off, o, 2)) return VNET_DROP_MALFORMED;
    len = o[1] * 8;
    if (len == 0 || off + len > end_off) return VNET_DROP_MALFORMED;
    if (o[0] == VNET_ND_OPT_SLLA || o[0] == VNET_ND_OPT_TLLA) {
      __u64 got = 0;
      int k;
      if (vnet_load(skb, off + 2, o + 2, 6)) return VNET_DROP_MALFORMED;
      for (k = 2; k < 8; k++) got = got << 8 | o[k];
      if (got != mac) return VNET_DROP_SPOOF_ND;
    }
    off += len;
  }
  return off >= end_off ? VNET_DROP_NONE : VNET_DROP_MALFORMED;
}

/* The options' verdict as a constant (the global function's return has an unknown range). */
static __always_inline __u32 vnet_nd_opts_verdict(struct __sk_buff* skb, __u32 off, __u32 end_off,
                                                  __u64 mac) {
  int r = vnet_check_nd_opts(skb, off, end_off, mac);
  if (r == VNET_DROP_NONE) return VNET_DROP_NONE;
  return r == VNET_DROP_SPOOF_ND ? VNET_DROP_SPOOF_ND : VNET_DROP_MALFORMED;
}

static __always_inline __u64 vnet_mac_u64(const __u8* mac) {
  return (__u64)mac[0] << 40 | (__u64)mac[1] << 32 | (__u64)mac[2] << 24 | (__u64)mac[3] << 16 |
         (__u64)mac[4] << 8 | mac[5];
}

/* The ICMPv6 checks at the upper-layer header `off`: no router (RA, redirect), ND only as
 * itself and never inside a fragment (RFC 6980), link-layer options its own. */
static __always_inline __u32 vnet_check_icmp6(struct __sk_buff* skb, __u32 off, int frag,
                                              int unspec, __u32 id, __u32 end_off,
                                              const struct vnet_ctx_rec* rec) {
  __u8 h[4];
  __u8 type;
  if (vnet_load(skb, off, h, 4)) return VNET_DROP_MALFORMED;
  type = h[0];
  if (type == VNET_ICMP6_RA || type == VNET_ICMP6_REDIRECT) return VNET_DROP_ROUTER_ADVERT;
  if (type != VNET_ICMP6_NS && type != VNET_ICMP6_NA && type != VNET_ICMP6_RS)
    return type == VNET_ICMP6_MLD2_REPORT && unspec ? VNET_DROP_NONE : VNET_DROP_MAX;
  if (frag) return VNET_DROP_ND_FRAGMENT;
  if (type == VNET_ICMP6_RS) {
    __u32 r =
        vnet_nd_opts_verdict(skb, off + sizeof(struct vnet_icmp6), end_off, vnet_mac_u64(rec->mac));
    if (r != VNET_DROP_NONE) return r;
  } else {
    struct vnet_ip6_words target;
    __u32 r;
    if (vnet_load(skb, off + sizeof(struct vnet_icmp6), target.w, 16)) return VNET_DROP_MALFORMED;
    /* An NA announces the target as the sender's; so does a DAD probe (source ::). An
     * ordinary NS asks about someone else's address and may name any target. */
    if ((type == VNET_ICMP6_NA || unspec) && !vnet_ip6_allowed(rec, id, target))
      return VNET_DROP_SPOOF_ND;
    r = vnet_nd_opts_verdict(skb, off + sizeof(struct vnet_nd_msg), end_off,
                             vnet_mac_u64(rec->mac));
    if (r != VNET_DROP_NONE) return r;
  }
  /* Before it has an address a guest may solicit and probe (DAD). */
  return unspec && type != VNET_ICMP6_NA ? VNET_DROP_NONE : VNET_DROP_MAX;
}

/* VNET_DROP_MAX from the upper-layer checks means "no verdict yet: check the source". */
static __always_inline __u32 vnet_check_ipv6(struct __sk_buff* skb, void* l3, void* end, __u32 id,
                                             const struct vnet_ctx_rec* rec) {
  struct ipv6hdr* ip6 = l3;
  __u32 off = VNET_ETH_HLEN + sizeof(struct ipv6hdr), end_off, r = VNET_DROP_MAX;
  struct vnet_ip6_words saddr;
  __u8 nexthdr;
  int frag = 0, unspec;
  if ((void*)(ip6 + 1) > end) return VNET_DROP_MALFORMED;
  nexthdr = ip6->nexthdr;
  end_off = off + bpf_ntohs(ip6->payload_len);
  saddr = vnet_ip6_words_at(&ip6->saddr);
  unspec = vnet_ip6_is_unspec(saddr);
  /* Extension headers are rare: walk them only when there are some. */
  if (vnet_ip6_is_ext(nexthdr)) {
    struct vnet_ip6_loc loc = {.off = off, .nexthdr = nexthdr};
    /* Constants, not the global function's return: its range is unknown to the verifier. */
    if (vnet_ip6_walk(skb, &loc) != VNET_DROP_NONE) return VNET_DROP_EXT_HEADER;
    off = loc.off;
    frag = loc.frag;
    nexthdr = (__u8)loc.nexthdr;
  }
  if (frag != VNET_FRAG_LATER) {
    if (nexthdr == IPPROTO_UDP) {
      __be16 ports[2];
      if (vnet_load(skb, off, ports, 4)) return VNET_DROP_MALFORMED;
      /* A server answers from 547 to 546; nothing a guest legitimately sends goes to 546. */
      if (ports[0] == bpf_htons(VNET_DHCP6_SERVER_PORT) ||
          ports[1] == bpf_htons(VNET_DHCP6_CLIENT_PORT))
        return VNET_DROP_DHCP_SERVER;
    } else if (nexthdr == IPPROTO_ICMPV6) {
      if (end_off > skb->len) return VNET_DROP_MALFORMED;
      r = vnet_check_icmp6(skb, off, frag, unspec, id, end_off, rec);
      if (r != VNET_DROP_MAX) return r;
    }
  }
  return vnet_ip6_allowed(rec, id, saddr) ? VNET_DROP_NONE : VNET_DROP_SPOOF_IPV6;
}

/* Sends the frame to the wire, tagged with the sender's VLAN unless it is the native one.
 * The wire's MTU (and the sender's) bounds the segments of a super-packet. */
static __always_inline int vnet_to_uplink(struct __sk_buff* skb, __u32 id,
                                          const struct vnet_ctx_rec* rec) {
  struct vnet_config* cfg = vnet_config_get();
  __u32 uplink, mtu = rec->mtu, hdr = 0;
  __u16 push = 0, vlan = rec->vlan;
  int resized;
  if (!cfg || cfg->uplink_ifindex == 0)
    return vnet_drop(id, VNET_DIR_TX, VNET_DROP_NO_UPLINK, TC_ACT_SHOT);
  uplink = cfg->uplink_ifindex;
  if (cfg->uplink_mtu && cfg->uplink_mtu < mtu) mtu = cfg->uplink_mtu;
  if (skb->gso_size) hdr = vnet_tcp_hdr_len(skb);
  if (vnet_fit_mtu(skb, mtu, hdr, &resized) != VNET_DROP_NONE)
    return vnet_drop(id, VNET_DIR_TX, VNET_DROP_MTU, TC_ACT_SHOT);
  if (vlan != cfg->native_vlan) {
    if (bpf_skb_vlan_push(skb, bpf_htons(VNET_ETH_P_8021Q), vlan))
      return vnet_drop(id, VNET_DIR_TX, VNET_DROP_REDIRECT_FAILED, TC_ACT_SHOT);
    push = vlan;
  }
  vnet_trace_target(uplink, 0, push, 0);
  return bpf_redirect(uplink, 0);
}

/* The checks on the headers behind the Ethernet header, BIG TCP's length rule included
 * (read from the same header: one parse); VNET_DROP_NONE to forward. The BIG TCP verdict
 * counts only when the other checks pass, and is taken before them, while the header is at
 * hand. */
static __always_inline __u32 vnet_check_l3(struct __sk_buff* skb, __u32 id, __u64 mac,
                                           const struct vnet_ctx_rec* rec) {
  void* end = (void*)(long)skb->data_end;
  struct ethhdr* eth = (void*)(long)skb->data;
  __u32 big, r;
  __be16 proto;
  if ((void*)(eth + 1) > end) return VNET_DROP_MALFORMED;
  proto = vnet_eth_proto(eth);
  if (proto == bpf_htons(ETH_P_IP)) {
    struct iphdr* ip = (void*)(eth + 1);
    if ((void*)(ip + 1) > end) return VNET_DROP_MALFORMED;
    big = vnet_bigtcp_check4(skb, ip, rec->flags);
    r = vnet_check_ipv4(ip, end, id, rec);
    return r != VNET_DROP_NONE ? r : big;
  }
  if (proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr* ip6 = (void*)(eth + 1);
    if ((void*)(ip6 + 1) > end) return VNET_DROP_MALFORMED;
    big = vnet_bigtcp_check6(skb, ip6, rec->flags);
    r = vnet_check_ipv6(skb, ip6, end, id, rec);
    return r != VNET_DROP_NONE ? r : big;
  }
  if (proto == bpf_htons(ETH_P_ARP)) return vnet_check_arp(eth + 1, end, id, mac, rec);
  return VNET_DROP_ETHERTYPE;
}

/* A super-packet needs TSO offered for its family and transmit checksum offload (its
 * checksums are partial by nature: segmentation completes them); any other frame must fit
 * the MTU. Read from gso_size alone, so it holds on every kernel, 6.1 included. */
static __always_inline __u32 vnet_check_tx_size(struct __sk_buff* skb, __u32 id,
                                                const struct vnet_ctx_rec* rec) {
  __u32 tso = skb->protocol == bpf_htons(ETH_P_IPV6) ? VNET_CTX_F_TSO6 : VNET_CTX_F_TSO4;
  __u32 need = tso | VNET_CTX_F_TX_CSUM;
  if (skb->gso_size == 0)
    return skb->len > rec->mtu + VNET_ETH_HLEN ? VNET_DROP_MTU : VNET_DROP_NONE;
  if ((rec->flags & need) != need) return VNET_DROP_OFFLOAD;
  vnet_count_tx_gso(id, vnet_gso_segs(skb, vnet_tcp_hdr_len(skb)));
  return VNET_DROP_NONE;
}

/* The transmit limit and, for `storm` (VNET_BUCKET_MAX: none), the storm limit: a frame
 * is charged by its wire length, once, whichever paths it then takes (guests, wire,
 * fan-out). Returns the drop reason, VNET_DROP_NONE when admitted. */
static __always_inline __u32 vnet_tx_admit(struct __sk_buff* skb, __u32 id,
                                           const struct vnet_ctx_rec* rec, __u32 storm) {
  __u32 hdr;
  if (!(rec->flags & VNET_CTX_F_LIMITED)) return VNET_DROP_NONE;
  hdr = skb->gso_size ? vnet_tcp_hdr_len(skb) : 0;
  return vnet_limit_reason(
      vnet_limit_admit(id, VNET_BUCKET_TX, vnet_wire_len(skb, hdr) * 8, storm));
}

static __always_inline int vnet_guest_tc_verdict(struct __sk_buff* skb) {
  void *data, *end;
  struct ethhdr* eth;
  struct vnet_ctx_rec *rec, *to;
  struct vnet_stats_cpu* s;
  __u32 id, reason, target;
  __u64 mac, dst;
  __u16 vlan;
  int multicast;

  vnet_trace_begin();
  id = vnet_ctx_of_ifindex(skb->ifindex);
  rec = vnet_ctx_get(id);
  if (!rec) return vnet_drop(0, VNET_DIR_TX, VNET_DROP_NO_CONTEXT, TC_ACT_SHOT);
  /* One per-CPU lookup for the sender: its counters and its destination hint. */
  s = vnet_stats_cpu_of(id);
  if (s) {
    s->c.tx_packets++;
    s->c.tx_bytes += skb->len;
  }
  mac = vnet_mac_word(rec->mac);
  vlan = rec->vlan;

  vnet_skb_pull(skb, VNET_ETH_HLEN);
  data = (void*)(long)skb->data;
  end = (void*)(long)skb->data_end;
  eth = data;
  if ((void*)(eth + 1) > end) return vnet_drop(id, VNET_DIR_TX, VNET_DROP_MALFORMED, TC_ACT_SHOT);
  if (skb->vlan_present || vnet_eth_proto(eth) == bpf_htons(VNET_ETH_P_8021Q) ||
      vnet_eth_proto(eth) == bpf_htons(VNET_ETH_P_8021AD))
    return vnet_drop(id, VNET_DIR_TX, VNET_DROP_TAGGED_FROM_GUEST, TC_ACT_SHOT);
  if (vnet_mac_word(eth->h_source) != mac)
    return vnet_drop(id, VNET_DIR_TX, VNET_DROP_SPOOF_MAC, TC_ACT_SHOT);
  /* Kept as values: the checks below may pull, which moves the headers. */
  dst = vnet_mac_word(eth->h_dest);
  multicast = vnet_is_multicast(eth->h_dest);

  reason = vnet_check_l3(skb, id, mac, rec);
  /* Headers in page fragments: make them linear and look again (rare, so only then). */
  if (reason == VNET_DROP_MALFORMED && vnet_skb_pull(skb, VNET_PULL_LEN))
    reason = vnet_check_l3(skb, id, mac, rec);
  if (reason == VNET_DROP_NONE) reason = vnet_check_tx_size(skb, id, rec);
  if (reason != VNET_DROP_NONE) return vnet_drop(id, VNET_DIR_TX, reason, TC_ACT_SHOT);

  if (multicast) {
    reason = vnet_tx_admit(
        skb, id, rec,
        dst == VNET_MAC_WORD_BROADCAST ? VNET_BUCKET_BROADCAST : VNET_BUCKET_MULTICAST);
    if (reason != VNET_DROP_NONE) return vnet_drop(id, VNET_DIR_TX, reason, TC_ACT_SHOT);
    /* Every other guest of the VLAN, then the wire; never the sender, never another VLAN. */
    vnet_skb_flood(skb, vlan, id);
    return vnet_to_uplink(skb, id, rec);
  }
  target = vnet_fdb_lookup_hinted(s, vlan, dst, &to);
  if (target == id) return vnet_drop(id, VNET_DIR_TX, VNET_DROP_HAIRPIN, TC_ACT_SHOT);
  /* No local guest has that MAC: unknown unicast, to the wire. */
  reason = vnet_tx_admit(skb, id, rec, to ? VNET_BUCKET_MAX : VNET_BUCKET_UNKNOWN_UNICAST);
  if (reason != VNET_DROP_NONE) return vnet_drop(id, VNET_DIR_TX, reason, TC_ACT_SHOT);
  if (to) return vnet_skb_deliver(skb, target, to);
  return vnet_to_uplink(skb, id, rec);
}

/* The verdict, then the drop event of a frame it dropped (only while someone watches). */
SEC("tc")
int vnet_guest_tc(struct __sk_buff* skb) {
  int verdict;
  vnet_monitor_begin();
  verdict = vnet_guest_tc_verdict(skb);
  vnet_monitor_emit_skb(skb);
  return verdict;
}

char LICENSE[] SEC("license") = "GPL";
