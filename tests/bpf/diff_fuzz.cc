// Differential fuzzer for the fast path: frames generated from a structured
// corpus (Ethernet, 802.1Q/802.1ad tags, IPv4, ARP, IPv6 with extension-header chains and
// fragments, ICMPv6/ND with options, UDP/DHCP ports, other EtherTypes) and then mutated
// (truncation, byte flips, lying length fields), run through BPF_PROG_TEST_RUN against the
// guest TC program and both uplink programs. Each verdict, drop reason, redirect target,
// VLAN push and fan-out is compared with a reference policy written here from the documented
// policy (docs/operations.md, bpf/README.md): a plain C++ parser, not a copy of the BPF code.
// Every disagreement is printed with its frame and fails the test.
//
// VNET_FUZZ_FRAMES (default 200000) and VNET_FUZZ_SEED (default 11) set the run; the rate
// (frames/s) is printed. VNET_BPF_BUILD=compat runs the build for kernels before 6.2.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "daemon/dataplane/tables.h"
#include "gtest/gtest.h"
#include "tests/bpf/frames.h"
#include "tests/bpf/test_net.h"
#include "tests/bpf/traced_programs.h"
#include "vnet/abi.h"

namespace vnet::testing {
namespace {

// ---- the world both sides see -----------------------------------------------------------

struct Guest {
  uint32_t id;
  std::string mac_text;
  Bytes mac;
  uint16_t vlan;
  uint32_t mtu;
  bool peer;  // namespace veth: bpf_redirect_peer
  bool xdp;   // takes XDP redirects
  std::vector<std::string> v4_text, v6_text, ll_text;
  std::string port;
  uint32_t ifindex = 0;
  std::set<Bytes> v4, v6;  // what it may send as (v6 with its link-locals)
};

struct World {
  std::vector<Guest> guests;
  Bytes uplink_mac = Mac("02:00:00:00:00:fe");
  uint32_t uplink_ifindex = 0;
  uint32_t uplink_mtu = 1500;
  uint16_t native_vlan = 10;

  const Guest* ByIfindex(uint32_t ifindex) const {
    for (const Guest& g : guests)
      if (g.ifindex == ifindex) return &g;
    return nullptr;
  }
  const Guest* Fdb(uint16_t vlan, const Bytes& mac) const {
    for (const Guest& g : guests)
      if (g.vlan == vlan && g.mac == mac) return &g;
    return nullptr;
  }
  bool HasMembers(uint16_t vlan) const {
    for (const Guest& g : guests)
      if (g.vlan == vlan) return true;
    return false;
  }
};

Bytes Eui64(const Bytes& mac) {
  Bytes a(16, 0);
  a[0] = 0xfe;
  a[1] = 0x80;
  a[8] = mac[0] ^ 2;
  a[9] = mac[1];
  a[10] = mac[2];
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = mac[3];
  a[14] = mac[4];
  a[15] = mac[5];
  return a;
}

World MakeWorld() {
  World w;
  w.guests = {
      {1,
       "02:00:00:00:00:01",
       {},
       10,
       1500,
       true,
       false,
       {"198.18.0.1"},
       {"2001:db8::1"},
       {},
       "g1"},
      {2,
       "02:00:00:00:00:02",
       {},
       10,
       1500,
       false,
       false,
       {"198.18.0.2"},
       {"2001:db8::2"},
       {},
       "g2"},
      {3,
       "02:00:00:00:00:03",
       {},
       20,
       1500,
       false,
       true,
       {"198.18.1.3"},
       {"2001:db8:1::3"},
       {"fe80::1:2:3:4", "fe80::abcd"},
       "g3"},
      {4,
       "02:00:00:00:00:04",
       {},
       20,
       1400,
       true,
       false,
       {"198.18.1.4"},
       {"2001:db8:1::4"},
       {},
       "g4"},
  };
  for (Guest& g : w.guests) {
    g.mac = Mac(g.mac_text);
    for (const auto& a : g.v4_text) g.v4.insert(Ip4(a));
    for (const auto& a : g.v6_text) g.v6.insert(Ip6(a));
    if (g.ll_text.empty()) g.v6.insert(Eui64(g.mac));
    for (const auto& a : g.ll_text) g.v6.insert(Ip6(a));
  }
  return w;
}

// ---- the reference policy ---------------------------------------------------------------

struct Verdict {
  int action = 0;
  uint32_t reason = VNET_DROP_NONE;
  uint32_t target = 0;  // redirect target ifindex (0: none)
  uint16_t push = 0;
  std::vector<uint32_t> clones;
};

// Fan-out order is the member array's, which is not part of the policy: compared as sets.
bool operator==(const Verdict& a, const Verdict& b) {
  std::vector<uint32_t> ca = a.clones, cb = b.clones;
  std::sort(ca.begin(), ca.end());
  std::sort(cb.begin(), cb.end());
  return a.action == b.action && a.reason == b.reason && a.target == b.target && a.push == b.push &&
         ca == cb;
}

uint16_t Be16(const Bytes& f, size_t at) { return static_cast<uint16_t>(f[at] << 8 | f[at + 1]); }
Bytes Slice(const Bytes& f, size_t at, size_t n) {
  return Bytes(f.begin() + static_cast<long>(at), f.begin() + static_cast<long>(at + n));
}
bool Multicast(const Bytes& mac) { return (mac[0] & 1) != 0; }
bool ReservedGroup(const Bytes& mac) {
  return mac[0] == 0x01 && mac[1] == 0x80 && mac[2] == 0xc2 && mac[3] == 0 && mac[4] == 0 &&
         mac[5] <= 0x0f;
}

// IPv4 from a guest: DHCP server by either port, the address-less DHCP client, the source.
uint32_t RefIpv4(const Guest& g, const Bytes& f) {
  const size_t n = f.size();
  if (n < 14 + 20) return VNET_DROP_MALFORMED;
  const size_t hlen = (f[14] & 0x0f) * 4u;
  if (hlen < 20) return VNET_DROP_MALFORMED;
  const Bytes src = Slice(f, 26, 4);
  const bool first = (Be16(f, 20) & 0x1fff) == 0;
  if (f[23] == 17 && first) {
    if (14 + hlen + 8 > n) return VNET_DROP_MALFORMED;
    const uint16_t sport = Be16(f, 14 + hlen), dport = Be16(f, 14 + hlen + 2);
    if (sport == 67 || dport == 68) return VNET_DROP_DHCP_SERVER;
    if (src == Bytes(4, 0) && sport == 68 && dport == 67) return VNET_DROP_NONE;
  }
  return g.v4.count(src) ? VNET_DROP_NONE : VNET_DROP_SPOOF_IPV4;
}

uint32_t RefArp(const Guest& g, const Bytes& f) {
  if (f.size() < 14 + 28) return VNET_DROP_MALFORMED;
  if (Be16(f, 14) != 1 || Be16(f, 16) != 0x0800 || f[18] != 6 || f[19] != 4)
    return VNET_DROP_SPOOF_ARP;
  if (Slice(f, 22, 6) != g.mac) return VNET_DROP_SPOOF_ARP;
  const Bytes sip = Slice(f, 28, 4);
  if (sip == Bytes(4, 0)) return VNET_DROP_NONE;
  return g.v4.count(sip) ? VNET_DROP_NONE : VNET_DROP_SPOOF_ARP;
}

// ND options [at, end): every link-layer address option the guest's own MAC; the options
// must tile the message; at most 32 of them.
uint32_t RefNdOptions(const Guest& g, const Bytes& f, size_t at, size_t end) {
  if (at > end) return VNET_DROP_MALFORMED;
  for (int k = 0; at < end; ++k) {
    if (k == 32 || at + 2 > end) return VNET_DROP_MALFORMED;
    const size_t len = f[at + 1] * 8u;
    if (len == 0 || at + len > end) return VNET_DROP_MALFORMED;
    if ((f[at] == 1 || f[at] == 2) && Slice(f, at + 2, 6) != g.mac) return VNET_DROP_SPOOF_ND;
    at += len;
  }
  return VNET_DROP_NONE;
}

bool ExtensionHeader(uint8_t nh) {
  static const std::set<uint8_t> ext = {0, 43, 44, 60, 51, 139, 140, 253, 254};
  return ext.count(nh) != 0;
}

uint32_t RefIpv6(const Guest& g, const Bytes& f) {
  const size_t n = f.size();
  if (n < 14 + 40) return VNET_DROP_MALFORMED;
  const Bytes src = Slice(f, 22, 16);
  const bool unspec = src == Bytes(16, 0);
  const size_t end = 54 + Be16(f, 18);
  uint8_t nh = f[20];
  size_t at = 54;
  enum { kNoFrag, kFirst, kLater } frag = kNoFrag;
  // The extension-header chain: at most 8 headers, each inside the frame.
  for (int walked = 0; ExtensionHeader(nh) && frag != kLater; ++walked) {
    if (walked == 8 || at + 4 > n) return VNET_DROP_EXT_HEADER;
    size_t size;
    if (nh == 44) {
      frag = (Be16(f, at + 2) >> 3) != 0 ? kLater : kFirst;
      size = 8;
    } else if (nh == 51) {
      size = (f[at + 1] + 2u) * 4;
    } else {
      size = (f[at + 1] + 1u) * 8;
    }
    nh = f[at];
    at += size;
    if (at > n) return VNET_DROP_EXT_HEADER;
  }
  if (frag != kLater && nh == 17) {
    if (at + 4 > n) return VNET_DROP_MALFORMED;
    if (Be16(f, at) == 547 || Be16(f, at + 2) == 546) return VNET_DROP_DHCP_SERVER;
  } else if (frag != kLater && nh == 58) {
    if (end > n || at + 4 > n) return VNET_DROP_MALFORMED;
    const uint8_t type = f[at];
    if (type == 134 || type == 137) return VNET_DROP_ROUTER_ADVERT;
    if (type == 133 || type == 135 || type == 136) {
      if (frag == kFirst) return VNET_DROP_ND_FRAGMENT;
      size_t opts = at + 8;
      if (type != 133) {
        if (at + 24 > n) return VNET_DROP_MALFORMED;
        if ((type == 136 || unspec) && !g.v6.count(Slice(f, at + 8, 16))) return VNET_DROP_SPOOF_ND;
        opts = at + 24;
      }
      if (uint32_t r = RefNdOptions(g, f, opts, end); r != VNET_DROP_NONE) return r;
      if (unspec && type != 136) return VNET_DROP_NONE;
    } else if (type == 143 && unspec) {
      return VNET_DROP_NONE;
    }
  }
  return g.v6.count(src) ? VNET_DROP_NONE : VNET_DROP_SPOOF_IPV6;
}

Verdict Shot(uint32_t reason) { return Verdict{TC_ACT_SHOT, reason}; }

// Fan-out: every other member of the VLAN whose MTU the frame fits; one too small for it
// is skipped and the drop (mtu) charged to it.
std::vector<uint32_t> FloodTargets(const World& w, uint16_t vlan, uint32_t except, size_t len,
                                   uint32_t* reason) {
  std::vector<uint32_t> out;
  for (const Guest& g : w.guests) {
    if (g.vlan != vlan || g.id == except) continue;
    if (len <= g.mtu + 14u) {
      out.push_back(g.ifindex);
    } else {
      *reason = VNET_DROP_MTU;
    }
  }
  return out;
}

Verdict Deliver(const Guest& to, size_t len) {
  if (len > to.mtu + 14u) return Shot(VNET_DROP_MTU);
  return Verdict{TC_ACT_REDIRECT, VNET_DROP_NONE, to.ifindex};
}

// BIG TCP leaves the IP length 0 (bpf/lib/bigtcp.h), legal only on a TCP super-packet over
// 64 KiB; a test run's frame is never one, so here a zero length is always malformed (an
// IPv6 packet with nothing behind its header has length 0 legitimately).
bool ZeroIpLength(uint16_t type, const Bytes& f) {
  if (type == 0x0800) return Be16(f, 14 + 2) == 0;
  if (type == 0x86dd) return Be16(f, 14 + 4) == 0 && f.size() > 14 + 40u;
  return false;
}

Verdict RefGuest(const World& w, uint32_t ifindex, const Bytes& f) {
  const Guest* g = w.ByIfindex(ifindex);
  if (!g) return Shot(VNET_DROP_NO_CONTEXT);
  const uint16_t type = Be16(f, 12);
  if (type == 0x8100 || type == 0x88a8) return Shot(VNET_DROP_TAGGED_FROM_GUEST);
  if (Slice(f, 6, 6) != g->mac) return Shot(VNET_DROP_SPOOF_MAC);
  uint32_t r = VNET_DROP_ETHERTYPE;
  if (type == 0x0800) r = RefIpv4(*g, f);
  if (type == 0x86dd) r = RefIpv6(*g, f);
  if (type == 0x0806) r = RefArp(*g, f);
  if (r != VNET_DROP_NONE) return Shot(r);
  if (ZeroIpLength(type, f)) return Shot(VNET_DROP_MALFORMED);
  if (f.size() > g->mtu + 14u) return Shot(VNET_DROP_MTU);
  const Bytes dst = Slice(f, 0, 6);
  const uint16_t push = g->vlan == w.native_vlan ? 0 : g->vlan;
  if (Multicast(dst)) {
    Verdict v{TC_ACT_REDIRECT, VNET_DROP_NONE, w.uplink_ifindex, push};
    v.clones = FloodTargets(w, g->vlan, g->id, f.size(), &v.reason);
    return v;
  }
  const Guest* to = w.Fdb(g->vlan, dst);
  if (to == g) return Shot(VNET_DROP_HAIRPIN);
  if (to) return Deliver(*to, f.size());
  if (f.size() > std::min(g->mtu, w.uplink_mtu) + 14u) return Shot(VNET_DROP_MTU);
  return Verdict{TC_ACT_REDIRECT, VNET_DROP_NONE, w.uplink_ifindex, push};
}

// Wire frames: the VLAN (802.1Q tag, else the native one), then the host's, guests' or not.
struct WireFrame {
  bool ok = false;  // an Ethernet header (and a whole tag when tagged)
  bool tagged = false;
  uint16_t vlan = 0;
};

WireFrame ParseWire(const World& w, const Bytes& f) {
  WireFrame p;
  if (Be16(f, 12) == 0x8100) {
    if (f.size() < 18) return p;
    p.tagged = true;
    p.vlan = Be16(f, 14) & 0x0fff;
  } else {
    p.vlan = w.native_vlan;
  }
  p.ok = true;
  return p;
}

Verdict RefXdp(const World& w, const Bytes& f) {
  Verdict pass{XDP_PASS};
  const WireFrame p = ParseWire(w, f);
  const Bytes dst = Slice(f, 0, 6), src = Slice(f, 6, 6);
  if (!p.ok || p.vlan == 0 || dst == w.uplink_mac || !w.HasMembers(p.vlan)) return pass;
  if (w.Fdb(p.vlan, src)) return Verdict{XDP_DROP, VNET_DROP_LOCAL_SOURCE_MAC};
  if (Multicast(dst)) return pass;
  const Guest* to = w.Fdb(p.vlan, dst);
  if (!to) return Verdict{XDP_DROP, VNET_DROP_UNKNOWN_UNICAST};
  if (!to->xdp) return pass;
  return Verdict{XDP_REDIRECT, VNET_DROP_NONE, to->ifindex};
}

Verdict RefUplinkTc(const World& w, const Bytes& f) {
  Verdict ok{TC_ACT_UNSPEC};
  const WireFrame p = ParseWire(w, f);
  const Bytes dst = Slice(f, 0, 6), src = Slice(f, 6, 6);
  if (!p.ok || p.vlan == 0 || dst == w.uplink_mac || !w.HasMembers(p.vlan)) return ok;
  if (w.Fdb(p.vlan, src)) return Shot(VNET_DROP_LOCAL_SOURCE_MAC);
  if (ReservedGroup(dst)) return Verdict{TC_ACT_UNSPEC, VNET_DROP_RESERVED_GROUP};
  const size_t len = f.size() - (p.tagged ? 4 : 0);  // the tag is popped for guests
  // Popping a tag also moves a following one into the skb's tag (QinQ: the guest gets the
  // inner tag, as behind an 802.1Q bridge); a truncated inner tag makes the pop fail.
  const bool pop_fails =
      p.tagged && f.size() < 22 && (Be16(f, 16) == 0x8100 || Be16(f, 16) == 0x88a8);
  if (Multicast(dst)) {
    if (pop_fails) return Shot(VNET_DROP_REDIRECT_FAILED);
    ok.clones = FloodTargets(w, p.vlan, 0, len, &ok.reason);
    return ok;
  }
  const Guest* to = w.Fdb(p.vlan, dst);
  if (!to) return Shot(VNET_DROP_UNKNOWN_UNICAST);
  if (pop_fails) return Shot(VNET_DROP_REDIRECT_FAILED);
  return Deliver(*to, len);
}

// ---- the generator ------------------------------------------------------------------------

class Gen {
 public:
  Gen(const World& w, uint64_t seed) : w_(w), rng_(seed) {}

  uint32_t U(uint32_t n) { return static_cast<uint32_t>(rng_() % n); }
  bool P(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[U(static_cast<uint32_t>(v.size()))];
  }
  Bytes Random(size_t n) {
    Bytes b(n);
    for (auto& c : b) c = static_cast<uint8_t>(rng_());
    return b;
  }

  Bytes AnyMac(const Bytes& own) {
    switch (U(9)) {
      case 0:
        return Mac("ff:ff:ff:ff:ff:ff");
      case 1:
        return Mac("33:33:00:00:00:01");
      case 2:
        return Bytes{0x01, 0x80, 0xc2, 0, 0, static_cast<uint8_t>(U(0x20))};
      case 3:
        return w_.uplink_mac;
      case 4:
        return Mac("02:00:00:00:00:99");
      case 5:
        return own;
      case 6:
        return Random(6);
      default:
        return Pick(w_.guests).mac;
    }
  }

  Bytes AnyIp6(const Guest& g) {
    switch (U(8)) {
      case 0:
        return Bytes(16, 0);
      case 1:
        return Eui64(g.mac);
      case 2:
        return Ip6("fe80::1:2:3:4");
      case 3:
        return Ip6("2001:db8::77");
      case 4:
        return Random(16);
      default:
        return *std::next(g.v6.begin(), U(static_cast<uint32_t>(g.v6.size())));
    }
  }
  Bytes AnyIp4(const Guest& g) {
    switch (U(5)) {
      case 0:
        return Bytes(4, 0);
      case 1:
        return Ip4("198.18.0.77");
      case 2:
        return Pick(w_.guests).v4_text.empty() ? Bytes(4, 0) : Ip4(Pick(w_.guests).v4_text[0]);
      default:
        return *g.v4.begin();
    }
  }
  uint16_t AnyPort() {
    static const std::vector<uint16_t> ports = {67, 68, 546, 547, 53, 40000};
    return P(0.8) ? Pick(ports) : static_cast<uint16_t>(rng_());
  }

  Bytes NdOptions(const Guest& g) {
    Bytes out;
    const uint32_t n = P(0.05) ? 30 + U(6) : U(5);
    for (uint32_t i = 0; i < n; ++i) {
      switch (U(8)) {
        case 0:
          out = Cat({out, NdOpt(static_cast<uint8_t>(1 + U(2)), AnyMac(g.mac))});
          break;
        case 1:
          out = Cat({out, NdOpt(14, Random(6), static_cast<int>(U(3)))});  // 0 or lying
          break;
        case 2:
          out = Cat({out, NdOpt(static_cast<uint8_t>(U(40)), Random(6 + 8 * U(3)))});
          break;
        case 3:
          out.push_back(static_cast<uint8_t>(rng_()));  // a stray byte
          break;
        default:
          out = Cat({out, NdOpt(static_cast<uint8_t>(1 + U(2)), g.mac)});
      }
    }
    return out;
  }

  Bytes Upper6(const Guest& g, uint8_t* proto) {
    static const std::vector<uint8_t> types = {128, 129, 133, 134, 135, 136, 137, 143, 1};
    switch (U(5)) {
      case 0:
        *proto = 17;
        return Udp(AnyPort(), AnyPort());
      case 1:
        *proto = 6;
        return Tcp(U(32));
      case 2:
        *proto = P(0.5) ? 59 : static_cast<uint8_t>(rng_());
        return Random(U(24));
      default: {
        *proto = 58;
        const uint8_t type = Pick(types);
        if (type == 135 || type == 136) return NdMsg(type, AnyIp6(g), NdOptions(g));
        if (type == 133 || type == 134) return Cat({Icmp6(type), NdOptions(g)});
        return Cat({Icmp6(type), Random(U(16))});
      }
    }
  }

  Bytes Ipv6Packet(const Guest& g) {
    uint8_t proto = 0;
    Bytes upper = Upper6(g, &proto);
    // The chain, built backwards: each header names the one after it.
    static const std::vector<uint8_t> kinds = {0, 60, 43, 44, 51, 139, 253};
    uint32_t n = P(0.5) ? 0 : U(P(0.1) ? 12 : 5);
    uint8_t next = proto;
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t k = Pick(kinds);
      Bytes h;
      if (k == 44) {
        h = Frag(next, P(0.6) ? 0 : static_cast<uint16_t>(1 + U(400)), P(0.5));
      } else if (k == 51) {
        h = Ah(next, 12 + 4 * U(4));
      } else {
        h = ExtHdr(next, 8 * (1 + U(3)), P(0.05) ? static_cast<int>(U(256)) : -1);
      }
      upper = Cat({h, upper});
      next = k;
    }
    Bytes pkt = Ipv6(AnyIp6(g), P(0.5) ? Ip6("ff02::1") : Ip6("2001:db8::2"), next, upper);
    if (P(0.05)) {  // a lying payload length
      const uint16_t len = static_cast<uint16_t>(rng_());
      pkt[4] = static_cast<uint8_t>(len >> 8);
      pkt[5] = static_cast<uint8_t>(len);
    }
    return pkt;
  }

  Bytes Ipv4Packet(const Guest& g) {
    Bytes p = Ipv4Udp(AnyIp4(g), P(0.5) ? Ip4("255.255.255.255") : Ip4("198.18.0.2"), AnyPort(),
                      AnyPort());
    if (P(0.2)) p[9] = static_cast<uint8_t>(P(0.5) ? 6 : rng_());  // other protocols
    if (P(0.1)) p[6] = static_cast<uint8_t>(U(0x40)), p[7] = static_cast<uint8_t>(rng_());
    if (P(0.1)) p[0] = static_cast<uint8_t>(0x40 | U(16));  // other header lengths
    return p;
  }

  Bytes Payload(const Guest& g, uint16_t* type) {
    static const std::vector<uint16_t> others = {0x88cc, 0x8808, 0x888e, 0x8847, 0x0000,
                                                 0x05dc, 0x8100, 0x88a8, 0x9100, 0xffff};
    switch (U(10)) {
      case 0:
      case 1:
      case 2:
        *type = 0x0800;
        return Ipv4Packet(g);
      case 3:
        *type = 0x0806;
        return Arp(static_cast<uint16_t>(1 + U(2)), P(0.8) ? g.mac : AnyMac(g.mac), AnyIp4(g),
                   Bytes(6, 0), Ip4("198.18.0.2"));
      case 4:
        *type = Pick(others);
        return Random(46);
      default:
        *type = 0x86dd;
        return Ipv6Packet(g);
    }
  }

  // A frame as `g` would send it (guest program), or as the wire would (uplink programs).
  Bytes Frame(const Guest& g, bool from_wire) {
    uint16_t type = 0;
    Bytes payload = Payload(g, &type);
    Bytes src = from_wire ? (P(0.7) ? Mac("02:00:00:00:00:aa") : AnyMac(g.mac))
                          : (P(0.9) ? g.mac : AnyMac(g.mac));
    Bytes dst = from_wire && P(0.4) ? Pick(w_.guests).mac : AnyMac(g.mac);
    uint16_t vlan = 0;
    if (from_wire ? P(0.6) : P(0.05)) {
      static const std::vector<uint16_t> vids = {10, 20, 30, 0};
      vlan = P(0.9) ? Pick(vids) : static_cast<uint16_t>(U(4096));
    }
    Bytes f = Cat({Eth(dst, src, type, 0), payload});
    if (vlan != 0 || (from_wire && P(0.02))) {
      Bytes tag = {0x81, 0x00, static_cast<uint8_t>(vlan >> 8), static_cast<uint8_t>(vlan)};
      f.insert(f.begin() + 12, tag.begin(), tag.end());
    }
    Mutate(f);
    return f;
  }

  void Mutate(Bytes& f) {
    if (P(0.1)) {  // flip a few bytes anywhere
      for (uint32_t i = 1 + U(3); i > 0; --i) f[U(static_cast<uint32_t>(f.size()))] ^= 1u << U(8);
    }
    if (P(0.15)) f.resize(14 + U(static_cast<uint32_t>(f.size() - 13)));  // truncate
    if (P(0.02)) f.resize(f.size() + 1500, 0);                            // oversize
  }

 private:
  const World& w_;
  std::mt19937_64 rng_;
};

// ---- the kernel side ------------------------------------------------------------------------

struct Kernel {
  std::unique_ptr<TestNet> net;
  TracedPrograms progs;  // destroyed before the network
};

void SetUpKernel(Kernel& k, World& w) {
  k.net = std::make_unique<TestNet>("z");
  ASSERT_TRUE(k.net->ok());
  const std::string up = k.net->AddPair("up");
  w.uplink_ifindex = if_nametoindex(up.c_str());
  ASSERT_NE(w.uplink_ifindex, 0u);
  for (Guest& g : w.guests) {
    const std::string host = k.net->AddPair(g.port);
    g.ifindex = if_nametoindex(host.c_str());
    ASSERT_NE(g.ifindex, 0u);
  }
  ASSERT_NO_FATAL_FAILURE(LoadTracedPrograms(k.progs, "fz", 16));
  vnet_config cfg{};
  cfg.uplink_ifindex = w.uplink_ifindex;
  cfg.native_vlan = w.native_vlan;
  std::copy(w.uplink_mac.begin(), w.uplink_mac.end(), cfg.uplink_mac);
  cfg.uplink_mtu = w.uplink_mtu;
  ASSERT_TRUE(k.progs.tables->SetConfig(cfg).ok());
  for (const Guest& g : w.guests) {
    v1::Context c;
    c.set_id(g.id);
    c.set_mac(g.mac_text);
    c.set_vlan(g.vlan);
    c.set_mtu(g.mtu);
    for (const auto& a : g.v4_text) c.add_ipv4_addresses(a);
    for (const auto& a : g.v6_text) c.add_ipv6_addresses(a);
    for (const auto& a : g.ll_text) c.add_ipv6_link_local_addresses(a);
    uint32_t flags = (g.peer ? VNET_CTX_F_PEER : 0) | (g.xdp ? VNET_CTX_F_XDP_TARGET : 0);
    auto entry = MakeContextEntry(c, g.ifindex, flags);
    ASSERT_TRUE(entry.ok()) << entry.status();
    ASSERT_TRUE(k.progs.tables->Put(*entry).ok());
  }
}

enum class Prog { kGuest, kXdp, kUplinkTc };

Verdict RunKernel(Kernel& k, Prog prog, uint32_t ifindex, const Bytes& frame) {
  __sk_buff skb{};
  skb.ifindex = ifindex;
  int fd = prog == Prog::kXdp     ? bpf_program__fd(k.progs.xdp->progs.vnet_uplink_xdp)
           : prog == Prog::kGuest ? bpf_program__fd(k.progs.guest->progs.vnet_guest_tc)
                                  : bpf_program__fd(k.progs.uplink_tc->progs.vnet_uplink_tc);
  Verdict v;
  FrameRun run;
  if (const int err = RunFrame(fd, prog == Prog::kXdp, frame, skb, &run); err != 0) {
    v.action = err;
    return v;
  }
  vnet_trace t{};
  uint32_t zero = 0;
  bpf_map_lookup_elem(k.progs.trace_fd(), &zero, &t);
  v.action = static_cast<int>(run.retval);
  v.reason = t.reason;
  // Redirect targets matter for redirects only (a drop after a trace_target is not one).
  if (v.action == TC_ACT_REDIRECT || (prog == Prog::kXdp && v.action == XDP_REDIRECT)) {
    v.target = t.target_ifindex;
    v.push = t.vlan_push;
  }
  v.clones.assign(t.clones, t.clones + std::min<uint32_t>(t.n_clones, VNET_TRACE_MAX_CLONES));
  return v;
}

std::string Show(const Verdict& v) {
  std::string s = "action " + std::to_string(v.action) + " reason " +
                  vnet_drop_reason_name(v.reason) + " target " + std::to_string(v.target) +
                  " push " + std::to_string(v.push) + " clones [";
  for (uint32_t c : v.clones) s += std::to_string(c) + " ";
  return s + "]";
}

uint64_t EnvOr(const char* name, uint64_t dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : dflt;
}

TEST(DiffFuzz, ProgramsAgreeWithReferencePolicy) {
  ASSERT_TRUE(RequireRoot());
  World w = MakeWorld();
  Kernel k;
  SetUpKernel(k, w);
  if (HasFatalFailure()) return;
  const uint64_t frames = EnvOr("VNET_FUZZ_FRAMES", 200000);
  const uint64_t seed = EnvOr("VNET_FUZZ_SEED", 11);
  Gen gen(w, seed);
  std::map<std::string, uint64_t> seen;  // program/reason -> frames, to show coverage
  uint64_t disagreements = 0, unrunnable = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < frames; ++i) {
    const uint32_t pick = gen.U(10);
    Prog prog = pick < 6 ? Prog::kGuest : pick < 8 ? Prog::kXdp : Prog::kUplinkTc;
    const Guest& g = gen.Pick(w.guests);
    uint32_t ifindex = g.ifindex;
    if (prog == Prog::kGuest && gen.P(0.01)) ifindex = w.uplink_ifindex;  // no context
    const Bytes f = gen.Frame(g, prog != Prog::kGuest);
    Verdict want = prog == Prog::kGuest ? RefGuest(w, ifindex, f)
                   : prog == Prog::kXdp ? RefXdp(w, f)
                                        : RefUplinkTc(w, f);
    Verdict got = RunKernel(k, prog, ifindex, f);
    // BPF_PROG_TEST_RUN refuses skb frames whose IPv4/IPv6 header is shorter than its fixed
    // part (EINVAL); the reference's verdict for them is still checked by the fixtures'
    // truncation rows where the kernel can run them. Counted, not compared.
    if (got.action == -EINVAL && prog != Prog::kXdp) {
      ++unrunnable;
      continue;
    }
    const char* pname = prog == Prog::kGuest ? "guest_tc"
                        : prog == Prog::kXdp ? "uplink_xdp"
                                             : "uplink_tc";
    seen[std::string(pname) + " " + vnet_drop_reason_name(want.reason) + " " +
         std::to_string(want.action)]++;
    if (!(got == want)) {
      if (++disagreements <= 20) {
        ADD_FAILURE() << pname << " frame " << i << " (ifindex " << ifindex << ", " << f.size()
                      << " bytes) "
                      << Hex(Bytes(f.begin(),
                                   f.begin() + static_cast<long>(std::min<size_t>(f.size(), 160))))
                      << "\n  kernel:    " << Show(got) << "\n  reference: " << Show(want);
      }
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "diff_fuzz: %llu frames in %.2f s (%.0f frames/s), seed %llu, %llu disagreements, %llu "
      "not runnable (truncated IP header)\n",
      static_cast<unsigned long long>(frames), secs, frames / secs,
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(disagreements),
      static_cast<unsigned long long>(unrunnable));
  for (const auto& [what, n] : seen)
    std::printf("  %-40s %llu\n", what.c_str(), static_cast<unsigned long long>(n));
  RecordProperty("frames_per_second", static_cast<int>(frames / secs));
  EXPECT_EQ(disagreements, 0u);
}

}  // namespace
}  // namespace vnet::testing
