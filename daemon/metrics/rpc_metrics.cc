#include "daemon/metrics/rpc_metrics.h"

#include <chrono>

namespace vnet::metrics {
namespace {

namespace gx = grpc::experimental;
using Clock = std::chrono::steady_clock;

// Local RPCs take tens of microseconds; a stuck state-file write may take seconds.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *buckets;
}

class RpcInterceptor final : public gx::Interceptor {
 public:
  RpcInterceptor(RpcMetrics* metrics, const char* method)
      : metrics_(metrics), method_(method != nullptr ? method : ""), start_(Clock::now()) {}

  // gRPC destroys the interceptor when the call is done; a call that never sent a status
  // was cancelled (client gone, deadline, server shutdown).
  ~RpcInterceptor() override {
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    metrics_->Record(method_, code, std::chrono::duration<double>(Clock::now() - start_).count());
  }

  RpcMetrics* metrics_;
  std::string method_;
  Clock::time_point start_;
  bool recorded_ = false;
};

class RpcInterceptorFactory final : public gx::ServerInterceptorFactoryInterface {
 public:
  explicit RpcInterceptorFactory(RpcMetrics* metrics) : metrics_(metrics) {}
  gx::Interceptor* CreateServerInterceptor(gx::ServerRpcInfo* info) override {
    return new RpcInterceptor(metrics_, info->method());
  }

 private:
  RpcMetrics* metrics_;
};

}  // namespace

const char* StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

RpcMetrics::RpcMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(&prometheus::BuildCounter()
                     .Name("vnet_rpc_requests_total")
                     .Help("gRPC calls handled, by full method name and status code.")
                     .Register(*registry_)),
      duration_(&prometheus::BuildHistogram()
                     .Name("vnet_rpc_duration_seconds")
                     .Help("Time from a call's start to its status, by full method name.")
                     .Register(*registry_)) {}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetrics::NewInterceptorFactory() {
  return std::make_unique<RpcInterceptorFactory>(this);
}

std::string RpcMetrics::MethodLabel(const std::string& method) {
  absl::MutexLock lock(&mu_);
  if (methods_.contains(method)) return method;
  if (methods_.size() >= kMaxMethods) return "other";
  methods_.insert(method);
  return method;
}

void RpcMetrics::Record(const std::string& method, grpc::StatusCode code, double seconds) {
  const std::string label = MethodLabel(method);
  requests_->Add({{"method", label}, {"code", StatusCodeName(code)}}).Increment();
  duration_->Add({{"method", label}}, LatencyBuckets()).Observe(seconds);
}

}  // namespace vnet::metrics
