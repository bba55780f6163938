/* IPv6 extension-header chains and reads that may reach past the linear data. The guest
 * program walks the whole chain to the upper-layer header before its ND, RA, redirect and
 * DHCPv6 guards; a chain it cannot walk within the bound is dropped (fail closed). */
#ifndef VNET_BPF_IPV6_H_
#define VNET_BPF_IPV6_H_

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "vnet/abi.h"

/* Extension headers walked per packet; a chain still going after this many is dropped. RFC
 * 8200's full order (hop-by-hop, destination, routing, fragment, AH, destination) is 6. */
#define VNET_MAX_EXT_HDRS 8
/* Offsets up to this are read straight from the linear data when it holds them. */
#define VNET_DIRECT_MAX_OFF 512

#define VNET_IPPROTO_HIP 139
#define VNET_IPPROTO_SHIM6 140
#define VNET_IPPROTO_EXP1 253
#define VNET_IPPROTO_EXP2 254

/* Where a packet sits in a fragmented datagram. */
#define VNET_FRAG_NONE 0
#define VNET_FRAG_FIRST 1 /* fragment header, offset 0 (an atomic fragment too) */
#define VNET_FRAG_LATER 2 /* offset != 0: no upper-layer header in this packet */

/* Copies `len` bytes at `off` from the frame start: straight from the linear data when they
 * are there, else with bpf_skb_load_bytes (paged data; no pull, no un-cloning). Returns 0 on
 * success, non-zero when the frame is shorter. */
static __always_inline int vnet_load(struct __sk_buff* skb, __u32 off, void* buf, __u32 len) {
  void *data, *end;
  __u64 o = off;
  /* Keeps clang from keeping &skb->data in a register across calls (the verifier refuses a
   * load through a ctx pointer with an offset), and from zero-extending the offset afresh
   * after the bounds test (the verifier would not know the new copy's bounds). */
  asm volatile("" : "+r"(skb), "+r"(o));
  data = (void*)(long)skb->data;
  end = (void*)(long)skb->data_end;
  if (o <= VNET_DIRECT_MAX_OFF) {
    void* p = data + o;
    if (p + len <= end) {
      /* Four bytes (UDP ports, a header's first word) as one load: memcpy from a pointer of
       * unknown alignment compiles to a load per byte on BPF. Unaligned packet loads are
       * allowed where the CPU allows them, as in vnet_mac_word. */
      if (len == 4) {
        __u32 v = *(const __u32*)p;
        __builtin_memcpy(buf, &v, 4);
      } else {
        __builtin_memcpy(buf, p, len);
      }
      return 0;
    }
  }
  return bpf_skb_load_bytes(skb, off, buf, len);
}

/* The headers that carry a Next Header field in the generic layout (RFC 7045), which a
 * receiver may walk through to reach the upper layer. */
static __always_inline int vnet_ip6_is_ext(__u8 nh) {
  switch (nh) {
    case IPPROTO_HOPOPTS:
    case IPPROTO_ROUTING:
    case IPPROTO_FRAGMENT:
    case IPPROTO_DSTOPTS:
    case IPPROTO_AH:
    case VNET_IPPROTO_HIP:
    case VNET_IPPROTO_SHIM6:
    case VNET_IPPROTO_EXP1:
    case VNET_IPPROTO_EXP2:
      return 1;
    default:
      return 0;
  }
}

/* Where the upper-layer header of an IPv6 packet sits: in, the first extension header's
 * type and offset; out, the upper layer's. */
struct vnet_ip6_loc {
  __u32 off;
  __u32 frag; /* VNET_FRAG_* */
  __u32 nexthdr;
  __u32 pad;
};

/* Walks the chain from loc (first extension header) to the upper-layer header: on
 * VNET_DROP_NONE, loc names it and says whether it sits in a fragment. A later fragment
 * stops the walk (its upper layer is in the first one). A header running past the frame,
 * or a chain longer than the bound, is VNET_DROP_EXT_HEADER.
 * A global (not inlined) function: the verifier checks it once, on its own, instead of
 * once per path through the chain in every caller (3^8 paths would not verify). */
__attribute__((noinline)) int vnet_ip6_walk(struct __sk_buff* skb, struct vnet_ip6_loc* loc) {
  __u32 o, len, frag = VNET_FRAG_NONE;
  __u8 nh;
  int i;
  if (!skb || !loc) return VNET_DROP_EXT_HEADER;
  o = loc->off;
  nh = (__u8)loc->nexthdr;
  len = skb->len;
  for (i = 0; i < VNET_MAX_EXT_HDRS; i++) {
    __u8 h[4];
    if (!vnet_ip6_is_ext(nh)) break;
    if (o > 0xffff || vnet_load(skb, o, h, 4)) return VNET_DROP_EXT_HEADER;
    if (nh == IPPROTO_FRAGMENT) {
      frag = ((h[2] << 8 | h[3]) & 0xfff8) ? VNET_FRAG_LATER : VNET_FRAG_FIRST;
      o += 8;
    } else if (nh == IPPROTO_AH) {
      o += ((__u32)h[1] + 2) * 4;
    } else {
      o += ((__u32)h[1] + 1) * 8;
    }
    nh = h[0];
    if (o > len) return VNET_DROP_EXT_HEADER;
    if (frag == VNET_FRAG_LATER) break;
  }
  if (frag != VNET_FRAG_LATER && vnet_ip6_is_ext(nh)) return VNET_DROP_EXT_HEADER;
  loc->off = o;
  loc->frag = frag;
  loc->nexthdr = nh;
  return VNET_DROP_NONE;
}

#endif /* VNET_BPF_IPV6_H_ */
