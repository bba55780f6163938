// mkdir -p: creates `dir` and its missing parents with `mode`; existing ones are fine.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"

namespace vnet {

absl::Status MakeDirs(const std::string& dir, mode_t mode);

}  // namespace vnet
