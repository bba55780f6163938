#include "daemon/dataplane/link_info.h"

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

using AttrFn = std::function<void(const nlattr* attr)>;

// Calls `fn` for each attribute of a message after `hdr_len` bytes of family header.
int ForEachAttr(const nlmsghdr* h, size_t hdr_len, const AttrFn& fn) {
  auto cb = [](const nlattr* a, void* data) {
    (*static_cast<const AttrFn*>(data))(a);
    return MNL_CB_OK;
  };
  return mnl_attr_parse(h, hdr_len, cb, const_cast<AttrFn*>(&fn));
}

// Sends the request built in `buf` on a new socket of `protocol` and runs `fn` on the
// attributes of every reply (acks and errors are libmnl's business).
absl::Status Transact(int protocol, nlmsghdr* req, size_t hdr_len, const AttrFn& fn) {
  std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> nl(mnl_socket_open2(protocol, SOCK_CLOEXEC),
                                                       mnl_socket_close);
  if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return absl::ErrnoToStatus(errno, "netlink socket");
  const unsigned portid = mnl_socket_get_portid(nl.get());
  req->nlmsg_seq = 1;
  if (mnl_socket_sendto(nl.get(), req, req->nlmsg_len) < 0)
    return absl::ErrnoToStatus(errno, "netlink send");
  struct Ctx {
    size_t hdr_len;
    const AttrFn* fn;
  } ctx{hdr_len, &fn};
  auto cb = [](const nlmsghdr* h, void* data) {
    auto* c = static_cast<Ctx*>(data);
    return ForEachAttr(h, c->hdr_len, *c->fn) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
  };
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
    if (n < 0) return absl::ErrnoToStatus(errno, "netlink recv");
    const int rc = mnl_cb_run(buf.data(), static_cast<size_t>(n), 1, portid, cb, &ctx);
    if (rc < 0) return absl::ErrnoToStatus(errno, "netlink");
    if (rc == MNL_CB_STOP) return absl::OkStatus();
    if (!(reinterpret_cast<const nlmsghdr*>(buf.data())->nlmsg_flags & NLM_F_MULTI))
      return absl::OkStatus();
  }
}

absl::Status QueryRtnl(LinkInfo& info) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* h = mnl_nlmsg_put_header(buf.data());
  h->nlmsg_type = RTM_GETLINK;
  h->nlmsg_flags = NLM_F_REQUEST;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = static_cast<int>(info.ifindex);
  return Transact(NETLINK_ROUTE, h, sizeof(ifinfomsg), [&](const nlattr* a) {
    const uint16_t type = mnl_attr_get_type(a);
    if (type == IFLA_LINK_NETNSID) info.peer_in_other_netns = true;
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
  absl::Status st = Transact(NETLINK_GENERIC, h, GENL_HDRLEN, [&](const nlattr* a) {
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
  absl::Status st = Transact(NETLINK_GENERIC, h, GENL_HDRLEN, [&](const nlattr* a) {
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
  QueryXdpFeatures(info);
  return info;
}

}  // namespace vnet
