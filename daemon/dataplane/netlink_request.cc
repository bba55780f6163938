#include "daemon/dataplane/netlink_request.h"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>

namespace vnet {
namespace {

// Calls `fn` for each attribute of a message after `hdr_len` bytes of family header.
int ForEachAttr(const nlmsghdr* h, size_t hdr_len, const NetlinkAttrFn& fn) {
  auto cb = [](const nlattr* a, void* data) {
    (*static_cast<const NetlinkAttrFn*>(data))(a);
    return MNL_CB_OK;
  };
  return mnl_attr_parse(h, hdr_len, cb, const_cast<NetlinkAttrFn*>(&fn));
}

}  // namespace

absl::Status NetlinkTransact(int protocol, nlmsghdr* req, size_t hdr_len, const NetlinkAttrFn& fn) {
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
    const NetlinkAttrFn* fn;
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

nlmsghdr* LinkRequest(std::vector<char>& buf, uint16_t type, uint16_t flags, int ifindex) {
  nlmsghdr* h = mnl_nlmsg_put_header(buf.data());
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | flags;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  return h;
}

}  // namespace vnet
