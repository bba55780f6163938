/* The contract between the fast path (BPF C) and vnetd (C++): map keys and values, flags,
 * drop reasons. Both sides include this file so they cannot drift. Plain C, fixed-width
 * types, explicit padding: the layout must be identical for clang -target bpf and g++.
 * Context id 0 means "none" (BPF arrays start zeroed); slot 0 of the stats map counts
 * what belongs to no context (e.g. unknown unicast from the wire). */
#ifndef VNET_ABI_H_
#define VNET_ABI_H_

#include <linux/bpf.h> /* struct bpf_spin_lock */
#include <linux/types.h>

/* Version of the map layouts and meanings below. vnetd pins its maps under maps-v<N>/, so a
 * vnetd never reuses maps whose layout or meaning changed (it starts on new ones and
 * re-attaches every context); bump it with any change to a map's key, value or flags.
 * 1 was the unversioned maps/ directory; 3 added vnet_limit and drop reasons 22..25; 4 grew
 * a VLAN's member list from 256 to 4096 (vnet_vlan no longer preallocated) and put a
 * context's first addresses and its "limited" flag in its record; 5 made vnet_if_ctx an
 * array of slots indexed by ifindex, with vnet_if_ctx_more for what does not fit, and put
 * a per-CPU destination hint behind vnet_stats' counters (struct vnet_stats_cpu); 6 moved
 * that hint in front of the counters, next to the tx counters a sent frame updates; 7 made
 * vnet_ctx and vnet_config BPF_F_MMAPABLE (page-aligned values: a record in one cache line). */
#define VNET_ABI_VERSION 7

/* Per-VLAN member array bound: the broadcast fan-out (a bpf_loop) visits at most this many.
 * A flat network of 4096 guests on one VLAN is ordinary on a cloud host. */
#define VNET_VLAN_MAX_MEMBERS 4096
/* Addresses a context may hold per family (the daemon also adds the MAC's link-local). */
#define VNET_MAX_ADDRS_PER_CTX 16
/* How many fan-out clones a trace record keeps (tests only). */
#define VNET_TRACE_MAX_CLONES 8

/* Per-context record flags (vnet_ctx_rec.flags). */
#define VNET_CTX_F_ACTIVE (1u << 0)     /* record in use */
#define VNET_CTX_F_PEER (1u << 1)       /* veth with its peer in another netns: redirect_peer */
#define VNET_CTX_F_XDP_TARGET (1u << 2) /* device takes XDP redirects (ndo_xdp_xmit ready) */
/* What the guest may send (its transmit offloads; under Xen, what netback accepts). */
#define VNET_CTX_F_TX_CSUM (1u << 3)
#define VNET_CTX_F_TSO4 (1u << 4)
#define VNET_CTX_F_TSO6 (1u << 5)
#define VNET_CTX_F_SG (1u << 6)
/* What the guest takes (its receive offloads; under Xen, the frontend's feature keys). */
#define VNET_CTX_F_RX_CSUM (1u << 7)
#define VNET_CTX_F_RX_SG (1u << 8)
#define VNET_CTX_F_RX_TSO4 (1u << 9)
#define VNET_CTX_F_RX_TSO6 (1u << 10)
/* Per-packet shortcuts the daemon derives from the context, so the common case needs no
 * table: a context without any rate limit or storm control never looks at its buckets; a
 * context whose addresses of a family all fit in the record is checked against the record
 * (the vnet_ip4/vnet_ip6 tables still hold every address, for the other contexts). */
#define VNET_CTX_F_LIMITED (1u << 11)
#define VNET_CTX_F_IP4_INLINE (1u << 12)
#define VNET_CTX_F_IP6_INLINE (1u << 13)
/* BIG TCP: the guest's interface carries super-packets over 64 KiB both ways (the daemon
 * raised its gso/gro max sizes); without it such a packet from the guest is dropped
 * (offload) and one for it goes through the kernel's segmentation (bpf/lib/bigtcp.h). */
#define VNET_CTX_F_BIG_TCP (1u << 14)

enum vnet_drop_reason {
  VNET_DROP_NONE = 0,
  VNET_DROP_MALFORMED = 1,          /* truncated or inconsistent headers */
  VNET_DROP_NO_CONTEXT = 2,         /* guest program on an interface with no active context */
  VNET_DROP_UNKNOWN_UNICAST = 3,    /* wire frame for a guest VLAN, no such guest MAC */
  VNET_DROP_SPOOF_MAC = 4,          /* guest's source MAC is not its own */
  VNET_DROP_SPOOF_IPV4 = 5,         /* guest's source IPv4 is not one of its addresses */
  VNET_DROP_SPOOF_IPV6 = 6,         /* guest's source IPv6 is not one of its addresses */
  VNET_DROP_SPOOF_ARP = 7,          /* ARP sender MAC/IP not the guest's */
  VNET_DROP_SPOOF_ND = 8,           /* ND target or link-layer option not the guest's */
  VNET_DROP_DHCP_SERVER = 9,        /* DHCP/DHCPv6 server traffic from a guest */
  VNET_DROP_ROUTER_ADVERT = 10,     /* router advertisement or ICMPv6 redirect from a guest */
  VNET_DROP_TAGGED_FROM_GUEST = 11, /* guests are access ports: no 802.1Q from them */
  VNET_DROP_ETHERTYPE = 12,         /* not IPv4, IPv6 or ARP */
  VNET_DROP_NO_UPLINK = 13,         /* frame for the wire and no uplink configured */
  VNET_DROP_REDIRECT_FAILED = 14,   /* VLAN push/pop or redirect helper failed */
  VNET_DROP_HAIRPIN = 15,           /* guest frame addressed to its own MAC */
  VNET_DROP_MTU = 16,               /* non-GSO frame larger than the sender's/receiver's MTU */
  VNET_DROP_OFFLOAD = 17,           /* GSO super-packet from a guest not offered TSO for it */
  VNET_DROP_EXT_HEADER = 18,        /* IPv6 extension-header chain too long or unparseable */
  VNET_DROP_ND_FRAGMENT = 19,       /* ND message inside a fragment header (RFC 6980) */
  VNET_DROP_RESERVED_GROUP = 20,    /* wire frame to an IEEE 802.1D reserved group address */
  VNET_DROP_LOCAL_SOURCE_MAC = 21,  /* wire frame with a local guest's source MAC */
  /* Rate limits and storm control (lib/limit.h). */
  VNET_DROP_RATE_LIMIT = 22,            /* over the context's rate limit (TX: sent; RX: received) */
  VNET_DROP_STORM_BROADCAST = 23,       /* over its broadcast packets per second */
  VNET_DROP_STORM_MULTICAST = 24,       /* over its multicast packets per second */
  VNET_DROP_STORM_UNKNOWN_UNICAST = 25, /* over its unknown-unicast packets per second */
  VNET_DROP_MAX = 26,
};

/* Traffic direction of a drop, seen from the guest: RX toward it, TX from it. */
enum vnet_dir { VNET_DIR_RX = 0, VNET_DIR_TX = 1, VNET_DIR_MAX = 2 };

/* vnet_if_ctx: interface -> context, an array of VNET_IF_SLOTS slots (BPF_F_MMAPABLE): the
 * slot of ifindex i is i & (VNET_IF_SLOTS - 1) and holds VNET_IF_SLOT(ctx id, i), 0 when
 * empty. One word, written by vnetd with one atomic store through the mapping and read by
 * the programs with one load, so a reader never sees half of an update. ifindexes only grow
 * on a long-running host (every new vif or veth takes the next one), so a slot is found by
 * the low bits, not by the index itself: an interface whose slot holds another live
 * interface goes to vnet_if_ctx_more (hash, ifindex -> context id), looked up only when
 * the slot does not name the interface. */
#define VNET_IF_SLOTS (1u << 16)
#define VNET_IF_SLOT(ctx_id, ifindex) ((__u64)(ctx_id) << 32 | (__u32)(ifindex))

/* vnet_fdb: (VLAN, MAC) -> context id (__u32). */
struct vnet_fdb_key {
  __u16 vlan;
  __u8 mac[6];
};

/* Addresses a record holds inline per family (most guests have one IPv4 address, and an
 * IPv6 link-local plus one global address). */
#define VNET_CTX_INLINE_IP4 2
#define VNET_CTX_INLINE_IP6 2

/* vnet_ctx: array indexed by context id. */
struct vnet_ctx_rec {
  __u32 ifindex; /* the guest's interface in dom0 (host side of a veth, a vif, a tap) */
  __u32 flags;   /* VNET_CTX_F_* */
  __u16 vlan;    /* access VLAN 1..4094 */
  __u8 mac[6];
  __u32 mtu;
  __u16 n_ip4; /* with VNET_CTX_F_IP4_INLINE: how many of ip4[] are its addresses */
  __u16 n_ip6; /* with VNET_CTX_F_IP6_INLINE: how many of ip6[] */
  __u32 ip4[VNET_CTX_INLINE_IP4];    /* network order */
  __u64 ip6[VNET_CTX_INLINE_IP6][2]; /* the 16 bytes in network order, as two words */
};

/* vnet_ip4 / vnet_ip6: (context id, address in network order) -> __u8 1. */
struct vnet_ip4_key {
  __u32 ctx_id;
  __u32 addr;
};
struct vnet_ip6_key {
  __u32 ctx_id;
  __u8 addr[16];
};

/* vnet_vlan: VLAN (__u32) -> the active contexts in it. */
struct vnet_vlan_members {
  __u32 count;
  __u32 ids[VNET_VLAN_MAX_MEMBERS];
};

/* vnet_config: array of one. */
struct vnet_config {
  __u32 uplink_ifindex; /* 0: no uplink */
  __u16 native_vlan;    /* VLAN of untagged uplink frames; 0: untagged frames are the host's */
  __u8 uplink_mac[6];   /* frames to it are the host's */
  __u32 flags;
  __u32 uplink_mtu; /* MTU of the wire; 0: unknown, only the sender's MTU applies */
};

/* vnet_stats: per-CPU array indexed by context id; RX is toward the guest. */
struct vnet_ctx_stats {
  __u64 rx_packets;
  __u64 rx_bytes;
  __u64 tx_packets;
  __u64 tx_bytes;
  __u64 drops[VNET_DIR_MAX][VNET_DROP_MAX];
  /* Offloads (appended). A super-packet is a GSO packet (gso_size != 0); its segments are
   * gso_segs, or len/gso_size when the sender left gso_segs 0. */
  __u64 tx_gso_packets;    /* super-packets the guest sent (forwarded whole) */
  __u64 tx_gso_segments;   /* segments they stand for */
  __u64 rx_gso_packets;    /* super-packets delivered toward the guest */
  __u64 rx_gso_segments;   /* segments they stand for */
  __u64 rx_gso_segmented;  /* of those, handed to the kernel to segment (guest lacks TSO) */
  __u64 rx_gso_resized;    /* of those, segment size cut to the guest's MTU */
  __u64 rx_csum_completed; /* partial checksums the kernel completed (guest lacks rx csum) */
};

/* The context a context last sent unicast to on this CPU: spares the guest program the fdb
 * lookup while it still holds. Only a hint: it is taken when that context is active with
 * the sender's VLAN and the frame's destination MAC, which makes it the one the fdb names
 * (the fdb maps a (VLAN, MAC) to the one active context that has it); else the fdb decides
 * and the hint is replaced. 0: none. Context 0's is the wire's: the uplink programs' last
 * unicast target on this CPU. */
struct vnet_fdb_hint {
  __u32 ctx_id;
  __u32 pad;
};

/* vnet_stats' per-CPU value: the hint, then the counters (what vnetd sums and reports), so
 * the one per-CPU lookup a packet makes for its sender serves both, and the hint shares a
 * cache line with the tx counters (bytes 0-39; behind the 504 bytes of counters it took a
 * line of its own on every unicast frame). */
struct vnet_stats_cpu {
  struct vnet_fdb_hint hint;
  struct vnet_ctx_stats c;
};

/* vnet_limit: array indexed by context id. Token buckets, one lock per context so a
 * decision that takes from two buckets (bytes and a storm kind) is atomic on every CPU.
 * Credit is kept in units x 1e9 (bit-nanoseconds for the byte buckets, packet-nanoseconds
 * for the storm buckets): a refill is elapsed_ns x rate, exact, without a division. The
 * daemon writes rate, cap and fill_ns (BPF_F_LOCK) with credit = cap; the programs own
 * credit and last_ns. A byte bucket passes a frame while its credit is positive and may
 * overdraw by one frame, a storm bucket needs a whole packet: over any interval t a bucket
 * passes at most rate x t + cap (+ one frame for a byte bucket; bpf/lib/limit.h). */
enum vnet_bucket_kind {
  VNET_BUCKET_TX = 0,              /* bits the guest sends (GSO counted by wire length) */
  VNET_BUCKET_RX = 1,              /* bits delivered to the guest */
  VNET_BUCKET_BROADCAST = 2,       /* packets the guest sends to ff:ff:ff:ff:ff:ff */
  VNET_BUCKET_MULTICAST = 3,       /* packets the guest sends to other group addresses */
  VNET_BUCKET_UNKNOWN_UNICAST = 4, /* packets the guest sends to MACs of no local guest */
  VNET_BUCKET_MAX = 5,             /* also "no bucket" */
};
#define VNET_LIMIT_NS 1000000000ull /* credit units per bit or packet */
struct vnet_bucket {
  __u64 rate;    /* bits or packets per second; 0: unlimited */
  __u64 cap;     /* most credit held (the burst), units x 1e9 */
  __u64 fill_ns; /* cap / rate + 1: after this long idle the bucket is full */
  __s64 credit;  /* units x 1e9; below zero in an overdraft (at most one frame) */
  __u64 last_ns; /* bpf_ktime_get_ns() of the last refill */
};
struct vnet_limit {
  struct bpf_spin_lock lock;
  __u32 pad;
  struct vnet_bucket b[VNET_BUCKET_MAX];
};

/* vnet_trace: the last verdict, written only when a program is loaded with tracing on
 * (tests), so fixtures can check redirect targets that the test run cannot show. */
struct vnet_trace {
  __u32 seq;
  __u32 reason;
  __u32 target_ifindex;
  __u32 target_ctx;
  __u16 vlan_push; /* VLAN pushed before the redirect, 0 none */
  __u16 n_clones;
  __u32 peer; /* 1 when bpf_redirect_peer was used */
  __u32 clones[VNET_TRACE_MAX_CLONES];
};

/* Drop events: where a frame is dropped and counted, the programs also put a record of it in
 * the vnet_drop_events ring buffer, but only while vnetd has a watcher (vnet_monitor.flags)
 * and at most events_per_sec per context (vnet_monitor_state counts what was held back). */
#define VNET_DROP_EVENT_SNAP_LEN 128            /* first bytes of the frame kept in an event */
#define VNET_DROP_EVENT_RING_BYTES (256 * 1024) /* ring size: a power of 2, pages */
#define VNET_MONITOR_F_ON (1u << 0)             /* someone watches: emit events */

/* vnet_monitor: array of one, written by vnetd. */
struct vnet_monitor_config {
  __u32 flags;          /* VNET_MONITOR_F_* */
  __u32 events_per_sec; /* per context; 0 emits none */
};

/* vnet_monitor_state: array indexed by context id (slot 0: no context), one entry shared by
 * every CPU and updated with atomic adds, so the rate holds however many CPUs drop. */
struct vnet_monitor_state {
  __u64 window_start_ns; /* start of the current one-second window */
  __u64 window_events;   /* events emitted in it */
  __u64 emitted;         /* events put in the ring */
  __u64 suppressed;      /* events over the rate: counted, not emitted */
  __u64 ring_full;       /* events lost because the ring had no room */
};

/* One record of vnet_drop_events. */
struct vnet_drop_event {
  __u64 timestamp_ns; /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
  __u32 ctx_id;       /* 0: the frame belongs to no context */
  __u32 ifindex;      /* interface the frame arrived on */
  __u32 frame_len;    /* the frame's length (skb->len, or the XDP frame's) */
  __u16 captured_len; /* bytes of data[] holding the frame's first bytes */
  __u8 direction;     /* enum vnet_dir */
  __u8 reason;        /* enum vnet_drop_reason */
  __u8 data[VNET_DROP_EVENT_SNAP_LEN];
};

#if !defined(__bpf__)
/* Metric label of a drop reason; stable names, "unknown" outside the enum. */
static inline const char* vnet_drop_reason_name(unsigned int reason) {
  switch (reason) {
    case VNET_DROP_NONE:
      return "none";
    case VNET_DROP_MALFORMED:
      return "malformed";
    case VNET_DROP_NO_CONTEXT:
      return "no_context";
    case VNET_DROP_UNKNOWN_UNICAST:
      return "unknown_unicast";
    case VNET_DROP_SPOOF_MAC:
      return "spoof_mac";
    case VNET_DROP_SPOOF_IPV4:
      return "spoof_ipv4";
    case VNET_DROP_SPOOF_IPV6:
      return "spoof_ipv6";
    case VNET_DROP_SPOOF_ARP:
      return "spoof_arp";
    case VNET_DROP_SPOOF_ND:
      return "spoof_nd";
    case VNET_DROP_DHCP_SERVER:
      return "dhcp_server";
    case VNET_DROP_ROUTER_ADVERT:
      return "router_advert";
    case VNET_DROP_TAGGED_FROM_GUEST:
      return "tagged_from_guest";
    case VNET_DROP_ETHERTYPE:
      return "ethertype";
    case VNET_DROP_NO_UPLINK:
      return "no_uplink";
    case VNET_DROP_REDIRECT_FAILED:
      return "redirect_failed";
    case VNET_DROP_HAIRPIN:
      return "hairpin";
    case VNET_DROP_MTU:
      return "mtu";
    case VNET_DROP_OFFLOAD:
      return "offload";
    case VNET_DROP_EXT_HEADER:
      return "ext_header";
    case VNET_DROP_ND_FRAGMENT:
      return "nd_fragment";
    case VNET_DROP_RESERVED_GROUP:
      return "reserved_group";
    case VNET_DROP_LOCAL_SOURCE_MAC:
      return "local_source_mac";
    case VNET_DROP_RATE_LIMIT:
      return "rate_limit";
    case VNET_DROP_STORM_BROADCAST:
      return "storm_broadcast";
    case VNET_DROP_STORM_MULTICAST:
      return "storm_multicast";
    case VNET_DROP_STORM_UNKNOWN_UNICAST:
      return "storm_unknown_unicast";
    default:
      return "unknown";
  }
}
#endif

#endif /* VNET_ABI_H_ */
