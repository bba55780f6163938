// vnetd's configuration: embedded defaults, then the config file (protobuf text format),
// then command-line flags (applied by the caller).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "vnet/v1/daemon.pb.h"

namespace vnet {

inline constexpr char kDefaultConfigPath[] = "/etc/vnet/vnetd.conf";

v1::DaemonConfig DefaultConfig();

// Reads `path` over the defaults. A missing file is fine only when `required` is false
// (the default path on a machine with no config); a malformed one is always an error.
absl::StatusOr<v1::DaemonConfig> LoadConfig(const std::string& path, bool required);

// Checks the merged result (capacity bounds, absolute paths).
absl::Status ValidateConfig(const v1::DaemonConfig& config);

}  // namespace vnet
