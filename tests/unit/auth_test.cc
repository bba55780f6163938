// The pure parts of access control: roles from certificates and peer credentials, the
// decision, the listen and uplink policies, the audit line's key fields.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "daemon/auth/audit_log.h"
#include "daemon/auth/role_gate.h"
#include "daemon/auth/tls_identity.h"
#include "daemon/auth/unix_peer.h"
#include "daemon/core/config.h"
#include "daemon/core/listen_policy.h"
#include "daemon/core/uplink_policy.h"
#include "vnet/v1/context.pb.h"
#include "vnet/v1/daemon.pb.h"

namespace vnet::auth {
namespace {

using ::testing::HasSubstr;

TEST(AuthTest, RoleFromCertificateSubjectOu) {
  EXPECT_EQ(RoleFromSubject("CN=ops1,OU=operator,O=example"), Role::kOperator);
  EXPECT_EQ(RoleFromSubject("CN=a,OU=admin"), Role::kAdmin);
  EXPECT_EQ(RoleFromSubject("CN=r, OU=reader"), Role::kReader);
  EXPECT_EQ(RoleFromSubject("CN=x,OU=sales"), Role::kNone);
  EXPECT_EQ(RoleFromSubject("CN=OU\\=admin"), Role::kNone);            // escaped: part of the CN
  EXPECT_EQ(RoleFromSubject("CN=x,OU=reader,OU=admin"), Role::kNone);  // ambiguous
  EXPECT_EQ(RoleFromSubject(""), Role::kNone);
}

TEST(AuthTest, AuthorizeByTable) {
  const Caller reader{"cert CN=r", Role::kReader};
  EXPECT_TRUE(Authorize(reader, "/vnet.v1.ContextService/ListContexts").ok());
  grpc::Status denied = Authorize(reader, "/vnet.v1.ContextService/AssignContext");
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("needs role operator; cert CN=r is reader"));
  const Caller op{"uid 7", Role::kOperator};
  EXPECT_TRUE(Authorize(op, "/vnet.v1.ContextService/AssignContext").ok());
  EXPECT_EQ(Authorize(op, "/vnet.v1.DaemonService/SetUplink").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Authorize({"uid 0", Role::kAdmin}, "/vnet.v1.DaemonService/SetUplink").ok());
  EXPECT_EQ(Authorize({"x", Role::kNone}, "/grpc.health.v1.Health/Check").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Authorize({"uid 0", Role::kAdmin}, "/vnet.v1.Unknown/Call").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);  // not in the table: refused
}

TEST(AuthTest, RoleOfUnixPeer) {
  UnixRoleGroups groups;
  groups.admin = 10;
  groups.op = 20;
  groups.reader = 30;
  EXPECT_EQ(RoleOfPeer({0, 0, 1, {}}, groups).role, Role::kAdmin);
  EXPECT_EQ(RoleOfPeer({1000, 10, 1, {}}, groups).role, Role::kAdmin);
  EXPECT_EQ(RoleOfPeer({1000, 1000, 1, {30, 20}}, groups).role, Role::kOperator);
  EXPECT_EQ(RoleOfPeer({1000, 30, 1, {}}, groups).role, Role::kReader);
  EXPECT_EQ(RoleOfPeer({65534, 65534, 1, {}}, groups).role, Role::kNone);
  EXPECT_EQ(RoleOfPeer({65534, 65534, 1, {}}, UnixRoleGroups{}).role, Role::kNone);
  EXPECT_EQ(*ResolveGroup("42"), 42u);
  EXPECT_EQ(*ResolveGroup("root"), 0u);
  EXPECT_FALSE(ResolveGroup("no-such-group-vnet").ok());
}

TEST(AuthTest, TcpNeedsTlsUnlessLoopbackExplicitlyAllowed) {
  v1::DaemonConfig config = DefaultConfig();
  EXPECT_TRUE(ValidateListenSecurity(config).ok());  // no TCP
  config.set_tcp_address("0.0.0.0:50051");
  EXPECT_THAT(ValidateListenSecurity(config).message(), HasSubstr("TCP without TLS is refused"));
  config.set_tcp_insecure_loopback(true);
  EXPECT_THAT(ValidateListenSecurity(config).message(), HasSubstr("loopback address only"));
  for (const char* loopback : {"127.0.0.1:1", "[::1]:1", "localhost:1", "127.1.2.3:9"}) {
    config.set_tcp_address(loopback);
    EXPECT_TRUE(ValidateListenSecurity(config).ok()) << loopback;
  }
  config.set_tcp_insecure_loopback(false);
  config.set_tcp_address("127.0.0.1:1");
  EXPECT_FALSE(ValidateListenSecurity(config).ok());  // loopback alone is not enough
  config.set_tcp_address("[::]:50051");
  config.mutable_tls()->set_server_cert_file("/c");
  EXPECT_THAT(ValidateListenSecurity(config).message(), HasSubstr("all needed"));
  config.mutable_tls()->set_server_key_file("/k");
  config.mutable_tls()->set_client_ca_file("/ca");
  EXPECT_TRUE(ValidateListenSecurity(config).ok());
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1:1"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:1"));
}

TEST(AuthTest, UplinkAllowList) {
  v1::DaemonConfig config = DefaultConfig();
  EXPECT_TRUE(CheckUplinkAllowed(config, "").ok());  // clearing is always allowed
  EXPECT_EQ(CheckUplinkAllowed(config, "eth0").code(), absl::StatusCode::kPermissionDenied);
  config.set_uplink("eth1");
  EXPECT_TRUE(CheckUplinkAllowed(config, "eth1").ok());
  EXPECT_FALSE(CheckUplinkAllowed(config, "eth0").ok());
  config.add_allowed_uplinks("bond*");
  config.add_allowed_uplinks("veth-up");
  EXPECT_TRUE(CheckUplinkAllowed(config, "bond0").ok());
  EXPECT_TRUE(CheckUplinkAllowed(config, "veth-up").ok());
  EXPECT_THAT(CheckUplinkAllowed(config, "eth0").message(), HasSubstr("bond*, veth-up"));
  EXPECT_FALSE(ValidateConfig(config).ok());  // the config's uplink must match the list too
}

TEST(AuthTest, AuditKeyFields) {
  v1::AssignContextRequest assign;
  assign.mutable_context()->set_domain_id(5);
  assign.mutable_context()->set_interface_name("vif5.0");
  EXPECT_EQ(KeyFields("/vnet.v1.ContextService/AssignContext", assign),
            "domain=5 device=0 interface=vif5.0");
  v1::SetUplinkRequest uplink;
  uplink.set_interface_name("eth1");
  EXPECT_EQ(KeyFields("/vnet.v1.DaemonService/SetUplink", uplink), "uplink=eth1");
  v1::ReleaseContextRequest release;
  release.mutable_ref()->set_id(3);
  EXPECT_EQ(KeyFields("/vnet.v1.ContextService/ReleaseContext", release), "context=3");
}

// Refusals are bounded: over the budget they are counted, not written, and the first line
// after the window says how many; calls that ran and role holders' connections always are.
TEST(AuditLogTest, RefusalsAreBoundedAndTheGapIsSaid) {
  char path[] = "/tmp/vnet-audit-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  auto log = AuditLog::Open(path, {3, absl::Milliseconds(300)});
  ASSERT_TRUE(log.ok()) << log.status();
  const grpc::Status denied(grpc::StatusCode::PERMISSION_DENIED, "needs role operator");
  for (int i = 0; i < 10; ++i) (*log)->RecordRefusal("uid 1000", "/vnet.v1.X/Assign", denied);
  EXPECT_FALSE((*log)->RecordUnixConnection(1000, 1000, 42, "no role", /*has_role=*/false));
  EXPECT_TRUE((*log)->RecordUnixConnection(0, 0, 43, "uid 0", /*has_role=*/true));
  (*log)->Record("uid 0", "/vnet.v1.X/Assign", "domain=1", grpc::Status::OK);
  absl::SleepFor(absl::Milliseconds(350));  // the window ends
  (*log)->RecordRefusal("uid 1000", "/vnet.v1.X/Assign", denied);
  log->reset();

  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::remove(path);
  ASSERT_EQ(lines.size(), 7u) << ::testing::PrintToString(lines);
  for (int i = 0; i < 3; ++i) EXPECT_THAT(lines[i], HasSubstr("result=7"));
  EXPECT_THAT(lines[3], HasSubstr("connection=unix uid=0"));
  EXPECT_THAT(lines[4], HasSubstr("result=0"));
  EXPECT_THAT(lines[5], HasSubstr("refusals_not_logged=8"));  // 7 calls and 1 connection
  EXPECT_THAT(lines[6], HasSubstr("result=7"));
}

}  // namespace
}  // namespace vnet::auth
