// The BPF filesystem: vnetd mounts it where the host has not (a fresh machine often hasn't).
#pragma once

#include <string>

#include "absl/status/status.h"

namespace vnet {

inline constexpr char kBpffsRoot[] = "/sys/fs/bpf";

absl::Status EnsureBpffsMounted();
// mkdir -p inside the BPF filesystem.
absl::Status MakePinDir(const std::string& dir);
// Unlinks every pin below `dir` and the directories themselves. Missing is success.
absl::Status RemovePinDir(const std::string& dir);

}  // namespace vnet
