// The RPC interceptor and the StatsService through a real gRPC server in this process.
#include "daemon/metrics/rpc_metrics.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>

#include "absl/time/clock.h"
#include "daemon/service/stats_service.h"
#include "google/protobuf/util/time_util.h"
#include "tests/metrics/fakes.h"
#include "vnet/v1/stats.grpc.pb.h"

namespace vnet::metrics {
namespace {

using testing::FakeCounterSource;
using testing::TestRegistry;

constexpr char kMethod[] = "/vnet.v1.StatsService/GetContextStats";

class RpcTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(registry_.start_status().ok()); }
  void StartServer(const CounterSource* source) {
    service_ = std::make_unique<StatsServiceImpl>(registry_.get(), source);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(rpc_.NewInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(f));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::StatsService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  grpc::Status Get(const v1::GetContextStatsRequest& req, v1::GetContextStatsResponse* resp) {
    grpc::ClientContext call;
    return stub_->GetContextStats(&call, req, resp);
  }
  // Sample value by "labels" for one family of the RPC registry.
  std::map<std::string, prometheus::ClientMetric> Family(const std::string& name) {
    std::map<std::string, prometheus::ClientMetric> out;
    for (const auto& f : rpc_.registry()->Collect()) {
      if (f.name != name) continue;
      for (const auto& m : f.metric) {
        std::string key;
        for (const auto& l : m.label) key += (key.empty() ? "" : ",") + l.name + "=" + l.value;
        out[key] = m;
      }
    }
    return out;
  }

  TestRegistry registry_;
  FakeCounterSource source_;
  RpcMetrics rpc_;
  std::unique_ptr<StatsServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::StatsService::Stub> stub_;
};

TEST_F(RpcTest, InterceptorCountsCallsByMethodAndCodeWithLatency) {
  StartServer(&source_);
  v1::GetContextStatsResponse resp;
  ASSERT_TRUE(Get({}, &resp).ok());
  ASSERT_TRUE(Get({}, &resp).ok());
  v1::GetContextStatsRequest missing;
  missing.mutable_ref()->set_id(99);
  EXPECT_EQ(Get(missing, &resp).error_code(), grpc::StatusCode::NOT_FOUND);

  auto requests = Family("vnet_rpc_requests_total");
  EXPECT_EQ(requests[std::string("code=OK,method=") + kMethod].counter.value, 2);
  EXPECT_EQ(requests[std::string("code=NOT_FOUND,method=") + kMethod].counter.value, 1);
  auto duration = Family("vnet_rpc_duration_seconds");
  const auto& h = duration[std::string("method=") + kMethod].histogram;
  EXPECT_EQ(h.sample_count, 3u);
  EXPECT_GT(h.sample_sum, 0);
  ASSERT_FALSE(h.bucket.empty());
  EXPECT_EQ(h.bucket.back().cumulative_count, 3u);  // +Inf holds every call
}

TEST_F(RpcTest, MethodLabelsAreBounded) {
  for (int i = 0; i < 200; ++i) rpc_.Record("/x/m" + std::to_string(i), grpc::StatusCode::OK, 0);
  auto requests = Family("vnet_rpc_requests_total");
  EXPECT_LE(requests.size(), 129u);
  EXPECT_EQ(requests["code=OK,method=other"].counter.value, 200 - 128);
}

TEST_F(RpcTest, StatsServiceReportsEveryContextOrOne) {
  const uint32_t a = registry_.AddGuest(1);
  const uint32_t b = registry_.AddGuest(2);
  ContextCounters c{};
  c.rx_packets = 5;
  c.tx_bytes = 700;
  c.drops[VNET_DIR_TX][VNET_DROP_SPOOF_MAC] = 2;
  c.tx_gso_segments = 9;
  c.rx_csum_completed = 3;
  source_.Set(b, c);
  StartServer(&source_);

  v1::GetContextStatsResponse all;
  ASSERT_TRUE(Get({}, &all).ok());
  ASSERT_EQ(all.contexts_size(), 2);
  EXPECT_EQ(all.contexts(0).context_id(), a);
  EXPECT_TRUE(all.has_read_time());
  // Sub-second resolution: vnetctl's rates over short intervals depend on it.
  v1::GetContextStatsResponse later;
  absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(Get({}, &later).ok());
  const int64_t elapsed_us =
      google::protobuf::util::TimeUtil::DurationToMicroseconds(later.read_time() - all.read_time());
  EXPECT_GE(elapsed_us, 20000);
  EXPECT_LT(elapsed_us, 5000000);

  v1::GetContextStatsRequest one;
  one.mutable_ref()->set_interface_name("vif2.0");
  v1::GetContextStatsResponse resp;
  ASSERT_TRUE(Get(one, &resp).ok());
  ASSERT_EQ(resp.contexts_size(), 1);
  const v1::ContextStats& s = resp.contexts(0);
  EXPECT_EQ(s.context_id(), b);
  EXPECT_EQ(s.domain_id(), 2u);
  EXPECT_EQ(s.rx_packets(), 5u);
  EXPECT_EQ(s.tx_bytes(), 700u);
  EXPECT_EQ(s.tx_gso_segments(), 9u);
  EXPECT_EQ(s.rx_gso_segments(), 0u);
  EXPECT_EQ(s.rx_csum_completed(), 3u);
  ASSERT_EQ(s.drops_size(), 1);  // non-zero entries only
  EXPECT_EQ(s.drops(0).direction(), "tx");
  EXPECT_EQ(s.drops(0).reason(), "spoof_mac");
  EXPECT_EQ(s.drops(0).packets(), 2u);

  source_.Fail(b);
  EXPECT_EQ(Get(one, &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(RpcTest, StatsServiceWithoutFastPathRefuses) {
  StartServer(nullptr);
  v1::GetContextStatsResponse resp;
  EXPECT_EQ(Get({}, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(
      Family("vnet_rpc_requests_total")[std::string("code=FAILED_PRECONDITION,method=") + kMethod]
          .counter.value,
      1);
}

}  // namespace
}  // namespace vnet::metrics
