// The real gRPC server (VnetServer, as vnetd runs it) driven by the real generated clients
// over a Unix socket.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "daemon/server.h"
#include "protos/health_check.grpc.pb.h"
#include "tests/integration/process.h"
#include "tests/integration/temp_dir.h"
#include "vnet/v1/buffer.grpc.pb.h"
#include "vnet/v1/context.grpc.pb.h"
#include "vnet/v1/daemon.grpc.pb.h"

namespace vnet {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

// No fast path, but an uplink that can be set (and is remembered), like the real one.
class UplinkOnlyDataplane final : public Dataplane {
 public:
  absl::Status Attach(const v1::Context&) override { return absl::OkStatus(); }
  absl::Status Detach(const v1::Context&) override { return absl::OkStatus(); }
  absl::Status RemoveOthers(const std::set<uint32_t>&) override { return absl::OkStatus(); }
  absl::Status SetUplink(const std::string& ifname) override {
    uplink_ = ifname;
    ++uplink_changes_;
    return absl::OkStatus();
  }
  std::string Uplink() const override { return uplink_; }
  std::string Describe() const override { return "test: uplink only"; }
  bool attaches() const override { return false; }
  int uplink_changes() const { return uplink_changes_; }

 private:
  std::string uplink_;
  int uplink_changes_ = 0;
};

// Posts one descriptor for `id` at 1 MiB + offset (region 1, see RegisterRegion); returns
// its cookie, 0 if it was not accepted, and its verdict in `verdict` if given.
uint64_t PostCookie(const std::shared_ptr<grpc::Channel>& channel, uint32_t id, uint64_t offset = 0,
                    v1::DescriptorVerdict* verdict = nullptr) {
  auto buffers = v1::BufferService::NewStub(channel);
  grpc::ClientContext call;
  v1::ValidateDescriptorsRequest req;
  req.set_context_id(id);
  v1::Descriptor* d = req.add_descriptors();
  d->set_guest_address(0x100000 + offset);
  d->set_length(64);
  d->set_direction(v1::DESCRIPTOR_DIRECTION_TO_DEVICE);
  d->set_region_id(1);
  v1::ValidateDescriptorsResponse resp;
  if (!buffers->ValidateDescriptors(&call, req, &resp).ok() || resp.verdicts_size() != 1 ||
      resp.cookies_size() != 1) {
    return 0;
  }
  if (verdict != nullptr) *verdict = resp.verdicts(0);
  return resp.cookies(0);
}

uint32_t CompleteCookie(const std::shared_ptr<grpc::Channel>& channel, uint32_t id,
                        uint64_t cookie) {
  auto buffers = v1::BufferService::NewStub(channel);
  grpc::ClientContext call;
  v1::CompleteDescriptorsRequest req;
  req.set_context_id(id);
  req.add_cookies(cookie);
  v1::CompleteDescriptorsResponse resp;
  if (!buffers->CompleteDescriptors(&call, req, &resp).ok()) return 0;
  return resp.completed();
}

// A connection of its own (the server caps streams per connection).
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& socket) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
}

class GrpcServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(4); }

  void StartServer(uint32_t capacity, const std::string& state_dir = "") {
    config_.set_unix_socket(dir_ / "vnetd.sock");
    config_.set_state_dir(state_dir.empty() ? dir_ / "state" : state_dir);
    config_.set_capacity(capacity);
    // The uplink tests name interfaces of their own; the allow-list has its own tests.
    if (config_.allowed_uplinks().empty()) config_.add_allowed_uplinks("*");
    auto server = VnetServer::Start(config_, &dataplane_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ =
        grpc::CreateChannel("unix:" + config_.unix_socket(), grpc::InsecureChannelCredentials());
    contexts_ = v1::ContextService::NewStub(channel_);
  }

  static v1::AssignContextRequest Guest(uint32_t domain, uint32_t vlan = 1) {
    v1::AssignContextRequest req;
    v1::Context* c = req.mutable_context();
    c->set_domain_id(domain);
    c->set_interface_name(absl::StrCat("vif", domain, ".0"));
    c->set_mac(absl::StrCat("00:16:3e:00:00:", domain < 10 ? "0" : "", domain));
    c->add_ipv4_addresses(absl::StrCat("198.18.0.", domain));
    c->add_ipv6_addresses(absl::StrCat("2001:db8::", domain));
    c->set_vlan(vlan);
    return req;
  }

  grpc::Status Assign(const v1::AssignContextRequest& req, v1::Context* out) {
    grpc::ClientContext call;
    return contexts_->AssignContext(&call, req, out);
  }

  grpc::Status Get(uint32_t id, v1::Context* out = nullptr) {
    grpc::ClientContext call;
    v1::GetContextRequest req;
    req.mutable_ref()->set_id(id);
    v1::Context ignored;
    return contexts_->GetContext(&call, req, out != nullptr ? out : &ignored);
  }

  void StopServer() {
    contexts_.reset();
    channel_.reset();
    ASSERT_TRUE(server_->Shutdown().ok());
    server_.reset();
  }

  // Region 1 (64 KiB at 1 MiB, read-write) for context `id`.
  grpc::Status RegisterRegion(uint32_t id) {
    auto buffers = v1::BufferService::NewStub(channel_);
    grpc::ClientContext call;
    v1::RegisterRegionRequest req;
    req.set_context_id(id);
    req.mutable_region()->set_region_id(1);
    req.mutable_region()->set_guest_address(0x100000);
    req.mutable_region()->set_length(0x10000);
    req.mutable_region()->set_access(v1::REGION_ACCESS_READ_WRITE);
    v1::Region region;
    return buffers->RegisterRegion(&call, req, &region);
  }

  // Posts one descriptor at 1 MiB + offset; returns its verdict.
  v1::DescriptorVerdict Post(uint32_t id, uint64_t offset) {
    v1::DescriptorVerdict verdict = v1::DESCRIPTOR_VERDICT_UNSPECIFIED;
    PostCookie(channel_, id, offset, &verdict);
    return verdict;
  }

  v1::ListRegionsResponse Regions(uint32_t id = 0) {
    auto buffers = v1::BufferService::NewStub(channel_);
    grpc::ClientContext call;
    v1::ListRegionsRequest req;
    req.set_context_id(id);
    v1::ListRegionsResponse resp;
    EXPECT_TRUE(buffers->ListRegions(&call, req, &resp).ok());
    return resp;
  }

  TempDir dir_;
  v1::DaemonConfig config_;
  UplinkOnlyDataplane dataplane_;
  std::unique_ptr<VnetServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ContextService::Stub> contexts_;
};

TEST_F(GrpcServiceTest, AssignGetListUpdateRelease) {
  v1::Context assigned;
  ASSERT_TRUE(Assign(Guest(1), &assigned).ok());
  EXPECT_EQ(assigned.id(), 1u);
  EXPECT_EQ(assigned.state(), v1::CONTEXT_STATE_ASSIGNED);  // no fast path in this test
  EXPECT_GT(assigned.create_time().seconds(), 0);

  grpc::ClientContext get_call;
  v1::GetContextRequest get;
  get.mutable_ref()->set_interface_name("vif1.0");
  v1::Context got;
  ASSERT_TRUE(contexts_->GetContext(&get_call, get, &got).ok());
  EXPECT_EQ(got.mac(), "00:16:3e:00:00:01");

  grpc::ClientContext update_call;
  v1::UpdateContextRequest update;
  update.mutable_ref()->set_id(1);
  update.mutable_context()->set_mtu(9000);
  update.mutable_update_mask()->add_paths("mtu");
  v1::Context updated;
  ASSERT_TRUE(contexts_->UpdateContext(&update_call, update, &updated).ok());
  EXPECT_EQ(updated.mtu(), 9000u);

  grpc::ClientContext list_call;
  v1::ListContextsResponse list;
  ASSERT_TRUE(contexts_->ListContexts(&list_call, v1::ListContextsRequest(), &list).ok());
  ASSERT_EQ(list.contexts_size(), 1);
  EXPECT_EQ(list.capacity(), 4u);
  EXPECT_EQ(list.contexts(0).mtu(), 9000u);

  grpc::ClientContext release_call;
  v1::ReleaseContextRequest release;
  release.mutable_ref()->mutable_device()->set_domain_id(1);
  v1::ReleaseContextResponse released;
  ASSERT_TRUE(contexts_->ReleaseContext(&release_call, release, &released).ok());
  EXPECT_EQ(released.context().id(), 1u);
}

TEST_F(GrpcServiceTest, ErrorsCarryTheRightCodeAndName) {
  v1::Context out;
  auto bad_mac = Guest(1);
  bad_mac.mutable_context()->set_mac("not-a-mac");
  grpc::Status s = Assign(bad_mac, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("mac:"));

  EXPECT_EQ(Assign(v1::AssignContextRequest(), &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  ASSERT_TRUE(Assign(Guest(1), &out).ok());
  EXPECT_TRUE(Assign(Guest(1), &out).ok());  // idempotent
  EXPECT_EQ(out.id(), 1u);

  auto other_vif = Guest(2);
  other_vif.mutable_context()->set_interface_name("vif1.0");
  s = Assign(other_vif, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(s.error_message(), HasSubstr("interface vif1.0"));

  auto same_ip = Guest(3);
  same_ip.mutable_context()->add_ipv4_addresses("198.18.0.1");
  s = Assign(same_ip, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("198.18.0.1"));

  for (uint32_t d = 2; d <= 4; ++d) ASSERT_TRUE(Assign(Guest(d), &out).ok());
  s = Assign(Guest(5), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  grpc::ClientContext get_call;
  v1::GetContextRequest get;
  get.mutable_ref()->set_id(42);
  EXPECT_EQ(contexts_->GetContext(&get_call, get, &out).error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext release_call;
  v1::ReleaseContextRequest release;
  release.mutable_ref()->set_id(42);
  release.set_allow_missing(true);
  v1::ReleaseContextResponse released;
  EXPECT_TRUE(contexts_->ReleaseContext(&release_call, release, &released).ok());
  EXPECT_FALSE(released.has_context());
}

TEST_F(GrpcServiceTest, RefusedRequestsChangeNoState) {
  v1::Context out;
  ASSERT_TRUE(Assign(Guest(1), &out).ok());
  const std::string before = testing::ReadFile(dir_ / "state/contexts.state");
  auto conflict = Guest(2);
  conflict.mutable_context()->set_mac("00:16:3e:00:00:01");
  EXPECT_FALSE(Assign(conflict, &out).ok());
  EXPECT_EQ(testing::ReadFile(dir_ / "state/contexts.state"), before);
  EXPECT_EQ(server_->registry().size(), 1u);
}

TEST_F(GrpcServiceTest, SocketIsGroupAccessibleOnly) {
  struct stat st {};
  ASSERT_EQ(stat(config_.unix_socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(GrpcServiceTest, StatusReportsPoolAndListeners) {
  v1::Context out;
  ASSERT_TRUE(Assign(Guest(1), &out).ok());
  auto daemon = v1::DaemonService::NewStub(channel_);
  grpc::ClientContext call;
  v1::Status status;
  ASSERT_TRUE(daemon->GetStatus(&call, v1::GetStatusRequest(), &status).ok());
  EXPECT_EQ(status.contexts_in_use(), 1u);
  EXPECT_EQ(status.capacity(), 4u);
  EXPECT_THAT(status.listen_addresses(), ::testing::ElementsAre("unix:" + config_.unix_socket()));
  EXPECT_FALSE(status.version().empty());
}

TEST_F(GrpcServiceTest, StandardHealthServiceAnswers) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext call;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&call, grpc::health::v1::HealthCheckRequest(), &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// libgrpc++_reflection registers the reflection protocol's descriptors but Debian ships no
// headers for them, so this speaks the protocol as a generic tool does: raw bytes over a
// generic stream, asking to list services (field 7, empty string).
TEST_F(GrpcServiceTest, ReflectionListsOurServices) {
  grpc::GenericStub stub(channel_);
  grpc::CompletionQueue cq;
  grpc::ClientContext call;
  auto stream = stub.PrepareCall(
      &call, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  auto step = [&cq](int tag) {
    void* got = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&got, &ok));
    // NOLINTNEXTLINE(performance-no-int-to-ptr): completion-queue tags are small integers
    EXPECT_EQ(got, reinterpret_cast<void*>(static_cast<intptr_t>(tag)));
    return ok;
  };
  stream->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(1));
  const char list_services[] = {0x3a, 0x00};
  grpc::Slice slice(list_services, sizeof(list_services));
  grpc::ByteBuffer request(&slice, 1);
  stream->Write(request, reinterpret_cast<void*>(2));
  ASSERT_TRUE(step(2));
  grpc::ByteBuffer response;
  stream->Read(&response, reinterpret_cast<void*>(3));
  ASSERT_TRUE(step(3));
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_THAT(bytes, HasSubstr("vnet.v1.ContextService"));
  EXPECT_THAT(bytes, HasSubstr("vnet.v1.DaemonService"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
  call.TryCancel();
  grpc::Status finished;
  stream->Finish(&finished, reinterpret_cast<void*>(4));
  step(4);
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

// CDNA's rule through the real services: a context whose buffers are in flight is not
// released unless forced, and a forced release reports what it abandoned.
// The config's max_in_flight_descriptors reaches the ledger: three descriptors in flight
// across two contexts fill a budget of 3, and the fourth is refused.
TEST_F(GrpcServiceTest, InFlightBudgetFromTheConfigBoundsAllContexts) {
  StopServer();
  config_.set_max_in_flight_descriptors(3);
  StartServer(4);
  v1::Context a, b;
  ASSERT_TRUE(Assign(Guest(1), &a).ok());
  ASSERT_TRUE(Assign(Guest(2), &b).ok());
  ASSERT_TRUE(RegisterRegion(a.id()).ok());
  ASSERT_TRUE(RegisterRegion(b.id()).ok());
  EXPECT_EQ(Post(a.id(), 0), v1::DESCRIPTOR_VERDICT_ACCEPTED);
  EXPECT_EQ(Post(a.id(), 0x100), v1::DESCRIPTOR_VERDICT_ACCEPTED);
  EXPECT_EQ(Post(b.id(), 0), v1::DESCRIPTOR_VERDICT_ACCEPTED);
  EXPECT_EQ(Post(b.id(), 0x100), v1::DESCRIPTOR_VERDICT_IN_FLIGHT_LIMIT);
  EXPECT_EQ(Regions(b.id()).contexts(0).in_flight(), 1u);  // the refused one took nothing
}

TEST_F(GrpcServiceTest, ReleaseWaitsForBuffersInFlight) {
  v1::Context ctx;
  ASSERT_TRUE(Assign(Guest(1), &ctx).ok());
  auto buffers = v1::BufferService::NewStub(channel_);
  {
    grpc::ClientContext call;
    v1::RegisterRegionRequest req;
    req.set_context_id(ctx.id());
    req.mutable_region()->set_region_id(1);
    req.mutable_region()->set_guest_address(0x100000);
    req.mutable_region()->set_length(0x10000);
    req.mutable_region()->set_access(v1::REGION_ACCESS_READ_WRITE);
    v1::Region region;
    ASSERT_TRUE(buffers->RegisterRegion(&call, req, &region).ok());
  }
  {
    grpc::ClientContext call;
    v1::ValidateDescriptorsRequest req;
    req.set_context_id(ctx.id());
    v1::Descriptor* d = req.add_descriptors();
    d->set_guest_address(0x100800);
    d->set_length(1500);
    d->set_direction(v1::DESCRIPTOR_DIRECTION_TO_DEVICE);
    d->set_region_id(1);
    v1::ValidateDescriptorsResponse resp;
    ASSERT_TRUE(buffers->ValidateDescriptors(&call, req, &resp).ok());
    ASSERT_EQ(resp.accepted(), 1u);
  }
  v1::ReleaseContextRequest release;
  release.mutable_ref()->set_id(ctx.id());
  v1::ReleaseContextResponse released;
  {
    grpc::ClientContext call;
    grpc::Status s = contexts_->ReleaseContext(&call, release, &released);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(s.error_message(), HasSubstr("has 1 descriptors in flight"));
  }
  EXPECT_EQ(server_->registry().size(), 1u);  // still assigned
  release.mutable_force_wait()->set_nanos(50000000);
  {
    grpc::ClientContext call;
    ASSERT_TRUE(contexts_->ReleaseContext(&call, release, &released).ok());
  }
  EXPECT_EQ(released.abandoned_descriptors(), 1u);
  EXPECT_EQ(server_->registry().size(), 0u);
  grpc::ClientContext call;
  v1::ListRegionsResponse regions;
  ASSERT_TRUE(buffers->ListRegions(&call, v1::ListRegionsRequest(), &regions).ok());
  EXPECT_EQ(regions.contexts_size(), 0);
}

TEST_F(GrpcServiceTest, SecondServerOnSameStateDirIsRefused) {
  v1::DaemonConfig other = config_;
  other.set_unix_socket(dir_ / "other.sock");
  auto second = VnetServer::Start(other, &dataplane_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(GrpcServiceTest, StateSurvivesServerRestart) {
  v1::Context out;
  ASSERT_TRUE(Assign(Guest(1), &out).ok());
  ASSERT_TRUE(Assign(Guest(2, 7), &out).ok());
  contexts_.reset();
  channel_.reset();
  ASSERT_TRUE(server_->Shutdown().ok());
  server_.reset();
  StartServer(4);
  grpc::ClientContext call;
  v1::ListContextsResponse list;
  ASSERT_TRUE(contexts_->ListContexts(&call, v1::ListContextsRequest(), &list).ok());
  ASSERT_EQ(list.contexts_size(), 2);
  EXPECT_EQ(list.contexts(1).vlan(), 7u);
  EXPECT_EQ(list.contexts(1).id(), 2u);
}

// A test hook that holds its first call (a write on a slow disk) until `release`, and
// counts every call.
struct HoldFirstCall {
  absl::Notification held;
  absl::Notification release;
  std::atomic<int> calls{0};
  std::function<void()> Hook() {
    return [this] {
      if (calls++ == 0) {
        held.Notify();
        release.WaitForNotification();
      }
    };
  }
};

// A release whose caller gave up while the registry was busy (here: a
// state write held up by a slow disk) is never committed afterwards.
TEST_F(GrpcServiceTest, ReleaseWhoseDeadlinePassedWhileWaitingIsNeverCommitted) {
  v1::Context first;
  ASSERT_TRUE(Assign(Guest(1), &first).ok());
  HoldFirstCall disk;  // the first state write waits for a slow disk
  server_->registry().SetBeforeCommitHookForTest(disk.Hook());
  grpc::Status slow_status;
  std::thread slow([&] {
    v1::Context out;
    slow_status = Assign(Guest(2), &out);
  });
  disk.held.WaitForNotification();

  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  v1::ReleaseContextRequest release;
  release.mutable_ref()->mutable_device()->set_domain_id(1);
  v1::ReleaseContextResponse released;
  EXPECT_EQ(contexts_->ReleaseContext(&call, release, &released).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  absl::SleepFor(absl::Milliseconds(100));  // the server saw the deadline pass too
  disk.release.Notify();
  slow.join();
  EXPECT_TRUE(slow_status.ok()) << slow_status.error_message();
  // Whatever the abandoned release would have done, it would have done by now.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_TRUE(Get(first.id()).ok());
  EXPECT_EQ(server_->registry().size(), 2u);
  EXPECT_THAT(testing::ReadFile(dir_ / "state/contexts.state"), HasSubstr("vif1.0"));
  server_->registry().SetBeforeCommitHookForTest(nullptr);
}

// Region changes of one context are saved one after the other. One whose caller's deadline
// passed while it waited for the one before (here: a save held up by a slow disk) is never
// made afterwards.
TEST_F(GrpcServiceTest, RegionChangeWhoseDeadlinePassedWhileWaitingIsNeverMade) {
  v1::Context ctx;
  ASSERT_TRUE(Assign(Guest(1), &ctx).ok());
  ASSERT_TRUE(RegisterRegion(ctx.id()).ok());  // region 1
  auto buffers = v1::BufferService::NewStub(channel_);
  auto region = [&](uint64_t id) {
    v1::RegisterRegionRequest req;
    req.set_context_id(ctx.id());
    req.mutable_region()->set_region_id(id);
    req.mutable_region()->set_guest_address(id << 24);
    req.mutable_region()->set_length(0x10000);
    req.mutable_region()->set_access(v1::REGION_ACCESS_READ_WRITE);
    return req;
  };
  HoldFirstCall disk;  // the first save waits for a slow disk
  server_->journal().SetBeforeSaveHookForTest(disk.Hook());
  grpc::Status slow_status;
  std::thread slow([&] {
    grpc::ClientContext call;
    v1::Region out;
    slow_status = buffers->RegisterRegion(&call, region(2), &out);
  });
  disk.held.WaitForNotification();  // region 2 is being saved now
  for (const bool unregister : {false, true}) {
    grpc::ClientContext call;
    call.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    grpc::Status s;
    if (unregister) {
      v1::UnregisterRegionRequest req;
      req.set_context_id(ctx.id());
      req.set_region_id(1);
      v1::UnregisterRegionResponse out;
      s = buffers->UnregisterRegion(&call, req, &out);
    } else {
      v1::Region out;
      s = buffers->RegisterRegion(&call, region(3), &out);
    }
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  }
  absl::SleepFor(absl::Milliseconds(100));  // the server saw the deadlines pass too
  disk.release.Notify();
  slow.join();
  EXPECT_TRUE(slow_status.ok()) << slow_status.error_message();
  // Whatever the abandoned changes would have done, they would have done by now.
  absl::SleepFor(absl::Milliseconds(500));
  server_->journal().SetBeforeSaveHookForTest(nullptr);
  const v1::ListRegionsResponse regions = Regions(ctx.id());
  ASSERT_EQ(regions.contexts_size(), 1);
  std::vector<uint64_t> ids;
  for (const v1::Region& r : regions.contexts(0).regions()) ids.push_back(r.region_id());
  EXPECT_THAT(ids, ::testing::ElementsAre(1u, 2u));
  EXPECT_EQ(disk.calls.load(), 1) << "an abandoned change was saved";
}

// The deadline is checked at the commit point itself: an assign whose write outlasts its
// caller's deadline is taken back, not committed.
TEST_F(GrpcServiceTest, AssignWhoseDeadlinePassesDuringTheWriteIsNotCommitted) {
  server_->registry().SetBeforeCommitHookForTest([] { absl::SleepFor(absl::Milliseconds(400)); });
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(150));
  v1::Context out;
  EXPECT_EQ(contexts_->AssignContext(&call, Guest(1), &out).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  absl::SleepFor(absl::Milliseconds(600));  // the server finished its write meanwhile
  server_->registry().SetBeforeCommitHookForTest(nullptr);
  EXPECT_EQ(server_->registry().size(), 0u);
  EXPECT_EQ(Get(1).error_code(), grpc::StatusCode::NOT_FOUND);
  // And it was not written either: a restart finds nothing.
  StopServer();
  StartServer(4);
  EXPECT_EQ(server_->registry().size(), 0u);
}

// A forced release waits for buffers in flight at most until the
// caller's deadline; then nothing is released and the context works on.
TEST_F(GrpcServiceTest, ForcedReleaseWaitNeverOutlivesTheCallerDeadline) {
  v1::Context ctx;
  ASSERT_TRUE(Assign(Guest(1), &ctx).ok());
  ASSERT_TRUE(RegisterRegion(ctx.id()).ok());
  ASSERT_EQ(Post(ctx.id(), 0), v1::DESCRIPTOR_VERDICT_ACCEPTED);
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  v1::ReleaseContextRequest release;
  release.mutable_ref()->set_id(ctx.id());
  release.mutable_force_wait()->set_seconds(30);
  v1::ReleaseContextResponse released;
  EXPECT_EQ(contexts_->ReleaseContext(&call, release, &released).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server gave up too: the context takes descriptors again within a second (a wait
  // that outlived the deadline would refuse them as CONTEXT_CLOSING for 30 s).
  EXPECT_TRUE(testing::WaitFor(
      [&] { return Post(ctx.id(), 1024) == v1::DESCRIPTOR_VERDICT_ACCEPTED; }, absl::Seconds(2)));
  EXPECT_TRUE(Get(ctx.id()).ok());
  const v1::ListRegionsResponse regions = Regions(ctx.id());
  ASSERT_EQ(regions.contexts_size(), 1);
  ASSERT_EQ(regions.contexts(0).regions_size(), 1);
  EXPECT_EQ(regions.contexts(0).regions(0).in_flight(), 2u);
}

// Forced releases wait for buffers in flight holding no write-pool thread: with 64 of them
// waiting at once (the pool has 32 threads), an unrelated assign still commits at once,
// and each release finishes as soon as its last descriptor completes, not at its deadline.
TEST_F(GrpcServiceTest, SixtyFourWaitingForcedReleasesLeaveWritesFlowing) {
  StopServer();
  StartServer(80);
  constexpr uint32_t kReleases = 64;
  std::vector<uint32_t> ids;
  std::vector<uint64_t> cookies;
  for (uint32_t domain = 1; domain <= kReleases; ++domain) {
    v1::Context ctx;
    ASSERT_TRUE(Assign(Guest(domain), &ctx).ok());
    ASSERT_TRUE(RegisterRegion(ctx.id()).ok());
    ids.push_back(ctx.id());
    cookies.push_back(PostCookie(channel_, ctx.id()));
    ASSERT_NE(cookies.back(), 0u);
  }
  auto releasing = OwnChannel(config_.unix_socket());
  auto release_stub = v1::ContextService::NewStub(releasing);
  std::vector<grpc::Status> statuses(kReleases);
  std::vector<v1::ReleaseContextResponse> responses(kReleases);
  std::vector<std::thread> releases;
  for (uint32_t i = 0; i < kReleases; ++i) {
    releases.emplace_back([&, i] {
      grpc::ClientContext call;
      call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      v1::ReleaseContextRequest release;
      release.mutable_ref()->set_id(ids[i]);
      release.mutable_force_wait()->set_seconds(30);
      statuses[i] = release_stub->ReleaseContext(&call, release, &responses[i]);
    });
  }
  // All 64 are waiting: their contexts refuse new descriptors. (A probe that comes before
  // its context's release is accepted, and completed with the rest below.)
  std::vector<std::pair<uint32_t, uint64_t>> probes;
  std::vector<bool> closing(kReleases, false);
  uint64_t probe_count = 0;
  EXPECT_TRUE(testing::WaitFor([&] {
    bool all = true;
    for (uint32_t i = 0; i < kReleases; ++i) {
      if (closing[i]) continue;
      v1::DescriptorVerdict verdict = v1::DESCRIPTOR_VERDICT_UNSPECIFIED;
      const uint64_t cookie =
          PostCookie(channel_, ids[i], 1024 + (probe_count++ % 960) * 64, &verdict);
      if (cookie != 0) probes.emplace_back(ids[i], cookie);
      closing[i] = verdict == v1::DESCRIPTOR_VERDICT_CONTEXT_CLOSING;
      all = all && closing[i];
    }
    return all;
  }));
  {
    const absl::Time start = absl::Now();
    grpc::ClientContext call;
    call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::Context other;
    const grpc::Status s = contexts_->AssignContext(&call, Guest(70), &other);
    EXPECT_TRUE(s.ok()) << s.error_message();
    double load[3] = {};
    getloadavg(load, 3);
    std::printf("assign while %u forced releases wait: %s (load %.2f)\n", kReleases,
                absl::FormatDuration(absl::Now() - start).c_str(), load[0]);
    EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  }
  const absl::Time completing = absl::Now();
  for (uint32_t i = 0; i < kReleases; ++i) {
    EXPECT_EQ(CompleteCookie(channel_, ids[i], cookies[i]), 1u);
  }
  for (const auto& [id, cookie] : probes) EXPECT_EQ(CompleteCookie(channel_, id, cookie), 1u);
  for (std::thread& t : releases) t.join();
  EXPECT_LT(absl::Now() - completing, absl::Seconds(10));  // not the 30 s force_wait
  for (uint32_t i = 0; i < kReleases; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    EXPECT_EQ(responses[i].abandoned_descriptors(), 0u);
  }
  EXPECT_EQ(server_->registry().size(), 1u);  // the assign made meanwhile
  EXPECT_EQ(Regions().contexts_size(), 0);
}

// A waiting forced release that the caller cancels changes nothing, and the context takes
// descriptors again.
TEST_F(GrpcServiceTest, CancelledForcedReleaseChangesNothing) {
  v1::Context ctx;
  ASSERT_TRUE(Assign(Guest(1), &ctx).ok());
  ASSERT_TRUE(RegisterRegion(ctx.id()).ok());
  ASSERT_EQ(Post(ctx.id(), 0), v1::DESCRIPTOR_VERDICT_ACCEPTED);
  grpc::ClientContext call;
  v1::ReleaseContextRequest release;
  release.mutable_ref()->set_id(ctx.id());
  release.mutable_force_wait()->set_seconds(30);
  v1::ReleaseContextResponse released;
  grpc::Status status;
  std::thread releasing([&] { status = contexts_->ReleaseContext(&call, release, &released); });
  // (A probe that comes before the release starts is accepted: one more in flight.)
  int probes_accepted = 0;
  ASSERT_TRUE(testing::WaitFor([&] {
    const v1::DescriptorVerdict verdict = Post(ctx.id(), 1024 + 64 * probes_accepted);
    probes_accepted += verdict == v1::DESCRIPTOR_VERDICT_ACCEPTED ? 1 : 0;
    return verdict == v1::DESCRIPTOR_VERDICT_CONTEXT_CLOSING;
  }));
  const absl::Time cancelled = absl::Now();
  call.TryCancel();
  releasing.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  // The server gave up too, at once (not at the end of the 30 s wait).
  EXPECT_TRUE(testing::WaitFor(
      [&] { return Post(ctx.id(), 32768) == v1::DESCRIPTOR_VERDICT_ACCEPTED; }, absl::Seconds(2)));
  EXPECT_LT(absl::Now() - cancelled, absl::Seconds(3));
  EXPECT_TRUE(Get(ctx.id()).ok());
  const v1::ListRegionsResponse regions = Regions(ctx.id());
  ASSERT_EQ(regions.contexts_size(), 1);
  ASSERT_EQ(regions.contexts(0).regions_size(), 1);
  EXPECT_EQ(regions.contexts(0).regions(0).in_flight(), 2u + probes_accepted);
  EXPECT_EQ(server_->registry().size(), 1u);
}

// A tmpfs of 1 MiB under the test's directory, filled on demand; unmounted at the end.
class TinyDisk {
 public:
  explicit TinyDisk(const std::string& path) : path_(path) {
    mkdir(path_.c_str(), 0700);
    mounted_ = mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=1m,mode=0700") == 0;
  }
  ~TinyDisk() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  // Writes a filler file until the disk is full.
  void Fill() {
    std::ofstream filler(path_ + "/filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), block.size())) {
    }
  }
  void Free() { unlink((path_ + "/filler").c_str()); }

 private:
  std::string path_;
  bool mounted_ = false;
};

// A release that cannot be persisted (full disk) keeps the context and
// its buffer regions, and so do an assign, an update and an uplink change.
TEST_F(GrpcServiceTest, CallsThatCannotPersistChangeNothing) {
  ASSERT_EQ(geteuid(), 0u) << "mounts a tmpfs: run as root (CI does)";
  TinyDisk disk(dir_ / "disk");
  ASSERT_TRUE(disk.mounted()) << strerror(errno);
  StopServer();
  StartServer(4, dir_ / "disk/state");
  v1::Context ctx;
  ASSERT_TRUE(Assign(Guest(1), &ctx).ok());
  ASSERT_TRUE(RegisterRegion(ctx.id()).ok());
  ASSERT_EQ(Post(ctx.id(), 0), v1::DESCRIPTOR_VERDICT_ACCEPTED);
  const std::string saved = testing::ReadFile(dir_ / "disk/state/contexts.state");
  disk.Fill();

  for (bool force : {false, true}) {
    grpc::ClientContext call;
    v1::ReleaseContextRequest release;
    release.mutable_ref()->set_id(ctx.id());
    if (force) release.mutable_force_wait()->set_nanos(10000000);
    v1::ReleaseContextResponse released;
    grpc::Status s = contexts_->ReleaseContext(&call, release, &released);
    // Unforced, the descriptor in flight refuses it first; forced, the write fails.
    EXPECT_EQ(s.error_code(),
              force ? grpc::StatusCode::UNAVAILABLE : grpc::StatusCode::FAILED_PRECONDITION)
        << s.error_message();
    EXPECT_TRUE(Get(ctx.id()).ok());
    const v1::ListRegionsResponse regions = Regions(ctx.id());
    ASSERT_EQ(regions.contexts_size(), 1);
    ASSERT_EQ(regions.contexts(0).regions_size(), 1) << "regions dropped by a failed release";
    EXPECT_EQ(regions.contexts(0).regions(0).in_flight(), force ? 2u : 1u);
    EXPECT_EQ(Post(ctx.id(), 1024 * (force ? 2 : 1)), v1::DESCRIPTOR_VERDICT_ACCEPTED);
  }

  v1::Context out;
  EXPECT_EQ(Assign(Guest(2), &out).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server_->registry().size(), 1u);

  v1::Context before;
  ASSERT_TRUE(Get(ctx.id(), &before).ok());
  grpc::ClientContext update_call;
  v1::UpdateContextRequest update;
  update.mutable_ref()->set_id(ctx.id());
  update.mutable_context()->set_mtu(9000);
  update.mutable_update_mask()->add_paths("mtu");
  EXPECT_EQ(contexts_->UpdateContext(&update_call, update, &out).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  v1::Context after;
  ASSERT_TRUE(Get(ctx.id(), &after).ok());
  EXPECT_EQ(after.DebugString(), before.DebugString());

  auto daemon = v1::DaemonService::NewStub(channel_);
  grpc::ClientContext uplink_call;
  v1::SetUplinkRequest uplink;
  uplink.set_interface_name("eth9");
  v1::Status status;
  EXPECT_EQ(daemon->SetUplink(&uplink_call, uplink, &status).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server_->registry().uplink(), "");
  EXPECT_EQ(dataplane_.Uplink(), "");  // the fast path went back too
  EXPECT_EQ(dataplane_.uplink_changes(), 2);
  EXPECT_EQ(testing::ReadFile(dir_ / "disk/state/contexts.state"), saved);

  // Room again: the release goes through and takes the regions with it.
  disk.Free();
  grpc::ClientContext call;
  v1::ReleaseContextRequest release;
  release.mutable_ref()->set_id(ctx.id());
  release.mutable_force_wait()->set_nanos(10000000);
  v1::ReleaseContextResponse released;
  ASSERT_TRUE(contexts_->ReleaseContext(&call, release, &released).ok());
  EXPECT_EQ(released.abandoned_descriptors(), 3u);
  EXPECT_EQ(Regions().contexts_size(), 0);
  StopServer();
}

// An audit line that cannot be written (the audit log's disk is full) is lost, but never
// silently: vnetd's log says so once, and again when lines are written again.
TEST_F(GrpcServiceTest, AnAuditLineThatCannotBeWrittenIsLoggedNotLostSilently) {
  ASSERT_EQ(geteuid(), 0u) << "mounts a tmpfs: run as root (CI does)";
  TinyDisk disk(dir_ / "disk");
  ASSERT_TRUE(disk.mounted()) << strerror(errno);
  StopServer();
  config_.set_audit_log(dir_ / "disk/audit.log");
  StartServer(4);
  disk.Fill();
  ::testing::internal::CaptureStderr();
  v1::Context ctx;
  const grpc::Status assigned = Assign(Guest(1), &ctx);  // its state is on another disk
  v1::Context again;
  const grpc::Status repeated = Assign(Guest(1), &again);
  std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(assigned.ok()) << assigned.error_message();
  EXPECT_TRUE(repeated.ok()) << repeated.error_message();
  EXPECT_THAT(logged, HasSubstr("audit log: cannot write"));
  EXPECT_EQ(logged.find("audit log: cannot write"), logged.rfind("audit log: cannot write"))
      << "logged once per run of failures: " << logged;

  disk.Free();
  ::testing::internal::CaptureStderr();
  grpc::ClientContext call;
  v1::ReleaseContextRequest release;
  release.mutable_ref()->set_id(ctx.id());
  v1::ReleaseContextResponse released;
  EXPECT_TRUE(contexts_->ReleaseContext(&call, release, &released).ok());
  logged = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(logged, HasSubstr("audit log: writing"));
  EXPECT_THAT(testing::ReadFile(dir_ / "disk/audit.log"), HasSubstr("ReleaseContext"));
  StopServer();
}

// A huge bad value comes back as a short message with the right code
// (a 1 MB echo would reach the client as RESOURCE_EXHAUSTED).
TEST_F(GrpcServiceTest, ErrorsQuoteAShortExcerptOfBadInput) {
  auto req = Guest(1);
  req.mutable_context()->set_interface_name(std::string(1 << 20, 'v'));
  v1::Context out;
  grpc::Status s = Assign(req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(s.error_message().size(), 200u);
  EXPECT_THAT(s.error_message(), HasSubstr("interface_name"));

  grpc::ClientContext call;
  v1::GetContextRequest get;
  get.mutable_ref()->set_interface_name(std::string(1 << 20, 'v'));
  s = contexts_->GetContext(&call, get, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_LT(s.error_message().size(), 200u);

  auto daemon = v1::DaemonService::NewStub(channel_);
  grpc::ClientContext uplink_call;
  v1::SetUplinkRequest uplink;
  uplink.set_interface_name(std::string(1 << 20, 'u'));
  v1::Status status;
  s = daemon->SetUplink(&uplink_call, uplink, &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(s.error_message().size(), 200u);
}

// Invalid UTF-8 in a string field is the caller's error, and says so.
TEST_F(GrpcServiceTest, InvalidUtf8IsInvalidArgument) {
  // GetContextRequest{ref: {interface_name: "\xff\xfe"}}: field 1 (ref) holding field 3.
  const std::string bytes("\x0a\x04\x1a\x02\xff\xfe", 6);
  grpc::GenericStub stub(channel_);
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  grpc::Slice slice(bytes.data(), bytes.size());
  grpc::ByteBuffer request(&slice, 1);
  auto rpc = stub.PrepareUnaryCall(&call, "/vnet.v1.ContextService/GetContext", request, &cq);
  rpc->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  rpc->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("UTF-8"));
}

// The mapped form of an address another context holds is refused, so
// it cannot dodge the duplicate check.
TEST_F(GrpcServiceTest, MappedAddressCannotDodgeTheDuplicateCheck) {
  v1::Context out;
  ASSERT_TRUE(Assign(Guest(1), &out).ok());  // holds 198.18.0.1 in VLAN 1
  auto twin = Guest(2);
  twin.mutable_context()->add_ipv6_addresses("::ffff:198.18.0.1");
  grpc::Status s = Assign(twin, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("IPv4-mapped"));
  EXPECT_EQ(server_->registry().size(), 1u);
}

// ListContexts pages (AIP-158).
TEST_F(GrpcServiceTest, ListContextsPages) {
  v1::Context out;
  for (uint32_t d = 1; d <= 3; ++d) ASSERT_TRUE(Assign(Guest(d), &out).ok());
  v1::ListContextsRequest req;
  req.set_page_size(2);
  std::vector<uint32_t> ids;
  int pages = 0;
  do {
    grpc::ClientContext call;
    v1::ListContextsResponse page;
    ASSERT_TRUE(contexts_->ListContexts(&call, req, &page).ok());
    EXPECT_LE(page.contexts_size(), 2);
    EXPECT_EQ(page.capacity(), 4u);
    for (const v1::Context& c : page.contexts()) ids.push_back(c.id());
    req.set_page_token(page.next_page_token());
    ++pages;
  } while (!req.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 2);
  EXPECT_THAT(ids, ::testing::ElementsAre(1u, 2u, 3u));

  grpc::ClientContext bad_token_call;
  req.set_page_token("not-a-token");
  v1::ListContextsResponse page;
  EXPECT_EQ(contexts_->ListContexts(&bad_token_call, req, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext negative_call;
  req.clear_page_token();
  req.set_page_size(-1);
  EXPECT_EQ(contexts_->ListContexts(&negative_call, req, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext all_call;
  ASSERT_TRUE(contexts_->ListContexts(&all_call, v1::ListContextsRequest(), &page).ok());
  EXPECT_EQ(page.contexts_size(), 3);  // the default page holds them all
  EXPECT_TRUE(page.next_page_token().empty());
}

// ListRegions pages by region; a context may continue on the next page.
TEST_F(GrpcServiceTest, ListRegionsPages) {
  v1::Context out;
  auto buffers = v1::BufferService::NewStub(channel_);
  for (uint32_t d = 1; d <= 2; ++d) {
    ASSERT_TRUE(Assign(Guest(d), &out).ok());
    for (uint64_t r = 1; r <= 3; ++r) {
      grpc::ClientContext call;
      v1::RegisterRegionRequest req;
      req.set_context_id(d);
      req.mutable_region()->set_region_id(r);
      req.mutable_region()->set_guest_address(d * 0x10000000 + r * 0x100000);
      req.mutable_region()->set_length(0x1000);
      req.mutable_region()->set_access(v1::REGION_ACCESS_READ_ONLY);
      v1::Region region;
      ASSERT_TRUE(buffers->RegisterRegion(&call, req, &region).ok());
    }
  }
  v1::ListRegionsRequest req;
  req.set_page_size(4);
  std::vector<std::pair<uint32_t, uint64_t>> seen;
  int pages = 0;
  do {
    grpc::ClientContext call;
    v1::ListRegionsResponse page;
    ASSERT_TRUE(buffers->ListRegions(&call, req, &page).ok());
    for (const v1::ContextRegions& c : page.contexts()) {
      EXPECT_EQ(c.bytes_registered(), 3u * 0x1000);  // the context's total on every page
      for (const v1::Region& r : c.regions()) seen.emplace_back(c.context_id(), r.region_id());
    }
    req.set_page_token(page.next_page_token());
    ++pages;
  } while (!req.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 2);
  const std::vector<std::pair<uint32_t, uint64_t>> expected = {{1, 1}, {1, 2}, {1, 3},
                                                               {2, 1}, {2, 2}, {2, 3}};
  EXPECT_EQ(seen, expected);

  // A token is bound to its listing: another context_id refuses it.
  req.set_page_size(1);
  req.clear_page_token();
  grpc::ClientContext first_call;
  v1::ListRegionsResponse first;
  ASSERT_TRUE(buffers->ListRegions(&first_call, req, &first).ok());
  ASSERT_FALSE(first.next_page_token().empty());
  req.set_context_id(2);
  req.set_page_token(first.next_page_token());
  grpc::ClientContext other_call;
  v1::ListRegionsResponse other;
  EXPECT_EQ(buffers->ListRegions(&other_call, req, &other).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Even under a permissive umask the socket is never connectable by
// others, not even for a moment while the server starts.
TEST_F(GrpcServiceTest, SocketIsNeverWorldConnectableWhileStarting) {
  StopServer();
  const mode_t old_umask = umask(0);
  std::atomic<bool> done{false};
  std::atomic<int> world_writable{0};
  std::atomic<int> seen{0};
  const std::string path = dir_ / "vnetd.sock";
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  std::thread watcher([&] {
    while ((!done || seen == 0) && absl::Now() < give_up) {
      struct stat st {};
      if (lstat(path.c_str(), &st) == 0) {
        ++seen;
        if ((st.st_mode & 0007) != 0) ++world_writable;
      }
    }
  });
  config_.set_metrics_address("127.0.0.1:0");  // more work between bind and the end of Start
  StartServer(4);
  done = true;
  watcher.join();
  umask(old_umask);
  EXPECT_GT(seen.load(), 0);
  EXPECT_EQ(world_writable.load(), 0);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

// Reads never wait for a disk write. A write held up at the commit point
// (a slow fsync) does not hold up GetContext or ListContexts.
TEST_F(GrpcServiceTest, ReadsDoNotWaitForAWrite) {
  v1::Context first;
  ASSERT_TRUE(Assign(Guest(1), &first).ok());
  absl::Notification writing;
  absl::Notification disk_done;
  server_->registry().SetBeforeCommitHookForTest([&] {
    writing.Notify();
    disk_done.WaitForNotification();
  });
  std::thread slow([&] {
    v1::Context out;
    EXPECT_TRUE(Assign(Guest(2), &out).ok());
  });
  writing.WaitForNotification();
  const absl::Time start = absl::Now();
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::GetContextRequest get;
  get.mutable_ref()->set_id(first.id());
  v1::Context got;
  const grpc::Status s = contexts_->GetContext(&call, get, &got);
  const absl::Duration waited = absl::Now() - start;
  grpc::ClientContext list_call;
  list_call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::ListContextsResponse list;
  const grpc::Status listed = contexts_->ListContexts(&list_call, v1::ListContextsRequest(), &list);
  disk_done.Notify();
  slow.join();
  server_->registry().SetBeforeCommitHookForTest(nullptr);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_LT(waited, absl::Seconds(1));
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  EXPECT_EQ(list.contexts_size(), 1);  // the write under way is not visible before its commit
  EXPECT_EQ(server_->registry().size(), 2u);
}

// Writers that queue while one write is under way share the next one
// (group commit), and each still gets its own answer.
TEST_F(GrpcServiceTest, QueuedWritersShareOneWrite) {
  StopServer();
  StartServer(64);
  HoldFirstCall disk;  // the first state write waits for a slow disk
  server_->registry().SetBeforeCommitHookForTest(disk.Hook());
  ContextRegistry& registry = server_->registry();
  std::thread first([&] { EXPECT_TRUE(registry.Assign(Guest(1).context()).ok()); });
  disk.held.WaitForNotification();
  constexpr int kQueued = 20;
  std::vector<std::thread> queued;
  std::atomic<int> ok{0};
  for (int d = 2; d < 2 + kQueued; ++d) {
    queued.emplace_back([&, d] {
      if (registry.Assign(Guest(static_cast<uint32_t>(d)).context()).ok()) ++ok;
    });
  }
  // One of them refused on its own: the interface of guest 1.
  std::thread refused([&] {
    auto clash = Guest(50).context();
    clash.set_interface_name("vif1.0");
    EXPECT_TRUE(absl::IsAlreadyExists(registry.Assign(clash).status()));
  });
  absl::SleepFor(absl::Milliseconds(300));  // all queued behind the first write
  disk.release.Notify();
  first.join();
  for (auto& t : queued) t.join();
  refused.join();
  registry.SetBeforeCommitHookForTest(nullptr);
  EXPECT_EQ(ok.load(), kQueued);
  EXPECT_EQ(registry.size(), static_cast<size_t>(kQueued + 1));
  EXPECT_LE(disk.calls.load(), 3) << "queued writers were not committed together";
  StopServer();
  StartServer(64);
  EXPECT_EQ(server_->registry().size(), static_cast<size_t>(kQueued + 1));  // all durable
}

// A member of a group whose caller gives up before the commit is left out; the group is
// formed again without it and the others are committed.
TEST_F(GrpcServiceTest, GroupMemberThatGaveUpIsLeftOut) {
  absl::Notification first_writing;
  absl::Notification go_on;
  std::atomic<int> writes{0};
  ContextRegistry& registry = server_->registry();
  registry.SetBeforeCommitHookForTest([&] {
    const int n = writes++;
    if (n == 0) {
      first_writing.Notify();
      go_on.WaitForNotification();
    } else if (n == 1) {
      absl::SleepFor(absl::Milliseconds(500));  // the group's write outlasts A's deadline
    }
  });
  std::thread first([&] { EXPECT_TRUE(registry.Assign(Guest(1).context()).ok()); });
  first_writing.WaitForNotification();
  absl::Status a_status;
  absl::Status b_status;
  std::thread a([&] {
    CallLimits limits;
    limits.deadline = absl::Now() + absl::Milliseconds(300);
    a_status = registry.Assign(Guest(2).context(), limits).status();
  });
  std::thread b([&] { b_status = registry.Assign(Guest(3).context()).status(); });
  absl::SleepFor(absl::Milliseconds(100));
  go_on.Notify();
  first.join();
  a.join();
  b.join();
  registry.SetBeforeCommitHookForTest(nullptr);
  EXPECT_TRUE(absl::IsDeadlineExceeded(a_status)) << a_status;
  EXPECT_TRUE(b_status.ok()) << b_status;
  EXPECT_EQ(registry.size(), 2u);
  EXPECT_THAT(testing::ReadFile(dir_ / "state/contexts.state"), HasSubstr("vif3.0"));
  EXPECT_THAT(testing::ReadFile(dir_ / "state/contexts.state"),
              ::testing::Not(HasSubstr("vif2.0")));
}

}  // namespace
}  // namespace vnet
