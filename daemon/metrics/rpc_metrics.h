// RPC metrics for vnetd's gRPC server: vnet_rpc_requests_total{method,code} and
// vnet_rpc_duration_seconds{method}, recorded by a server interceptor when the status is
// sent (or as CANCELLED when a call ends without one).
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace vnet::metrics {

class RpcMetrics {
 public:
  RpcMetrics();
  RpcMetrics(const RpcMetrics&) = delete;
  RpcMetrics& operator=(const RpcMetrics&) = delete;

  // For grpc::ServerBuilder::experimental().SetInterceptorCreators(); the factory refers to
  // this object, which must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewInterceptorFactory();
  // What to register with the exposer.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  void Record(const std::string& method, grpc::StatusCode code, double seconds);

 private:
  // Clients choose method names; past this many distinct ones they are counted as "other".
  static constexpr size_t kMaxMethods = 128;
  std::string MethodLabel(const std::string& method);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* duration_;
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> methods_ ABSL_GUARDED_BY(mu_);
};

// Canonical name of a gRPC status code ("OK", "INVALID_ARGUMENT", ...).
const char* StatusCodeName(grpc::StatusCode code);

}  // namespace vnet::metrics
