// Where a vnet TC program goes on an interface's ingress, and how it leaves without
// disturbing anything vnet did not attach: a pinned tcx link where the kernel has tcx
// (6.6+, tcx_link.h), else a cls_bpf filter in vnet's own slot (cls_bpf_filter.h).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vnet {

enum class TcAttachMode { kAuto, kTcx, kClsBpf };

// "auto", "tcx" or "cls_bpf".
absl::StatusOr<TcAttachMode> ParseTcAttachMode(absl::string_view name);
absl::string_view TcAttachModeName(TcAttachMode mode);
// Probes the kernel: auto becomes tcx where the kernel has it, cls_bpf otherwise; tcx asked
// for on a kernel without it is an error that says so.
absl::StatusOr<TcAttachMode> ResolveTcAttachMode(TcAttachMode wanted);

class TcAttacher {
 public:
  // tcx links are pinned under `link_dir` (one per interface, named by ifindex).
  explicit TcAttacher(std::string link_dir) : link_dir_(std::move(link_dir)) {}

  // Resolves the mode (see ResolveTcAttachMode) and makes the link directory.
  absl::Status Init(TcAttachMode wanted);
  TcAttachMode mode() const { return mode_; }

  // Attaches or atomically replaces vnet's program on the ingress of `ifindex`, then removes
  // vnet's attachment of the other kind if an earlier run left one (a switch of mode).
  absl::Status Attach(int ifindex, int prog_fd) const;
  // Removes vnet's attachments of either kind from `ifindex`, nothing else. Works before
  // Init. Missing attachment or interface is success.
  absl::Status Detach(int ifindex) const;
  // Detaches every tcx link pinned under the link directory (those of interfaces vnet no
  // longer knows included).
  absl::Status DetachAllLinks() const;
  // The id of vnet's program on the ingress of `ifindex` (either kind), 0 when none.
  absl::StatusOr<uint32_t> Query(int ifindex) const;

  std::string LinkPath(int ifindex) const;

 private:
  const std::string link_dir_;
  TcAttachMode mode_ = TcAttachMode::kAuto;  // resolved by Init
};

}  // namespace vnet
