#include "daemon/dataplane/cls_bpf_filter.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vnet {
namespace {

bpf_tc_hook IngressHook(int ifindex) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_INGRESS;
  return hook;
}

bpf_tc_opts VnetSlot(int prog_fd, uint32_t flags) {
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = kTcHandle;
  opts.priority = kTcPriority;
  opts.prog_fd = prog_fd;
  opts.flags = flags;
  return opts;
}

bool Gone(int err) { return err == -ENOENT || err == -ENODEV || err == -EINVAL; }

// Whether program `id` is one of vnet's (every vnet program is named vnet_*). Reading a
// program by id needs CAP_SYS_ADMIN, which the systemd unit does not grant; without it the
// slot itself (vnet's handle and priority, which no other tool picks by accident) is taken
// as the proof. Found by the package upgrade test: a 0.1.0 filter left in vnet's slot made
// the restarted 0.2.0 vnetd refuse to start.
bool IsVnetProgram(uint32_t id) {
  const int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) return errno == EPERM;
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  const bool ours = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
                    absl::StartsWith(static_cast<const char*>(info.name), "vnet_");
  close(fd);
  return ours;
}

}  // namespace

absl::Status ClsBpfAttachIngress(int ifindex, int prog_fd) {
  bpf_tc_hook hook = IngressHook(ifindex);
  int err = bpf_tc_hook_create(&hook);
  if (err && err != -EEXIST)
    return absl::ErrnoToStatus(-err, absl::StrCat("clsact on ifindex ", ifindex));
  bpf_tc_opts opts = VnetSlot(prog_fd, BPF_TC_F_REPLACE);
  err = bpf_tc_attach(&hook, &opts);
  if (err) return absl::ErrnoToStatus(-err, absl::StrCat("tc attach on ifindex ", ifindex));
  return absl::OkStatus();
}

absl::Status ClsBpfDetachIngress(int ifindex) {
  auto id = ClsBpfQueryIngress(ifindex);
  if (!id.ok()) return id.status();
  if (*id == 0) return absl::OkStatus();
  if (!IsVnetProgram(*id))
    return absl::FailedPreconditionError(absl::StrCat(
        "ifindex ", ifindex, ": the filter in vnet's slot runs another tool's program ", *id));
  bpf_tc_hook hook = IngressHook(ifindex);
  bpf_tc_opts opts = VnetSlot(0, 0);
  const int err = bpf_tc_detach(&hook, &opts);
  if (err && !Gone(err))
    return absl::ErrnoToStatus(-err, absl::StrCat("tc detach on ifindex ", ifindex));
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> ClsBpfQueryIngress(int ifindex) {
  bpf_tc_hook hook = IngressHook(ifindex);
  bpf_tc_opts opts = VnetSlot(0, 0);
  const int err = bpf_tc_query(&hook, &opts);
  if (Gone(err)) return 0u;
  if (err) return absl::ErrnoToStatus(-err, absl::StrCat("tc query on ifindex ", ifindex));
  return opts.prog_id;
}

}  // namespace vnet
