// vnetd on gRPC's callback API: open streams hold no thread, reads answer while changes
// wait for the disk, and the write pool's queue is bounded and honours deadlines.
#include <dirent.h>
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "daemon/server.h"
#include "protos/health_check.grpc.pb.h"
#include "tests/integration/process.h"
#include "tests/integration/temp_dir.h"
#include "vnet/v1/buffer.grpc.pb.h"
#include "vnet/v1/context.grpc.pb.h"

namespace vnet {
namespace {

using ::testing::HasSubstr;
using testing::Process;
using testing::ReadFile;
using testing::TempDir;
using testing::WaitFor;

v1::AssignContextRequest Guest(uint32_t domain) {
  v1::AssignContextRequest req;
  v1::Context* c = req.mutable_context();
  c->set_domain_id(domain);
  c->set_interface_name(absl::StrCat("vif", domain, ".0"));
  c->set_mac(absl::StrFormat("00:16:3e:00:%02x:%02x", domain / 256, domain % 256));
  c->add_ipv4_addresses(absl::StrCat("198.18.", domain / 256, ".", domain % 256));
  return req;
}

size_t ThreadsOf(pid_t pid) {
  size_t n = 0;
  DIR* dir = opendir(absl::StrCat("/proc/", pid, "/task").c_str());
  if (dir == nullptr) return 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n;
}

std::shared_ptr<grpc::Channel> NewConnection(const std::string& socket, int index) {
  grpc::ChannelArguments args;
  // Channels with equal arguments share one connection; this gives each its own.
  args.SetInt("vnet.test.connection", index);
  return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
}

// A real vnetd process without fast path, metrics or xenstore, answering on a socket in
// a fresh directory, and how many threads it has idle.
class CallbackServerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vnetd_ = std::make_unique<Process>(
        std::vector<std::string>{VNETD_PATH, "--unix_socket=" + socket_,
                                 "--state_dir=" + (dir_ / "state"), "--fast_path=none",
                                 "--metrics_address=off", "--xenstore=off"},
        dir_ / "vnetd.log");
    ASSERT_TRUE(WaitFor([&] { return access(socket_.c_str(), F_OK) == 0 || !vnetd_->running(); }));
    ASSERT_TRUE(vnetd_->running()) << ReadFile(dir_ / "vnetd.log");
    threads_idle_ = ThreadsOf(vnetd_->pid());
  }

  TempDir dir_;
  const std::string socket_ = dir_ / "vnetd.sock";
  std::unique_ptr<Process> vnetd_;
  size_t threads_idle_ = 0;
};

// 4000 descriptor streams, each open at the server (one batch answered), over 64
// connections (vnetd allows 64 streams on one). The synchronous server held a thread per
// stream and refused those beyond its 256 threads.
TEST_F(CallbackServerProcessTest, ThousandsOfOpenStreamsHoldFewThreads) {
  constexpr int kStreams = 4000;
  constexpr int kPerConnection = 63;
  constexpr size_t kMaxThreads = 64;

  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::DescriptorBatch, v1::DescriptorBatchResult>>
        rw;
    v1::DescriptorBatch batch;
    v1::DescriptorBatchResult result;
  };
  std::vector<std::unique_ptr<v1::BufferService::Stub>> stubs;
  stubs.reserve((kStreams + kPerConnection - 1) / kPerConnection);
  for (int i = 0; i < (kStreams + kPerConnection - 1) / kPerConnection; ++i) {
    stubs.push_back(v1::BufferService::NewStub(NewConnection(socket_, i)));
  }
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<Stream>> streams(kStreams);
  // Tags: one per stream and step (0 start, 1 write, 2 read, 3 finish).
  struct Tag {
    int stream;
    int step;
  };
  std::vector<Tag> tags(kStreams * 4);
  for (int i = 0; i < kStreams * 4; ++i) tags[i] = {i / 4, i % 4};
  auto tag = [&tags](int i, int step) { return static_cast<void*>(&tags[i * 4 + step]); };
  for (int i = 0; i < kStreams; ++i) {
    streams[i] = std::make_unique<Stream>();
    streams[i]->batch.set_sequence(i);  // context 0: answered with an error, which is fine
    streams[i]->rw =
        stubs[i / kPerConnection]->AsyncStreamDescriptors(&streams[i]->ctx, &cq, tag(i, 0));
  }
  int answered = 0;
  int failed = 0;
  for (int pending = kStreams * 3; pending > 0; --pending) {
    void* got = nullptr;
    bool ok = false;
    ASSERT_EQ(cq.AsyncNext(&got, &ok, std::chrono::system_clock::now() + std::chrono::seconds(60)),
              grpc::CompletionQueue::GOT_EVENT);
    const int i = static_cast<Tag*>(got)->stream;
    const int step = static_cast<Tag*>(got)->step;
    if (!ok) {
      ++failed;
      pending -= 2 - std::min(step, 2);  // the later steps of this stream never come
      continue;
    }
    if (step == 0) streams[i]->rw->Write(streams[i]->batch, tag(i, 1));
    if (step == 1) streams[i]->rw->Read(&streams[i]->result, tag(i, 2));
    if (step == 2) {
      EXPECT_EQ(streams[i]->result.sequence(), static_cast<uint64_t>(i));
      ++answered;
    }
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(answered, kStreams);
  const size_t threads_busy = ThreadsOf(vnetd_->pid());
  EXPECT_LT(threads_busy, kMaxThreads) << "idle: " << threads_idle_;

  // A read on a fresh connection still answers at once.
  auto contexts = v1::ContextService::NewStub(NewConnection(socket_, -1));
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::GetContextRequest get;
  get.mutable_ref()->set_id(1);
  v1::Context out;
  const absl::Time start = absl::Now();
  EXPECT_EQ(contexts->GetContext(&call, get, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));

  for (auto& s : streams) s->ctx.TryCancel();
  std::vector<grpc::Status> finished(kStreams);
  for (int i = 0; i < kStreams; ++i) streams[i]->rw->Finish(&finished[i], tag(i, 3));
  cq.Shutdown();
  void* got = nullptr;
  bool ok = false;
  while (cq.Next(&got, &ok)) {
  }
  EXPECT_EQ(vnetd_->Stop(SIGTERM), 0) << ReadFile(dir_ / "vnetd.log");
  std::printf("vnetd threads: %zu idle, %zu with %d streams open\n", threads_idle_, threads_busy,
              kStreams);
}

// Streams of the services vnetd does not write itself (server reflection, the standard
// health service's Watch) are opened and left open, many of them: the watchdog's probe
// (a new connection and Health/Check) still answers, and threads stay few.
TEST_F(CallbackServerProcessTest, OpenReflectionAndHealthStreamsLeaveTheHealthCheckAnswering) {
  constexpr int kReflection = 32;
  constexpr int kWatches = 1000;
  constexpr int kPerConnection = 63;
  const int total = kReflection + kWatches;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  stubs.reserve((total + kPerConnection - 1) / kPerConnection);
  for (int i = 0; i < (total + kPerConnection - 1) / kPerConnection; ++i) {
    stubs.push_back(std::make_unique<grpc::GenericStub>(NewConnection(socket_, i)));
  }
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::GenericClientAsyncReaderWriter>> calls;
  contexts.reserve(total);
  calls.reserve(total);
  // Tags: 2i the call started (then a watch sends its request), 2i+1 that was sent.
  std::vector<int> tags(static_cast<size_t>(total) * 2);
  for (size_t t = 0; t < tags.size(); ++t) tags[t] = static_cast<int>(t);
  grpc::ByteBuffer empty;
  grpc::Slice nothing("", 0);
  empty = grpc::ByteBuffer(&nothing, 1);
  for (int i = 0; i < total; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    const std::string method =
        i < kReflection ? "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
                        : "/grpc.health.v1.Health/Watch";
    calls.push_back(stubs[i / kPerConnection]->PrepareCall(contexts.back().get(), method, &cq));
    calls.back()->StartCall(&tags[i * 2]);
  }
  int events = 0;
  for (int expected = kReflection + 2 * kWatches; events < expected; ++events) {
    void* got = nullptr;
    bool ok = false;
    if (cq.AsyncNext(&got, &ok, std::chrono::system_clock::now() + std::chrono::seconds(30)) !=
        grpc::CompletionQueue::GOT_EVENT) {
      break;
    }
    const int tag = *static_cast<int*>(got);
    const int i = tag / 2;
    if (ok && tag % 2 == 0 && i >= kReflection) calls[i]->Write(empty, &tags[i * 2 + 1]);
  }
  absl::SleepFor(absl::Seconds(1));
  const size_t threads_busy = ThreadsOf(vnetd_->pid());

  auto health = grpc::health::v1::Health::NewStub(NewConnection(socket_, -1));
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  grpc::health::v1::HealthCheckResponse answer;
  const absl::Time start = absl::Now();
  const grpc::Status s = health->Check(&call, grpc::health::v1::HealthCheckRequest(), &answer);
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message() << " after " << took;
  EXPECT_EQ(answer.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_LT(took, absl::Seconds(2));  // the watchdog probes every 15 s; starved would be never
  EXPECT_LT(threads_busy, 64u) << "idle: " << threads_idle_;
  std::printf("events %d; vnetd threads: %zu idle, %zu with %d streams; check took %s\n", events,
              threads_idle_, threads_busy, total, absl::FormatDuration(took).c_str());

  for (auto& c : contexts) c->TryCancel();
  cq.Shutdown();
  void* got = nullptr;
  bool ok = false;
  while (cq.Next(&got, &ok)) {
  }
  EXPECT_EQ(vnetd_->Stop(SIGTERM), 0) << ReadFile(dir_ / "vnetd.log");
}

// An in-process server whose write pool has one thread and room for two waiting changes;
// the registry's first state write is held up (a slow disk) until `disk_done`.
class WritePoolServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.set_unix_socket(dir_ / "vnetd.sock");
    config_.set_state_dir(dir_ / "state");
    config_.set_capacity(16);
    auto server = VnetServer::Start(config_, &dataplane_, ServerLimits{1, 2});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    contexts_ = v1::ContextService::NewStub(
        grpc::CreateChannel("unix:" + config_.unix_socket(), grpc::InsecureChannelCredentials()));
    server_->registry().SetBeforeCommitHookForTest([this] {
      if (writes_++ == 0) {
        writing_.Notify();
        disk_done_.WaitForNotification();
      }
    });
  }
  void TearDown() override {
    if (!disk_done_.HasBeenNotified()) disk_done_.Notify();
    for (std::thread& t : callers_) t.join();
    server_->registry().SetBeforeCommitHookForTest(nullptr);
  }

  // Starts an assign on a thread of its own; its status lands in `*status`.
  void AssignAsync(uint32_t domain, grpc::Status* status,
                   absl::Duration timeout = absl::Seconds(20)) {
    callers_.emplace_back([this, domain, status, timeout] {
      grpc::ClientContext call;
      call.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
      v1::Context out;
      *status = contexts_->AssignContext(&call, Guest(domain), &out);
    });
  }

  grpc::Status Get(uint32_t domain, absl::Duration* took) {
    grpc::ClientContext call;
    call.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    v1::GetContextRequest req;
    req.mutable_ref()->mutable_device()->set_domain_id(domain);
    v1::Context out;
    const absl::Time start = absl::Now();
    grpc::Status s = contexts_->GetContext(&call, req, &out);
    *took = absl::Now() - start;
    return s;
  }

  TempDir dir_;
  v1::DaemonConfig config_;
  NoDataplane dataplane_;
  std::unique_ptr<VnetServer> server_;
  std::unique_ptr<v1::ContextService::Stub> contexts_;
  std::atomic<int> writes_{0};
  absl::Notification writing_;
  absl::Notification disk_done_;
  std::vector<std::thread> callers_;
};

// The one thread waits for the disk and two changes wait in the queue: the next change is
// refused at once and changes nothing, and reads still answer. (The synchronous server had
// no such queue: the fourth assign waited, then succeeded.)
TEST_F(WritePoolServerTest, FullQueueRefusesWithResourceExhausted) {
  grpc::Status first, second, third;
  AssignAsync(1, &first);
  ASSERT_TRUE(writing_.WaitForNotificationWithTimeout(absl::Seconds(10)));
  AssignAsync(2, &second);
  AssignAsync(3, &third);
  ASSERT_TRUE(WaitFor([&] { return server_->write_pool().queued() == 2; }));

  grpc::ClientContext call;
  v1::Context out;
  const grpc::Status refused = contexts_->AssignContext(&call, Guest(4), &out);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("wait for the disk"));
  absl::Duration took;
  EXPECT_EQ(Get(1, &took).error_code(), grpc::StatusCode::NOT_FOUND);  // not committed yet
  EXPECT_LT(took, absl::Milliseconds(500));

  disk_done_.Notify();
  for (std::thread& t : callers_) t.join();
  callers_.clear();
  EXPECT_TRUE(first.ok()) << first.error_message();
  EXPECT_TRUE(second.ok()) << second.error_message();
  EXPECT_TRUE(third.ok()) << third.error_message();
  EXPECT_EQ(server_->registry().size(), 3u);
  EXPECT_EQ(Get(4, &took).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(ReadFile(dir_ / "state/contexts.state"), ::testing::Not(HasSubstr("vif4.0")));
}

// A change that waited in the queue past its caller's deadline is never run: it is not
// committed and costs no state write once the disk frees up.
TEST_F(WritePoolServerTest, QueuedChangeWhoseDeadlinePassedIsNotRun) {
  grpc::Status first, late;
  AssignAsync(1, &first);
  ASSERT_TRUE(writing_.WaitForNotificationWithTimeout(absl::Seconds(10)));
  AssignAsync(2, &late, absl::Milliseconds(200));
  ASSERT_TRUE(WaitFor([&] { return server_->write_pool().queued() == 1; }));
  absl::SleepFor(absl::Milliseconds(400));  // its deadline passes while it waits
  const int writes_before = writes_;
  disk_done_.Notify();
  for (std::thread& t : callers_) t.join();
  callers_.clear();
  ASSERT_TRUE(WaitFor([&] { return server_->write_pool().queued() == 0; }));
  absl::SleepFor(absl::Milliseconds(200));  // what the late change would have done, is done
  EXPECT_TRUE(first.ok()) << first.error_message();
  EXPECT_EQ(late.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(writes_, writes_before) << "the expired change reached the registry";
  EXPECT_EQ(server_->registry().size(), 1u);
  absl::Duration took;
  EXPECT_EQ(Get(2, &took).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(ReadFile(dir_ / "state/contexts.state"), ::testing::Not(HasSubstr("vif2.0")));
}

// Changes run on threads named for the job and nicer than the rest of vnetd, so a busy CPU
// serves reads (on gRPC's threads) first: under 1000 writing clients this took GetContext's
// p50 from 17.6 to 2.5 ms (docs/benchmarks.md).
TEST_F(WritePoolServerTest, ChangesRunOnNamedNicerThreads) {
  std::atomic<int> nice_seen{-100};
  std::string name_seen;
  absl::Notification seen;
  server_->registry().SetBeforeCommitHookForTest([&] {
    if (seen.HasBeenNotified()) return;
    nice_seen = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    name_seen = name;
    seen.Notify();
  });
  grpc::ClientContext call;
  v1::Context out;
  ASSERT_TRUE(contexts_->AssignContext(&call, Guest(1), &out).ok());
  ASSERT_TRUE(seen.WaitForNotificationWithTimeout(absl::Seconds(10)));
  const int base = getpriority(PRIO_PROCESS, 0);
  EXPECT_EQ(nice_seen.load(), std::min(std::max(base + 10, 10), 19));
  EXPECT_EQ(name_seen, "vnetd-write");
}

// The unit starts vnetd at a negative niceness (deploy/systemd/vnetd.service) so that its
// gRPC threads get a core first; its changes must still yield to ordinary processes (the
// clients that wait for a core to read their answers): at least niceness 10, not base + 10.
TEST(WritePoolTest, ChangesStayAtNiceness10UnderAVnetdStartedAtMinus10) {
  std::atomic<int> nice_seen{-100};
  std::string error;
  std::thread vnetd_main([&] {  // threads inherit the niceness of the thread that made them
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), -10) != 0) {
      error = absl::StrCat("setpriority -10: ", std::strerror(errno), " (the test needs root)");
      return;
    }
    WritePool pool(1, 1);
    absl::Notification ran;
    ASSERT_TRUE(pool.Submit([&] {
                      nice_seen = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
                      ran.Notify();
                    })
                    .ok());
    ran.WaitForNotificationWithTimeout(absl::Seconds(10));
    pool.Stop();
  });
  vnetd_main.join();
  ASSERT_EQ(error, "");
  EXPECT_EQ(nice_seen.load(), 10) << "a write thread would compete with ordinary processes";
}

// A storm of changes waits for the pace (max_changes_per_second) in the queue: every change
// succeeds, no faster than the pace allows; reads answer meanwhile; a change whose caller's
// deadline passes before its turn is not run.
TEST(WritePoolPaceTest, StormOfChangesWaitsItsTurnAndReadsAnswer) {
  TempDir dir;
  v1::DaemonConfig config;
  config.set_unix_socket(dir / "vnetd.sock");
  config.set_state_dir(dir / "state");
  config.set_capacity(64);
  config.set_max_changes_per_second(10);  // 10 at once, then one every 100 ms
  NoDataplane dataplane;
  auto server = VnetServer::Start(config, &dataplane, ServerLimits{4, 64});
  ASSERT_TRUE(server.ok()) << server.status();
  auto contexts = v1::ContextService::NewStub(
      grpc::CreateChannel("unix:" + config.unix_socket(), grpc::InsecureChannelCredentials()));

  constexpr int kStorm = 30;  // the last starts 2 s after the first
  std::vector<grpc::Status> results(kStorm);
  std::vector<std::thread> callers;
  callers.reserve(kStorm);
  const absl::Time start = absl::Now();
  for (int i = 0; i < kStorm; ++i) {
    callers.emplace_back([&, i] {
      grpc::ClientContext call;
      call.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
      v1::Context out;
      results[i] = contexts->AssignContext(&call, Guest(i + 1), &out);
    });
  }
  ASSERT_TRUE(WaitFor([&] { return (*server)->registry().size() >= 10; }));
  // Behind the storm: a change that may wait 300 ms, and a read.
  grpc::ClientContext late_call;
  late_call.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
  v1::Context late_out;
  const grpc::Status late = contexts->AssignContext(&late_call, Guest(50), &late_out);
  grpc::ClientContext get_call;
  v1::GetContextRequest get;
  get.mutable_ref()->set_id(1);
  v1::Context got;
  const absl::Time read_start = absl::Now();
  EXPECT_TRUE(contexts->GetContext(&get_call, get, &got).ok());
  EXPECT_LT(absl::Now() - read_start, absl::Milliseconds(500)) << "a read waited for the pace";
  for (std::thread& t : callers) t.join();
  const absl::Duration took = absl::Now() - start;

  for (int i = 0; i < kStorm; ++i) EXPECT_TRUE(results[i].ok()) << i << results[i].error_message();
  EXPECT_GE(took, absl::Milliseconds(1800)) << "30 changes at 10/s (burst 10) took only " << took;
  EXPECT_EQ(late.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  absl::SleepFor(absl::Milliseconds(300));  // its turn came and went
  EXPECT_EQ((*server)->registry().size(), static_cast<size_t>(kStorm));
  EXPECT_THAT(ReadFile(dir / "state/contexts.state"), ::testing::Not(HasSubstr("vif50.0")));
  EXPECT_TRUE((*server)->Shutdown().ok());
}

// A queued change whose caller has given up by its turn runs at once, to answer, and takes
// no start of the pace: in a storm with short deadlines, the dead changes do not hold back
// the live ones behind them.
TEST(WritePoolPaceTest, ChangeWhoseCallerGaveUpTakesNoTurn) {
  WritePool pool(1, 64, 5);  // 5 at once, then one every 200 ms
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.Submit([] {}).ok());  // the burst
  std::atomic<int> dead_ran{0};
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(pool.Submit([&] { ++dead_ran; }, [] { return false; }).ok());
  }
  absl::Notification live_ran;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(pool.Submit([&] { live_ran.Notify(); }, [] { return true; }).ok());
  ASSERT_TRUE(live_ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(dead_ran.load(), 10) << "a job whose caller gave up still runs, to answer";
  // Its start is the first after the burst (200 ms); behind 10 paced dead jobs, 2.2 s.
  EXPECT_LT(took, absl::Milliseconds(1000)) << "dead jobs took starts of the pace: " << took;
  pool.Stop();
}

}  // namespace
}  // namespace vnet
