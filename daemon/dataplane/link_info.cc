#include "daemon/dataplane/link_info.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/dataplane/netlink_request.h"

namespace vnet {
namespace {

// The "netdev" generic netlink family (linux/netdev.h, Linux 6.3+; newer than Debian 12's
// headers, so its numbers are spelled out).
constexpr uint8_t kNetdevCmdDevGet = 1;
constexpr uint16_t kNetdevAttrIfindex = 1;
constexpr uint16_t kNetdevAttrXdpFeatures = 3;
constexpr uint64_t kNetdevXdpActBasic = 1;
constexpr uint64_t kNetdevXdpActRedirect = 2;
constexpr uint64_t kNetdevXdpActNdoXmit = 4;

absl::Status QueryRtnl(LinkInfo& info) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* h = LinkRequest(buf, RTM_GETLINK, 0, static_cast<int>(info.ifindex));
  return NetlinkTransact(NETLINK_ROUTE, h, sizeof(ifinfomsg), [&](const nlattr* a) {
    const uint16_t type = mnl_attr_get_type(a);
    if (type == IFLA_LINK_NETNSID) info.peer_in_other_netns = true;
    if (type == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
      info.name = mnl_attr_get_str(a);
    if (type == IFLA_ADDRESS && mnl_attr_get_payload_len(a) == 6)
      std::memcpy(info.mac.data(), mnl_attr_get_payload(a), 6);
    if (type == IFLA_MTU && mnl_attr_validate(a, MNL_TYPE_U32) == 0) info.mtu = mnl_attr_get_u32(a);
    if (type == IFLA_LINKINFO && mnl_attr_validate(a, MNL_TYPE_NESTED) == 0) {
      auto kind = [](const nlattr* inner, void* data) {
        if (mnl_attr_get_type(inner) == IFLA_INFO_KIND &&
            mnl_attr_validate(inner, MNL_TYPE_STRING) == 0) {
          *static_cast<std::string*>(data) = mnl_attr_get_str(inner);
        }
        return MNL_CB_OK;
      };
      mnl_attr_parse_nested(a, kind, &info.kind);
    }
  });
}

// A generic netlink request for `family` / `cmd`, in `buf`.
nlmsghdr* GenlRequest(std::vector<char>& buf, uint16_t family, uint8_t cmd) {
  nlmsghdr* h = mnl_nlmsg_put_header(buf.data());
  h->nlmsg_type = family;
  h->nlmsg_flags = NLM_F_REQUEST;
  auto* g = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(h, sizeof(genlmsghdr)));
  g->cmd = cmd;
  g->version = 1;
  return h;
}

// The family id of "netdev", or 0 when the kernel has none (before 6.3).
uint16_t NetdevFamilyId() {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* h = GenlRequest(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
  mnl_attr_put_strz(h, CTRL_ATTR_FAMILY_NAME, "netdev");
  uint16_t id = 0;
  absl::Status st = NetlinkTransact(NETLINK_GENERIC, h, GENL_HDRLEN, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID && mnl_attr_validate(a, MNL_TYPE_U16) == 0)
      id = mnl_attr_get_u16(a);
  });
  return st.ok() ? id : 0;
}

void QueryXdpFeatures(LinkInfo& info) {
  const uint16_t family = NetdevFamilyId();
  if (family == 0) return;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* h = GenlRequest(buf, family, kNetdevCmdDevGet);
  mnl_attr_put_u32(h, kNetdevAttrIfindex, info.ifindex);
  uint64_t features = 0;
  bool seen = false;
  absl::Status st = NetlinkTransact(NETLINK_GENERIC, h, GENL_HDRLEN, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == kNetdevAttrXdpFeatures && mnl_attr_validate(a, MNL_TYPE_U64) == 0) {
      features = mnl_attr_get_u64(a);
      seen = true;
    }
  });
  info.xdp_features_known = st.ok() && seen;
  info.xdp_ndo_xmit = info.xdp_features_known && (features & kNetdevXdpActNdoXmit);
  constexpr uint64_t kNative = kNetdevXdpActBasic | kNetdevXdpActRedirect;
  info.xdp_native = info.xdp_features_known && (features & kNative) == kNative;
}

}  // namespace

absl::StatusOr<LinkInfo> QueryLink(absl::string_view ifname) {
  LinkInfo info;
  std::string name(ifname);
  info.ifindex = if_nametoindex(name.c_str());
  if (info.ifindex == 0) return absl::NotFoundError(absl::StrCat("no interface ", name));
  absl::Status st = QueryRtnl(info);
  if (!st.ok()) return absl::Status(st.code(), absl::StrCat(name, ": ", st.message()));
  if (info.name != name) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is an alternative name of ", info.name,
                                                   ": name the interface by its own name"));
  }
  QueryXdpFeatures(info);
  return info;
}

std::string RoutableAddressOf(absl::string_view ifname) {
  ifaddrs* all = nullptr;
  if (getifaddrs(&all) != 0) return "";
  std::string found;
  for (const ifaddrs* a = all; a != nullptr && found.empty(); a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_name == nullptr || ifname != a->ifa_name) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
      if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) != nullptr) found = text;
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
      if (!IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr) &&
          inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text)) != nullptr) {
        found = text;
      }
    }
  }
  freeifaddrs(all);
  return found;
}

}  // namespace vnet
