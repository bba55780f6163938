// Access control end to end: a real vnetd, real gRPC, vnetctl as separate processes.
// mTLS clients with throwaway certificates (openssl, in the test's directory) per role,
// a non-root user on the Unix socket, the refusal of plain TCP off loopback, the audit log.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "tests/integration/process.h"
#include "tests/integration/temp_dir.h"

namespace vnet {
namespace {

using testing::FreeTcpPort;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Process;
using testing::ReadFile;
using testing::RunCommand;
using testing::RunResult;
using testing::TempDir;
using testing::WaitFor;

class AuthProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chmod(dir_.path().c_str(), 0755);  // the unprivileged client must reach the socket
    address_ = absl::StrCat("127.0.0.1:", FreeTcpPort());
  }

  std::string socket() const { return dir_ / "vnetd.sock"; }
  std::string audit() const { return dir_ / "state/audit.log"; }

  void Openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = RunCommand(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A CA, vnetd's certificate for 127.0.0.1, and one client certificate per role.
  void MakeCertificates() {
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-days", "1", "-subj", "/CN=vnet test CA", "-keyout", dir_ / "ca.key", "-out",
             dir_ / "ca.pem"});
    Issue("server", "/CN=vnetd", "subjectAltName=IP:127.0.0.1,DNS:localhost");
    for (const char* role : {"reader", "operator", "admin"}) {
      Issue(role, absl::StrCat("/O=vnet test/OU=", role, "/CN=", role, "-client"), "");
    }
  }

  void Issue(const std::string& name, const std::string& subject, const std::string& san) {
    Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
             subject, "-keyout", dir_ / (name + ".key"), "-out", dir_ / (name + ".csr")});
    std::vector<std::string> sign = {"x509",
                                     "-req",
                                     "-in",
                                     dir_ / (name + ".csr"),
                                     "-CA",
                                     dir_ / "ca.pem",
                                     "-CAkey",
                                     dir_ / "ca.key",
                                     "-CAcreateserial",
                                     "-days",
                                     "1",
                                     "-out",
                                     dir_ / (name + ".pem")};
    if (!san.empty()) {
      std::ofstream(dir_ / (name + ".ext")) << san << "\n";
      sign.insert(sign.end(), {"-extfile", dir_ / (name + ".ext")});
    }
    Openssl(sign);
  }

  std::unique_ptr<Process> StartDaemon(const std::string& config, std::vector<std::string> extra) {
    std::ofstream(dir_ / "vnetd.conf") << config;
    std::vector<std::string> argv = {VNETD_PATH,
                                     "--unix_socket=" + socket(),
                                     "--state_dir=" + (dir_ / "state"),
                                     "--config=" + (dir_ / "vnetd.conf"),
                                     "--fast_path=none",
                                     "--metrics_address=off"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto daemon = std::make_unique<Process>(argv, dir_ / "vnetd.log");
    EXPECT_TRUE(WaitFor([&] {
      return RunCommand({VNETCTL_PATH, "--socket", socket(), "status"}).exit_code == 0 ||
             !daemon->running();
    })) << ReadFile(dir_ / "vnetd.log");
    return daemon;
  }

  std::unique_ptr<Process> StartTlsDaemon() {
    MakeCertificates();
    return StartDaemon(
        absl::StrCat("tcp_address: \"", address_, "\"\ntls {\n  server_cert_file: \"",
                     dir_ / "server.pem", "\"\n  server_key_file: \"", dir_ / "server.key",
                     "\"\n  client_ca_file: \"", dir_ / "ca.pem",
                     "\"\n}\nallowed_uplinks: \"vnt-up*\"\n"),
        {});
  }

  // vnetctl over mTLS with `role`'s certificate.
  RunResult As(const std::string& role, std::vector<std::string> args) {
    args.insert(args.begin(),
                {VNETCTL_PATH, "--address", address_, "--timeout", "5", "--tls-ca", dir_ / "ca.pem",
                 "--tls-cert", dir_ / (role + ".pem"), "--tls-key", dir_ / (role + ".key")});
    return RunCommand(args);
  }

  static std::vector<std::string> Assign(int n) {
    return {"context",     "assign",
            "--domain",    absl::StrCat(n),
            "--device",    "0",
            "--interface", absl::StrCat("vif", n, ".0"),
            "--mac",       absl::StrCat("00:16:3e:00:00:0", n)};
  }

  TempDir dir_;
  std::string address_;
};

TEST_F(AuthProcessTest, MutualTlsRolesFromCertificates) {
  auto daemon = StartTlsDaemon();

  // reader: reads, and is refused a change, which changes nothing.
  RunResult list = As("reader", {"context", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err << ReadFile(dir_ / "vnetd.log");
  RunResult refused = As("reader", Assign(1));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("needs role operator"));
  EXPECT_THAT(refused.err, HasSubstr("OU=reader"));
  EXPECT_THAT(As("reader", {"context", "list"}).out, HasSubstr("0 of"));

  // operator: contexts yes, uplink no.
  RunResult assigned = As("operator", Assign(1));
  ASSERT_EQ(assigned.exit_code, 0) << assigned.err;
  RunResult uplink = As("operator", {"uplink", "set", "vnt-up0"});
  EXPECT_EQ(uplink.exit_code, 1);
  EXPECT_THAT(uplink.err, HasSubstr("needs role admin"));

  // admin: past the role gate and the allow-list (this vnetd has no fast path to attach
  // to, so the data plane refuses), but only within the allow-list.
  RunResult admin = As("admin", {"uplink", "set", "vnt-up0"});
  EXPECT_THAT(admin.err, HasSubstr("no fast path"));
  RunResult not_allowed = As("admin", {"uplink", "set", "eth0"});
  EXPECT_EQ(not_allowed.exit_code, 1);
  EXPECT_THAT(not_allowed.err, HasSubstr("uplink eth0 is not allowed"));

  // No client certificate: the handshake fails, nothing is answered.
  RunResult anonymous =
      RunCommand({VNETCTL_PATH, "--address", address_, "--timeout", "5", "status"});
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_THAT(anonymous.out, Not(HasSubstr("vnetd")));

  // The audit log: each mutation with who, what and the result.
  const std::string log = ReadFile(audit());
  EXPECT_THAT(log, HasSubstr("OU=reader"));
  EXPECT_THAT(log, HasSubstr("method=/vnet.v1.ContextService/AssignContext result=7"));
  EXPECT_THAT(log, HasSubstr("OU=operator,O=vnet test\" method=/vnet.v1.ContextService/"
                             "AssignContext domain=1 device=0 interface=vif1.0 result=0"));
  EXPECT_THAT(log, HasSubstr("method=/vnet.v1.DaemonService/SetUplink uplink=vnt-up0 result=9"));
  EXPECT_THAT(log, HasSubstr("method=/vnet.v1.DaemonService/SetUplink uplink=eth0 result=7"));
  EXPECT_THAT(log, Not(HasSubstr("ListContexts")));
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);
}

TEST_F(AuthProcessTest, PlainTcpOnlyOnLoopbackAndOnlyWhenAllowed) {
  RunResult refused =
      RunCommand({VNETD_PATH, "--unix_socket=" + socket(), "--state_dir=" + (dir_ / "state"),
                  "--fast_path=none", "--metrics_address=off", "--tcp_address=0.0.0.0:0"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("TCP without TLS is refused"));
  refused = RunCommand({VNETD_PATH, "--unix_socket=" + socket(), "--state_dir=" + (dir_ / "state"),
                        "--fast_path=none", "--metrics_address=off", "--tcp_address=0.0.0.0:0",
                        "--tcp_insecure_loopback"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("loopback address only"));

  // Allowed on loopback: reader by default.
  auto daemon = StartDaemon("", {"--tcp_address=" + address_, "--tcp_insecure_loopback"});
  RunResult status = RunCommand({VNETCTL_PATH, "--address", address_, "status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  RunResult assign = Assign(1).empty() ? RunResult{} : RunCommand([&] {
    std::vector<std::string> argv = {VNETCTL_PATH, "--address", address_};
    for (const std::string& a : Assign(1)) argv.push_back(a);
    return argv;
  }());
  EXPECT_EQ(assign.exit_code, 1);
  EXPECT_THAT(assign.err, HasSubstr("loopback TCP without TLS is reader"));
}

TEST_F(AuthProcessTest, UnixSocketRolesFromPeerCredentials) {
  // nobody's group may connect and read; its changes are refused.
  auto daemon =
      StartDaemon("unix_access { reader_group: \"65534\" socket_group: \"65534\" }\n", {});
  const std::vector<std::string> nobody = {"/usr/bin/setpriv", "--reuid",  "65534",
                                           "--regid",          "65534",    "--clear-groups",
                                           VNETCTL_PATH,       "--socket", socket()};
  ASSERT_EQ(RunCommand({VNETCTL_PATH, "--socket", socket(), "context", "assign", "--domain", "1",
                        "--device", "0", "--interface", "vif1.0", "--mac", "00:16:3e:00:00:01"})
                .exit_code,
            0);
  auto run_as_nobody = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = nobody;
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  };
  RunResult list = run_as_nobody({"context", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("vif1.0"));
  RunResult release = run_as_nobody({"context", "release", "--domain", "1", "--device", "0"});
  EXPECT_EQ(release.exit_code, 1);
  EXPECT_THAT(release.err, HasSubstr("needs role operator; unix group 65534 (reader)"));
  EXPECT_THAT(RunCommand({VNETCTL_PATH, "--socket", socket(), "context", "list"}).out,
              HasSubstr("vif1.0"));  // still there
  const std::string log = ReadFile(audit());
  EXPECT_THAT(log, HasSubstr("identity=\"unix uid 0 (admin)\" method=/vnet.v1.ContextService/"
                             "AssignContext domain=1 device=0 interface=vif1.0 result=0"));
  EXPECT_THAT(log, HasSubstr("identity=\"unix group 65534 (reader)\" "
                             "method=/vnet.v1.ContextService/ReleaseContext result=7"));
  // Each connection names the caller's uid, gid and pid, and the identity its calls carry.
  EXPECT_THAT(log, ::testing::ContainsRegex("connection=unix uid=65534 gid=65534 pid=[1-9][0-9]* "
                                            "identity=\"unix group 65534 \\(reader\\)\""));
  EXPECT_THAT(log, ::testing::ContainsRegex(
                       "connection=unix uid=0 gid=0 pid=[1-9][0-9]* identity=\"unix uid 0 "
                       "\\(admin\\)\""));
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);

  // Without a reader group, the same user can connect (socket group) but has no role.
  daemon = StartDaemon("unix_access { socket_group: \"65534\" }\n", {});
  RunResult none = run_as_nobody({"context", "list"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("needs role reader; unix no vnetd group (none) has no role"));
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);

  // Without a socket group, the socket's permissions keep it out altogether.
  daemon = StartDaemon("", {});
  RunResult denied = run_as_nobody({"--timeout", "3", "status"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.err, HasSubstr("cannot reach vnetd"));
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace vnet
