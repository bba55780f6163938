// Every method of every service vnetd serves has a role: a new RPC fails this test until
// someone puts it in daemon/auth/method_roles.cc.
#include "daemon/auth/method_roles.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "vnet/v1/buffer.grpc.pb.h"
#include "vnet/v1/context.grpc.pb.h"
#include "vnet/v1/daemon.grpc.pb.h"
#include "vnet/v1/monitor.grpc.pb.h"
#include "vnet/v1/stats.grpc.pb.h"

namespace vnet::auth {
namespace {

namespace pb = google::protobuf;

// Every .proto of the API directory, so a new file's services are checked too.
std::vector<std::string> ApiProtoFiles() {
  std::vector<std::string> files;
  DIR* dir = opendir(VNET_PROTO_DIR "/vnet/v1");
  if (dir == nullptr) return files;
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (absl::EndsWith(name, ".proto")) files.push_back("vnet/v1/" + name);
  }
  closedir(dir);
  return files;
}

// A file's descriptors are registered only when its code is linked in: name one message of
// each file here (a new .proto fails the test below until it is added).
const pb::Descriptor* const kLinked[] = {
    v1::Region::descriptor(), v1::Context::descriptor(), v1::DaemonConfig::descriptor(),
    v1::GetContextStatsRequest::descriptor(), v1::WatchDropsRequest::descriptor()};

TEST(MethodRolesTest, EveryServedMethodHasARole) {
  ASSERT_EQ(std::size(kLinked), 5u);
  const std::vector<std::string> files = ApiProtoFiles();
  ASSERT_GE(files.size(), 5u);
  int methods = 0;
  for (const std::string& name : files) {
    const pb::FileDescriptor* file = pb::DescriptorPool::generated_pool()->FindFileByName(name);
    ASSERT_NE(file, nullptr) << name << " is not linked in: add one of its messages to kLinked";
    for (int s = 0; s < file->service_count(); ++s) {
      const pb::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const std::string full =
            absl::StrCat("/", service->full_name(), "/", service->method(m)->name());
        EXPECT_NE(FindMethodRule(full), nullptr)
            << full << " has no role in daemon/auth/method_roles.cc";
        ++methods;
      }
    }
  }
  EXPECT_GE(methods, 14);
  // gRPC's own services vnetd turns on (health checking, reflection).
  for (const char* full : {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch",
                           "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"}) {
    EXPECT_NE(FindMethodRule(full), nullptr) << full;
  }
}

TEST(MethodRolesTest, MutationsNeedMoreThanReader) {
  for (const MethodRule& rule : MethodRules()) {
    if (rule.audited) {
      EXPECT_GE(rule.role, Role::kOperator) << rule.method;
    }
  }
  EXPECT_EQ(FindMethodRule("/vnet.v1.DaemonService/SetUplink")->role, Role::kAdmin);
  EXPECT_EQ(FindMethodRule("/vnet.v1.ContextService/AssignContext")->role, Role::kOperator);
  EXPECT_EQ(FindMethodRule("/vnet.v1.ContextService/ListContexts")->role, Role::kReader);
  EXPECT_EQ(FindMethodRule("/vnet.v1.Nope/Nothing"), nullptr);
}

}  // namespace
}  // namespace vnet::auth
