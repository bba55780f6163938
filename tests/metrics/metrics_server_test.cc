// The /metrics endpoint scraped for real: HTTP GET over a loopback TCP socket.
#include "daemon/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "absl/time/clock.h"
#include "daemon/metrics/context_collector.h"
#include "daemon/metrics/daemon_collector.h"
#include "daemon/metrics/rpc_metrics.h"
#include "tests/metrics/fakes.h"

namespace vnet::metrics {
namespace {

using testing::FakeCounterSource;
using ::testing::HasSubstr;
using testing::TestRegistry;

// The whole response (status line, headers, body) of GET `path` on 127.0.0.1:port.
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) response.append(buf, n);
    }
  }
  close(fd);
  return response;
}

TEST(MetricsServerTest, ServesCollectablesOverHttp) {
  TestRegistry registry;
  ASSERT_TRUE(registry.start_status().ok());
  const uint32_t id = registry.AddGuest(5);
  FakeCounterSource source;
  ContextCounters c{};
  c.rx_bytes = 123456;
  source.Set(id, c);
  RpcMetrics rpc;
  rpc.Record("/vnet.v1.DaemonService/GetStatus", grpc::StatusCode::OK, 0.001);

  auto server = MetricsServer::Start(
      "127.0.0.1:0", {std::make_shared<ContextCollector>(ViewOf(registry.get()), &source),
                      std::make_shared<DaemonCollector>(ViewOf(registry.get()), nullptr, nullptr),
                      rpc.registry()});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  EXPECT_EQ((*server)->address(), "127.0.0.1:" + std::to_string((*server)->port()));

  std::string response = HttpGet((*server)->port(), "/metrics");
  EXPECT_THAT(response, HasSubstr("200 OK"));
  EXPECT_THAT(response, HasSubstr("vnet_context_rx_bytes_total{context=\"" + std::to_string(id) +
                                  "\",domain=\"5\",interface=\"vif5.0\"} 123456"));
  EXPECT_THAT(response, HasSubstr("vnet_contexts_in_use 1"));
  EXPECT_THAT(response, HasSubstr("vnet_rpc_requests_total{code=\"OK\",method=\"/vnet.v1."
                                  "DaemonService/GetStatus\"} 1"));

  // Read at scrape time: a change shows on the next GET without anything polling.
  c.rx_bytes = 200000;
  source.Set(id, c);
  EXPECT_THAT(HttpGet((*server)->port(), "/metrics"), HasSubstr("interface=\"vif5.0\"} 200000"));
  ASSERT_TRUE(registry.RemoveGuest(id).ok());
  EXPECT_THAT(HttpGet((*server)->port(), "/metrics"),
              ::testing::Not(HasSubstr("interface=\"vif5.0\"")));
}

// Ten clients that connect and send nothing (or half a request) do not
// keep Prometheus from scraping; civetweb ran two threads, both held by such clients.
TEST(MetricsServerTest, SlowClientsDoNotBlockScrapes) {
  RpcMetrics rpc;
  rpc.Record("/vnet.v1.DaemonService/GetStatus", grpc::StatusCode::OK, 0.001);
  auto server = MetricsServer::Start("127.0.0.1:0", {rpc.registry()});
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<int> slow;
  for (int i = 0; i < 10; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>((*server)->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string half = "GET /metrics HTTP/1.1\r\nHost: x\r\n";  // never finished
    if (i % 2 == 0) {
      ASSERT_EQ(write(fd, half.data(), half.size()), static_cast<ssize_t>(half.size()));
    }
    slow.push_back(fd);
  }
  absl::SleepFor(absl::Milliseconds(200));  // let the server pick them up
  const absl::Time start = absl::Now();
  const std::string response = HttpGet((*server)->port(), "/metrics");
  EXPECT_THAT(response, HasSubstr("200 OK"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  for (int fd : slow) close(fd);
}

TEST(MetricsServerTest, BusyPortAndBadAddressAreErrors) {
  auto first = MetricsServer::Start("127.0.0.1:0", {});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = MetricsServer::Start("127.0.0.1:" + std::to_string((*first)->port()), {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(MetricsServer::Start("localhost", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vnet::metrics
