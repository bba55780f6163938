// The buffer ledger across vnetd restarts, over the real process: regions and descriptors
// in flight come back after SIGTERM and after kill -9, and kill -9 while clients register
// and validate loses nothing that was acknowledged and completes nothing twice.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/integration/process.h"
#include "tests/integration/temp_dir.h"
#include "vnet/v1/buffer.grpc.pb.h"

namespace vnet {
namespace {

using ::testing::HasSubstr;
using testing::Process;
using testing::ReadFile;
using testing::RunCommand;
using testing::RunResult;
using testing::TempDir;
using testing::WaitFor;

constexpr uint64_t kRegionBytes = 64 * 1024;

class LedgerRestartTest : public ::testing::Test {
 protected:
  std::string socket() const { return dir_ / "vnetd.sock"; }

  std::unique_ptr<Process> StartDaemon() {
    std::ofstream(dir_ / "vnetd.conf") << "capacity: 8\n";
    auto daemon = std::make_unique<Process>(
        std::vector<std::string>{
            VNETD_PATH, "--unix_socket=" + socket(), "--state_dir=" + (dir_ / "state"),
            "--config=" + (dir_ / "vnetd.conf"), "--fast_path=none", "--metrics_address=off"},
        dir_ / "vnetd.log");
    EXPECT_TRUE(WaitFor([&] { return Ctl({"status"}).exit_code == 0 || !daemon->running(); }))
        << ReadFile(dir_ / "vnetd.log");
    stub_ = v1::BufferService::NewStub(
        grpc::CreateChannel("unix:" + socket(), grpc::InsecureChannelCredentials()));
    return daemon;
  }

  // Our idle channel would hold a graceful shutdown up to its grace period: close it first.
  int Stop(Process* daemon, int sig) {
    stub_.reset();
    return daemon->Stop(sig);
  }

  RunResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {VNETCTL_PATH, "--socket", socket()});
    return RunCommand(args);
  }

  void AssignGuest(int n) {
    RunResult r =
        Ctl({"context", "assign", "--domain", absl::StrCat(n), "--device", "0", "--interface",
             absl::StrCat("vif", n, ".0"), "--mac", absl::StrCat("00:16:3e:00:00:0", n)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  static std::unique_ptr<grpc::ClientContext> Call() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  grpc::Status Register(uint32_t context, uint64_t region_id, v1::RegionAccess access) {
    v1::RegisterRegionRequest req;
    req.set_context_id(context);
    v1::Region* r = req.mutable_region();
    r->set_region_id(region_id);
    r->set_guest_address(region_id * kRegionBytes);
    r->set_length(kRegionBytes);
    r->set_access(access);
    v1::Region resp;
    return stub_->RegisterRegion(Call().get(), req, &resp);
  }

  // The cookies of the accepted descriptors (all must be), or an error.
  grpc::Status Validate(uint32_t context, uint64_t region_id, int count,
                        std::vector<uint64_t>* cookies) {
    v1::ValidateDescriptorsRequest req;
    req.set_context_id(context);
    for (int i = 0; i < count; ++i) {
      v1::Descriptor* d = req.add_descriptors();
      d->set_guest_address(region_id * kRegionBytes + static_cast<uint64_t>(i) * 2048);
      d->set_length(1500);
      d->set_direction(v1::DESCRIPTOR_DIRECTION_TO_DEVICE);
      d->set_region_id(region_id);
    }
    v1::ValidateDescriptorsResponse resp;
    grpc::Status s = stub_->ValidateDescriptors(Call().get(), req, &resp);
    if (!s.ok()) return s;
    EXPECT_EQ(resp.accepted(), static_cast<uint32_t>(count));
    cookies->assign(resp.cookies().begin(), resp.cookies().end());
    return s;
  }

  grpc::Status Complete(uint32_t context, const std::vector<uint64_t>& cookies,
                        v1::CompleteDescriptorsResponse* resp) {
    v1::CompleteDescriptorsRequest req;
    req.set_context_id(context);
    req.mutable_cookies()->Add(cookies.begin(), cookies.end());
    return stub_->CompleteDescriptors(Call().get(), req, resp);
  }

  // Every page, merged (a context continued on the next page is appended to).
  v1::ListRegionsResponse List() {
    v1::ListRegionsRequest req;
    v1::ListRegionsResponse all;
    do {
      v1::ListRegionsResponse page;
      EXPECT_TRUE(stub_->ListRegions(Call().get(), req, &page).ok());
      for (const v1::ContextRegions& cr : page.contexts()) {
        const int n = all.contexts_size();
        if (n > 0 && all.contexts(n - 1).context_id() == cr.context_id()) {
          all.mutable_contexts(n - 1)->mutable_regions()->MergeFrom(cr.regions());
        } else {
          *all.add_contexts() = cr;
        }
      }
      req.set_page_token(page.next_page_token());
    } while (!req.page_token().empty());
    return all;
  }

  TempDir dir_;
  std::unique_ptr<v1::BufferService::Stub> stub_;
};

class LedgerRestartBySignal : public LedgerRestartTest,
                              public ::testing::WithParamInterface<int> {};

TEST_P(LedgerRestartBySignal, RegionsAndDescriptorsInFlightComeBack) {
  auto daemon = StartDaemon();
  AssignGuest(1);
  AssignGuest(2);
  ASSERT_TRUE(Register(1, 1, v1::REGION_ACCESS_READ_WRITE).ok());
  ASSERT_TRUE(Register(1, 2, v1::REGION_ACCESS_READ_ONLY).ok());
  ASSERT_TRUE(Register(2, 3, v1::REGION_ACCESS_READ_WRITE).ok());
  std::vector<uint64_t> one;
  std::vector<uint64_t> two;
  std::vector<uint64_t> done;
  ASSERT_TRUE(Validate(1, 1, 3, &one).ok());
  ASSERT_TRUE(Validate(2, 3, 2, &two).ok());
  ASSERT_TRUE(Validate(1, 2, 1, &done).ok());
  v1::CompleteDescriptorsResponse completed;
  ASSERT_TRUE(Complete(1, done, &completed).ok());
  ASSERT_EQ(completed.completed(), 1u);
  const std::string before = List().DebugString();
  ASSERT_THAT(before, HasSubstr("in_flight: 3"));

  const int sig = GetParam();
  EXPECT_EQ(Stop(daemon.get(), sig), sig == SIGKILL ? -SIGKILL : 0);
  auto restarted = StartDaemon();
  ASSERT_TRUE(restarted->running()) << ReadFile(dir_ / "vnetd.log");
  EXPECT_EQ(List().DebugString(), before);
  EXPECT_THAT(ReadFile(dir_ / "vnetd.log"),
              HasSubstr("restored 3 buffer regions and 5 descriptors in flight of 2 contexts"));
  RunResult table = Ctl({"region", "list", "1"});
  EXPECT_THAT(table.out, HasSubstr("0x10000"));

  // Each restored descriptor completes exactly once; the one completed before, never.
  ASSERT_TRUE(Complete(1, one, &completed).ok());
  EXPECT_EQ(completed.completed(), 3u);
  ASSERT_TRUE(Complete(1, one, &completed).ok());
  EXPECT_EQ(completed.completed(), 0u);
  EXPECT_EQ(completed.unknown_cookies_size(), 3);
  ASSERT_TRUE(Complete(1, done, &completed).ok());
  EXPECT_EQ(completed.completed(), 0u);
  ASSERT_TRUE(Complete(2, two, &completed).ok());
  EXPECT_EQ(completed.completed(), 2u);
  EXPECT_THAT(List().DebugString(), ::testing::Not(HasSubstr("in_flight")));

  // Releasing a context drops its regions, and that too survives a restart.
  ASSERT_EQ(Ctl({"context", "release", "2"}).exit_code, 0);
  EXPECT_EQ(Stop(restarted.get(), sig), sig == SIGKILL ? -SIGKILL : 0);
  auto third = StartDaemon();
  const v1::ListRegionsResponse after = List();
  ASSERT_EQ(after.contexts_size(), 1);
  EXPECT_EQ(after.contexts(0).context_id(), 1u);
  EXPECT_EQ(after.contexts(0).regions_size(), 2);
}

INSTANTIATE_TEST_SUITE_P(Signals, LedgerRestartBySignal, ::testing::Values(SIGKILL, SIGTERM),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGKILL ? "Kill9" : "Sigterm");
                         });

TEST_F(LedgerRestartTest, CorruptRegionFileRefusesToStartAndIsKept) {
  auto daemon = StartDaemon();
  AssignGuest(1);
  ASSERT_TRUE(Register(1, 1, v1::REGION_ACCESS_READ_WRITE).ok());
  EXPECT_EQ(Stop(daemon.get(), SIGKILL), -SIGKILL);
  const std::string path = dir_ / "state/ledger/regions-1.state";
  const std::string whole = ReadFile(path);
  const std::string cut = whole.substr(0, whole.find("region_count"));  // cut short
  std::ofstream(path, std::ios::trunc) << cut;
  Process refused(
      {VNETD_PATH, "--unix_socket=" + socket(), "--state_dir=" + (dir_ / "state"),
       "--config=" + (dir_ / "vnetd.conf"), "--fast_path=none", "--metrics_address=off"},
      dir_ / "refused.log");
  EXPECT_NE(refused.Wait(absl::Seconds(20)), 0);
  EXPECT_THAT(ReadFile(dir_ / "refused.log"), HasSubstr(path + " is corrupt"));
  EXPECT_EQ(ReadFile(path), cut);
}

// What one client learned before vnetd died under it.
struct ClientLog {
  std::set<uint64_t> regions;             // registration acknowledged
  std::set<uint64_t> maybe_regions;       // asked, no answer
  std::vector<uint64_t> in_flight;        // cookies acknowledged, not yet completed
  std::vector<uint64_t> maybe_completed;  // completion asked, no answer
  int unanswered_descriptors = 0;         // validation asked, no answer
};

TEST_F(LedgerRestartTest, KillNineWhileClientsWorkLosesAndRepeatsNothing) {
  constexpr int kRounds = 4;
  constexpr uint32_t kContexts = 2;
  std::map<uint32_t, ClientLog> logs = {{1, {}}, {2, {}}};  // filled before the threads run
  std::map<uint32_t, uint64_t> next_region = {{1, 1}, {2, 1000}};
  for (int round = 0; round < kRounds; ++round) {
    auto daemon = StartDaemon();
    ASSERT_TRUE(daemon->running()) << ReadFile(dir_ / "vnetd.log");
    if (round == 0) {
      for (uint32_t c = 1; c <= kContexts; ++c) AssignGuest(static_cast<int>(c));
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (uint32_t c = 1; c <= kContexts; ++c) {
      clients.emplace_back([&, c] {
        ClientLog& log = logs.at(c);
        while (!stop) {
          const uint64_t id = next_region.at(c)++;
          grpc::Status s = Register(c, id, v1::REGION_ACCESS_READ_WRITE);
          if (!s.ok()) {
            log.maybe_regions.insert(id);
            return;
          }
          log.regions.insert(id);
          std::vector<uint64_t> cookies;
          if (!Validate(c, id, 4, &cookies).ok()) {
            log.unanswered_descriptors += 4;
            return;
          }
          log.in_flight.insert(log.in_flight.end(), cookies.begin(), cookies.end());
          // Complete the two oldest.
          std::vector<uint64_t> batch(log.in_flight.begin(), log.in_flight.begin() + 2);
          v1::CompleteDescriptorsResponse resp;
          log.in_flight.erase(log.in_flight.begin(), log.in_flight.begin() + 2);
          if (!Complete(c, batch, &resp).ok()) {
            log.maybe_completed.insert(log.maybe_completed.end(), batch.begin(), batch.end());
            return;
          }
          EXPECT_EQ(resp.completed(), 2u);
        }
      });
    }
    absl::SleepFor(absl::Milliseconds(150 + 100 * round));
    EXPECT_EQ(daemon->Stop(SIGKILL), -SIGKILL);
    stop = true;
    for (std::thread& t : clients) t.join();

    auto restarted = StartDaemon();
    ASSERT_TRUE(restarted->running()) << ReadFile(dir_ / "vnetd.log");
    const v1::ListRegionsResponse listed = List();
    for (uint32_t c = 1; c <= kContexts; ++c) {
      ClientLog& log = logs[c];
      std::set<uint64_t> present;
      uint64_t in_flight = 0;
      for (const v1::ContextRegions& cr : listed.contexts()) {
        if (cr.context_id() != c) continue;
        for (const v1::Region& r : cr.regions()) present.insert(r.region_id());
        in_flight = cr.in_flight();
      }
      for (uint64_t id : log.regions) EXPECT_TRUE(present.count(id)) << "lost region " << id;
      for (uint64_t id : present) {
        EXPECT_TRUE(log.regions.count(id) || log.maybe_regions.count(id))
            << "region " << id << " was never asked for";
        log.regions.insert(id);  // from now on it is known
      }
      // Acknowledged descriptors are all in flight, each completes once.
      EXPECT_GE(in_flight, log.in_flight.size()) << "round " << round;
      v1::CompleteDescriptorsResponse resp;
      ASSERT_TRUE(Complete(c, log.in_flight, &resp).ok());
      EXPECT_EQ(resp.completed(), log.in_flight.size()) << "round " << round;
      ASSERT_TRUE(Complete(c, log.in_flight, &resp).ok());
      EXPECT_EQ(resp.completed(), 0u);
      // A completion whose answer was lost happened at most once.
      ASSERT_TRUE(Complete(c, log.maybe_completed, &resp).ok());
      EXPECT_EQ(resp.completed() + resp.unknown_cookies_size(), log.maybe_completed.size());
      // What is left in flight came from validations that were never answered.
      const int64_t left = static_cast<int64_t>(in_flight) -
                           static_cast<int64_t>(log.in_flight.size()) - resp.completed();
      EXPECT_GE(left, 0) << "round " << round;
      EXPECT_LE(left, log.unanswered_descriptors) << "round " << round;
      log.in_flight.clear();
      log.maybe_completed.clear();
    }
    EXPECT_EQ(restarted->Stop(SIGKILL), -SIGKILL);
  }
  for (uint32_t c = 1; c <= kContexts; ++c) {
    EXPECT_GT(logs[c].regions.size(), 3u);
    std::cout << "context " << c << ": " << logs[c].regions.size() << " regions over " << kRounds
              << " crashes\n";
  }
}

}  // namespace
}  // namespace vnet
