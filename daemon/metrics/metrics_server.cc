#include "daemon/metrics/metrics_server.h"

#include <exception>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vnet::metrics {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics_address '", address, "' is not HOST:PORT"));
  }
  std::unique_ptr<MetricsServer> self(new MetricsServer());
  try {
    // civetweb serves one connection per thread, and a client that connects and sends
    // nothing holds its thread until the request timeout: enough threads that a handful of
    // slow clients leave room for Prometheus, and a timeout that frees them.
    self->exposer_ = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", address, "num_threads", absl::StrCat(kThreads), "request_timeout_ms",
        absl::StrCat(absl::ToInt64Milliseconds(kRequestTimeout))});
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  const std::vector<int> ports = self->exposer_->GetListeningPorts();
  self->port_ = ports.empty() ? port : ports.front();
  self->address_ = absl::StrCat(address.substr(0, colon), ":", self->port_);
  self->collectables_ = std::move(collectables);
  for (const auto& c : self->collectables_) self->exposer_->RegisterCollectable(c);
  return self;
}

MetricsServer::~MetricsServer() {
  // Stop serving before the collectables (and what they read) go away.
  exposer_.reset();
}

}  // namespace vnet::metrics
