#include "daemon/dataplane/link_info.h"

#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vnet {
namespace {

// The "netdev" generic netlink family (linux/netdev.h, newer than Debian 12's headers).
constexpr uint8_t kNetdevCmdDevGet = 1;
constexpr uint16_t kNetdevAttrIfindex = 1;
constexpr uint16_t kNetdevAttrXdpFeatures = 3;
constexpr uint64_t kNetdevXdpActNdoXmit = 4;

// Builds a netlink message by appending aligned pieces.
class Message {
 public:
  Message(uint16_t type, uint16_t flags) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    h.nlmsg_seq = 1;
    Append(&h, sizeof(h));
  }
  void Append(const void* p, size_t n) {
    size_t at = buf_.size();
    buf_.resize(at + NLMSG_ALIGN(n));
    std::memcpy(buf_.data() + at, p, n);
    reinterpret_cast<nlmsghdr*>(buf_.data())->nlmsg_len = buf_.size();
  }
  void Attr(uint16_t type, const void* p, size_t n) {
    nlattr a{};
    a.nla_type = type;
    a.nla_len = NLA_HDRLEN + n;
    size_t at = buf_.size();
    buf_.resize(at + NLA_ALIGN(a.nla_len));
    std::memcpy(buf_.data() + at, &a, sizeof(a));
    std::memcpy(buf_.data() + at + NLA_HDRLEN, p, n);
    reinterpret_cast<nlmsghdr*>(buf_.data())->nlmsg_len = buf_.size();
  }
  const std::vector<char>& bytes() const { return buf_; }

 private:
  std::vector<char> buf_;
};

using AttrFn = std::function<void(uint16_t type, const char* data, size_t len)>;

void ForEachAttr(const char* p, size_t len, const AttrFn& fn) {
  while (len >= NLA_HDRLEN) {
    const auto* a = reinterpret_cast<const nlattr*>(p);
    if (a->nla_len < NLA_HDRLEN || a->nla_len > len) return;
    fn(a->nla_type & NLA_TYPE_MASK, p + NLA_HDRLEN, a->nla_len - NLA_HDRLEN);
    size_t step = NLA_ALIGN(a->nla_len);
    if (step >= len) return;
    p += step;
    len -= step;
  }
}

// Sends one request and hands the payload (after `hdr_len` family header bytes) of each
// reply to `fn`. A kernel error comes back as a status.
absl::Status Transact(int protocol, const Message& msg, size_t hdr_len, const AttrFn& fn) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) return absl::ErrnoToStatus(errno, "netlink socket");
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  absl::Status st;
  if (sendto(fd, msg.bytes().data(), msg.bytes().size(), 0, reinterpret_cast<sockaddr*>(&sa),
             sizeof(sa)) < 0) {
    st = absl::ErrnoToStatus(errno, "netlink send");
  }
  std::vector<char> buf(32768);
  bool done = !st.ok();
  while (!done) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      st = absl::ErrnoToStatus(errno, "netlink recv");
      break;
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_ERROR) {
        int err = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
        if (err != 0) st = absl::ErrnoToStatus(-err, "netlink");
        done = true;
        break;
      }
      if (h->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      const char* payload = static_cast<const char*>(NLMSG_DATA(h)) + NLMSG_ALIGN(hdr_len);
      size_t plen = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(hdr_len));
      ForEachAttr(payload, plen, fn);
      if (!(h->nlmsg_flags & NLM_F_MULTI)) done = true;
    }
  }
  close(fd);
  return st;
}

absl::Status QueryRtnl(LinkInfo& info) {
  Message msg(RTM_GETLINK, NLM_F_REQUEST);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(info.ifindex);
  msg.Append(&ifi, sizeof(ifi));
  return Transact(NETLINK_ROUTE, msg, sizeof(ifinfomsg),
                  [&](uint16_t type, const char* data, size_t len) {
                    if (type == IFLA_LINK_NETNSID) info.peer_in_other_netns = true;
                    if (type == IFLA_ADDRESS && len == 6) std::memcpy(info.mac.data(), data, 6);
                    if (type == IFLA_MTU && len == 4) std::memcpy(&info.mtu, data, 4);
                    if (type == IFLA_LINKINFO) {
                      ForEachAttr(data, len, [&](uint16_t t, const char* d, size_t l) {
                        if (t == IFLA_INFO_KIND) info.kind.assign(d, strnlen(d, l));
                      });
                    }
                  });
}

// Returns the family id of "netdev", or 0 when the kernel has none.
uint16_t NetdevFamilyId() {
  Message msg(GENL_ID_CTRL, NLM_F_REQUEST);
  genlmsghdr g{};
  g.cmd = CTRL_CMD_GETFAMILY;
  g.version = 1;
  msg.Append(&g, sizeof(g));
  msg.Attr(CTRL_ATTR_FAMILY_NAME, "netdev", sizeof("netdev"));
  uint16_t id = 0;
  absl::Status st =
      Transact(NETLINK_GENERIC, msg, GENL_HDRLEN, [&](uint16_t type, const char* data, size_t len) {
        if (type == CTRL_ATTR_FAMILY_ID && len >= 2) std::memcpy(&id, data, 2);
      });
  return st.ok() ? id : 0;
}

void QueryXdpFeatures(LinkInfo& info) {
  uint16_t family = NetdevFamilyId();
  if (family == 0) return;
  Message msg(family, NLM_F_REQUEST);
  genlmsghdr g{};
  g.cmd = kNetdevCmdDevGet;
  g.version = 1;
  msg.Append(&g, sizeof(g));
  uint32_t ifindex = info.ifindex;
  msg.Attr(kNetdevAttrIfindex, &ifindex, sizeof(ifindex));
  uint64_t features = 0;
  bool seen = false;
  absl::Status st =
      Transact(NETLINK_GENERIC, msg, GENL_HDRLEN, [&](uint16_t type, const char* data, size_t len) {
        if (type == kNetdevAttrXdpFeatures && len >= 8) {
          std::memcpy(&features, data, 8);
          seen = true;
        }
      });
  info.xdp_features_known = st.ok() && seen;
  info.xdp_ndo_xmit = info.xdp_features_known && (features & kNetdevXdpActNdoXmit);
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
