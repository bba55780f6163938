#include "daemon/core/uplink_policy.h"

#include <fnmatch.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/core/echo.h"

namespace vnet {

absl::Status CheckUplinkAllowed(const v1::DaemonConfig& config, absl::string_view interface_name) {
  if (interface_name.empty()) return absl::OkStatus();
  const std::string name(interface_name);
  if (config.allowed_uplinks().empty()) {
    if (!config.uplink().empty() && name == config.uplink()) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat(
        "uplink ", Echo(interface_name), " is not allowed: the config has no allowed_uplinks",
        config.uplink().empty() ? std::string()
                                : absl::StrCat(", so only its uplink ", config.uplink(), " is")));
  }
  for (const std::string& pattern : config.allowed_uplinks()) {
    if (fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat("uplink ", Echo(interface_name),
                                                  " is not allowed: allowed_uplinks is ",
                                                  absl::StrJoin(config.allowed_uplinks(), ", ")));
}

}  // namespace vnet
