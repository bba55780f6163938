/* Packet parsing: bounds-checked header access shared by the programs. */
#ifndef VNET_BPF_PARSE_H_
#define VNET_BPF_PARSE_H_

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define VNET_ETH_P_8021Q 0x8100
#define VNET_ETH_P_8021AD 0x88A8
#define VNET_VLAN_VID_MASK 0x0fff

struct vnet_vlan_hdr {
  __be16 tci;
  __be16 encap_proto;
};

/* ARP for Ethernet/IPv4, the only kind guests may send. */
struct vnet_arp_eth4 {
  __be16 hrd;
  __be16 pro;
  __u8 hln;
  __u8 pln;
  __be16 op;
  __u8 sha[6];
  __u8 sip[4];
  __u8 tha[6];
  __u8 tip[4];
} __attribute__((packed));

struct vnet_icmp6 {
  __u8 type;
  __u8 code;
  __be16 csum;
  __u32 reserved;
};

/* ND neighbour solicitation / advertisement: ICMPv6 header then the target. */
struct vnet_nd_msg {
  struct vnet_icmp6 hdr;
  __u8 target[16];
};

#define VNET_ICMP6_RS 133
#define VNET_ICMP6_RA 134
#define VNET_ICMP6_NS 135
#define VNET_ICMP6_NA 136
#define VNET_ICMP6_REDIRECT 137
#define VNET_ICMP6_MLD2_REPORT 143
#define VNET_ND_OPT_SLLA 1
#define VNET_ND_OPT_TLLA 2

static __always_inline int vnet_is_multicast(const __u8* mac) { return mac[0] & 1; }

static __always_inline int vnet_is_broadcast(const __u8* mac) {
  return (mac[0] & mac[1] & mac[2] & mac[3] & mac[4] & mac[5]) == 0xff;
}

/* IEEE 802.1D reserved group addresses 01:80:c2:00:00:00-0f (STP, pause, slow protocols,
 * 802.1X, LLDP): link-local to the wire; a bridge never forwards them. */
static __always_inline int vnet_is_reserved_group(const __u8* mac) {
  return mac[0] == 0x01 && mac[1] == 0x80 && mac[2] == 0xc2 && mac[3] == 0 && mac[4] == 0 &&
         (mac[5] & 0xf0) == 0;
}

/* The EtherType as one 2-byte load: struct ethhdr is packed, so reading h_proto by name
 * compiles to two byte loads, a shift and an OR on BPF, on every frame. */
static __always_inline __be16 vnet_eth_proto(const struct ethhdr* eth) {
  return *(const __be16*)((const __u8*)eth + 12);
}

/* A MAC as one value from two loads (its 2-byte then its 4-byte word) where byte-wise
 * access took six loads and five compares. The value is only compared and stored back
 * (vnet_mac_word_store), never read as a number: its byte order is the machine's. The
 * loads may be unaligned in a packet (the verifier allows that where the CPU does); a
 * record's mac (offset 10 of vnet_ctx_rec) and vnet_config's uplink_mac (offset 6) are
 * aligned for both. Not for stack copies: stack access must be aligned. */
static __always_inline __u64 vnet_mac_word(const __u8* p) {
  return (__u64) * (const __u16*)p << 32 | *(const __u32*)(p + 2);
}

/* Writes a vnet_mac_word() back as the 6 bytes it was read from; `p` 2-aligned, p + 2 4-aligned. */
static __always_inline void vnet_mac_word_store(__u8* p, __u64 w) {
  *(__u16*)p = (__u16)(w >> 32);
  *(__u32*)(p + 2) = (__u32)w;
}

#define VNET_MAC_WORD_BROADCAST 0xffffffffffffull

/* An IPv6 address as two words from two 8-byte loads, where copying it through a byte
 * array took 16 byte loads and 30 shifts and ORs (clang copies memory of unknown alignment
 * byte by byte) and, kept across a call, 16 stack slots. Like vnet_mac_word, the words are
 * only compared (with a record's ip6, which holds the same 16 bytes) or stored back, never
 * read as numbers. The loads may be unaligned in a packet, not on the stack. */
struct vnet_ip6_words {
  __u64 w[2];
};

static __always_inline struct vnet_ip6_words vnet_ip6_words_at(const void* p) {
  struct vnet_ip6_words a = {{((const __u64*)p)[0], ((const __u64*)p)[1]}};
  return a;
}

static __always_inline int vnet_ip6_is_unspec(struct vnet_ip6_words a) {
  return (a.w[0] | a.w[1]) == 0;
}

#endif /* VNET_BPF_PARSE_H_ */
