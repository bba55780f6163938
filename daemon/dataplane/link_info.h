// What the fast path needs to know about a network device, read from the kernel (rtnetlink
// and the "netdev" generic netlink family), never assumed from its name.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vnet {

struct LinkInfo {
  uint32_t ifindex = 0;
  std::string name;                  // the interface's own name (IFLA_IFNAME)
  std::string kind;                  // rtnl link kind: "veth", "tun", ""(Xen vif, NICs), ...
  bool peer_in_other_netns = false;  // veth whose peer lives in another namespace
  std::array<uint8_t, 6> mac{};
  uint32_t mtu = 0;
  // ndo_xdp_xmit ready: XDP_REDIRECT into this device is delivered, not dropped. For a veth
  // the kernel sets it only while its peer runs NAPI (XDP or GRO on the peer).
  bool xdp_ndo_xmit = false;
  // The driver runs XDP itself and can redirect (NETDEV_XDP_ACT_BASIC and _REDIRECT): XDP in
  // native mode, before an skb exists. A veth says so too (its XDP runs in its own NAPI).
  bool xdp_native = false;
  bool xdp_features_known = false;  // false on kernels without the netdev family
};

// INVALID_ARGUMENT for an alternative name (`ip link property add ... altname`): the kernel
// resolves one to its interface, so it would let a name pass checks made on names (the
// uplink allow-list, "not the uplink", one context per interface) for another device.
absl::StatusOr<LinkInfo> QueryLink(absl::string_view ifname);

// An address of `ifname` that routes (IPv4, or IPv6 other than link-local), as text, or ""
// when it has none. A guest's interface is a switch port and carries none; the host's own
// interfaces (its management NIC) do, so the fast path never takes one for a guest's.
std::string RoutableAddressOf(absl::string_view ifname);

}  // namespace vnet
