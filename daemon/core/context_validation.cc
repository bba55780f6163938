#include "daemon/core/context_validation.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "daemon/core/echo.h"
#include "daemon/core/net_address.h"
#include "daemon/core/rate_limits.h"

namespace vnet {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status NormalizeMac(v1::Context& ctx) {
  if (ctx.mac().empty()) return Invalid("mac", "required");
  const auto mac = ParseMac(ctx.mac());
  if (!mac) return Invalid("mac", absl::StrCat("'", Echo(ctx.mac()), "' is not a MAC address"));
  if (IsZeroMac(*mac)) return Invalid("mac", "must not be all zeros");
  if (!IsUnicastMac(*mac)) {
    return Invalid("mac", absl::StrCat(ctx.mac(), " is a multicast/broadcast address"));
  }
  ctx.set_mac(FormatMac(*mac));
  return absl::OkStatus();
}

template <typename Parse, typename Format, typename Reject>
absl::Status NormalizeAddresses(google::protobuf::RepeatedPtrField<std::string>* list,
                                absl::string_view field, Parse parse, Format format,
                                Reject reject) {
  if (list->size() > kMaxAddressesPerFamily) {
    return Invalid(field, absl::StrCat("at most ", kMaxAddressesPerFamily, " addresses"));
  }
  std::set<std::string> seen;
  for (std::string& text : *list) {
    const auto addr = parse(text);
    if (!addr) return Invalid(field, absl::StrCat("'", Echo(text), "' is not a valid address"));
    if (const char* why = reject(*addr)) return Invalid(field, absl::StrCat(text, " ", why));
    std::string canonical = format(*addr);
    if (!seen.insert(canonical).second) {
      return Invalid(field, absl::StrCat(canonical, " is listed twice"));
    }
    text = std::move(canonical);
  }
  std::sort(list->begin(), list->end());
  return absl::OkStatus();
}

const char* RejectIpv4(const std::array<uint8_t, 4>& a) {
  if (a == std::array<uint8_t, 4>{0, 0, 0, 0}) return "is the unspecified address";
  if (a[0] == 0) return "is in 0.0.0.0/8 (\"this network\", never a host's address)";
  if (a[0] >= 224) return "is multicast, broadcast or reserved";
  if (a[0] == 127) return "is a loopback address";
  return nullptr;
}

const char* RejectIpv6(const std::array<uint8_t, 16>& a) {
  std::array<uint8_t, 16> zero{};
  if (a == zero) return "is the unspecified address";
  if (a[0] == 0xff) return "is multicast";
  std::array<uint8_t, 16> loopback{};
  loopback[15] = 1;
  if (a == loopback) return "is the loopback address";
  // ::ffff:a.b.c.d (IPv4-mapped) and ::a.b.c.d (IPv4-compatible, deprecated) are IPv4
  // addresses in IPv6 notation; they never appear as a source on the wire, and would
  // dodge the IPv4 rules and the duplicate check. Refused, not converted: the caller says
  // in which list an address goes.
  const bool first_80_zero =
      std::all_of(a.begin(), a.begin() + 10, [](uint8_t b) { return b == 0; });
  if (first_80_zero && a[10] == 0xff && a[11] == 0xff) {
    return "is an IPv4-mapped address (::ffff:a.b.c.d): give a.b.c.d in ipv4_addresses";
  }
  if (first_80_zero && a[10] == 0 && a[11] == 0) {
    return "is an IPv4-compatible address (::a.b.c.d, deprecated): give a.b.c.d in "
           "ipv4_addresses";
  }
  return nullptr;
}

const char* RejectLinkLocal(const std::array<uint8_t, 16>& a) {
  if (a[0] != 0xfe || (a[1] & 0xc0) != 0x80) return "is not a link-local address (fe80::/10)";
  return nullptr;
}

}  // namespace

std::vector<std::string> EffectiveLinkLocals(const v1::Context& ctx) {
  if (ctx.ipv6_link_local_addresses_size() > 0) {
    return {ctx.ipv6_link_local_addresses().begin(), ctx.ipv6_link_local_addresses().end()};
  }
  const auto mac = ParseMac(ctx.mac());
  if (!mac) return {};
  std::array<uint8_t, 16> a{};
  a[0] = 0xfe;
  a[1] = 0x80;
  a[8] = (*mac)[0] ^ 0x02;
  a[9] = (*mac)[1];
  a[10] = (*mac)[2];
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = (*mac)[3];
  a[14] = (*mac)[4];
  a[15] = (*mac)[5];
  return {FormatIpv6(a)};
}

absl::Status CheckFastPathCapacity(const v1::Context& ctx) {
  if (ctx.ipv4_addresses_size() > kMaxFastPathAddressesPerFamily) {
    return Invalid("ipv4_addresses", absl::StrCat("at most ", kMaxFastPathAddressesPerFamily,
                                                  " addresses fit the fast path"));
  }
  std::set<std::string> v6(ctx.ipv6_addresses().begin(), ctx.ipv6_addresses().end());
  for (const std::string& ll : EffectiveLinkLocals(ctx)) v6.insert(ll);
  if (v6.size() > static_cast<size_t>(kMaxFastPathAddressesPerFamily)) {
    return Invalid("ipv6_addresses",
                   absl::StrCat(v6.size(), " IPv6 addresses with the link-local ones; at most ",
                                kMaxFastPathAddressesPerFamily, " fit the fast path"));
  }
  return absl::OkStatus();
}

v1::Offloads AllOffloads() {
  v1::Offloads all;
  all.set_tx_checksum(true);
  all.set_tso_v4(true);
  all.set_tso_v6(true);
  all.set_scatter_gather(true);
  all.set_rx_checksum(true);
  all.set_rx_scatter_gather(true);
  all.set_rx_tso_v4(true);
  all.set_rx_tso_v6(true);
  return all;
}

absl::Status ValidateInterfaceName(const std::string& name) {
  if (name.empty()) return Invalid("interface_name", "required");
  if (name.size() > kMaxInterfaceNameLength) {
    return Invalid("interface_name",
                   absl::StrCat("'", Echo(name), "' is longer than ", kMaxInterfaceNameLength));
  }
  if (name == "." || name == "..") return Invalid("interface_name", "'.' and '..' are reserved");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) {
      return Invalid(
          "interface_name",
          absl::StrCat("'", Echo(name), "' may hold only letters, digits, '.', '-', '_'"));
    }
  }
  return absl::OkStatus();
}

absl::Status NormalizeAndValidate(v1::Context& ctx) {
  // What this vnetd does not know it does not keep (nor persist, nor echo back).
  ctx.DiscardUnknownFields();
  // Output-only fields are the pool's to set; a client echoing a context back is fine.
  ctx.clear_id();
  ctx.clear_state();
  ctx.clear_create_time();
  ctx.clear_effective_offloads();
  if (ctx.vlan() == 0) ctx.set_vlan(kDefaultVlan);
  if (ctx.mtu() == 0) ctx.set_mtu(kDefaultMtu);
  if (!ctx.has_offloads()) *ctx.mutable_offloads() = AllOffloads();

  if (ctx.domain_id() > kMaxXenDomainId) {
    return Invalid(
        "domain_id",
        absl::StrCat(ctx.domain_id(), " is above the largest Xen domain id ", kMaxXenDomainId));
  }
  if (ctx.device_id() > 0xFFFF) return Invalid("device_id", "must be below 65536");
  if (auto s = ValidateInterfaceName(ctx.interface_name()); !s.ok()) return s;
  if (auto s = NormalizeMac(ctx); !s.ok()) return s;
  if (auto s = NormalizeAddresses(ctx.mutable_ipv4_addresses(), "ipv4_addresses", ParseIpv4,
                                  FormatIpv4, RejectIpv4);
      !s.ok()) {
    return s;
  }
  if (auto s = NormalizeAddresses(ctx.mutable_ipv6_addresses(), "ipv6_addresses", ParseIpv6,
                                  FormatIpv6, RejectIpv6);
      !s.ok()) {
    return s;
  }
  if (auto s =
          NormalizeAddresses(ctx.mutable_ipv6_link_local_addresses(), "ipv6_link_local_addresses",
                             ParseIpv6, FormatIpv6, RejectLinkLocal);
      !s.ok()) {
    return s;
  }
  if (ctx.vlan() > 4094) return Invalid("vlan", absl::StrCat(ctx.vlan(), " is not in 1..4094"));
  if (ctx.mtu() < kMinMtu || ctx.mtu() > kMaxMtu) {
    return Invalid("mtu", absl::StrCat(ctx.mtu(), " is not in ", kMinMtu, "..", kMaxMtu));
  }
  const uint32_t big_tcp = ctx.offloads().big_tcp_max_size();
  if (big_tcp != 0 && (big_tcp <= kBigTcpMinSize || big_tcp > kBigTcpMaxSize)) {
    return Invalid(
        "offloads.big_tcp_max_size",
        absl::StrCat(big_tcp, " is not 0 (off) nor in ", kBigTcpMinSize + 1, "..", kBigTcpMaxSize));
  }
  if (auto s = ValidateRateLimit(ctx.rate_limit(), "rate_limit"); !s.ok()) return s;
  if (auto s = ValidateRateLimit(ctx.rx_rate_limit(), "rx_rate_limit"); !s.ok()) return s;
  return ValidateStormControl(ctx.storm_control());
}

}  // namespace vnet
