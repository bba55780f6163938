// Parsing and canonical forms of the addresses a context carries (MAC, IPv4, IPv6).
// Canonical strings let the pool compare addresses as plain text.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace vnet {

using MacAddress = std::array<uint8_t, 6>;

// Accepts aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff, either case.
std::optional<MacAddress> ParseMac(absl::string_view text);
std::string FormatMac(const MacAddress& mac);
bool IsUnicastMac(const MacAddress& mac);
bool IsZeroMac(const MacAddress& mac);

// Network-byte-order address bytes.
std::optional<std::array<uint8_t, 4>> ParseIpv4(absl::string_view text);
std::optional<std::array<uint8_t, 16>> ParseIpv6(absl::string_view text);
std::string FormatIpv4(const std::array<uint8_t, 4>& addr);
std::string FormatIpv6(const std::array<uint8_t, 16>& addr);

}  // namespace vnet
