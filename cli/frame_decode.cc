#include "cli/frame_decode.h"

#include <arpa/inet.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vnetctl {
namespace {

constexpr size_t kEthHeader = 14;
constexpr uint16_t kEthIpv4 = 0x0800, kEthArp = 0x0806, kEthIpv6 = 0x86dd;
constexpr uint16_t kEth8021Q = 0x8100, kEth8021AD = 0x88a8;
constexpr uint8_t kIpTcp = 6, kIpUdp = 17, kIpIcmp = 1, kIpIcmpv6 = 58;

uint8_t U8(std::string_view b, size_t at) { return static_cast<uint8_t>(b[at]); }
uint16_t U16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(U8(b, at) << 8 | U8(b, at + 1));
}

std::string Mac(std::string_view b, size_t at) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", U8(b, at), U8(b, at + 1), U8(b, at + 2),
                         U8(b, at + 3), U8(b, at + 4), U8(b, at + 5));
}

std::string Address(int family, std::string_view b, size_t at) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, b.data() + at, text, sizeof(text));
  return text;
}

// TCP/UDP ports or the ICMP type, when the transport header's first bytes are there.
std::string Transport(uint8_t proto, std::string_view b, size_t at) {
  const char* name = proto == kIpTcp      ? "TCP"
                     : proto == kIpUdp    ? "UDP"
                     : proto == kIpIcmp   ? "ICMP"
                     : proto == kIpIcmpv6 ? "ICMPv6"
                                          : nullptr;
  if (name == nullptr) return absl::StrCat(" proto ", proto);
  if (proto == kIpIcmp || proto == kIpIcmpv6) {
    if (b.size() < at + 1) return absl::StrCat(" ", name, " truncated");
    return absl::StrCat(" ", name, " type ", U8(b, at));
  }
  if (b.size() < at + 4) return absl::StrCat(" ", name, " truncated");
  return absl::StrCat(" ", name, " ", U16(b, at), " > ", U16(b, at + 2));
}

std::string Ipv4(std::string_view b, size_t at) {
  if (b.size() < at + 20) return " IPv4 truncated";
  const size_t ihl = static_cast<size_t>(U8(b, at) & 0x0f) * 4;
  std::string out =
      absl::StrCat(" IPv4 ", Address(AF_INET, b, at + 12), " > ", Address(AF_INET, b, at + 16));
  const bool first_fragment = (U16(b, at + 6) & 0x1fff) == 0;
  if (ihl < 20 || !first_fragment) return out + " fragment";
  return out + Transport(U8(b, at + 9), b, at + ihl);
}

std::string Ipv6(std::string_view b, size_t at) {
  if (b.size() < at + 40) return " IPv6 truncated";
  // Only the first next header: a chain of extension headers is named, not walked.
  return absl::StrCat(" IPv6 ", Address(AF_INET6, b, at + 8), " > ", Address(AF_INET6, b, at + 24),
                      Transport(U8(b, at + 6), b, at + 40));
}

std::string Arp(std::string_view b, size_t at) {
  if (b.size() < at + 28) return " ARP truncated";
  const uint16_t op = U16(b, at + 6);
  return absl::StrCat(" ARP ",
                      op == 1   ? "request"
                      : op == 2 ? "reply"
                                : absl::StrCat("op ", op),
                      " ", Mac(b, at + 8), " ", Address(AF_INET, b, at + 14), " > ",
                      Address(AF_INET, b, at + 24));
}

}  // namespace

std::string DescribeFrame(std::string_view b) {
  if (b.size() < kEthHeader) return "truncated";
  std::string out = absl::StrCat(Mac(b, 6), " > ", Mac(b, 0));
  size_t at = 12;
  uint16_t type = U16(b, at);
  while (type == kEth8021Q || type == kEth8021AD) {
    if (b.size() < at + 6) return out + " 802.1Q truncated";
    absl::StrAppend(&out, " vlan ", U16(b, at + 2) & 0x0fff);
    at += 4;
    type = U16(b, at);
  }
  at += 2;
  switch (type) {
    case kEthIpv4:
      return out + Ipv4(b, at);
    case kEthIpv6:
      return out + Ipv6(b, at);
    case kEthArp:
      return out + Arp(b, at);
    default:
      return out + absl::StrFormat(" ethertype 0x%04x", type);
  }
}

std::string HexBytes(std::string_view bytes, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max_bytes; ++i) {
    if (i != 0) out.push_back(' ');
    absl::StrAppendFormat(&out, "%02x", static_cast<uint8_t>(bytes[i]));
  }
  return out;
}

}  // namespace vnetctl
