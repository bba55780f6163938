// Table-driven BPF_PROG_TEST_RUN fixtures: every verdict of the three programs on crafted
// frames. Each row names the input frame, the expected verdict, the drop reason that must
// be counted (against which context), and for every frame the program does not drop the
// output frame, built here from the input (the check of what was forwarded or passed on).
// The programs are loaded with tracing on (a load-time constant) so the redirect target,
// VLAN push and fan-out clones, which a test run cannot show, are read back from the trace
// map and compared too. The tables are written by the daemon's own Tables.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/context_validation.h"
#include "daemon/dataplane/tables.h"
#include "gtest/gtest.h"
#include "tests/bpf/frames.h"
#include "tests/bpf/test_net.h"
#include "tests/bpf/traced_programs.h"
#include "vnet/abi.h"

namespace vnet::testing {
namespace {

enum class Prog { kXdp, kUplinkTc, kGuestTc };
// Interfaces of the test network: the uplink, guests 1 and 2 (VLAN 10; 1 is a namespace
// veth taking redirect_peer, 2 stands for a vif taking bpf_redirect) and guest 3 (VLAN 20,
// flagged XDP-capable).
// Guests 4..7 (VLAN 40, namespace veths) differ in offloads and MTU: 4 smart, MTU 9000 (the
// sender of the offload rows); 5 dumb (no offloads), 1500; 6 smart, 1500; 7 TSO for IPv4
// only, 1500.
// Guests 10..12 (VLAN 50, namespace veths) carry limits of a byte or a packet per second,
// so a bucket, once drained, stays drained for the test: 10 a transmit limit, 11 a receive
// limit, 12 storm control (one packet per second of each kind).
enum class Port { kNone, kUplink, kG1, kG2, kG3, kG4, kG5, kG6, kG7, kG8, kG9, kG10, kG11, kG12 };

const Bytes kMac1 = Mac("02:00:00:00:00:01");
const Bytes kMac2 = Mac("02:00:00:00:00:02");
const Bytes kMac3 = Mac("02:00:00:00:00:03");
const Bytes kMac8 = Mac("02:00:00:00:00:08");  // transmit offloads only
const Bytes kMac9 = Mac("02:00:00:00:00:09");  // receive offloads only
const Bytes kMacWire = Mac("02:00:00:00:00:aa");
const Bytes kMacUplink = Mac("02:00:00:00:00:fe");
const Bytes kMacUnknown = Mac("02:00:00:00:00:99");
const Bytes kBcast = Mac("ff:ff:ff:ff:ff:ff");
const Bytes kAllNodes = Mac("33:33:00:00:00:01");
const Bytes kIp1 = Ip4("198.18.0.1"), kIp2 = Ip4("198.18.0.2"), kIp3 = Ip4("198.18.1.3");
const Bytes kIpWire = Ip4("198.19.0.9"), kIpOther = Ip4("198.18.0.77"), kIpAny = Ip4("0.0.0.0");
const Bytes kIpBcast = Ip4("255.255.255.255");
const Bytes k6Ip1 = Ip6("2001:db8::1"), k6Ip2 = Ip6("2001:db8::2");
const Bytes k6Other = Ip6("2001:db8::77"), k6Wire = Ip6("2001:db8:ff::9");
const Bytes k6Ll1 = Ip6("fe80::ff:fe00:1");  // EUI-64 of kMac1
const Bytes k6Unspec = Ip6("::"), k6AllNodes = Ip6("ff02::1"), k6AllRouters = Ip6("ff02::2");

constexpr uint16_t kIPv4 = 0x0800, kIPv6 = 0x86dd, kArp = 0x0806;
constexpr uint8_t kUdp = 17, kIcmp6 = 58;

struct Row {
  std::string name;
  Prog prog;
  Port in;  // the interface the frame arrives on (TC programs)
  Bytes frame;
  int verdict;
  uint32_t reason = VNET_DROP_NONE;  // drop reason that must be counted
  uint32_t count_ctx = 0;            // context charged with the drop (0: none)
  Port target = Port::kNone;         // redirect target
  bool peer = false;                 // through bpf_redirect_peer
  uint16_t vlan_push = 0;
  std::vector<Port> clones;
  // The frame as the program leaves it (BPF_PROG_TEST_RUN's data_out); required on every row
  // the program does not drop (see the test). Built from `frame` by Same/Popped/Pushed below.
  Bytes out;
  uint32_t gso_size = 0;  // a super-packet: skb gso_size / gso_segs of the test run
  uint32_t gso_segs = 0;
  struct Delta {
    uint32_t ctx;
    __u64 ContextCounters::*field;  // a field of vnet_ctx_stats
    uint64_t by;
  };
  std::vector<Delta> deltas;  // offload counters that must move by exactly `by`
  int drop_dir = -1;          // direction of the counted drop; -1: the program's
  // Runs of `prime_frame` (same program and port) before the row: drains a limit.
  Bytes prime_frame;
  uint32_t prime = 0;
  uint32_t charged_ctx = 0;  // whose transmit bucket the row must take
  uint64_t tx_charged = 0;   // that many bytes from
  // The transmit credit of charged_ctx after the row, in whole bytes (rounded down; below
  // zero in an overdraft); unset: not checked.
  std::optional<int64_t> tx_credit_after;
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

// What a test run returns as data_out. For TC it is the skb's bytes from the MAC header to
// skb->len after the program (net/bpf/test_run.c, bpf_prog_test_run_skb); the skb's VLAN
// metadata (vlan_present, vlan_tci) is neither in those bytes nor in the __sk_buff the
// kernel writes back. bpf_skb_vlan_pop on a frame whose tag is in its bytes (a test run's
// frame always is: nothing moved it to metadata) removes those 4 bytes; bpf_skb_vlan_push
// puts the new tag in the metadata and leaves the bytes as they were. So a row that pushes a
// tag expects its bytes unchanged, and the pushed tag is seen only in the trace (vlan_push).
// For XDP data_out is the buffer from data_meta to data_end (the programs write no metadata).

// Forwarded or passed on with the bytes untouched.
Row Same(Row r) {
  r.out = r.frame;
  return r;
}

// The input frame without its 802.1Q tag (bytes 12..15): what a pop leaves. Empty when the
// frame has no tag, which fails the row (no expected output).
Bytes Untagged(const Bytes& tagged) {
  if (tagged.size() < 18 || tagged[12] != 0x81 || tagged[13] != 0x00) return {};
  Bytes b = tagged;
  b.erase(b.begin() + 12, b.begin() + 16);
  return b;
}

// The tag popped from the bytes (to a guest; or popped for the fan-out, then pushed back for
// the host as metadata, which data_out does not carry).
Row Popped(Row r) {
  r.out = Untagged(r.frame);
  return r;
}

// To the wire with row.vlan_push pushed: bytes unchanged, the tag in skb metadata (above).
Row Pushed(Row r) {
  r.out = r.frame;
  return r;
}

Bytes G1Udp4(const Bytes& dst_mac, const Bytes& src_ip, const Bytes& dst_ip) {
  return Cat({Eth(dst_mac, kMac1, kIPv4), Ipv4Udp(src_ip, dst_ip, 40000, 5001)});
}

// A G1 frame forwarded unchanged to G2 (same VLAN, a vif: bpf_redirect).
Row ToG2(std::string name, Bytes frame) {
  return Same({std::move(name), Prog::kGuestTc, Port::kG1, std::move(frame), TC_ACT_REDIRECT,
               VNET_DROP_NONE, 2, Port::kG2});
}

// A G1 unicast frame for the wire (or a guest of another VLAN): tag 10 pushed.
Row G1ToWire(std::string name, Bytes frame) {
  return Pushed({std::move(name), Prog::kGuestTc, Port::kG1, std::move(frame), TC_ACT_REDIRECT,
                 VNET_DROP_NONE, 0, Port::kUplink, false, 10});
}

// A G1 broadcast or multicast frame: cloned to G2, then to the wire with tag 10 pushed.
Row FloodFromG1(std::string name, Bytes frame) {
  return Pushed({std::move(name),
                 Prog::kGuestTc,
                 Port::kG1,
                 std::move(frame),
                 TC_ACT_REDIRECT,
                 VNET_DROP_NONE,
                 0,
                 Port::kUplink,
                 false,
                 10,
                 {Port::kG2}});
}

std::vector<Row> Rows() {
  const Bytes to_g3 = Cat({Eth(kMac3, kMacWire, kIPv4), Ipv4Udp(kIpWire, kIp3, 5001, 40000)});
  const Bytes to_g1 = Cat({Eth(kMac1, kMacWire, kIPv4), Ipv4Udp(kIpWire, kIp1, 5001, 40000)});
  const Bytes arp_req = Cat(
      {Eth(kBcast, kMacWire, kArp, 10), Arp(1, kMacWire, kIpWire, Mac("00:00:00:00:00:00"), kIp1)});
  return {
      // Uplink XDP.
      {"XdpUnicastToXdpGuestPopsTag",
       Prog::kXdp,
       Port::kUplink,
       Cat({Eth(kMac3, kMacWire, kIPv4, 20), Ipv4Udp(kIpWire, kIp3, 5001, 40000)}),
       XDP_REDIRECT,
       VNET_DROP_NONE,
       3,
       Port::kG3,
       false,
       0,
       {},
       to_g3},
      Same({"XdpUnicastToSkbGuestPassesToTc", Prog::kXdp, Port::kUplink,
            Cat({Eth(kMac2, kMacWire, kIPv4, 10), Ipv4Udp(kIpWire, kIp2, 5001, 40000)}), XDP_PASS}),
      {"XdpUnknownUnicastDropped", Prog::kXdp, Port::kUplink,
       Cat({Eth(kMacUnknown, kMacWire, kIPv4, 10), Ipv4Udp(kIpWire, kIpOther, 5001, 1)}), XDP_DROP,
       VNET_DROP_UNKNOWN_UNICAST, 0},
      Same({"XdpBroadcastPassesToTcFanOut", Prog::kXdp, Port::kUplink, arp_req, XDP_PASS}),
      Same({"XdpHostFramePasses", Prog::kXdp, Port::kUplink,
            Cat({Eth(kMacUplink, kMacWire, kIPv4, 10), Ipv4Udp(kIpWire, kIpOther, 5001, 1)}),
            XDP_PASS}),
      Same({"XdpUntaggedIsHostsWithoutNativeVlan", Prog::kXdp, Port::kUplink,
            Cat({Eth(kMacUnknown, kMacWire, kIPv4), Ipv4Udp(kIpWire, kIpOther, 5001, 1)}),
            XDP_PASS}),
      Same({"XdpVlanWithoutGuestsPasses", Prog::kXdp, Port::kUplink,
            Cat({Eth(kMacUnknown, kMacWire, kIPv4, 30), Ipv4Udp(kIpWire, kIpOther, 5001, 1)}),
            XDP_PASS}),
      Same({"XdpTruncatedTagPasses", Prog::kXdp, Port::kUplink, Eth(kMac1, kMacWire, 0x8100),
            XDP_PASS}),

      // Uplink TC (the skb path).
      {"UplinkTcUnicastToNamespaceGuestRedirectPeerPopsTag",
       Prog::kUplinkTc,
       Port::kUplink,
       Cat({Eth(kMac1, kMacWire, kIPv4, 10), Ipv4Udp(kIpWire, kIp1, 5001, 40000)}),
       TC_ACT_REDIRECT,
       VNET_DROP_NONE,
       1,
       Port::kG1,
       true,
       0,
       {},
       to_g1},
      Popped({"UplinkTcUnicastToVifGuestRedirect", Prog::kUplinkTc, Port::kUplink,
              Cat({Eth(kMac2, kMacWire, kIPv4, 10), Ipv4Udp(kIpWire, kIp2, 5001, 40000)}),
              TC_ACT_REDIRECT, VNET_DROP_NONE, 2, Port::kG2, false}),
      // Popped for the clones, pushed back for the host as skb metadata, which data_out does
      // not carry: the bytes come out untagged.
      Popped({"UplinkTcBroadcastFansOutToVlanOnly",
              Prog::kUplinkTc,
              Port::kUplink,
              arp_req,
              TC_ACT_UNSPEC,
              VNET_DROP_NONE,
              0,
              Port::kNone,
              false,
              0,
              {Port::kG1, Port::kG2}}),
      {"UplinkTcUnknownUnicastDropped", Prog::kUplinkTc, Port::kUplink,
       Cat({Eth(kMacUnknown, kMacWire, kIPv4, 10), Ipv4Udp(kIpWire, kIpOther, 5001, 1)}),
       TC_ACT_SHOT, VNET_DROP_UNKNOWN_UNICAST, 0},
      Same({"UplinkTcHostFramePasses", Prog::kUplinkTc, Port::kUplink,
            Cat({Eth(kMacUplink, kMacWire, kIPv4, 10), Ipv4Udp(kIpWire, kIpOther, 5001, 1)}),
            TC_ACT_UNSPEC}),
      // What XDP passes to the host, TC passes too (with uplink_delivery tc no XDP runs).
      Same({"UplinkTcUntaggedIsHostsWithoutNativeVlan", Prog::kUplinkTc, Port::kUplink,
            Cat({Eth(kMacUnknown, kMacWire, kIPv4), Ipv4Udp(kIpWire, kIpOther, 5001, 1)}),
            TC_ACT_UNSPEC}),
      Same({"UplinkTcVlanWithoutGuestsPasses", Prog::kUplinkTc, Port::kUplink,
            Cat({Eth(kMacUnknown, kMacWire, kIPv4, 30), Ipv4Udp(kIpWire, kIpOther, 5001, 1)}),
            TC_ACT_UNSPEC}),
      Same({"UplinkTcTruncatedTagPasses", Prog::kUplinkTc, Port::kUplink,
            Eth(kMac1, kMacWire, 0x8100), TC_ACT_UNSPEC}),

      // Guest TC: forwarding.
      Same({"GuestToSameVlanNamespaceGuestRedirectPeer", Prog::kGuestTc, Port::kG2,
            Cat({Eth(kMac1, kMac2, kIPv4), Ipv4Udp(kIp2, kIp1, 40000, 5001)}), TC_ACT_REDIRECT,
            VNET_DROP_NONE, 1, Port::kG1, true}),
      ToG2("GuestToSameVlanVifGuestRedirect", G1Udp4(kMac2, kIp1, kIp2)),
      ToG2("GuestIpv6ToSameVlanVifGuestRedirect",
           Cat({Eth(kMac2, kMac1, kIPv6), Ipv6(k6Ip1, k6Ip2, kUdp, Udp(40000, 5001))})),
      G1ToWire("GuestToOtherVlanGuestGoesToWireTagged", G1Udp4(kMac3, kIp1, kIp3)),
      G1ToWire("GuestToWirePushesVlan", G1Udp4(kMacWire, kIp1, kIpWire)),
      FloodFromG1(
          "GuestBroadcastFansOutNeverSenderNorOtherVlan",
          Cat({Eth(kBcast, kMac1, kArp), Arp(1, kMac1, kIp1, Mac("00:00:00:00:00:00"), kIp2)})),
      FloodFromG1("GuestDhcpDiscoverBeforeAddressAllowed",
                  Cat({Eth(kBcast, kMac1, kIPv4), Ipv4Udp(kIpAny, kIpBcast, 68, 67)})),
      FloodFromG1("GuestNeighbourSolicitationFromLinkLocalAllowed",
                  Cat({Eth(kAllNodes, kMac1, kIPv6),
                       Ipv6(k6Ll1, k6AllNodes, kIcmp6, Nd(135, k6Ip2, kMac1))})),
      ToG2("GuestNeighbourAdvertOwnAddressAllowed",
           Cat({Eth(kMac2, kMac1, kIPv6), Ipv6(k6Ip1, k6Ip2, kIcmp6, Nd(136, k6Ip1, kMac1))})),
      FloodFromG1(
          "GuestDadProbeOwnAddressAllowed",
          Cat({Eth(kAllNodes, kMac1, kIPv6), Ipv6(k6Unspec, k6AllNodes, kIcmp6, Nd(135, k6Ip1))})),
      G1ToWire("GuestIpv6ToWireAllowed",
               Cat({Eth(kMacWire, kMac1, kIPv6), Ipv6(k6Ip1, k6Wire, kUdp, Udp(40000, 5001))})),

      // Guest TC: drops, each counted against the sender with its reason.
      {"GuestSpoofedSourceMacDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kMac2, kMacUnknown, kIPv4), Ipv4Udp(kIp1, kIp2, 1, 2)}), TC_ACT_SHOT,
       VNET_DROP_SPOOF_MAC, 1},
      {"GuestSpoofedSourceIpv4Dropped", Prog::kGuestTc, Port::kG1, G1Udp4(kMac2, kIpOther, kIp2),
       TC_ACT_SHOT, VNET_DROP_SPOOF_IPV4, 1},
      {"GuestOtherGuestsIpv4Dropped", Prog::kGuestTc, Port::kG1, G1Udp4(kMac2, kIp2, kIp2),
       TC_ACT_SHOT, VNET_DROP_SPOOF_IPV4, 1},
      {"GuestSpoofedSourceIpv6Dropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kMacWire, kMac1, kIPv6), Ipv6(k6Other, k6Wire, kUdp, Udp(40000, 5001))}),
       TC_ACT_SHOT, VNET_DROP_SPOOF_IPV6, 1},
      // Same interface ID as its own 2001:db8::1, another prefix: the whole address counts.
      {"GuestIpv6SourceSharingOnlyTheInterfaceIdDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kMacWire, kMac1, kIPv6), Ipv6(Ip6("2001:db9::1"), k6Wire, kUdp, Udp(40000, 5001))}),
       TC_ACT_SHOT, VNET_DROP_SPOOF_IPV6, 1},
      {"GuestNaTargetSharingOnlyTheInterfaceIdDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kAllNodes, kMac1, kIPv6),
            Ipv6(k6Ip1, k6AllNodes, kIcmp6, Nd(136, Ip6("2001:db9::1"), kMac1))}),
       TC_ACT_SHOT, VNET_DROP_SPOOF_ND, 1},
      {"GuestSpoofedArpSenderIpDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kBcast, kMac1, kArp), Arp(2, kMac1, kIp2, kMac2, kIp2)}), TC_ACT_SHOT,
       VNET_DROP_SPOOF_ARP, 1},
      {"GuestSpoofedArpSenderMacDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kBcast, kMac1, kArp), Arp(1, kMac2, kIp1, Mac("00:00:00:00:00:00"), kIp2)}),
       TC_ACT_SHOT, VNET_DROP_SPOOF_ARP, 1},
      {"GuestSpoofedNeighbourAdvertTargetDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kAllNodes, kMac1, kIPv6), Ipv6(k6Ip1, k6AllNodes, kIcmp6, Nd(136, k6Ip2, kMac1))}),
       TC_ACT_SHOT, VNET_DROP_SPOOF_ND, 1},
      {"GuestSpoofedDadTargetDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kAllNodes, kMac1, kIPv6), Ipv6(k6Unspec, k6AllNodes, kIcmp6, Nd(135, k6Ip2))}),
       TC_ACT_SHOT, VNET_DROP_SPOOF_ND, 1},
      {"GuestSpoofedNdLinkLayerOptionDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kAllNodes, kMac1, kIPv6), Ipv6(k6Ip1, k6AllNodes, kIcmp6, Nd(135, k6Ip2, kMac2))}),
       TC_ACT_SHOT, VNET_DROP_SPOOF_ND, 1},
      {"GuestDhcpServerReplyDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kBcast, kMac1, kIPv4), Ipv4Udp(kIp1, kIpBcast, 67, 68)}), TC_ACT_SHOT,
       VNET_DROP_DHCP_SERVER, 1},
      {"GuestDhcpv6ServerReplyDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kMac2, kMac1, kIPv6), Ipv6(k6Ll1, k6Ip2, kUdp, Udp(547, 546))}), TC_ACT_SHOT,
       VNET_DROP_DHCP_SERVER, 1},
      {"GuestRouterAdvertDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kAllNodes, kMac1, kIPv6), Ipv6(k6Ll1, k6AllNodes, kIcmp6, Icmp6(134))}),
       TC_ACT_SHOT, VNET_DROP_ROUTER_ADVERT, 1},
      FloodFromG1("GuestRouterSolicitationAllowed",
                  Cat({Eth(Mac("33:33:00:00:00:02"), kMac1, kIPv6),
                       Ipv6(k6Ll1, k6AllRouters, kIcmp6, Icmp6(133))})),
      {"GuestTaggedFrameDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kMac2, kMac1, kIPv4, 20), Ipv4Udp(kIp1, kIp2, 1, 2)}), TC_ACT_SHOT,
       VNET_DROP_TAGGED_FROM_GUEST, 1},
      {"GuestOtherEthertypeDropped", Prog::kGuestTc, Port::kG1,
       Cat({Eth(kMac2, kMac1, 0x88cc), Bytes(46, 0)}), TC_ACT_SHOT, VNET_DROP_ETHERTYPE, 1},
      {"GuestFrameToItselfDropped", Prog::kGuestTc, Port::kG1, G1Udp4(kMac1, kIp1, kIp1),
       TC_ACT_SHOT, VNET_DROP_HAIRPIN, 1},
      {"GuestProgramOnForeignInterfaceDrops", Prog::kGuestTc, Port::kUplink,
       G1Udp4(kMac2, kIp1, kIp2), TC_ACT_SHOT, VNET_DROP_NO_CONTEXT, 0},
  };
}

const Bytes kMac4 = Mac("02:00:00:00:00:04"), kMac5 = Mac("02:00:00:00:00:05");
const Bytes kMac6 = Mac("02:00:00:00:00:06"), kMac7 = Mac("02:00:00:00:00:07");
const Bytes kIp4 = Ip4("198.18.4.4"), kIp5 = Ip4("198.18.4.5"), kIp6 = Ip4("198.18.4.6");
const Bytes k6Ip4 = Ip6("2001:db8:4::4"), k6Ip7 = Ip6("2001:db8:4::7");

Bytes Tcp4(const Bytes& src_mac, const Bytes& dst_mac, const Bytes& src, const Bytes& dst,
           uint32_t payload) {
  return Cat({Eth(dst_mac, src_mac, kIPv4), Ipv4Tcp(src, dst, payload)});
}

Row Offload(std::string name, Port in, Bytes frame, int verdict, uint32_t reason,
            uint32_t count_ctx, Port target, bool peer, uint32_t gso_size,
            std::vector<Row::Delta> deltas) {
  Row r{std::move(name), Prog::kGuestTc, in,  std::move(frame), verdict, reason,
        count_ctx,       target,         peer};
  r.gso_size = gso_size;
  r.deltas = std::move(deltas);
  return r;
}

// Offloads and MTU. A test run cannot mark a packet TCP GSO (gso_type stays 0), so
// resegmenting a super-packet is checked live (tests/fastpath/test_offload.py); here a
// super-packet too big for the destination fails to resize and is dropped as mtu.
Row RxDrop(Row r) {
  r.drop_dir = VNET_DIR_RX;  // charged to the receiving guest
  return r;
}

std::vector<Row> OffloadRows() {
  using C = ContextCounters;
  const Bytes gso2 = Tcp4(kMac4, kMac6, kIp4, kIp6, 2 * 1448);  // two 1448-byte segments
  return {
      Same(Offload("GsoToSmartGuestCrossesWholeRedirectPeer", Port::kG4, gso2, TC_ACT_REDIRECT,
                   VNET_DROP_NONE, 6, Port::kG6, true, 1448,
                   {{4, &C::tx_gso_packets, 1},
                    {4, &C::tx_gso_segments, 2},
                    {6, &C::rx_gso_packets, 1},
                    {6, &C::rx_gso_segments, 2},
                    {6, &C::rx_gso_segmented, 0},
                    {6, &C::rx_gso_resized, 0}})),
      Same(Offload(
          "GsoToGuestWithoutTsoGoesThroughKernelSegmentation", Port::kG4,
          Tcp4(kMac4, kMac5, kIp4, kIp5, 2 * 1448), TC_ACT_REDIRECT, VNET_DROP_NONE, 5, Port::kG5,
          false, 1448,
          {{4, &C::tx_gso_packets, 1}, {5, &C::rx_gso_packets, 1}, {5, &C::rx_gso_segmented, 1}})),
      Same(Offload("Gso6ToGuestWithTso4OnlyGoesThroughKernelSegmentation", Port::kG4,
                   Cat({Eth(kMac7, kMac4, kIPv6), Ipv6(k6Ip4, k6Ip7, 6, Tcp(2 * 1428))}),
                   TC_ACT_REDIRECT, VNET_DROP_NONE, 7, Port::kG7, false, 1428,
                   {{7, &C::rx_gso_segmented, 1}, {7, &C::rx_gso_segments, 2}})),
      // Offloads per direction: what a guest may send and what it takes are separate (a Xen
      // frontend that has not connected yet takes no super-packets but netback accepts them).
      Same(Offload("GsoToGuestWithTransmitTsoOnlyGoesThroughKernelSegmentation", Port::kG4,
                   Tcp4(kMac4, kMac8, kIp4, Ip4("198.18.4.8"), 2 * 1448), TC_ACT_REDIRECT,
                   VNET_DROP_NONE, 8, Port::kG8, false, 1448, {{8, &C::rx_gso_segmented, 1}})),
      Same(Offload("GsoFromGuestWithTransmitTsoOnlyCrossesWhole", Port::kG8,
                   Tcp4(kMac8, kMac6, Ip4("198.18.4.8"), kIp6, 2 * 1448), TC_ACT_REDIRECT,
                   VNET_DROP_NONE, 6, Port::kG6, true, 1448,
                   {{8, &C::tx_gso_packets, 1}, {6, &C::rx_gso_segmented, 0}})),
      Same(Offload("GsoToGuestWithReceiveTsoOnlyRedirectPeer", Port::kG4,
                   Tcp4(kMac4, kMac9, kIp4, Ip4("198.18.4.9"), 2 * 1448), TC_ACT_REDIRECT,
                   VNET_DROP_NONE, 9, Port::kG9, true, 1448, {{9, &C::rx_gso_segmented, 0}})),
      Offload("GsoFromGuestWithReceiveTsoOnlyDropped", Port::kG9,
              Tcp4(kMac9, kMac6, Ip4("198.18.4.9"), kIp6, 2 * 1448), TC_ACT_SHOT, VNET_DROP_OFFLOAD,
              9, Port::kNone, false, 1448, {{9, &C::tx_gso_packets, 0}}),
      Same(Offload("Gso4ToGuestWithTso4RedirectPeer", Port::kG4,
                   Tcp4(kMac4, kMac7, kIp4, Ip4("198.18.4.7"), 2 * 1448), TC_ACT_REDIRECT,
                   VNET_DROP_NONE, 7, Port::kG7, true, 1448, {{7, &C::rx_gso_segmented, 0}})),
      Same(Offload("PlainFrameToGuestWithoutRxCsumGoesThroughKernel", Port::kG4,
                   Tcp4(kMac4, kMac5, kIp4, kIp5, 100), TC_ACT_REDIRECT, VNET_DROP_NONE, 5,
                   Port::kG5, false, 0, {{5, &C::rx_gso_packets, 0}})),
      Offload("GsoFromGuestWithoutTsoDropped", Port::kG5, Tcp4(kMac5, kMac4, kIp5, kIp4, 2 * 1448),
              TC_ACT_SHOT, VNET_DROP_OFFLOAD, 5, Port::kNone, false, 1448,
              {{5, &C::tx_gso_packets, 0}}),
      RxDrop(Offload("FrameOverReceiverMtuDropped", Port::kG4, Tcp4(kMac4, kMac6, kIp4, kIp6, 1600),
                     TC_ACT_SHOT, VNET_DROP_MTU, 6, Port::kNone, false, 0, {})),
      Same(Offload("FrameAtReceiverMtuDelivered", Port::kG4,
                   Tcp4(kMac4, kMac6, kIp4, kIp6, 1500 - 52), TC_ACT_REDIRECT, VNET_DROP_NONE, 6,
                   Port::kG6, true, 0, {})),
      Offload("FrameOverSenderMtuDropped", Port::kG6, Tcp4(kMac6, kMac4, kIp6, kIp4, 1500 - 51),
              TC_ACT_SHOT, VNET_DROP_MTU, 6, Port::kNone, false, 0, {}),
      Offload("FrameOverWireMtuDropped", Port::kG4, Tcp4(kMac4, kMacWire, kIp4, kIpWire, 2000),
              TC_ACT_SHOT, VNET_DROP_MTU, 4, Port::kNone, false, 0, {}),
      RxDrop(Offload("GsoTooBigForReceiverAndNotResizableDropped", Port::kG4, gso2, TC_ACT_SHOT,
                     VNET_DROP_MTU, 6, Port::kNone, false, 1600, {{6, &C::rx_gso_packets, 0}})),
  };
}

// BIG TCP (bpf/lib/bigtcp.h): an IP length field of 0 is legal only on a TCP super-packet
// over 64 KiB, as the kernel builds it. A test run's frame is at most a page, so every 0 here
// is a lie and dropped as malformed; real BIG TCP packets cross in the namespace test
// (tests/fastpath/test_bigtcp.py).
Bytes WithLengthZero(Bytes frame) {
  const size_t at = frame[12] == 0x86 ? 14 + 4 : 14 + 2;  // payload_len / tot_len
  frame[at] = frame[at + 1] = 0;
  return frame;
}

std::vector<Row> BigTcpRows() {
  const Bytes tcp4 = Tcp4(kMac4, kMac6, kIp4, kIp6, 2 * 1448);
  const Bytes tcp6 = Cat({Eth(kMac7, kMac4, kIPv6), Ipv6(k6Ip4, k6Ip7, 6, Tcp(2 * 1428))});
  return {
      Offload("Ipv4TotLenZeroOnPlainFrameMalformed", Port::kG4,
              WithLengthZero(Tcp4(kMac4, kMac6, kIp4, kIp6, 100)), TC_ACT_SHOT, VNET_DROP_MALFORMED,
              4, Port::kNone, false, 0, {}),
      Offload("Ipv4TotLenZeroOnSuperPacketUnder64KMalformed", Port::kG4, WithLengthZero(tcp4),
              TC_ACT_SHOT, VNET_DROP_MALFORMED, 4, Port::kNone, false, 1448,
              {{4, &ContextCounters::tx_gso_packets, 0}}),
      Offload("Ipv6PayloadLenZeroOnPlainFrameMalformed", Port::kG4,
              WithLengthZero(Cat({Eth(kMac7, kMac4, kIPv6), Ipv6(k6Ip4, k6Ip7, 6, Tcp(100))})),
              TC_ACT_SHOT, VNET_DROP_MALFORMED, 4, Port::kNone, false, 0, {}),
      Offload("Ipv6PayloadLenZeroOnSuperPacketUnder64KMalformed", Port::kG4, WithLengthZero(tcp6),
              TC_ACT_SHOT, VNET_DROP_MALFORMED, 4, Port::kNone, false, 1428, {}),
      // The same frames with their lengths are forwarded (the check reads only the zero).
      Same(Offload("Ipv4SuperPacketWithItsLengthForwarded", Port::kG4, tcp4, TC_ACT_REDIRECT,
                   VNET_DROP_NONE, 6, Port::kG6, true, 1448, {})),
  };
}

// Hostile-guest and hostile-wire guards. Forwarded rows compare the output frame
// with the input: the programs must not touch what they let through.
Row Drop(std::string name, Prog prog, Port in, Bytes frame, int verdict, uint32_t reason,
         uint32_t count_ctx) {
  return Row{std::move(name), prog, in, std::move(frame), verdict, reason, count_ctx};
}

const Bytes kMac10 = Mac("02:00:00:00:00:10"), kMac11 = Mac("02:00:00:00:00:11");
const Bytes kMac12 = Mac("02:00:00:00:00:12");
const Bytes kIp10 = Ip4("198.18.5.10"), kIp11 = Ip4("198.18.5.11"), kIp12 = Ip4("198.18.5.12");

// A UDP frame of exactly `size` bytes (the IP header's length field is not read).
Bytes SizedUdp(const Bytes& dst_mac, const Bytes& src_mac, const Bytes& src, const Bytes& dst,
               size_t size, uint16_t vlan = 0) {
  Bytes f = Cat({Eth(dst_mac, src_mac, kIPv4, vlan), Ipv4Udp(src, dst, 40000, 5001)});
  f.resize(size, 0);
  return f;
}

Row Primed(Row r, Bytes prime_frame, uint32_t prime) {
  r.prime_frame = std::move(prime_frame);
  r.prime = prime;
  return r;
}

// Rate limits and storm control. A bucket holds at least 128 KiB (131072 bytes); a byte
// bucket passes a frame while its credit is positive and charges it in full (overdraft of
// at most one frame). 2400 frames of 60 bytes or more (64 with a tag the uplink program
// pops) take it below zero, so no frame then passes for minutes (the limits refill a byte
// per second, so the rows see exact byte counts).
std::vector<Row> LimitRows() {
  constexpr uint32_t kDrain = 2400;
  const Bytes g10_tiny = SizedUdp(kMacWire, kMac10, kIp10, kIpWire, 64);
  const Bytes g10_big = SizedUdp(kMacWire, kMac10, kIp10, kIpWire, 1024);
  const Bytes wire_tiny = SizedUdp(kMac11, kMacWire, kIpWire, kIp11, 64, 50);
  const Bytes wire_big = SizedUdp(kMac11, kMacWire, kIpWire, kIp11, 1024, 50);
  const Bytes g12_to_g11_tiny = SizedUdp(kMac11, kMac12, kIp12, kIp11, 64);
  const Bytes g12_to_g11_big = SizedUdp(kMac11, kMac12, kIp12, kIp11, 1024);
  const Bytes g12_bcast = SizedUdp(kBcast, kMac12, kIp12, kIpBcast, 64);
  const Bytes g12_mcast = SizedUdp(Mac("01:00:5e:00:00:fb"), kMac12, kIp12, Ip4("224.0.0.251"), 64);
  const Bytes g12_unknown = SizedUdp(kMacUnknown, kMac12, kIp12, kIpOther, 64);
  const Bytes g10_gso = Tcp4(kMac10, kMacWire, kIp10, kIpWire, 2 * 1448);
  std::vector<Row> rows = {
      Pushed({"LimitTxUnderBurstPassesToWire", Prog::kGuestTc, Port::kG10, g10_big, TC_ACT_REDIRECT,
              VNET_DROP_NONE, 0, Port::kUplink, false, 50}),
      Primed({"LimitTxOverRateDroppedAndCounted", Prog::kGuestTc, Port::kG10, g10_big, TC_ACT_SHOT,
              VNET_DROP_RATE_LIMIT, 10},
             g10_tiny, kDrain),
      // The receive decision is the sender's program's: from the wire and from a guest.
      Primed({"LimitRxFromWireOverRateDroppedAndCounted", Prog::kUplinkTc, Port::kUplink, wire_big,
              TC_ACT_SHOT, VNET_DROP_RATE_LIMIT, 11},
             wire_tiny, kDrain),
      Primed(RxDrop({"LimitRxFromGuestOverRateDroppedAndCounted", Prog::kGuestTc, Port::kG12,
                     g12_to_g11_big, TC_ACT_SHOT, VNET_DROP_RATE_LIMIT, 11}),
             g12_to_g11_tiny, kDrain),
      // Fan-out skips the member over its receive limit, delivers to the others.
      Primed(Popped({"LimitRxFanOutSkipsMemberOverRate",
                     Prog::kUplinkTc,
                     Port::kUplink,
                     SizedUdp(kBcast, kMacWire, kIpWire, kIpBcast, 1024, 50),
                     TC_ACT_UNSPEC,  // broadcast: the host gets it too, after other tools
                     VNET_DROP_RATE_LIMIT,
                     11,
                     Port::kNone,
                     false,
                     0,
                     {Port::kG10, Port::kG12}}),
             wire_tiny, kDrain),
      Pushed({"StormFirstBroadcastPasses",
              Prog::kGuestTc,
              Port::kG12,
              g12_bcast,
              TC_ACT_REDIRECT,
              VNET_DROP_NONE,
              0,
              Port::kUplink,
              false,
              50,
              {Port::kG10, Port::kG11}}),
      Primed({"StormBroadcastOverPpsDroppedAndCounted", Prog::kGuestTc, Port::kG12, g12_bcast,
              TC_ACT_SHOT, VNET_DROP_STORM_BROADCAST, 12},
             g12_bcast, 2),
      Primed({"StormMulticastOverPpsDroppedAndCounted", Prog::kGuestTc, Port::kG12, g12_mcast,
              TC_ACT_SHOT, VNET_DROP_STORM_MULTICAST, 12},
             g12_mcast, 2),
      Primed({"StormUnknownUnicastOverPpsDroppedAndCounted", Prog::kGuestTc, Port::kG12,
              g12_unknown, TC_ACT_SHOT, VNET_DROP_STORM_UNKNOWN_UNICAST, 12},
             g12_unknown, 2),
      // Storm control counts kinds apart: a drained broadcast bucket leaves unicast alone.
      Primed(Pushed({"StormBroadcastDrainedLeavesUnknownUnicastAlone", Prog::kGuestTc, Port::kG12,
                     g12_unknown, TC_ACT_REDIRECT, VNET_DROP_NONE, 0, Port::kUplink, false, 50}),
             g12_bcast, 2),
  };
  // A super-packet is charged as the segments it becomes: 2962 bytes, 2 segments of
  // 1448 with 66 bytes of headers each = 3028 bytes on the wire.
  Row gso = Pushed({"LimitTxSuperPacketChargedByWireLength", Prog::kGuestTc, Port::kG10, g10_gso,
                    TC_ACT_REDIRECT, VNET_DROP_NONE, 0, Port::kUplink, false, 50});
  gso.gso_size = 1448;
  gso.charged_ctx = 10;
  gso.tx_charged = 3028;
  rows.push_back(gso);
  // The overdraft: 2047 frames of 64 bytes leave 64 bytes of credit; a 1024-byte frame still
  // passes, is charged in full, and leaves the bucket 960 bytes below zero.
  Row overdraft = Primed(
      Pushed({"LimitTxPositiveCreditPassesWholeFrameIntoOverdraft", Prog::kGuestTc, Port::kG10,
              g10_big, TC_ACT_REDIRECT, VNET_DROP_NONE, 0, Port::kUplink, false, 50}),
      g10_tiny, 2047);
  overdraft.charged_ctx = 10;
  overdraft.tx_charged = 1024;
  overdraft.tx_credit_after = -960;
  rows.push_back(overdraft);
  // 2048 frames empty the bucket to the refill of the last microseconds: still positive, so
  // the 2049th passes and takes it 64 bytes below zero; then not even a 64-byte frame
  // passes, and a refused frame costs nothing.
  Row in_debt = Primed({"LimitTxBelowZeroDropsEvenASmallFrame", Prog::kGuestTc, Port::kG10,
                        g10_tiny, TC_ACT_SHOT, VNET_DROP_RATE_LIMIT, 10},
                       g10_tiny, 2049);
  in_debt.charged_ctx = 10;
  in_debt.tx_credit_after = -64;
  rows.push_back(in_debt);
  // tx_checksum: a super-packet's checksums are partial; without it, it is not accepted.
  Row no_csum{"GsoFromGuestWithTsoButNoTxChecksumDropped",
              Prog::kGuestTc,
              Port::kG12,
              Tcp4(kMac12, kMac11, kIp12, kIp11, 2 * 1448),
              TC_ACT_SHOT,
              VNET_DROP_OFFLOAD,
              12};
  no_csum.gso_size = 1448;
  rows.push_back(no_csum);
  return rows;
}

Bytes G1v6(const Bytes& dst_mac, const Bytes& src, const Bytes& dst, uint8_t next,
           const Bytes& payload) {
  return Cat({Eth(dst_mac, kMac1, kIPv6), Ipv6(src, dst, next, payload)});
}

std::vector<Row> GuardRows() {
  constexpr uint8_t kHbh = 0, kRt = 43, kFragH = 44, kDst = 60, kAhH = 51, kNone = 59;
  constexpr uint8_t kSlla = 1, kTlla = 2, kNonce = 14;
  const Bytes ra = Icmp6(134), redirect = NdMsg(137, k6Ip2, Cat({k6Wire}));
  const Bytes na_own = NdMsg(136, k6Ip1, NdOpt(kTlla, kMac1));
  const Bytes ns_own = NdMsg(135, k6Ip2, NdOpt(kSlla, kMac1));
  const Bytes nonce = NdOpt(kNonce, Bytes(6, 0x5a));
  const Bytes echo = {128, 0, 0, 0, 0, 1, 0, 1, 'v', 'n', 'e', 't'};
  const Bytes llc = {0x42, 0x42, 0x03, 0, 0, 0, 0, 0};  // an STP BPDU's first bytes
  Bytes long_chain;                                     // nine destination-options headers
  for (int i = 0; i < 9; ++i) long_chain = Cat({long_chain, ExtHdr(kDst, 8)});
  Bytes many_opts;  // 33 nonce options: past the walk's bound
  for (int i = 0; i < 33; ++i) many_opts = Cat({many_opts, nonce});
  return {
      // 1. Extension headers hide nothing: RA, redirect, ND and DHCPv6 behind any chain.
      Drop("GuestRouterAdvertBehindHopByHopDestRoutingDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kAllNodes, k6Ll1, k6AllNodes, kHbh,
                Cat({ExtHdr(kDst, 8), ExtHdr(kRt, 24), ExtHdr(kIcmp6, 16), ra})),
           TC_ACT_SHOT, VNET_DROP_ROUTER_ADVERT, 1),
      Drop("GuestRedirectBehindSixHeaderChainWithAuthHeaderDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kMac2, k6Ll1, k6Ip2, kHbh,
                Cat({ExtHdr(kDst, 8), ExtHdr(kRt, 8), ExtHdr(kDst, 16), ExtHdr(kAhH, 16),
                     Ah(kDst, 16), ExtHdr(kIcmp6, 8), redirect})),
           TC_ACT_SHOT, VNET_DROP_ROUTER_ADVERT, 1),
      Drop("GuestRouterAdvertInAtomicFragmentDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kAllNodes, k6Ll1, k6AllNodes, kFragH, Cat({Frag(kIcmp6, 0, false), ra})),
           TC_ACT_SHOT, VNET_DROP_ROUTER_ADVERT, 1),
      Drop("GuestNeighbourAdvertInAtomicFragmentDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kMac2, k6Ip1, k6Ip2, kFragH, Cat({Frag(kIcmp6, 0, false), na_own})), TC_ACT_SHOT,
           VNET_DROP_ND_FRAGMENT, 1),
      Drop("GuestNeighbourSolicitInFirstFragmentBehindDestOptsDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kAllNodes, k6Ll1, k6AllNodes, kDst,
                Cat({ExtHdr(kFragH, 8), Frag(kDst, 0, true), ExtHdr(kIcmp6, 8), ns_own})),
           TC_ACT_SHOT, VNET_DROP_ND_FRAGMENT, 1),
      Drop("GuestRouterSolicitInFragmentDropped", Prog::kGuestTc, Port::kG1,
           G1v6(Mac("33:33:00:00:00:02"), k6Ll1, k6AllRouters, kFragH,
                Cat({Frag(kIcmp6, 0, false), Rs(NdOpt(kSlla, kMac1))})),
           TC_ACT_SHOT, VNET_DROP_ND_FRAGMENT, 1),
      Drop("GuestDhcpv6ServerBehindDestOptsDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kMac2, k6Ll1, k6Ip2, kDst, Cat({ExtHdr(kUdp, 8), Udp(547, 546)})), TC_ACT_SHOT,
           VNET_DROP_DHCP_SERVER, 1),
      Drop("GuestDhcpv6ServerInAtomicFragmentDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kMac2, k6Ll1, k6Ip2, kFragH, Cat({Frag(kUdp, 0, false), Udp(547, 546)})),
           TC_ACT_SHOT, VNET_DROP_DHCP_SERVER, 1),
      Drop("GuestExtHeaderChainLongerThanBoundDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kMacWire, k6Ip1, k6Wire, kDst, Cat({long_chain, Udp(40000, 5001)})), TC_ACT_SHOT,
           VNET_DROP_EXT_HEADER, 1),
      Drop("GuestExtHeaderRunningPastFrameDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kMacWire, k6Ip1, k6Wire, kDst, Cat({ExtHdr(kIcmp6, 8, 200), ra})), TC_ACT_SHOT,
           VNET_DROP_EXT_HEADER, 1),
      Drop("GuestFirstFragmentWithoutUpperHeaderDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kMacWire, k6Ip1, k6Wire, kFragH, Cat({Frag(kIcmp6, 0, true), Bytes{134, 0}})),
           TC_ACT_SHOT, VNET_DROP_MALFORMED, 1),
      Drop("GuestSpoofedSourceBehindLaterFragmentDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kMac2, k6Other, k6Ip2, kFragH, Cat({Frag(kIcmp6, 185, false), Bytes(16, 0)})),
           TC_ACT_SHOT, VNET_DROP_SPOOF_IPV6, 1),
      ToG2("GuestEchoBehindHopByHopAndDestOptsForwardedUnchanged",
           G1v6(kMac2, k6Ip1, k6Ip2, kHbh, Cat({ExtHdr(kDst, 8), ExtHdr(kIcmp6, 8), echo}))),
      ToG2("GuestLaterFragmentForwardedUnchanged",
           G1v6(kMac2, k6Ip1, k6Ip2, kFragH, Cat({Frag(kIcmp6, 185, false), Bytes(24, 0x86)}))),
      ToG2("GuestFirstFragmentOfEchoForwardedUnchanged",
           G1v6(kMac2, k6Ip1, k6Ip2, kFragH, Cat({Frag(kIcmp6, 0, true), echo}))),
      ToG2("GuestAuthHeaderThenUdpForwardedUnchanged",
           G1v6(kMac2, k6Ip1, k6Ip2, kAhH, Cat({Ah(kUdp, 24), Udp(40000, 5001)}))),
      ToG2("GuestNoNextHeaderForwardedUnchanged",
           G1v6(kMac2, k6Ip1, k6Ip2, kDst, Cat({ExtHdr(kNone, 8)}))),
      FloodFromG1("GuestMldReportWithRouterAlertBeforeAddressAllowed",
                  G1v6(Mac("33:33:00:00:00:16"), k6Unspec, Ip6("ff02::16"), kHbh,
                       Cat({ExtHdr(kIcmp6, 8), Icmp6(143)}))),

      // 2. DHCP servers by destination too: nothing a guest sends goes to a client port.
      Drop("GuestDhcpv4ToClientPortFromAnyPortDropped", Prog::kGuestTc, Port::kG1,
           Cat({Eth(kBcast, kMac1, kIPv4), Ipv4Udp(kIp1, kIpBcast, 40000, 68)}), TC_ACT_SHOT,
           VNET_DROP_DHCP_SERVER, 1),
      Drop("GuestDhcpv6ToClientPortFromAnyPortDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kMac2, k6Ll1, k6Ip2, kUdp, Udp(40000, 546)), TC_ACT_SHOT, VNET_DROP_DHCP_SERVER, 1),
      ToG2("GuestDhcpv6ClientSolicitForwardedUnchanged",
           G1v6(kMac2, k6Ll1, k6Ip2, kUdp, Udp(546, 547))),

      // 3. ND options: every one, to the end of the message, truncation malformed.
      Drop("GuestNsSecondSourceLinkLayerOptionForeignDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kAllNodes, k6Ll1, k6AllNodes, kIcmp6,
                NdMsg(135, k6Ip2, Cat({NdOpt(kSlla, kMac1), NdOpt(kSlla, kMac2)}))),
           TC_ACT_SHOT, VNET_DROP_SPOOF_ND, 1),
      Drop("GuestNaForeignTargetLinkLayerOptionFourthDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kMac2, k6Ip1, k6Ip2, kIcmp6,
                NdMsg(136, k6Ip1, Cat({nonce, nonce, nonce, NdOpt(kTlla, kMac2)}))),
           TC_ACT_SHOT, VNET_DROP_SPOOF_ND, 1),
      Drop("GuestRsForeignSourceLinkLayerOptionAfterOthersDropped", Prog::kGuestTc, Port::kG1,
           G1v6(Mac("33:33:00:00:00:02"), k6Ll1, k6AllRouters, kIcmp6,
                Rs(Cat({nonce, NdOpt(kSlla, kMac1), nonce, NdOpt(kSlla, kMac2)}))),
           TC_ACT_SHOT, VNET_DROP_SPOOF_ND, 1),
      Drop("GuestNsZeroLengthOptionDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kAllNodes, k6Ll1, k6AllNodes, kIcmp6,
                NdMsg(135, k6Ip2, Cat({NdOpt(kSlla, kMac1), NdOpt(kNonce, Bytes(6, 1), 0)}))),
           TC_ACT_SHOT, VNET_DROP_MALFORMED, 1),
      Drop("GuestNsOptionPastMessageEndDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kAllNodes, k6Ll1, k6AllNodes, kIcmp6, NdMsg(135, k6Ip2, NdOpt(kSlla, kMac1, 2))),
           TC_ACT_SHOT, VNET_DROP_MALFORMED, 1),
      Drop("GuestNsStrayByteAfterOptionsDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kAllNodes, k6Ll1, k6AllNodes, kIcmp6,
                NdMsg(135, k6Ip2, Cat({NdOpt(kSlla, kMac1), Bytes{0}}))),
           TC_ACT_SHOT, VNET_DROP_MALFORMED, 1),
      Drop("GuestNsMoreOptionsThanBoundDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kAllNodes, k6Ll1, k6AllNodes, kIcmp6, NdMsg(135, k6Ip2, many_opts)), TC_ACT_SHOT,
           VNET_DROP_MALFORMED, 1),
      Drop("GuestNsForeignOptionBehindHopByHopDropped", Prog::kGuestTc, Port::kG1,
           G1v6(kAllNodes, k6Ll1, k6AllNodes, kHbh,
                Cat({ExtHdr(kIcmp6, 8), NdMsg(135, k6Ip2, NdOpt(kSlla, kMac2))})),
           TC_ACT_SHOT, VNET_DROP_SPOOF_ND, 1),
      ToG2("GuestNaOwnOptionsAmongOthersForwardedUnchanged",
           G1v6(kMac2, k6Ip1, k6Ip2, kIcmp6,
                NdMsg(136, k6Ip1, Cat({nonce, NdOpt(kTlla, kMac1), nonce, NdOpt(kTlla, kMac1)})))),

      // 5. Link-locals a context lists replace the EUI-64 default.
      Pushed({"GuestListedLinkLocalSourceAllowed", Prog::kGuestTc, Port::kG3,
              Cat({Eth(kMacWire, kMac3, kIPv6),
                   Ipv6(Ip6("fe80::1:2:3:4"), Ip6("fe80::9"), kUdp, Udp(40000, 5001))}),
              TC_ACT_REDIRECT, VNET_DROP_NONE, 0, Port::kUplink, false, 20}),
      Pushed({"GuestDadProbeForListedLinkLocalAllowed", Prog::kGuestTc, Port::kG3,
              Cat({Eth(kAllNodes, kMac3, kIPv6),
                   Ipv6(k6Unspec, k6AllNodes, kIcmp6, Nd(135, Ip6("fe80::abcd")))}),
              TC_ACT_REDIRECT, VNET_DROP_NONE, 0, Port::kUplink, false, 20}),
      Drop("GuestEui64LinkLocalRefusedWhenOthersListed", Prog::kGuestTc, Port::kG3,
           Cat({Eth(kMacWire, kMac3, kIPv6),
                Ipv6(Ip6("fe80::ff:fe00:3"), Ip6("fe80::9"), kUdp, Udp(40000, 5001))}),
           TC_ACT_SHOT, VNET_DROP_SPOOF_IPV6, 3),
      // Guest 3's addresses are in the table (more than two): the same rule there.
      Drop("GuestTableIpv6SourceSharingOnlyTheInterfaceIdDropped", Prog::kGuestTc, Port::kG3,
           Cat({Eth(kMacWire, kMac3, kIPv6),
                Ipv6(Ip6("2001:db8::1:2:3:4"), Ip6("fe80::9"), kUdp, Udp(40000, 5001))}),
           TC_ACT_SHOT, VNET_DROP_SPOOF_IPV6, 3),
      Drop("GuestNaForUnlistedLinkLocalDropped", Prog::kGuestTc, Port::kG3,
           Cat({Eth(kAllNodes, kMac3, kIPv6),
                Ipv6(Ip6("fe80::1:2:3:4"), k6AllNodes, kIcmp6, Nd(136, Ip6("fe80::ff:fe00:3")))}),
           TC_ACT_SHOT, VNET_DROP_SPOOF_ND, 3),

      // 4. From the wire: reserved group addresses are never the guests'; a local guest's
      // MAC as source is a loop or an impostor, dropped even toward its owner.
      Same({"XdpReservedGroupPassesToSkbPathNeverRedirected", Prog::kXdp, Port::kUplink,
            Cat({Eth(Mac("01:80:c2:00:00:0e"), kMacWire, 0x88cc, 10), Bytes(46, 0)}), XDP_PASS}),
      // Never to a guest (counted as a drop of the reserved group), passed on to the host as
      // it arrived: these keep their bytes, tag included.
      Same(Drop("UplinkTcLldpGoesToHostNeverToGuests", Prog::kUplinkTc, Port::kUplink,
                Cat({Eth(Mac("01:80:c2:00:00:0e"), kMacWire, 0x88cc, 10), Bytes(46, 0)}),
                TC_ACT_UNSPEC, VNET_DROP_RESERVED_GROUP, 0)),
      Same(Drop("UplinkTcStpBpduGoesToHostNeverToGuests", Prog::kUplinkTc, Port::kUplink,
                Cat({Eth(Mac("01:80:c2:00:00:00"), kMacWire, 0x0026, 10), llc, Bytes(38, 0)}),
                TC_ACT_UNSPEC, VNET_DROP_RESERVED_GROUP, 0)),
      Same(Drop("UplinkTcPauseGroupAddressNeverToGuests", Prog::kUplinkTc, Port::kUplink,
                Cat({Eth(Mac("01:80:c2:00:00:01"), kMacWire, 0x8808, 10), Bytes(46, 0)}),
                TC_ACT_UNSPEC, VNET_DROP_RESERVED_GROUP, 0)),
      Popped(
          {"UplinkTcGroupAddressPastReservedRangeFansOut",
           Prog::kUplinkTc,
           Port::kUplink,
           Cat({Eth(Mac("01:80:c2:00:00:10"), kMacWire, kIPv4, 10), Ipv4Udp(kIpWire, kIp1, 1, 2)}),
           TC_ACT_UNSPEC,
           VNET_DROP_NONE,
           0,
           Port::kNone,
           false,
           0,
           {Port::kG1, Port::kG2}}),
      Drop("XdpOwnersMacAsSourceToOwnerDropped", Prog::kXdp, Port::kUplink,
           Cat({Eth(kMac1, kMac1, kIPv4, 10), Ipv4Udp(kIpWire, kIp1, 5001, 40000)}), XDP_DROP,
           VNET_DROP_LOCAL_SOURCE_MAC, 1),
      Drop("XdpGuestMacAsSourceToOtherGuestDropped", Prog::kXdp, Port::kUplink,
           Cat({Eth(kMac1, kMac2, kIPv4, 10), Ipv4Udp(kIpWire, kIp1, 1, 2)}), XDP_DROP,
           VNET_DROP_LOCAL_SOURCE_MAC, 2),
      Drop("XdpGuestMacAsSourceBroadcastDropped", Prog::kXdp, Port::kUplink,
           Cat({Eth(kBcast, kMac2, kArp, 10), Arp(1, kMac2, kIp2, Mac("00:00:00:00:00:00"), kIp1)}),
           XDP_DROP, VNET_DROP_LOCAL_SOURCE_MAC, 2),
      Drop("UplinkTcOwnersMacAsSourceToOwnerDropped", Prog::kUplinkTc, Port::kUplink,
           Cat({Eth(kMac1, kMac1, kIPv4, 10), Ipv4Udp(kIpWire, kIp1, 5001, 40000)}), TC_ACT_SHOT,
           VNET_DROP_LOCAL_SOURCE_MAC, 1),
      Drop("UplinkTcGuestMacAsSourceToOtherGuestDropped", Prog::kUplinkTc, Port::kUplink,
           Cat({Eth(kMac1, kMac2, kIPv4, 10), Ipv4Udp(kIpWire, kIp1, 1, 2)}), TC_ACT_SHOT,
           VNET_DROP_LOCAL_SOURCE_MAC, 2),
      Drop("UplinkTcGuestMacAsSourceBroadcastDropped", Prog::kUplinkTc, Port::kUplink,
           Cat({Eth(kBcast, kMac2, kArp, 10), Arp(1, kMac2, kIp2, Mac("00:00:00:00:00:00"), kIp1)}),
           TC_ACT_SHOT, VNET_DROP_LOCAL_SOURCE_MAC, 2),
  };
}

// The loaded programs, their shared maps and the test network, set up once for all rows.
constexpr uint32_t kFixtureContexts = 128;

struct Env {
  std::unique_ptr<TestNet> net;
  TracedPrograms progs;     // destroyed before the network
  TracedPrograms untraced;  // perf mode only: the same programs without the trace, same maps
  std::map<Port, int> ifindex;
  std::map<uint32_t, vnet_limit> limits;  // full buckets of the limited contexts
  bool ok = false;
};

Env* env = nullptr;

v1::Context MakeContext(uint32_t id, const std::string& mac, uint32_t vlan, const std::string& ip4,
                        const std::string& ip6) {
  v1::Context c;
  c.set_id(id);
  c.set_mac(mac);
  c.set_vlan(vlan);
  c.add_ipv4_addresses(ip4);
  c.add_ipv6_addresses(ip6);
  return c;
}

// Guest 3 uses stable-privacy link-locals (RFC 7217), not its EUI-64 one.
v1::Context LinkLocals(v1::Context c) {
  c.add_ipv6_link_local_addresses("fe80::1:2:3:4");
  c.add_ipv6_link_local_addresses("fe80::abcd");
  return c;
}

v1::Context Sized(v1::Context c, uint32_t mtu) {
  c.set_mtu(mtu);
  return c;
}

v1::Context Dumb(v1::Context c) {
  c.mutable_offloads();  // present and all false
  return c;
}

// Each direction alone: `transmit` sets what the guest may send, else what it takes.
v1::Context OneDirection(v1::Context c, bool transmit) {
  v1::Offloads* o = c.mutable_offloads();
  if (transmit) {
    o->set_tx_checksum(true);
    o->set_scatter_gather(true);
    o->set_tso_v4(true);
    o->set_tso_v6(true);
  } else {
    o->set_rx_checksum(true);
    o->set_rx_scatter_gather(true);
    o->set_rx_tso_v4(true);
    o->set_rx_tso_v6(true);
  }
  return c;
}

// Limits of a byte per second sent (tx) or received (rx), `pps` packets per second of each
// storm kind; 0: none. Below the API's floor on purpose (Tables takes them as they are).
v1::Context Limited(v1::Context c, int tx, int rx, uint64_t pps) {
  if (tx) c.mutable_rate_limit()->set_bits_per_second(8);
  if (rx) c.mutable_rx_rate_limit()->set_bits_per_second(8);
  c.mutable_storm_control()->set_broadcast_pps(pps);
  c.mutable_storm_control()->set_multicast_pps(pps);
  c.mutable_storm_control()->set_unknown_unicast_pps(pps);
  return c;
}

// Every offload but tx_checksum: it may not send partial checksums, so no super-packets.
v1::Context NoTxChecksum(v1::Context c) {
  *c.mutable_offloads() = AllOffloads();
  c.mutable_offloads()->set_tx_checksum(false);
  return c;
}

v1::Context NoTso6(v1::Context c) {
  v1::Offloads* o = c.mutable_offloads();
  o->set_tx_checksum(true);
  o->set_rx_checksum(true);
  o->set_scatter_gather(true);
  o->set_rx_scatter_gather(true);
  o->set_tso_v4(true);
  o->set_rx_tso_v4(true);
  return c;
}

void SetUpEnv(Env& e) {
  ASSERT_TRUE(RequireRoot());
  e.net = std::make_unique<TestNet>("f");
  ASSERT_TRUE(e.net->ok()) << "cannot create namespace " << e.net->ns();
  for (auto [port, name] : std::vector<std::pair<Port, std::string>>{{Port::kUplink, "up"},
                                                                     {Port::kG1, "g1"},
                                                                     {Port::kG2, "g2"},
                                                                     {Port::kG3, "g3"},
                                                                     {Port::kG4, "g4"},
                                                                     {Port::kG5, "g5"},
                                                                     {Port::kG6, "g6"},
                                                                     {Port::kG7, "g7"},
                                                                     {Port::kG8, "g8"},
                                                                     {Port::kG9, "g9"},
                                                                     {Port::kG10, "g10"},
                                                                     {Port::kG11, "g11"},
                                                                     {Port::kG12, "g12"}}) {
    const std::string host = e.net->AddPair(name);
    e.ifindex[port] = static_cast<int>(if_nametoindex(host.c_str()));
    ASSERT_NE(e.ifindex[port], 0) << host;
  }
  ASSERT_TRUE(e.net->ok()) << "cannot create the veth pairs";

  ASSERT_NO_FATAL_FAILURE(LoadTracedPrograms(e.progs, "fx", kFixtureContexts));
  vnet_config cfg{};
  cfg.uplink_ifindex = static_cast<uint32_t>(e.ifindex[Port::kUplink]);
  std::copy(kMacUplink.begin(), kMacUplink.end(), cfg.uplink_mac);
  cfg.uplink_mtu = 1500;
  ASSERT_TRUE(e.progs.tables->SetConfig(cfg).ok());
  struct G {
    v1::Context ctx;
    Port port;
    uint32_t flags;
  };
  for (const G& g :
       {G{MakeContext(1, "02:00:00:00:00:01", 10, "198.18.0.1", "2001:db8::1"), Port::kG1,
          VNET_CTX_F_PEER},
        G{MakeContext(2, "02:00:00:00:00:02", 10, "198.18.0.2", "2001:db8::2"), Port::kG2, 0},
        G{LinkLocals(MakeContext(3, "02:00:00:00:00:03", 20, "198.18.1.3", "2001:db8:1::3")),
          Port::kG3, VNET_CTX_F_XDP_TARGET},
        G{Sized(MakeContext(4, "02:00:00:00:00:04", 40, "198.18.4.4", "2001:db8:4::4"), 9000),
          Port::kG4, VNET_CTX_F_PEER},
        G{Dumb(MakeContext(5, "02:00:00:00:00:05", 40, "198.18.4.5", "2001:db8:4::5")), Port::kG5,
          VNET_CTX_F_PEER},
        G{MakeContext(6, "02:00:00:00:00:06", 40, "198.18.4.6", "2001:db8:4::6"), Port::kG6,
          VNET_CTX_F_PEER},
        G{NoTso6(MakeContext(7, "02:00:00:00:00:07", 40, "198.18.4.7", "2001:db8:4::7")), Port::kG7,
          VNET_CTX_F_PEER},
        G{OneDirection(MakeContext(8, "02:00:00:00:00:08", 40, "198.18.4.8", "2001:db8:4::8"),
                       true),
          Port::kG8, VNET_CTX_F_PEER},
        G{OneDirection(MakeContext(9, "02:00:00:00:00:09", 40, "198.18.4.9", "2001:db8:4::9"),
                       false),
          Port::kG9, VNET_CTX_F_PEER},
        G{Limited(MakeContext(10, "02:00:00:00:00:10", 50, "198.18.5.10", "2001:db8:5::10"), 1, 0,
                  0),
          Port::kG10, VNET_CTX_F_PEER},
        G{Limited(MakeContext(11, "02:00:00:00:00:11", 50, "198.18.5.11", "2001:db8:5::11"), 0, 1,
                  0),
          Port::kG11, VNET_CTX_F_PEER},
        G{NoTxChecksum(Limited(
              MakeContext(12, "02:00:00:00:00:12", 50, "198.18.5.12", "2001:db8:5::12"), 0, 0, 1)),
          Port::kG12, VNET_CTX_F_PEER}}) {
    auto entry = MakeContextEntry(g.ctx, static_cast<uint32_t>(e.ifindex[g.port]), g.flags);
    ASSERT_TRUE(entry.ok()) << entry.status();
    absl::Status st = e.progs.tables->Put(*entry);
    ASSERT_TRUE(st.ok()) << st;
    if (g.ctx.has_rate_limit() || g.ctx.has_rx_rate_limit() || g.ctx.has_storm_control())
      e.limits[entry->id] = entry->limit;
  }
  e.ok = true;
}

class FixtureTest : public ::testing::TestWithParam<Row> {
 public:
  static void TearDownTestSuite() {
    delete env;
    env = nullptr;
  }
  // The environment is built by the first test rather than in SetUpTestSuite: a failure
  // there (not root, no kernel support) then fails every test instead of skipping them.
  void SetUp() override {
    ASSERT_TRUE(RequireRoot());
    if (!env) {
      env = new Env;
      SetUpEnv(*env);
    }
    ASSERT_TRUE(env->ok) << "fixture environment failed";
    // Every row starts on full buckets, whatever rows ran before it in this process.
    for (const auto& [id, limit] : env->limits) {
      ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(env->progs.guest->maps.vnet_limit), &id, &limit,
                                    BPF_F_LOCK),
                0);
    }
  }
};

int ProgFd(Prog p, const TracedPrograms& progs = env->progs) {
  switch (p) {
    case Prog::kXdp:
      return bpf_program__fd(progs.xdp->progs.vnet_uplink_xdp);
    case Prog::kUplinkTc:
      return bpf_program__fd(progs.uplink_tc->progs.vnet_uplink_tc);
    case Prog::kGuestTc:
      return bpf_program__fd(progs.guest->progs.vnet_guest_tc);
  }
  return -1;
}

TEST_P(FixtureTest, Verdict) {
  const Row& row = GetParam();
  uint32_t dir = row.prog == Prog::kGuestTc ? VNET_DIR_TX : VNET_DIR_RX;
  if (row.drop_dir >= 0) dir = static_cast<uint32_t>(row.drop_dir);
  // One run per frame: the programs rewrite the frame (a VLAN pushed or popped), and a
  // repeated run would see the rewritten one.
  const bool xdp = row.prog == Prog::kXdp;
  __sk_buff skb{};
  skb.ifindex = static_cast<uint32_t>(env->ifindex[row.in]);
  for (uint32_t i = 0; i < row.prime; ++i) {
    FrameRun sink;
    const int err = RunFrame(ProgFd(row.prog), xdp, row.prime_frame, skb, &sink);
    ASSERT_EQ(err, 0) << strerror(-err);
  }
  auto before = env->progs.tables->ReadCounters(row.count_ctx);
  ASSERT_TRUE(before.ok()) << before.status();
  vnet_limit limit_before{};
  if (row.charged_ctx) {
    auto l = env->progs.tables->ReadLimit(row.charged_ctx);
    ASSERT_TRUE(l.ok()) << l.status();
    limit_before = *l;
  }

  skb.gso_size = row.gso_size;
  skb.gso_segs = row.gso_segs;
  std::map<uint32_t, ContextCounters> counters_before;
  for (const Row::Delta& d : row.deltas) {
    auto c = env->progs.tables->ReadCounters(d.ctx);
    ASSERT_TRUE(c.ok()) << c.status();
    counters_before.emplace(d.ctx, *c);
  }
  FrameRun run;
  const int err = RunFrame(ProgFd(row.prog), xdp, row.frame, skb, &run);
  ASSERT_EQ(err, 0) << strerror(-err);
  EXPECT_EQ(static_cast<int>(run.retval), row.verdict);

  vnet_trace trace{};
  uint32_t zero = 0;
  ASSERT_EQ(bpf_map_lookup_elem(env->progs.trace_fd(), &zero, &trace), 0);
  EXPECT_EQ(trace.reason, row.reason) << vnet_drop_reason_name(trace.reason);
  if (row.target != Port::kNone) {
    EXPECT_EQ(trace.target_ifindex, static_cast<uint32_t>(env->ifindex[row.target]));
    EXPECT_EQ(trace.peer != 0, row.peer);
    EXPECT_EQ(trace.vlan_push, row.vlan_push);
  }
  std::vector<uint32_t> want_clones,
      got_clones(trace.clones, trace.clones + std::min<uint32_t>(trace.n_clones, 8));
  for (Port p : row.clones) want_clones.push_back(static_cast<uint32_t>(env->ifindex[p]));
  EXPECT_EQ(got_clones, want_clones);
  // The output bytes are the check of every row the program lets through (redirected, or
  // passed on to TC or the host); the trace above (target, push, clones) is what the program
  // says of itself, kept as a diagnostic. Fan-out rows compare the original frame as the
  // program leaves it, after its clones. A dropped frame's bytes go nowhere: for those the
  // verdict and the counted drop reason (below) are the check, and `out` is not read.
  const bool dropped =
      row.prog == Prog::kXdp ? row.verdict == XDP_DROP : row.verdict == TC_ACT_SHOT;
  if (!dropped) {
    EXPECT_FALSE(row.out.empty()) << "a row the program does not drop must give its output frame";
    EXPECT_EQ(Hex(run.out), Hex(row.out));
  }

  for (const Row::Delta& d : row.deltas) {
    auto c = env->progs.tables->ReadCounters(d.ctx);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ((*c).*d.field - counters_before[d.ctx].*d.field, d.by)
        << "offload counter of context " << d.ctx;
  }
  if (row.tx_charged) {
    // Credit is in bit-nanoseconds; it refills at 8 per ns meanwhile, under a byte a second.
    auto l = env->progs.tables->ReadLimit(row.charged_ctx);
    ASSERT_TRUE(l.ok()) << l.status();
    const uint64_t used = limit_before.b[VNET_BUCKET_TX].credit - l->b[VNET_BUCKET_TX].credit;
    const uint64_t per_byte = 8 * VNET_LIMIT_NS;
    EXPECT_EQ((used + per_byte - 1) / per_byte, row.tx_charged) << "bytes charged";
  }
  if (row.tx_credit_after) {
    auto l = env->progs.tables->ReadLimit(row.charged_ctx);
    ASSERT_TRUE(l.ok()) << l.status();
    const int64_t credit = l->b[VNET_BUCKET_TX].credit, per_byte = 8 * VNET_LIMIT_NS;
    const int64_t floor_bytes =
        credit >= 0 ? credit / per_byte : -((-credit + per_byte - 1) / per_byte);
    EXPECT_EQ(floor_bytes, *row.tx_credit_after) << "credit left, bytes";
  }
  auto after = env->progs.tables->ReadCounters(row.count_ctx);
  ASSERT_TRUE(after.ok()) << after.status();
  if (row.reason != VNET_DROP_NONE) {
    EXPECT_EQ(after->drops[dir][row.reason], before->drops[dir][row.reason] + 1)
        << "drop not counted against context " << row.count_ctx;
  } else if (row.count_ctx != 0) {
    EXPECT_EQ(after->rx_packets, before->rx_packets + 1) << "delivery not counted";
  }

  // Perf mode: VNET_BPF_REPEAT=N re-runs the row N times in the kernel and prints the mean
  // cost per frame, of the traced programs the rows check and of the same programs loaded
  // with tracing off (what runs in production: the verifier removes the trace code). The
  // kernel reuses one buffer, so rows that rewrite the frame (VLAN pop) measure the
  // rewritten frame after the first run; clone rows really send N clones.
  if (const char* repeat = std::getenv("VNET_BPF_REPEAT"); repeat && std::atoi(repeat) > 0) {
    const uint32_t n = static_cast<uint32_t>(std::atoi(repeat));
    if (!env->untraced.guest) {
      ASSERT_NO_FATAL_FAILURE(LoadUntracedPrograms(env->untraced, env->progs, kFixtureContexts));
    }
    FrameRun perf, plain;
    int perr = RunFrame(ProgFd(row.prog), xdp, row.frame, skb, &perf, n);
    ASSERT_EQ(perr, 0) << strerror(-perr);
    perr = RunFrame(ProgFd(row.prog, env->untraced), xdp, row.frame, skb, &plain, n);
    ASSERT_EQ(perr, 0) << strerror(-perr);
    std::printf("perf %-55s %6u ns/frame over %u runs; untraced %6u\n", row.name.c_str(),
                perf.duration, n, plain.duration);
    RecordProperty("ns_per_frame", static_cast<int>(perf.duration));
    RecordProperty("ns_per_frame_untraced", static_cast<int>(plain.duration));
  }
}

INSTANTIATE_TEST_SUITE_P(OffloadRows, FixtureTest, ::testing::ValuesIn(OffloadRows()),
                         [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(BigTcpRows, FixtureTest, ::testing::ValuesIn(BigTcpRows()),
                         [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(GuardRows, FixtureTest, ::testing::ValuesIn(GuardRows()),
                         [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(LimitRows, FixtureTest, ::testing::ValuesIn(LimitRows()),
                         [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Rows, FixtureTest, ::testing::ValuesIn(Rows()),
                         [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

}  // namespace
}  // namespace vnet::testing
