// Which interfaces may become the uplink (SetUplink, --uplink): the config's
// allowed_uplinks glob patterns; with none, only the config's own `uplink`. Keeps the API
// from attaching the fast path to the management NIC.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "vnet/v1/daemon.pb.h"

namespace vnet {

// OK, or PERMISSION_DENIED naming the interface and what the config allows. "" (no
// uplink) is always allowed.
absl::Status CheckUplinkAllowed(const v1::DaemonConfig& config, absl::string_view interface_name);

}  // namespace vnet
