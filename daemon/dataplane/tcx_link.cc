#include "daemon/dataplane/tcx_link.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace vnet {
namespace {

// From the kernel's uapi (linux/bpf.h of 6.6+); stable ABI values.
constexpr auto kTcxIngress = static_cast<bpf_attach_type>(46);  // BPF_TCX_INGRESS
constexpr uint32_t kLinkTypeTcx = 11;                           // BPF_LINK_TYPE_TCX
constexpr uint32_t kFlagBefore = 1U << 3;                       // BPF_F_BEFORE

// The head of struct bpf_link_info as a tcx link fills it (the union starts 8-aligned).
struct TcxLinkInfo {
  uint32_t type;
  uint32_t id;
  uint32_t prog_id;
  uint32_t pad;
  uint32_t ifindex;  // 0 once the interface is gone (the link is then defunct)
  uint32_t attach_type;
};

// The tcx link pinned at `path`, or -1 with errno (ENOENT: no pin).
int OpenPinnedLink(const std::string& path) { return bpf_obj_get(path.c_str()); }

absl::StatusOr<TcxLinkInfo> LinkInfo(int fd, const std::string& path) {
  TcxLinkInfo info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("link info of ", path));
  if (info.type != kLinkTypeTcx)
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a tcx link"));
  return info;
}

}  // namespace

bool KernelHasTcx() {
  struct bpf_prog_query_opts opts {};
  opts.sz = sizeof(opts);
  return bpf_prog_query_opts(/*loopback*/ 1, kTcxIngress, &opts) == 0;
}

absl::Status TcxAttachIngress(int ifindex, int prog_fd, const std::string& pin_path) {
  if (int fd = OpenPinnedLink(pin_path); fd >= 0) {
    auto info = LinkInfo(fd, pin_path);
    if (info.ok() && static_cast<int>(info->ifindex) == ifindex) {
      // Live: swap the program in place. A failure must not add a second vnet link.
      const int err = bpf_link_update(fd, prog_fd, nullptr);
      close(fd);
      if (err != 0) return absl::ErrnoToStatus(-err, absl::StrCat("tcx update ", pin_path));
      return absl::OkStatus();
    }
    bpf_link_detach(fd);  // defunct (its interface went away) or not a tcx link of ours
    close(fd);
  }
  unlink(pin_path.c_str());
  bpf_link_create_opts opts{};
  opts.sz = sizeof(opts);
  opts.flags = kFlagBefore;  // no relative program: the front of the list
  const int fd = bpf_link_create(prog_fd, ifindex, kTcxIngress, &opts);
  if (fd < 0) return absl::ErrnoToStatus(-fd, absl::StrCat("tcx attach on ifindex ", ifindex));
  if (int err = bpf_obj_pin(fd, pin_path.c_str()); err != 0) {
    bpf_link_detach(fd);  // an unpinned link would vanish with vnetd: never leave one
    close(fd);
    return absl::ErrnoToStatus(-err, absl::StrCat("pin ", pin_path));
  }
  close(fd);
  return absl::OkStatus();
}

absl::Status TcxDetach(const std::string& pin_path) {
  const int fd = OpenPinnedLink(pin_path);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("open ", pin_path));
  }
  // Detaching works while other holders keep the link open; ENOLINK: already defunct.
  const int err = bpf_link_detach(fd);
  close(fd);
  if (err != 0 && err != -ENOLINK)
    return absl::ErrnoToStatus(-err, absl::StrCat("tcx detach ", pin_path));
  if (unlink(pin_path.c_str()) != 0 && errno != ENOENT)
    return absl::ErrnoToStatus(errno, absl::StrCat("unpin ", pin_path));
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> TcxQuery(const std::string& pin_path) {
  const int fd = OpenPinnedLink(pin_path);
  if (fd < 0) {
    if (errno == ENOENT) return 0u;
    return absl::ErrnoToStatus(errno, absl::StrCat("open ", pin_path));
  }
  auto info = LinkInfo(fd, pin_path);
  close(fd);
  if (!info.ok()) return info.status();
  return info->ifindex != 0 ? info->prog_id : 0u;
}

}  // namespace vnet
