// The /metrics endpoint: prometheus-cpp's Exposer on one address (loopback by default;
// vnetd's config field metrics_address, empty disables it). Collectables are read when
// Prometheus scrapes, on the exposer's threads.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vnet::metrics {

class MetricsServer {
 public:
  // Worker threads (one per connection being served) and how long a connection may take to
  // send its request before it is dropped.
  static constexpr int kThreads = 16;
  static constexpr absl::Duration kRequestTimeout = absl::Seconds(5);

  // Listens on `address` ("127.0.0.1:9464"; port 0 picks a free one) and serves
  // `collectables` at /metrics. The server holds them for its lifetime. UNAVAILABLE when
  // the address cannot be bound, INVALID_ARGUMENT when it has no port.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address,
      std::vector<std::shared_ptr<prometheus::Collectable>> collectables);
  ~MetricsServer();

  // The bound port (useful after asking for port 0).
  int port() const { return port_; }
  // "host:port" actually listened on.
  const std::string& address() const { return address_; }

 private:
  MetricsServer() = default;

  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
  std::string address_;
};

}  // namespace vnet::metrics
