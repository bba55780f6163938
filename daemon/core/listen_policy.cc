#include "daemon/core/listen_policy.h"

#include <arpa/inet.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/core/echo.h"

namespace vnet {

bool IsLoopbackAddress(absl::string_view host_port) {
  for (absl::string_view scheme : {"ipv4:", "ipv6:", "dns:"}) {
    if (absl::StartsWith(host_port, scheme)) host_port.remove_prefix(scheme.size());
  }
  std::string host;
  if (absl::StartsWith(host_port, "[")) {
    const size_t close = host_port.find(']');
    if (close == absl::string_view::npos) return false;
    host = std::string(host_port.substr(1, close - 1));
  } else {
    host = std::string(host_port.substr(0, host_port.rfind(':')));
  }
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

bool TlsConfigured(const v1::DaemonConfig& config) {
  const v1::TlsConfig& tls = config.tls();
  return !tls.server_cert_file().empty() || !tls.server_key_file().empty() ||
         !tls.client_ca_file().empty();
}

absl::Status ValidateListenSecurity(const v1::DaemonConfig& config) {
  if (!config.tcp_insecure_role().empty() && config.tcp_insecure_role() != "reader" &&
      config.tcp_insecure_role() != "operator" && config.tcp_insecure_role() != "admin") {
    return absl::InvalidArgumentError(absl::StrCat("tcp_insecure_role: '",
                                                   Echo(config.tcp_insecure_role()),
                                                   "' is not reader, operator or admin"));
  }
  if (TlsConfigured(config)) {
    const v1::TlsConfig& tls = config.tls();
    if (tls.server_cert_file().empty() || tls.server_key_file().empty() ||
        tls.client_ca_file().empty()) {
      return absl::InvalidArgumentError(
          "tls: server_cert_file, server_key_file and client_ca_file are all needed (clients "
          "must present a certificate signed by client_ca_file)");
    }
    if (config.tcp_insecure_loopback()) {
      return absl::InvalidArgumentError("tcp_insecure_loopback and tls exclude each other");
    }
    return absl::OkStatus();
  }
  if (config.tcp_address().empty()) return absl::OkStatus();
  if (!config.tcp_insecure_loopback()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tcp_address ", Echo(config.tcp_address()),
        ": TCP without TLS is refused; configure tls { server_cert_file server_key_file "
        "client_ca_file } (docs/operations.md, \"Access control\"), or, on a loopback address "
        "only, set tcp_insecure_loopback: true"));
  }
  if (!IsLoopbackAddress(config.tcp_address())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tcp_address ", Echo(config.tcp_address()),
        ": tcp_insecure_loopback allows plain TCP on a loopback address only (127.0.0.0/8, "
        "::1, localhost); anything else needs tls"));
  }
  return absl::OkStatus();
}

}  // namespace vnet
