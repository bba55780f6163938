#include "daemon/dataplane/gso_size.h"

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vnet {
namespace {

// Link attributes newer than some distributions' headers (linux/if_link.h, 6.3).
constexpr uint16_t kIflaGsoMaxSize = 41;
constexpr uint16_t kIflaGroMaxSize = 58;
constexpr uint16_t kIflaTsoMaxSize = 59;
constexpr uint16_t kIflaGsoIpv4MaxSize = 63;
constexpr uint16_t kIflaGroIpv4MaxSize = 64;

using Socket = std::unique_ptr<mnl_socket, int (*)(mnl_socket*)>;

Socket Open() {
  Socket nl(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC), mnl_socket_close);
  if (nl && mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) nl.reset();
  return nl;
}

nlmsghdr* LinkRequest(std::vector<char>& buf, uint16_t type, uint16_t flags, int ifindex) {
  nlmsghdr* h = mnl_nlmsg_put_header(buf.data());
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | flags;
  h->nlmsg_seq = 1;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  return h;
}

int OnAttr(const nlattr* a, void* data) {
  auto* s = static_cast<GsoSizes*>(data);
  if (mnl_attr_validate(a, MNL_TYPE_U32) != 0) return MNL_CB_OK;
  switch (mnl_attr_get_type(a)) {
    case kIflaGsoMaxSize:
      s->gso_max = mnl_attr_get_u32(a);
      break;
    case kIflaGroMaxSize:
      s->gro_max = mnl_attr_get_u32(a);
      break;
    case kIflaTsoMaxSize:
      s->tso_max = mnl_attr_get_u32(a);
      break;
    case kIflaGsoIpv4MaxSize:
      s->gso_ipv4_max = mnl_attr_get_u32(a);
      break;
    case kIflaGroIpv4MaxSize:
      s->gro_ipv4_max = mnl_attr_get_u32(a);
      break;
    default:
      break;
  }
  return MNL_CB_OK;
}

int OnLink(const nlmsghdr* h, void* data) {
  return mnl_attr_parse(h, sizeof(ifinfomsg), OnAttr, data) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

// Sends `h` and runs `cb` on the reply (an ack when cb is null).
absl::Status Transact(nlmsghdr* h, mnl_cb_t cb, void* data, const char* what) {
  Socket nl = Open();
  if (!nl) return absl::ErrnoToStatus(errno, absl::StrCat(what, ": netlink socket"));
  if (mnl_socket_sendto(nl.get(), h, h->nlmsg_len) < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat(what, ": netlink send"));
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  const ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
  if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat(what, ": netlink recv"));
  if (mnl_cb_run(buf.data(), static_cast<size_t>(n), 1, mnl_socket_get_portid(nl.get()), cb, data) <
      0) {
    return absl::ErrnoToStatus(errno, what);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GsoSizes> ReadGsoSizes(int ifindex) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* h = LinkRequest(buf, RTM_GETLINK, 0, ifindex);
  GsoSizes sizes;
  if (auto st = Transact(h, OnLink, &sizes, "read gso sizes"); !st.ok()) return st;
  return sizes;
}

absl::Status SetGsoSizes(int ifindex, uint32_t size) {
  if (size < kGsoLegacyMaxSize || size > kGsoMaxSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("gso size ", size, " is not in ", kGsoLegacyMaxSize, "..", kGsoMaxSize));
  }
  if (size > kGsoLegacyMaxSize) {
    if (auto st = BigTcpSupported(); !st.ok()) return st;
  }
  auto now = ReadGsoSizes(ifindex);
  if (!now.ok()) return now.status();
  if (now->gso_max == size && now->gro_max == size && now->gso_ipv4_max == size &&
      now->gro_ipv4_max == size) {
    return absl::OkStatus();
  }
  if (size > kGsoLegacyMaxSize && now->tso_max != 0 && size > now->tso_max) {
    return absl::FailedPreconditionError(absl::StrCat(
        "BIG TCP: the interface takes super-packets of at most ", now->tso_max, " bytes"));
  }
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* h = LinkRequest(buf, RTM_NEWLINK, NLM_F_ACK, ifindex);
  mnl_attr_put_u32(h, kIflaGsoMaxSize, size);
  mnl_attr_put_u32(h, kIflaGroMaxSize, size);
  // A kernel without the IPv4 attributes (only possible at 65536 here) rejects them.
  if (now->gso_ipv4_max != 0) {
    mnl_attr_put_u32(h, kIflaGsoIpv4MaxSize, size);
    mnl_attr_put_u32(h, kIflaGroIpv4MaxSize, size);
  }
  return Transact(h, nullptr, nullptr, "set gso sizes");
}

absl::StatusOr<bool> ApplyBigTcp(int ifindex, bool is_veth, uint32_t size) {
  if (size > kGsoLegacyMaxSize && is_veth) {
    if (auto st = SetGsoSizes(ifindex, size); !st.ok()) return st;
    return true;
  }
  auto now = ReadGsoSizes(ifindex);
  if (!now.ok()) return now.status();
  if (now->gso_max > kGsoLegacyMaxSize || now->gro_max > kGsoLegacyMaxSize ||
      now->gso_ipv4_max > kGsoLegacyMaxSize || now->gro_ipv4_max > kGsoLegacyMaxSize) {
    if (auto st = SetGsoSizes(ifindex, kGsoLegacyMaxSize); !st.ok()) return st;
  }
  return false;
}

absl::Status BigTcpSupported() {
  static const absl::Status* probed = [] {
    auto lo = ReadGsoSizes(1);  // the loopback device is ifindex 1 in every namespace
    if (!lo.ok()) return new absl::Status(lo.status());
    if (lo->gso_ipv4_max == 0) {
      return new absl::Status(absl::FailedPreconditionError(
          "BIG TCP needs a kernel with the gso_ipv4_max_size link attribute (Linux 6.3+)"));
    }
    return new absl::Status();
  }();
  return *probed;
}

}  // namespace vnet
