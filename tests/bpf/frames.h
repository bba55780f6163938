// Crafted frames for the fixtures. Checksums are left zero: the programs never read them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vnet::testing {

using Bytes = std::vector<uint8_t>;

Bytes Mac(const std::string& text);  // "02:00:00:00:00:01"
Bytes Ip4(const std::string& text);  // "198.18.0.1"
Bytes Ip6(const std::string& text);  // "2001:db8::1"

// Ethernet header, 802.1Q-tagged when vlan != 0.
Bytes Eth(const Bytes& dst, const Bytes& src, uint16_t ethertype, uint16_t vlan = 0);
Bytes Ipv4Udp(const Bytes& src, const Bytes& dst, uint16_t sport, uint16_t dport);
Bytes Ipv6(const Bytes& src, const Bytes& dst, uint8_t next, const Bytes& payload);
Bytes Udp(uint16_t sport, uint16_t dport);
// TCP header with timestamps (32 bytes, doff 8) then `payload` zero bytes.
Bytes Tcp(uint32_t payload);
Bytes Ipv4Tcp(const Bytes& src, const Bytes& dst, uint32_t payload);
Bytes Icmp6(uint8_t type);
// NS/NA with a link-layer address option (type 1 source, 2 target) when lladdr is given.
Bytes Nd(uint8_t type, const Bytes& target, const Bytes& lladdr = {});
// IPv6 extension headers, to chain in front of an upper-layer header inside Ipv6(): `next`
// is the header that follows. Hop-by-hop (0), destination options (60), routing (43) and the
// other generic ones take `bytes` (a multiple of 8, at least 8), padded with Pad1 options;
// `len_field` overrides the encoded length when >= 0 (to lie about it).
Bytes ExtHdr(uint8_t next, size_t bytes, int len_field = -1);
// Fragment header: offset in 8-byte units, M flag, identification.
Bytes Frag(uint8_t next, uint16_t offset, bool more, uint32_t id = 0x1234);
// Authentication header of `bytes` (multiple of 4, at least 12).
Bytes Ah(uint8_t next, size_t bytes);
// One ND option: type, then `data` padded to a multiple of 8 with the 2-byte header;
// `len_field` overrides the length (units of 8) when >= 0.
Bytes NdOpt(uint8_t type, const Bytes& data, int len_field = -1);
// An NS/NA (target then options) or an RS/RA (reserved word then options) message.
Bytes NdMsg(uint8_t type, const Bytes& target, const Bytes& options);
Bytes Rs(const Bytes& options);
Bytes Arp(uint16_t op, const Bytes& sha, const Bytes& sip, const Bytes& tha, const Bytes& tip);

Bytes Cat(std::initializer_list<Bytes> parts);
std::string Hex(const Bytes& b);

}  // namespace vnet::testing
