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
Bytes Arp(uint16_t op, const Bytes& sha, const Bytes& sip, const Bytes& tha, const Bytes& tip);

Bytes Cat(std::initializer_list<Bytes> parts);
std::string Hex(const Bytes& b);

}  // namespace vnet::testing
