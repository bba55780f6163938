// A short, one-line description of a frame's first bytes for `vnetctl monitor`: MACs,
// VLAN tag, EtherType, ARP, IPv4/IPv6 addresses, protocol and ports, as far as the bytes go.
#pragma once

#include <string>
#include <string_view>

namespace vnetctl {

// e.g. "00:16:3e:00:00:05 > ff:ff:ff:ff:ff:ff IPv4 198.18.0.66 > 198.18.0.1 UDP 68 > 67".
// Stops where the bytes end ("truncated") or at what it does not know.
std::string DescribeFrame(std::string_view frame);

// Lower-case hex, a space between bytes, at most `max_bytes` bytes.
std::string HexBytes(std::string_view bytes, size_t max_bytes);

}  // namespace vnetctl
