#include "daemon/dataplane/tc_attach.h"

#include <bpf/libbpf.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace vnet {
namespace {

bpf_tc_hook Hook(int ifindex, bpf_tc_attach_point where) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = where;
  return hook;
}

bpf_tc_opts Opts(int prog_fd, uint32_t flags) {
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = kTcHandle;
  opts.priority = kTcPriority;
  opts.prog_fd = prog_fd;
  opts.flags = flags;
  return opts;
}

bool Gone(int err) { return err == -ENOENT || err == -ENODEV || err == -EINVAL; }

}  // namespace

absl::Status TcAttachIngress(int ifindex, int prog_fd) {
  bpf_tc_hook hook = Hook(ifindex, BPF_TC_INGRESS);
  int err = bpf_tc_hook_create(&hook);
  if (err && err != -EEXIST)
    return absl::ErrnoToStatus(-err, absl::StrCat("clsact on ifindex ", ifindex));
  bpf_tc_opts opts = Opts(prog_fd, BPF_TC_F_REPLACE);
  err = bpf_tc_attach(&hook, &opts);
  if (err) return absl::ErrnoToStatus(-err, absl::StrCat("tc attach on ifindex ", ifindex));
  return absl::OkStatus();
}

absl::Status TcDetachIngress(int ifindex, bool remove_clsact) {
  bpf_tc_hook hook = Hook(ifindex, BPF_TC_INGRESS);
  bpf_tc_opts opts = Opts(0, 0);
  int err = bpf_tc_detach(&hook, &opts);
  if (err && !Gone(err))
    return absl::ErrnoToStatus(-err, absl::StrCat("tc detach on ifindex ", ifindex));
  if (remove_clsact) {
    hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
    err = bpf_tc_hook_destroy(&hook);
    if (err && !Gone(err))
      return absl::ErrnoToStatus(-err, absl::StrCat("clsact removal on ifindex ", ifindex));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> TcQueryIngress(int ifindex) {
  bpf_tc_hook hook = Hook(ifindex, BPF_TC_INGRESS);
  bpf_tc_opts opts = Opts(0, 0);
  int err = bpf_tc_query(&hook, &opts);
  if (err == -ENOENT || err == -EINVAL) return 0u;
  if (err) return absl::ErrnoToStatus(-err, absl::StrCat("tc query on ifindex ", ifindex));
  return opts.prog_id;
}

}  // namespace vnet
