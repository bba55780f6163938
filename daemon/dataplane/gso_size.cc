#include "daemon/dataplane/gso_size.h"

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/core/log.h"
#include "daemon/dataplane/netlink_request.h"

namespace vnet {
namespace {

// Link attributes newer than some distributions' headers (linux/if_link.h, 6.3).
constexpr uint16_t kIflaGsoMaxSize = 41;
constexpr uint16_t kIflaGroMaxSize = 58;
constexpr uint16_t kIflaTsoMaxSize = 59;
constexpr uint16_t kIflaGsoIpv4MaxSize = 63;
constexpr uint16_t kIflaGroIpv4MaxSize = 64;

// `st` with `what` in front of its message.
absl::Status Prefixed(const absl::Status& st, const char* what) {
  return st.ok() ? st : absl::Status(st.code(), absl::StrCat(what, ": ", st.message()));
}

}  // namespace

absl::StatusOr<GsoSizes> ReadGsoSizes(int ifindex) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* h = LinkRequest(buf, RTM_GETLINK, 0, ifindex);
  GsoSizes sizes;
  absl::Status st = NetlinkTransact(NETLINK_ROUTE, h, sizeof(ifinfomsg), [&](const nlattr* a) {
    if (mnl_attr_validate(a, MNL_TYPE_U32) != 0) return;
    const uint32_t v = mnl_attr_get_u32(a);
    switch (mnl_attr_get_type(a)) {
      case kIflaGsoMaxSize:
        sizes.gso_max = v;
        break;
      case kIflaGroMaxSize:
        sizes.gro_max = v;
        break;
      case kIflaTsoMaxSize:
        sizes.tso_max = v;
        break;
      case kIflaGsoIpv4MaxSize:
        sizes.gso_ipv4_max = v;
        break;
      case kIflaGroIpv4MaxSize:
        sizes.gro_ipv4_max = v;
        break;
      default:
        break;
    }
  });
  if (!st.ok()) return Prefixed(st, "read gso sizes");
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
  return Prefixed(NetlinkTransact(NETLINK_ROUTE, h, sizeof(ifinfomsg), [](const nlattr*) {}),
                  "set gso sizes");
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

void ReleaseBigTcp(int ifindex) {
  auto now = ReadGsoSizes(ifindex);
  if (!now.ok()) return;  // the interface is gone with its sizes
  if (now->gso_max <= kGsoLegacyMaxSize && now->gro_max <= kGsoLegacyMaxSize &&
      now->gso_ipv4_max <= kGsoLegacyMaxSize && now->gro_ipv4_max <= kGsoLegacyMaxSize) {
    return;
  }
  if (auto st = SetGsoSizes(ifindex, kGsoLegacyMaxSize); !st.ok()) {
    LogWarning("ifindex %d keeps its BIG TCP sizes: %s", ifindex, st.message());
  }
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
