// vnetctl stats/top: usage errors are caught before any call, and against a real in-process
// StatsService the table and JSON carry the counters.
#include "cli/stats_command.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>

#include "daemon/service/stats_service.h"
#include "tests/metrics/fakes.h"

namespace vnetctl {
namespace {

using vnet::metrics::ContextCounters;
using vnet::metrics::testing::FakeCounterSource;
using vnet::metrics::testing::TestRegistry;

// Runs `command` with `words`; returns its exit code and stdout.
int RunCommand(const Command& command, const std::vector<std::string>& words, Session& session,
               std::string* out) {
  std::string error;
  auto parsed = ParseArgs(words, command.options, &error);
  EXPECT_TRUE(parsed.has_value()) << error;
  if (!parsed) return -1;
  std::stringstream captured;
  std::streambuf* old = std::cout.rdbuf(captured.rdbuf());
  const int code = command.run(*parsed, session);
  std::cout.rdbuf(old);
  *out = captured.str();
  return code;
}

TEST(StatsCommandTest, UsageErrorsNeedNoServer) {
  Session nowhere("unix:/nonexistent/vnetd.sock", OutputFormat::kTable, 1);
  std::string out;
  EXPECT_EQ(RunCommand(StatsCommand(), {"--interval", "2"}, nowhere, &out), kExitUsage);
  EXPECT_EQ(RunCommand(StatsCommand(), {"--watch", "--interval", "0"}, nowhere, &out), kExitUsage);
  EXPECT_EQ(RunCommand(StatsCommand(), {"1", "2"}, nowhere, &out), kExitUsage);
  EXPECT_EQ(RunCommand(TopCommand(), {"--iterations", "0"}, nowhere, &out), kExitUsage);
  EXPECT_EQ(RunCommand(TopCommand(), {"extra"}, nowhere, &out), kExitUsage);
  Session json("unix:/nonexistent/vnetd.sock", OutputFormat::kJson, 1);
  EXPECT_EQ(RunCommand(TopCommand(), {}, json, &out), kExitUsage);
  EXPECT_EQ(RunCommand(StatsCommand(), {}, nowhere, &out), kExitRefused);  // unreachable
}

class StatsCommandServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.start_status().ok());
    id_ = registry_.AddGuest(9);
    ContextCounters c{};
    c.rx_packets = 42;
    c.tx_bytes = 4242;
    c.drops[VNET_DIR_TX][VNET_DROP_SPOOF_ARP] = 7;
    source_.Set(id_, c);
    service_ = std::make_unique<vnet::StatsServiceImpl>(registry_.get(), &source_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

  TestRegistry registry_;
  FakeCounterSource source_;
  uint32_t id_ = 0;
  int port_ = 0;
  std::unique_ptr<vnet::StatsServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(StatsCommandServerTest, TableJsonAndTop) {
  Session table(target(), OutputFormat::kTable, 5);
  std::string out;
  ASSERT_EQ(RunCommand(StatsCommand(), {"vif9.0"}, table, &out), kExitOk);
  EXPECT_NE(out.find("vif9.0"), std::string::npos) << out;
  EXPECT_NE(out.find("4242"), std::string::npos) << out;
  EXPECT_NE(out.find("spoof_arp"), std::string::npos) << out;

  Session json(target(), OutputFormat::kJson, 5);
  ASSERT_EQ(RunCommand(StatsCommand(), {std::to_string(id_)}, json, &out), kExitOk);
  EXPECT_NE(out.find("\"rx_packets\": \"42\""), std::string::npos) << out;

  EXPECT_EQ(RunCommand(StatsCommand(), {"vif99.0"}, table, &out), kExitRefused);

  ContextCounters more{};
  more.rx_packets = 42;
  more.tx_bytes = 4242 + 1000;
  source_.Set(id_, more);
  ASSERT_EQ(RunCommand(TopCommand(), {"--iterations", "1", "--interval", "0.1"}, table, &out),
            kExitOk);
  EXPECT_NE(out.find("vif9.0"), std::string::npos) << out;
  EXPECT_NE(out.find("bit/s"), std::string::npos) << out;  // a rate, not "-"
}

}  // namespace
}  // namespace vnetctl
