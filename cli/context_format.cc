#include "cli/context_format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vnetctl {

std::string FormatOffloads(const vnet::v1::Offloads& o) {
  std::vector<std::string> on;
  if (o.tx_checksum()) on.emplace_back("tx-csum");
  if (o.tso_v4()) on.emplace_back("tso4");
  if (o.tso_v6()) on.emplace_back("tso6");
  if (o.scatter_gather()) on.emplace_back("sg");
  if (o.rx_checksum()) on.emplace_back("rx-csum");
  if (o.rx_scatter_gather()) on.emplace_back("rx-sg");
  if (o.rx_tso_v4()) on.emplace_back("rx-tso4");
  if (o.rx_tso_v6()) on.emplace_back("rx-tso6");
  if (o.big_tcp_max_size() != 0) on.push_back(absl::StrCat("big-tcp=", o.big_tcp_max_size()));
  return on.empty() ? "none" : absl::StrJoin(on, ",");
}

std::string FormatRate(const vnet::v1::RateLimit& rate) {
  if (rate.bits_per_second() == 0) return "-";
  return absl::StrCat(rate.bits_per_second(), "bit/s");
}

std::string FormatState(vnet::v1::ContextState state) {
  switch (state) {
    case vnet::v1::CONTEXT_STATE_ASSIGNED:
      return "assigned";
    case vnet::v1::CONTEXT_STATE_ACTIVE:
      return "active";
    case vnet::v1::CONTEXT_STATE_DEGRADED:
      return "degraded";
    default:
      return "unknown";
  }
}

// Requested offloads, and what is in effect when the fast path could not grant them all.
std::string OffloadsCell(const vnet::v1::Context& c) {
  std::string requested = FormatOffloads(c.offloads());
  if (!c.has_effective_offloads()) return requested;
  const std::string effective = FormatOffloads(c.effective_offloads());
  return effective == requested ? requested
                                : absl::StrCat(requested, " (in effect: ", effective, ")");
}

Table ContextTable(const std::vector<vnet::v1::Context>& contexts) {
  Table table({"ID", "DOMAIN", "DEV", "INTERFACE", "MAC", "VLAN", "MTU", "ADDRESSES", "OFFLOADS",
               "RATE", "STATE"});
  for (const auto& c : contexts) {
    std::vector<std::string> addrs(c.ipv4_addresses().begin(), c.ipv4_addresses().end());
    addrs.insert(addrs.end(), c.ipv6_addresses().begin(), c.ipv6_addresses().end());
    addrs.insert(addrs.end(), c.ipv6_link_local_addresses().begin(),
                 c.ipv6_link_local_addresses().end());
    table.AddRow({absl::StrCat(c.id()), absl::StrCat(c.domain_id()), absl::StrCat(c.device_id()),
                  c.interface_name(), c.mac(), absl::StrCat(c.vlan()), absl::StrCat(c.mtu()),
                  addrs.empty() ? "-" : absl::StrJoin(addrs, ","), OffloadsCell(c),
                  FormatRate(c.rate_limit()), FormatState(c.state())});
  }
  return table;
}

}  // namespace vnetctl
