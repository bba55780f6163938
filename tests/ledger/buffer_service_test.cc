// The real BufferService in-process on a Unix socket, driven by the generated client.
#include "daemon/service/buffer_service.h"

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "daemon/core/context_registry.h"
#include "tests/ledger/test_util.h"

namespace vnet {
namespace {

using ledger::testing::kPage;
using ::testing::HasSubstr;

constexpr uint64_t kBase = 0x100000;

class BufferServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    socket_path_ = absl::StrCat("/tmp/vnet-ledger-test-", getpid(), "-", counter++, ".sock");
    unlink(socket_path_.c_str());
    limits_.max_context_bytes = 16 * kPage;
    ledger_ = std::make_unique<ledger::BufferLedger>(limits_);
    service_ = std::make_unique<BufferServiceImpl>(ledger_.get(),
                                                   [this](uint32_t id) -> std::optional<uint32_t> {
                                                     auto it = domains_.find(id);
                                                     if (it == domains_.end()) return std::nullopt;
                                                     return it->second;
                                                   });
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_path_, grpc::InsecureServerCredentials());
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::BufferService::NewStub(
        grpc::CreateChannel("unix:" + socket_path_, grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    server_->Shutdown();
    server_->Wait();
    unlink(socket_path_.c_str());
  }

  grpc::Status Register(uint32_t ctx, uint64_t id, uint64_t address, uint64_t length,
                        v1::RegionAccess access = v1::REGION_ACCESS_READ_WRITE) {
    grpc::ClientContext call;
    v1::RegisterRegionRequest req;
    req.set_context_id(ctx);
    req.mutable_region()->set_region_id(id);
    req.mutable_region()->set_guest_address(address);
    req.mutable_region()->set_length(length);
    req.mutable_region()->set_access(access);
    v1::Region resp;
    return stub_->RegisterRegion(&call, req, &resp);
  }
  static v1::Descriptor Desc(
      uint64_t region, uint64_t address, uint32_t length,
      v1::DescriptorDirection direction = v1::DESCRIPTOR_DIRECTION_TO_DEVICE) {
    v1::Descriptor d;
    d.set_region_id(region);
    d.set_guest_address(address);
    d.set_length(length);
    d.set_direction(direction);
    return d;
  }
  grpc::Status Validate(uint32_t ctx, std::vector<v1::Descriptor> descriptors,
                        v1::ValidateDescriptorsResponse* resp) {
    grpc::ClientContext call;
    v1::ValidateDescriptorsRequest req;
    req.set_context_id(ctx);
    for (auto& d : descriptors) *req.add_descriptors() = d;
    return stub_->ValidateDescriptors(&call, req, resp);
  }
  grpc::Status Unregister(uint32_t ctx, uint64_t id) {
    grpc::ClientContext call;
    v1::UnregisterRegionRequest req;
    req.set_context_id(ctx);
    req.set_region_id(id);
    v1::UnregisterRegionResponse resp;
    return stub_->UnregisterRegion(&call, req, &resp);
  }

  std::string socket_path_;
  // Context id -> domain: contexts 1 and 2 are two NICs of one guest (one address space),
  // context 4 belongs to another guest (3 does not exist).
  std::map<uint32_t, uint32_t> domains_{{1, 10}, {2, 10}, {4, 11}};
  ledger::LedgerLimits limits_;
  std::unique_ptr<ledger::BufferLedger> ledger_;
  std::unique_ptr<BufferServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::BufferService::Stub> stub_;
};

TEST_F(BufferServiceTest, RegisterValidateCompleteUnregister) {
  ASSERT_TRUE(Register(1, 1, kBase, 4 * kPage).ok());
  ASSERT_TRUE(Register(1, 2, kBase + 4 * kPage, kPage, v1::REGION_ACCESS_READ_ONLY).ok());

  v1::ValidateDescriptorsResponse validated;
  ASSERT_TRUE(Validate(1,
                       {Desc(1, kBase, 1500), Desc(1, kBase + 1000, 10), Desc(9, kBase, 1),
                        Desc(2, kBase + 4 * kPage, 64, v1::DESCRIPTOR_DIRECTION_FROM_DEVICE)},
                       &validated)
                  .ok());
  EXPECT_EQ(validated.accepted(), 1u);
  EXPECT_THAT(validated.verdicts(),
              ::testing::ElementsAre(
                  v1::DESCRIPTOR_VERDICT_ACCEPTED, v1::DESCRIPTOR_VERDICT_OVERLAPS_IN_FLIGHT,
                  v1::DESCRIPTOR_VERDICT_UNKNOWN_REGION, v1::DESCRIPTOR_VERDICT_ACCESS_DENIED));
  ASSERT_EQ(validated.cookies_size(), 4);
  EXPECT_NE(validated.cookies(0), 0u);
  EXPECT_EQ(validated.cookies(1), 0u);

  {
    grpc::ClientContext call;
    v1::ListRegionsRequest req;
    v1::ListRegionsResponse resp;
    ASSERT_TRUE(stub_->ListRegions(&call, req, &resp).ok());
    ASSERT_EQ(resp.contexts_size(), 1);
    EXPECT_EQ(resp.contexts(0).context_id(), 1u);
    EXPECT_EQ(resp.contexts(0).in_flight(), 1u);
    EXPECT_EQ(resp.contexts(0).bytes_registered(), 5 * kPage);
    ASSERT_EQ(resp.contexts(0).regions_size(), 2);
    EXPECT_EQ(resp.contexts(0).regions(0).in_flight(), 1u);
    EXPECT_EQ(resp.contexts(0).regions(0).page_size(), 4096u);
    EXPECT_EQ(resp.contexts(0).regions(1).access(), v1::REGION_ACCESS_READ_ONLY);
  }

  const grpc::Status busy = Unregister(1, 1);
  EXPECT_EQ(busy.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(busy.error_message(), HasSubstr("1 descriptors in flight"));

  {
    grpc::ClientContext call;
    v1::CompleteDescriptorsRequest req;
    req.set_context_id(1);
    req.add_cookies(validated.cookies(0));
    req.add_cookies(validated.cookies(0));
    v1::CompleteDescriptorsResponse resp;
    ASSERT_TRUE(stub_->CompleteDescriptors(&call, req, &resp).ok());
    EXPECT_EQ(resp.completed(), 1u);
    EXPECT_THAT(resp.unknown_cookies(), ::testing::ElementsAre(validated.cookies(0)));
  }
  EXPECT_TRUE(Unregister(1, 1).ok());
  EXPECT_EQ(Unregister(1, 1).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(BufferServiceTest, MapsErrorsToStatusCodesWithMessages) {
  const grpc::Status unknown = Register(3, 1, kBase, kPage);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown.error_message(), HasSubstr("context 3 does not exist"));
  EXPECT_EQ(Register(0, 1, kBase, kPage).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const grpc::Status misaligned = Register(1, 1, kBase + 1, kPage);
  EXPECT_EQ(misaligned.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(misaligned.error_message(), HasSubstr("page size"));
  EXPECT_EQ(Register(1, 1, kBase, kPage, v1::REGION_ACCESS_UNSPECIFIED).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  ASSERT_TRUE(Register(1, 1, kBase, 12 * kPage).ok());
  EXPECT_EQ(Register(1, 1, 2 * kBase, kPage).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  const grpc::Status quota = Register(1, 2, 2 * kBase, 5 * kPage);
  EXPECT_EQ(quota.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(quota.error_message(), HasSubstr("quota"));
  const grpc::Status overlap = Register(2, 1, kBase + kPage, kPage);
  EXPECT_EQ(overlap.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(overlap.error_message(), HasSubstr("region 1 of context 1"));
  // Another guest's physical addresses are its own: the same range is no conflict there.
  EXPECT_TRUE(Register(4, 1, kBase + kPage, kPage).ok());

  EXPECT_EQ(Unregister(2, 7).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ValidateDescriptorsResponse resp;
  EXPECT_EQ(Validate(5, {Desc(1, kBase, 1)}, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext call;
  v1::ListRegionsRequest list;
  list.set_context_id(9);
  v1::ListRegionsResponse listed;
  EXPECT_EQ(stub_->ListRegions(&call, list, &listed).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(BufferServiceTest, StreamAnswersEachBatchInOrderAndSurvivesABadBatch) {
  ASSERT_TRUE(Register(1, 1, kBase, 4 * kPage).ok());
  grpc::ClientContext call;
  auto stream = stub_->StreamDescriptors(&call);

  v1::DescriptorBatch batch;
  batch.set_sequence(1);
  batch.set_context_id(1);
  for (int i = 0; i < 8; ++i) *batch.add_descriptors() = Desc(1, kBase + i * 512, 512);
  ASSERT_TRUE(stream->Write(batch));
  v1::DescriptorBatchResult result;
  ASSERT_TRUE(stream->Read(&result));
  EXPECT_EQ(result.sequence(), 1u);
  EXPECT_EQ(result.error_code(), 0);
  EXPECT_EQ(result.validation().accepted(), 8u);
  std::vector<uint64_t> cookies(result.validation().cookies().begin(),
                                result.validation().cookies().end());

  // An unknown context refuses the batch but not the stream.
  batch.set_sequence(2);
  batch.set_context_id(7);
  ASSERT_TRUE(stream->Write(batch));
  ASSERT_TRUE(stream->Read(&result));
  EXPECT_EQ(result.sequence(), 2u);
  EXPECT_EQ(result.error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(result.error_message(), HasSubstr("context 7"));

  // Completions come first, so the same bytes can be posted again in the same batch.
  batch.set_sequence(3);
  batch.set_context_id(1);
  for (uint64_t c : cookies) batch.add_complete_cookies(c);
  batch.add_complete_cookies(424242);
  ASSERT_TRUE(stream->Write(batch));
  ASSERT_TRUE(stream->Read(&result));
  EXPECT_EQ(result.sequence(), 3u);
  EXPECT_EQ(result.completed(), 8u);
  EXPECT_THAT(result.unknown_cookies(), ::testing::ElementsAre(424242u));
  EXPECT_EQ(result.validation().accepted(), 8u);

  ASSERT_TRUE(stream->WritesDone());
  EXPECT_FALSE(stream->Read(&result));
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(ledger_->Snapshot().contexts.at(0).in_flight, 8u);
}

// A stream message that does not parse as a DescriptorBatch ends the stream with
// INVALID_ARGUMENT and a message (a typed reactor could not tell it from the client's
// half-close and ended it with OK); the batch before it was answered and stands.
TEST_F(BufferServiceTest, StreamBatchThatDoesNotParseEndsTheStreamInvalidArgument) {
  ASSERT_TRUE(Register(1, 1, kBase, 4 * kPage).ok());
  grpc::GenericStub stub(
      grpc::CreateChannel("unix:" + socket_path_, grpc::InsecureChannelCredentials()));
  grpc::CompletionQueue cq;
  grpc::ClientContext call;
  auto stream = stub.PrepareCall(&call, "/vnet.v1.BufferService/StreamDescriptors", &cq);
  auto step = [&cq](intptr_t tag) {
    void* got = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&got, &ok));
    // NOLINTNEXTLINE(performance-no-int-to-ptr): completion-queue tags are small integers
    EXPECT_EQ(got, reinterpret_cast<void*>(tag));
    return ok;
  };
  auto send = [&](const std::string& bytes, intptr_t tag) {
    grpc::Slice slice(bytes);
    grpc::ByteBuffer message(&slice, 1);
    // NOLINTNEXTLINE(performance-no-int-to-ptr)
    stream->Write(message, reinterpret_cast<void*>(tag));
    return step(tag);
  };
  // NOLINTNEXTLINE(performance-no-int-to-ptr)
  stream->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(1));

  v1::DescriptorBatch batch;
  batch.set_sequence(1);
  batch.set_context_id(1);
  *batch.add_descriptors() = Desc(1, kBase, 512);
  ASSERT_TRUE(send(batch.SerializeAsString(), 2));
  grpc::ByteBuffer answer;
  // NOLINTNEXTLINE(performance-no-int-to-ptr)
  stream->Read(&answer, reinterpret_cast<void*>(3));
  ASSERT_TRUE(step(3));
  v1::DescriptorBatchResult result;
  ASSERT_TRUE(
      grpc::SerializationTraits<v1::DescriptorBatchResult>::Deserialize(&answer, &result).ok());
  EXPECT_EQ(result.validation().accepted(), 1u);

  send(std::string("\xff\xff\xff\xff", 4), 4);  // may fail: the server ends the stream
  grpc::Status status;
  // NOLINTNEXTLINE(performance-no-int-to-ptr)
  stream->Finish(&status, reinterpret_cast<void*>(5));
  EXPECT_TRUE(step(5));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("not a DescriptorBatch"));
  EXPECT_EQ(ledger_->Snapshot().contexts.at(0).in_flight, 1u);  // the good batch stands
}

TEST(BufferServiceRaceTest, RegistrationRacingAReleaseLeavesNoRegion) {
  // The context exists when the call is checked, and is gone once the region is in.
  ledger::BufferLedger ledger;
  int checks = 0;
  BufferServiceImpl service(&ledger, [&checks](uint32_t) -> std::optional<uint32_t> {
    if (++checks == 1) return 7u;
    return std::nullopt;
  });
  v1::RegisterRegionRequest req;
  req.set_context_id(1);
  req.mutable_region()->set_region_id(1);
  req.mutable_region()->set_guest_address(kBase);
  req.mutable_region()->set_length(kPage);
  req.mutable_region()->set_access(v1::REGION_ACCESS_READ_WRITE);
  v1::Region resp;
  EXPECT_EQ(service.Register(req, CallLimits(), &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(ledger.ListRegions(1).empty());
}

TEST(BufferRegistryHookTest, ReleasingAContextDropsItsRegions) {
  char dir_template[] = "/tmp/vnet-ledger-state-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  NoDataplane dataplane;
  ContextRegistry registry(8, StateFile(dir_template), &dataplane);
  ASSERT_TRUE(registry.Start().ok());
  v1::Context spec;
  spec.set_domain_id(5);
  spec.set_interface_name("vif5.0");
  spec.set_mac("00:16:3e:00:00:05");
  auto assigned = registry.Assign(spec);
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  const uint32_t id = assigned->id();

  ledger::BufferLedger ledger;
  ReleaseBuffersWithContexts(&registry, &ledger, absl::Milliseconds(10));
  const ContextDomain domain_of = ContextsIn(&registry);
  EXPECT_EQ(domain_of(id), std::optional<uint32_t>(5));
  EXPECT_FALSE(domain_of(id + 1).has_value());
  ASSERT_TRUE(ledger.RegisterRegion(id, ledger::testing::Region(1, kBase, kPage)).ok());
  std::vector<ledger::DescriptorResult> results;
  ledger.Validate(id, {ledger::testing::ToDevice(1, kBase, 64)}, &results);
  ASSERT_EQ(results[0].verdict, ledger::Verdict::kAccepted);

  v1::ContextRef ref;
  ref.set_id(id);
  bool found = false;
  ASSERT_TRUE(registry.Release(ref, false, &found).ok());
  EXPECT_FALSE(domain_of(id).has_value());
  EXPECT_TRUE(ledger.ListRegions(id).empty());
  EXPECT_EQ(ledger.Snapshot().descriptors_abandoned, 1u);
  std::system(absl::StrCat("rm -rf ", dir_template).c_str());
}

}  // namespace
}  // namespace vnet
