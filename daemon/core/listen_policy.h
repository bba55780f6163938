// When vnetd may listen on TCP: with mutual TLS, or without TLS only when the config
// explicitly allows it and the address is loopback.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "vnet/v1/daemon.pb.h"

namespace vnet {

// "127.0.0.1:50051", "[::1]:50051", "localhost:50051" (also with an ipv4:/ipv6: scheme).
bool IsLoopbackAddress(absl::string_view host_port);

// True when any TLS file is configured (then all three must be).
bool TlsConfigured(const v1::DaemonConfig& config);

absl::Status ValidateListenSecurity(const v1::DaemonConfig& config);

}  // namespace vnet
