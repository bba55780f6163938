// vnetd's process: config in, registry and services up, listeners open, clean shutdown.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "vnet/v1/daemon.pb.h"

namespace vnet {

struct DaemonOptions {
  v1::DaemonConfig config;
  std::string fast_path = "none";  // "none" until the BPF data plane is configured
};

// Runs until SIGTERM or SIGINT; then finishes in-flight calls, persists and returns OK.
// Returns an error (already logged) when the daemon cannot start.
absl::Status RunDaemon(const DaemonOptions& options);

}  // namespace vnet
