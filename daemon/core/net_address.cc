#include "daemon/core/net_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

namespace vnet {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<MacAddress> ParseMac(absl::string_view text) {
  // Six two-digit groups, five separators, all the same.
  if (text.size() != 17) return std::nullopt;
  const char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  MacAddress mac{};
  for (size_t i = 0; i < mac.size(); ++i) {
    const size_t pos = i * 3;
    const int hi = HexDigit(text[pos]);
    const int lo = HexDigit(text[pos + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i + 1 < mac.size() && text[pos + 2] != sep) return std::nullopt;
    mac[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return mac;
}

std::string FormatMac(const MacAddress& mac) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

bool IsUnicastMac(const MacAddress& mac) { return (mac[0] & 0x01) == 0; }

bool IsZeroMac(const MacAddress& mac) {
  return std::all_of(mac.begin(), mac.end(), [](uint8_t b) { return b == 0; });
}

std::optional<std::array<uint8_t, 4>> ParseIpv4(absl::string_view text) {
  // inet_pton needs a NUL-terminated string and accepts only dotted-quad decimal.
  const std::string copy(text);
  std::array<uint8_t, 4> addr{};
  if (inet_pton(AF_INET, copy.c_str(), addr.data()) != 1) return std::nullopt;
  return addr;
}

std::optional<std::array<uint8_t, 16>> ParseIpv6(absl::string_view text) {
  const std::string copy(text);
  std::array<uint8_t, 16> addr{};
  if (inet_pton(AF_INET6, copy.c_str(), addr.data()) != 1) return std::nullopt;
  return addr;
}

std::string FormatIpv4(const std::array<uint8_t, 4>& addr) {
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, addr.data(), buf, sizeof(buf));
  return buf;
}

std::string FormatIpv6(const std::array<uint8_t, 16>& addr) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, addr.data(), buf, sizeof(buf));
  return buf;
}

}  // namespace vnet
