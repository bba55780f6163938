// The real gRPC server (VnetServer, as vnetd runs it) driven by the real generated clients
// over a Unix socket.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "daemon/server.h"
#include "protos/health_check.grpc.pb.h"
#include "tests/integration/temp_dir.h"
#include "vnet/v1/buffer.grpc.pb.h"
#include "vnet/v1/context.grpc.pb.h"
#include "vnet/v1/daemon.grpc.pb.h"

namespace vnet {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

class GrpcServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(4); }

  void StartServer(uint32_t capacity) {
    config_.set_unix_socket(dir_ / "vnetd.sock");
    config_.set_state_dir(dir_ / "state");
    config_.set_capacity(capacity);
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

  TempDir dir_;
  v1::DaemonConfig config_;
  NoDataplane dataplane_;
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

}  // namespace
}  // namespace vnet
