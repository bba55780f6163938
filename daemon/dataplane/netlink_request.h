// One netlink request and its replies, for the few queries vnetd makes itself (link
// attributes, generic netlink): a fresh socket per request, libmnl underneath.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"

struct nlattr;
struct nlmsghdr;

namespace vnet {

using NetlinkAttrFn = std::function<void(const nlattr* attr)>;

// Sends the request `req` on a new socket of `protocol` and runs `fn` on the attributes of
// every reply after `hdr_len` bytes of family header; an ack or an error is libmnl's
// business (an error comes back as its errno).
absl::Status NetlinkTransact(int protocol, nlmsghdr* req, size_t hdr_len, const NetlinkAttrFn& fn);

// An rtnetlink link request (`type`: RTM_GETLINK, RTM_NEWLINK) for `ifindex`, in `buf`
// (MNL_SOCKET_BUFFER_SIZE bytes); `flags` are added to NLM_F_REQUEST.
nlmsghdr* LinkRequest(std::vector<char>& buf, uint16_t type, uint16_t flags, int ifindex);

}  // namespace vnet
