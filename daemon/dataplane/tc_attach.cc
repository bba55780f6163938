#include "daemon/dataplane/tc_attach.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/dataplane/bpffs.h"
#include "daemon/dataplane/cls_bpf_filter.h"
#include "daemon/dataplane/tcx_link.h"

namespace vnet {
namespace {

constexpr char kLinkPrefix[] = "tcx_ingress_";

absl::Status FirstError(const absl::Status& a, const absl::Status& b) { return a.ok() ? b : a; }

}  // namespace

absl::StatusOr<TcAttachMode> ParseTcAttachMode(absl::string_view name) {
  if (name == "auto" || name.empty()) return TcAttachMode::kAuto;
  if (name == "tcx") return TcAttachMode::kTcx;
  if (name == "cls_bpf") return TcAttachMode::kClsBpf;
  return absl::InvalidArgumentError(
      absl::StrCat("tc_attach: '", name, "' is not auto, tcx or cls_bpf"));
}

absl::string_view TcAttachModeName(TcAttachMode mode) {
  switch (mode) {
    case TcAttachMode::kTcx:
      return "tcx";
    case TcAttachMode::kClsBpf:
      return "cls_bpf";
    case TcAttachMode::kAuto:
      break;
  }
  return "auto";
}

absl::StatusOr<TcAttachMode> ResolveTcAttachMode(TcAttachMode wanted) {
  if (wanted == TcAttachMode::kClsBpf) return wanted;
  const bool tcx = KernelHasTcx();
  if (wanted == TcAttachMode::kTcx && !tcx)
    return absl::FailedPreconditionError(
        "tc_attach=tcx: this kernel has no tcx links (Linux 6.6+); use auto or cls_bpf");
  return tcx ? TcAttachMode::kTcx : TcAttachMode::kClsBpf;
}

absl::Status TcAttacher::Init(TcAttachMode wanted) {
  auto mode = ResolveTcAttachMode(wanted);
  if (!mode.ok()) return mode.status();
  mode_ = *mode;
  return MakePinDir(link_dir_);
}

std::string TcAttacher::LinkPath(int ifindex) const {
  return absl::StrCat(link_dir_, "/", kLinkPrefix, ifindex);
}

absl::Status TcAttacher::Attach(int ifindex, int prog_fd) const {
  // The new attachment first, then the old kind's: the interface is never without vnet.
  switch (mode_) {
    case TcAttachMode::kTcx:
      if (auto st = TcxAttachIngress(ifindex, prog_fd, LinkPath(ifindex)); !st.ok()) return st;
      return ClsBpfDetachIngress(ifindex);
    case TcAttachMode::kClsBpf:
      if (auto st = ClsBpfAttachIngress(ifindex, prog_fd); !st.ok()) return st;
      return TcxDetach(LinkPath(ifindex));
    case TcAttachMode::kAuto:
      break;
  }
  return absl::FailedPreconditionError("TC attachment mode not resolved (no Init)");
}

absl::Status TcAttacher::Detach(int ifindex) const {
  return FirstError(TcxDetach(LinkPath(ifindex)), ClsBpfDetachIngress(ifindex));
}

absl::Status TcAttacher::DetachAllLinks() const {
  absl::Status result;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(link_dir_, ec)) {
    if (absl::StartsWith(e.path().filename().string(), kLinkPrefix))
      result = FirstError(result, TcxDetach(e.path().string()));
  }
  return result;
}

absl::StatusOr<uint32_t> TcAttacher::Query(int ifindex) const {
  auto tcx = TcxQuery(LinkPath(ifindex));
  if (!tcx.ok() || *tcx != 0) return tcx;
  return ClsBpfQueryIngress(ifindex);
}

}  // namespace vnet
