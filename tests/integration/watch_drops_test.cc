// WatchDrops end to end: the real DropEventHub and MonitorService behind a real gRPC server
// (callback API) on a Unix socket, read by the generated client. The hub wakes a watcher's
// stream when an event arrives: no polling timer between publish and send, and no wake-ups
// while nothing happens.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "daemon/monitor/drop_event_hub.h"
#include "daemon/service/monitor_service.h"
#include "tests/integration/process.h"
#include "tests/integration/temp_dir.h"
#include "vnet/v1/monitor.grpc.pb.h"

namespace vnet {
namespace {

using testing::TempDir;
using testing::WaitFor;

vnet_drop_event Event(uint32_t context_id) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  vnet_drop_event ev{};
  ev.timestamp_ns = static_cast<uint64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  ev.ctx_id = context_id;
  ev.direction = VNET_DIR_RX;
  ev.reason = VNET_DROP_SPOOF_MAC;
  ev.frame_len = 60;
  return ev;
}

// One client stream.
struct Watch {
  grpc::ClientContext call;
  std::unique_ptr<grpc::ClientReader<v1::DropEvent>> reader;
};

class WatchDropsTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }
  void TearDown() override { Stop(); }

  void Start(monitor::DropEventHub::Options options) {
    hub_ = std::make_unique<monitor::DropEventHub>(options, nullptr);
    service_ = std::make_unique<MonitorServiceImpl>(hub_.get());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + dir_ / "monitor.sock", grpc::InsecureServerCredentials());
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::MonitorService::NewStub(
        grpc::CreateChannel("unix:" + dir_ / "monitor.sock", grpc::InsecureChannelCredentials()));
  }
  void Stop() {
    if (!server_) return;
    hub_->Close();
    server_->Shutdown();
    server_->Wait();
    server_.reset();
    stub_.reset();
    service_.reset();
    hub_.reset();
  }

  std::unique_ptr<Watch> Open(const v1::WatchDropsRequest& req = {},
                              absl::Duration deadline = absl::InfiniteDuration()) {
    auto watch = std::make_unique<Watch>();
    if (deadline != absl::InfiniteDuration()) {
      watch->call.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    }
    watch->reader = stub_->WatchDrops(&watch->call, req);
    return watch;
  }
  bool WatchersAre(size_t n) {
    return WaitFor([&] { return hub_->counters().watchers == n; }, absl::Seconds(5));
  }

  TempDir dir_;
  std::unique_ptr<monitor::DropEventHub> hub_;
  std::unique_ptr<MonitorServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::MonitorService::Stub> stub_;
};

// An event reaches an idle watcher at once, not at its next poll (it was up to 20 ms).
TEST_F(WatchDropsTest, EventReachesAnIdleWatcherAtOnce) {
  auto watch = Open();
  ASSERT_TRUE(WatchersAre(1));
  std::vector<absl::Duration> latencies;
  for (uint32_t i = 1; i <= 30; ++i) {
    absl::SleepFor(absl::Milliseconds(25));  // the watcher is asleep again
    const absl::Time published = absl::Now();
    hub_->Publish(Event(i));
    v1::DropEvent got;
    ASSERT_TRUE(watch->reader->Read(&got));
    latencies.push_back(absl::Now() - published);
    EXPECT_EQ(got.context_id(), i);
    EXPECT_EQ(got.reason(), "spoof_mac");
  }
  std::sort(latencies.begin(), latencies.end());
  const absl::Duration median = latencies[latencies.size() / 2];
  double load[3] = {};
  getloadavg(load, 3);
  std::printf("publish -> receive over %zu events: min %s median %s max %s (load %.2f)\n",
              latencies.size(), absl::FormatDuration(latencies.front()).c_str(),
              absl::FormatDuration(median).c_str(), absl::FormatDuration(latencies.back()).c_str(),
              load[0]);
  // A poll every 20 ms puts the median near 10 ms; a wake-up puts it near the transport's
  // own latency.
  EXPECT_LT(median, absl::Milliseconds(5));
  watch->call.TryCancel();
}

// Watchers that get no events cost no wake-ups (a 20 ms poll was 50 a second each).
TEST_F(WatchDropsTest, IdleWatchersCauseNoWakeups) {
  std::vector<std::unique_ptr<Watch>> watches;
  watches.reserve(4);
  for (int i = 0; i < 4; ++i) watches.push_back(Open());
  ASSERT_TRUE(WatchersAre(4));
  absl::SleepFor(absl::Milliseconds(100));  // all asleep
  const uint64_t before = service_->looks();
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(service_->looks() - before, 0u);
  // One event (no filter: for all four) wakes each of them.
  hub_->Publish(Event(7));
  for (auto& w : watches) {
    v1::DropEvent got;
    ASSERT_TRUE(w->reader->Read(&got));
    EXPECT_EQ(got.context_id(), 7u);
  }
  for (auto& w : watches) w->call.TryCancel();
}

// A watcher that does not read loses events, counted, and vnetd holds no more for it than
// its queue (plus what the transport took); everything published is accounted for.
TEST_F(WatchDropsTest, SlowWatcherStaysBoundedAndIsToldWhatItLost) {
  Stop();
  monitor::DropEventHub::Options small;
  small.queue_capacity = 16;
  Start(small);
  auto watch = Open();
  ASSERT_TRUE(WatchersAre(1));
  constexpr uint64_t kBurst = 20000;
  for (uint64_t i = 0; i < kBurst; ++i) hub_->Publish(Event(1));
  absl::SleepFor(absl::Milliseconds(300));  // the stream wrote what it could
  const monitor::HubCounters counters = hub_->counters();
  EXPECT_EQ(counters.delivered + counters.watcher_drops, kBurst);
  EXPECT_GT(counters.watcher_drops, 0u);
  // Read everything, then one marker event that finds the queue empty again.
  uint64_t received = 0;
  uint64_t lost = 0;
  bool marker = false;
  std::thread publisher([&] {
    absl::SleepFor(absl::Milliseconds(500));
    hub_->Publish(Event(2));
  });
  v1::DropEvent got;
  while (!marker && watch->reader->Read(&got)) {
    marker = got.context_id() == 2;
    ++received;
    lost += got.lost_before();
  }
  publisher.join();
  ASSERT_TRUE(marker);
  EXPECT_EQ(received + lost, kBurst + 1);
  EXPECT_EQ(lost, hub_->counters().watcher_drops);
  watch->call.TryCancel();
}

// Cancelling a watch ends it at once (no timer to wait for) and unsubscribes it.
TEST_F(WatchDropsTest, CancelledWatchIsFreedAtOnce) {
  auto watch = Open();
  ASSERT_TRUE(WatchersAre(1));
  absl::SleepFor(absl::Milliseconds(50));
  const absl::Time start = absl::Now();
  watch->call.TryCancel();
  v1::DropEvent got;
  EXPECT_FALSE(watch->reader->Read(&got));
  EXPECT_EQ(watch->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WatchersAre(0));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

// The caller's deadline and max_duration end an idle watch on time, each by its one timer.
TEST_F(WatchDropsTest, DeadlineAndMaxDurationEndAnIdleWatch) {
  const absl::Time start = absl::Now();
  auto by_deadline = Open({}, absl::Milliseconds(300));
  v1::WatchDropsRequest req;
  req.mutable_max_duration()->set_nanos(200000000);
  auto by_duration = Open(req);
  v1::DropEvent got;
  EXPECT_FALSE(by_duration->reader->Read(&got));
  EXPECT_TRUE(by_duration->reader->Finish().ok());
  EXPECT_FALSE(by_deadline->reader->Read(&got));
  EXPECT_EQ(by_deadline->reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_TRUE(WatchersAre(0));
}

// Closing the hub (vnetd stopping) ends a sleeping watch at once.
TEST_F(WatchDropsTest, ClosingTheHubEndsASleepingWatch) {
  auto watch = Open();
  ASSERT_TRUE(WatchersAre(1));
  absl::SleepFor(absl::Milliseconds(50));
  hub_->Close();
  v1::DropEvent got;
  EXPECT_FALSE(watch->reader->Read(&got));
  EXPECT_EQ(watch->reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace vnet
