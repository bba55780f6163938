#include "daemon/dataplane/bpffs.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace vnet {

absl::Status EnsureBpffsMounted() {
  struct statfs fs {};
  if (statfs(kBpffsRoot, &fs) == 0 && fs.f_type == BPF_FS_MAGIC) return absl::OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(kBpffsRoot, ec);
  if (mount("bpf", kBpffsRoot, "bpf", 0, "mode=0700") != 0 && errno != EBUSY)
    return absl::ErrnoToStatus(errno, absl::StrCat("mount bpf on ", kBpffsRoot));
  if (statfs(kBpffsRoot, &fs) != 0 || fs.f_type != BPF_FS_MAGIC)
    return absl::FailedPreconditionError(absl::StrCat(kBpffsRoot, " is not a BPF filesystem"));
  return absl::OkStatus();
}

absl::Status MakePinDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status RemovePinDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    return absl::InternalError(absl::StrCat("remove ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace vnet
