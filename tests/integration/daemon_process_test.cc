// vnetd and vnetctl as an operator runs them: separate processes over a Unix socket.
#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/integration/process.h"
#include "tests/integration/temp_dir.h"

namespace vnet {
namespace {

using testing::FreeTcpPort;
using ::testing::HasSubstr;
using testing::Process;
using testing::ReadFile;
using testing::RunCommand;
using testing::RunResult;
using testing::TempDir;
using testing::WaitFor;

class DaemonProcessTest : public ::testing::Test {
 protected:
  std::string socket() const { return dir_ / "vnetd.sock"; }
  std::string state_file() const { return dir_ / "state/contexts.state"; }

  // `start_timeout`: how long vnetd may take to answer (restoring a large state file under
  // the sanitizers on a loaded host takes seconds).
  std::unique_ptr<Process> StartDaemon(std::vector<std::string> extra = {},
                                       absl::Duration start_timeout = absl::Seconds(10)) {
    std::vector<std::string> argv = {VNETD_PATH,
                                     "--unix_socket=" + socket(),
                                     "--state_dir=" + (dir_ / "state"),
                                     "--config=" + WriteConfig("capacity: 8\n"),
                                     "--fast_path=none",
                                     "--metrics_address=off"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto daemon = std::make_unique<Process>(argv, dir_ / "vnetd.log");
    EXPECT_TRUE(WaitFor([&] { return Ctl({"status"}).exit_code == 0 || !daemon->running(); },
                        start_timeout))
        << ReadFile(dir_ / "vnetd.log");
    return daemon;
  }

  std::string WriteConfig(const std::string& text) {
    std::string path = dir_ / "vnetd.conf";
    std::ofstream(path) << text;
    return path;
  }

  RunResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {VNETCTL_PATH, "--socket", socket()});
    return RunCommand(args);
  }

  RunResult AssignGuest(int n, const std::string& output = "table") {
    return Ctl({"context", "assign", "--domain", absl::StrCat(n), "--device", "0", "--interface",
                absl::StrCat("vif", n, ".0"), "--mac", absl::StrCat("00:16:3e:00:00:0", n), "--ip",
                absl::StrCat("198.18.0.", n), "--ip", absl::StrCat("2001:db8::", n), "--vlan",
                absl::StrCat(10 + n % 2), "-o", output});
  }

  TempDir dir_;
};

TEST_F(DaemonProcessTest, TableAndJsonOutput) {
  auto daemon = StartDaemon();
  RunResult table = AssignGuest(1);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("ID"));
  EXPECT_THAT(table.out, HasSubstr("vif1.0"));
  EXPECT_THAT(table.out, HasSubstr("198.18.0.1,2001:db8::1"));

  RunResult json = Ctl({"-o", "json", "context", "get", "1"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"interface_name\": \"vif1.0\""));
  EXPECT_THAT(json.out, HasSubstr("\"vlan\": 11"));

  RunResult list = Ctl({"context", "list"});
  EXPECT_THAT(list.out, HasSubstr("1 of 8 contexts in use"));
  RunResult status = Ctl({"status"});
  EXPECT_THAT(status.out, HasSubstr("1 of 8 in use"));
}

TEST_F(DaemonProcessTest, ExitCodes) {
  auto daemon = StartDaemon({"--allowed_uplinks=vethX"});
  ASSERT_EQ(AssignGuest(1).exit_code, 0);
  EXPECT_EQ(AssignGuest(1).exit_code, 0);  // idempotent

  // Refused by the server: 1, with its message on stderr.
  RunResult conflict = Ctl({"context", "assign", "--domain", "9", "--device", "0", "--interface",
                            "vif9.0", "--mac", "00:16:3e:00:00:01", "--vlan", "11"});
  EXPECT_EQ(conflict.exit_code, 1);
  EXPECT_THAT(conflict.err, HasSubstr("mac 00:16:3e:00:00:01 is already used in vlan 11"));
  RunResult bad_vlan = Ctl({"context", "update", "1", "--vlan", "5000"});
  EXPECT_EQ(bad_vlan.exit_code, 1);
  EXPECT_THAT(bad_vlan.err, HasSubstr("vlan: 5000"));
  EXPECT_EQ(Ctl({"context", "get", "7"}).exit_code, 1);

  // Usage errors: 2, nothing sent.
  EXPECT_EQ(Ctl({"context", "frobnicate"}).exit_code, 2);
  EXPECT_EQ(Ctl({"context", "assign", "--domain", "1"}).exit_code, 2);
  EXPECT_EQ(Ctl({"context", "get", "--bogus"}).exit_code, 2);
  EXPECT_EQ(Ctl({"-o", "yaml", "context", "list"}).exit_code, 2);
  EXPECT_EQ(Ctl({"context", "get", "one"}).exit_code, 2);
  EXPECT_EQ(Ctl({}).exit_code, 2);

  // --help at every level.
  for (const auto& args : std::vector<std::vector<std::string>>{{"--help"},
                                                                {"context", "--help"},
                                                                {"context", "assign", "--help"},
                                                                {"context", "release", "-h"},
                                                                {"status", "--help"}}) {
    RunResult help = Ctl(args);
    EXPECT_EQ(help.exit_code, 0) << args.back();
    EXPECT_THAT(help.out, HasSubstr("Usage: vnetctl"));
  }

  // Daemon unreachable: 1 with a clear line.
  RunResult unreachable =
      RunCommand({VNETCTL_PATH, "--socket", dir_ / "nobody.sock", "--timeout", "2", "status"});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_THAT(unreachable.err, HasSubstr("cannot reach vnetd"));

  // No fast path: an uplink cannot be set, and says why.
  RunResult uplink = Ctl({"uplink", "set", "vethX"});
  EXPECT_EQ(uplink.exit_code, 1);
  EXPECT_THAT(uplink.err, HasSubstr("no fast path"));
  EXPECT_EQ(Ctl({"uplink", "set"}).exit_code, 2);

  // Release: a second release is refused unless --allow-missing.
  EXPECT_EQ(Ctl({"context", "release", "--interface", "vif1.0"}).exit_code, 0);
  EXPECT_EQ(Ctl({"context", "release", "--interface", "vif1.0"}).exit_code, 1);
  EXPECT_EQ(Ctl({"context", "release", "--interface", "vif1.0", "--allow-missing"}).exit_code, 0);
}

// --max_changes_per_second reaches the write pool: at 2 a second (2 at once, then one every
// 500 ms) five assigns through vnetctl take at least 1.5 s; out of range, vnetd refuses to
// start and says why.
TEST_F(DaemonProcessTest, ChangesPerSecondFlagPacesAssignsAndIsBounded) {
  auto daemon = StartDaemon({"--max_changes_per_second=2"});
  const absl::Time start = absl::Now();
  for (int n = 1; n <= 5; ++n) ASSERT_EQ(AssignGuest(n).exit_code, 0) << n;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(1400));
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);

  Process refused({VNETD_PATH, "--unix_socket=" + socket(), "--state_dir=" + (dir_ / "state"),
                   "--fast_path=none", "--metrics_address=off", "--max_changes_per_second=2000000"},
                  dir_ / "refused.log");
  EXPECT_EQ(refused.Wait(absl::Seconds(10)), 2);
  EXPECT_THAT(ReadFile(dir_ / "refused.log"),
              ::testing::HasSubstr("max_changes_per_second: 2000000 is not in 1..1000000"));
}

TEST_F(DaemonProcessTest, KillNineLosesNothing) {
  auto daemon = StartDaemon();
  for (int n = 1; n <= 5; ++n) ASSERT_EQ(AssignGuest(n).exit_code, 0);
  ASSERT_EQ(Ctl({"context", "release", "3"}).exit_code, 0);
  ASSERT_EQ(Ctl({"context", "update", "2", "--mtu", "9000", "--offloads", "tso4,sg"}).exit_code, 0);
  const std::string before = Ctl({"context", "list", "-o", "json"}).out;
  EXPECT_EQ(daemon->Stop(SIGKILL), -SIGKILL);

  auto restarted = StartDaemon();
  ASSERT_TRUE(restarted->running()) << ReadFile(dir_ / "vnetd.log");
  const std::string after = Ctl({"context", "list", "-o", "json"}).out;
  EXPECT_EQ(after, before);
  EXPECT_THAT(after, HasSubstr("\"mtu\": 9000"));
  // The freed id is reused: the pool's free list came back too.
  RunResult again = AssignGuest(6, "json");
  EXPECT_THAT(again.out, HasSubstr("\"id\": 3"));
}

TEST_F(DaemonProcessTest, SigtermFinishesAndExitsZero) {
  auto daemon = StartDaemon();
  ASSERT_EQ(AssignGuest(1).exit_code, 0);
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);
  EXPECT_NE(access(socket().c_str(), F_OK), 0) << "socket file left behind";
  EXPECT_THAT(ReadFile(state_file()), HasSubstr("vif1.0"));
  EXPECT_THAT(ReadFile(dir_ / "vnetd.log"), HasSubstr("<6>stopped"));
}

TEST_F(DaemonProcessTest, CorruptStateRefusesToStartAndIsKept) {
  ASSERT_EQ(system(("mkdir -p " + (dir_ / "state")).c_str()), 0);
  const std::string garbage = "contexts { id: 1 mac: \"00:16:3e:00:00:01\" \x01 garbage";
  std::ofstream(state_file()) << garbage;
  auto daemon = StartDaemon();
  EXPECT_EQ(daemon->Wait(absl::Seconds(10)), 1);
  const std::string log = ReadFile(dir_ / "vnetd.log");
  EXPECT_THAT(log, HasSubstr("<3>"));
  EXPECT_THAT(log, HasSubstr(state_file()));
  EXPECT_THAT(log, HasSubstr("corrupt"));
  EXPECT_EQ(ReadFile(state_file()), garbage);
}

TEST_F(DaemonProcessTest, ConflictingStateRefusesToStart) {
  // Parses, but two contexts claim one MAC in one VLAN: also refused, also kept.
  ASSERT_EQ(system(("mkdir -p " + (dir_ / "state")).c_str()), 0);
  const std::string bad =
      "format_version: 1\n"
      "contexts { id: 1 domain_id: 1 interface_name: \"vif1.0\" mac: \"00:16:3e:00:00:01\" vlan: 1 "
      "mtu: 1500 }\n"
      "contexts { id: 2 domain_id: 2 interface_name: \"vif2.0\" mac: \"00:16:3e:00:00:01\" vlan: 1 "
      "mtu: 1500 }\n";
  std::ofstream(state_file()) << bad;
  auto daemon = StartDaemon();
  EXPECT_EQ(daemon->Wait(absl::Seconds(10)), 1);
  EXPECT_THAT(ReadFile(dir_ / "vnetd.log"), HasSubstr("already used"));
  EXPECT_EQ(ReadFile(state_file()), bad);
}

TEST_F(DaemonProcessTest, TcpOnlyWhenConfiguredAndFlagsOverrideConfig) {
  const std::string address = absl::StrCat("127.0.0.1:", FreeTcpPort());
  auto daemon =
      StartDaemon({"--tcp_address=" + address, "--tcp_insecure_loopback", "--capacity=3"});
  RunResult status = RunCommand({VNETCTL_PATH, "--address", address, "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("0 of 3 in use"));  // flag beat the config's 8
  EXPECT_THAT(status.out, HasSubstr(address));
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);

  auto unix_only = StartDaemon();
  RunResult none = RunCommand({VNETCTL_PATH, "--address", address, "--timeout", "2", "status"});
  EXPECT_EQ(none.exit_code, 1);
}

TEST_F(DaemonProcessTest, BadConfigIsAUsageError) {
  RunResult r = RunCommand({VNETD_PATH, "--config=" + WriteConfig("capacity: 70000\n"),
                            "--unix_socket=" + socket(), "--state_dir=" + (dir_ / "state")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("capacity"));
  r = RunCommand({VNETD_PATH, "--config=" + (dir_ / "missing.conf"), "--unix_socket=" + socket()});
  EXPECT_EQ(r.exit_code, 2);
}

// True when every thread of `pid` is stopped (state T in /proc/PID/task/TID/stat).
bool AllThreadsStopped(pid_t pid) {
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) return false;
  bool all = true;
  int seen = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string stat = ReadFile(tasks + "/" + entry->d_name + "/stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) continue;
    ++seen;
    if (stat[paren + 2] != 'T' && stat[paren + 2] != 't') all = false;
  }
  closedir(dir);
  return all && seen > 0;
}

// A call that only timed out says so, instead of "cannot reach vnetd".
TEST_F(DaemonProcessTest, TimeoutIsReportedAsATimeout) {
  auto daemon = StartDaemon();
  ASSERT_EQ(kill(daemon->pid(), SIGSTOP), 0);  // alive, listening, answering nothing
  // The stop takes effect as each thread is next scheduled: wait until all of them are.
  ASSERT_TRUE(WaitFor([&] { return AllThreadsStopped(daemon->pid()); }));
  RunResult r = Ctl({"--timeout", "1", "status"});
  kill(daemon->pid(), SIGCONT);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("timed out after 1 s"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("cannot reach")));
}

// A full 4096-context daemon lists fine. Each context carries 64 IPv6
// addresses, so one unpaged answer (over 8 MB) would exceed gRPC's 4 MB message limit.
TEST_F(DaemonProcessTest, ListsA4096ContextDaemon) {
  constexpr int kContexts = 4096;
  ASSERT_EQ(system(("mkdir -p " + (dir_ / "state")).c_str()), 0);
  {
    std::ofstream state(state_file());
    state << "format_version: 2\n";
    for (int i = 1; i <= kContexts; ++i) {
      state << "contexts { id: " << i << " domain_id: " << i << " interface_name: \"vif" << i
            << ".0\" mac: \"" << absl::StrFormat("00:16:3e:00:%02x:%02x", i >> 8, i & 0xff)
            << "\" vlan: 1 mtu: 1500";
      for (int a = 1; a <= 64; ++a) {
        state << " ipv6_addresses: \"" << absl::StrFormat("2001:db8:%x::%x", i, a) << "\"";
      }
      state << " }\n";
    }
  }
  auto daemon = StartDaemon({"--capacity=4096"}, absl::Seconds(60));
  ASSERT_TRUE(daemon->running()) << ReadFile(dir_ / "vnetd.log");
  RunResult list = Ctl({"context", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err.substr(0, 500);
  // (Not EXPECT_THAT: a failure would print megabytes.)
  EXPECT_NE(list.out.find("4096 of 4096 contexts in use"), std::string::npos);
  EXPECT_NE(list.out.find("vif4096.0"), std::string::npos);
  RunResult json = Ctl({"context", "list", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err.substr(0, 500);
  size_t count = 0;
  for (size_t pos = 0; (pos = json.out.find("\"interface_name\"", pos)) != std::string::npos;
       ++pos) {
    ++count;
  }
  EXPECT_EQ(count, static_cast<size_t>(kContexts));
}

// A datagram socket standing in for systemd's $NOTIFY_SOCKET.
class FakeNotifySocket {
 public:
  explicit FakeNotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~FakeNotifySocket() { close(fd_); }
  bool bound() const { return bound_; }
  // Every message received during `window`.
  std::vector<std::string> Collect(absl::Duration window) {
    std::vector<std::string> got;
    const absl::Time end = absl::Now() + window;
    while (absl::Now() < end) {
      char buf[256];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        got.emplace_back(buf, static_cast<size_t>(n));
      } else {
        absl::SleepFor(absl::Milliseconds(10));
      }
    }
    return got;
  }
  static int Count(const std::vector<std::string>& got, const std::string& what) {
    return static_cast<int>(std::count(got.begin(), got.end(), what));
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

// After the process runs out of file descriptors (idle connections
// against a low RLIMIT_NOFILE), vnetd either accepts again once they are gone, or stops
// feeding systemd's watchdog, so that systemd restarts it. Never alive but deaf.
TEST_F(DaemonProcessTest, FdExhaustionEitherRecoversOrStarvesTheWatchdog) {
  FakeNotifySocket notify(dir_ / "notify.sock");
  ASSERT_TRUE(notify.bound());
  setenv("NOTIFY_SOCKET", (dir_ / "notify.sock").c_str(), 1);
  setenv("WATCHDOG_USEC", "400000", 1);
  std::vector<std::string> argv = {"/usr/bin/prlimit",
                                   "--nofile=64:64",
                                   "--",
                                   VNETD_PATH,
                                   "--unix_socket=" + socket(),
                                   "--state_dir=" + (dir_ / "state"),
                                   "--config=" + WriteConfig("capacity: 8\n"),
                                   "--fast_path=none",
                                   "--metrics_address=off"};
  auto daemon = std::make_unique<Process>(argv, dir_ / "vnetd.log");
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  ASSERT_TRUE(WaitFor([&] { return Ctl({"status"}).exit_code == 0; }))
      << ReadFile(dir_ / "vnetd.log");

  // Healthy: READY=1 once, and the watchdog fed every 200 ms.
  std::vector<std::string> healthy = notify.Collect(absl::Seconds(1));
  EXPECT_EQ(FakeNotifySocket::Count(healthy, "READY=1"), 1);
  EXPECT_GE(FakeNotifySocket::Count(healthy, "WATCHDOG=1"), 3);

  // Exhaust: connections that never speak, far more than the 64 descriptors allowed.
  std::vector<int> idle;
  for (int i = 0; i < 200; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket().c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);
      break;
    }
    idle.push_back(fd);
  }
  ASSERT_TRUE(WaitFor(
      [&] { return ReadFile(dir_ / "vnetd.log").find("Too many open files") != std::string::npos; },
      absl::Seconds(5)))
      << "the descriptors never ran out; the test proves nothing";
  notify.Collect(absl::Milliseconds(500));  // a probe under way may still have answered
  std::vector<std::string> exhausted = notify.Collect(absl::Seconds(1));
  EXPECT_EQ(FakeNotifySocket::Count(exhausted, "WATCHDOG=1"), 0)
      << "the watchdog was fed while vnetd could not accept connections";

  for (int fd : idle) close(fd);
  const bool accepts_again = WaitFor(
      [&] {
        return Ctl({"--timeout", "1", "status"}).exit_code == 0;
      },
      absl::Seconds(5));
  std::vector<std::string> after = notify.Collect(absl::Seconds(1));
  if (accepts_again) {
    EXPECT_GE(FakeNotifySocket::Count(after, "WATCHDOG=1"), 2) << "recovered but not fed";
  } else {
    EXPECT_EQ(FakeNotifySocket::Count(after, "WATCHDOG=1"), 0)
        << "deaf to new connections, yet the watchdog is fed: systemd would never restart it";
  }
  std::cerr << "after exhaustion vnetd " << (accepts_again ? "accepts again" : "stays deaf")
            << "; the watchdog " << (accepts_again ? "is fed" : "starves") << "\n";
}

// The watchdog's probe is vnetd connecting to itself every half WatchdogSec (15 s under the
// unit): not a caller, so no audit line. Before, each probe was one, and they pushed the
// lines of real callers out of the rotated audit log.
TEST_F(DaemonProcessTest, WatchdogProbesAreNotAuditLines) {
  FakeNotifySocket notify(dir_ / "notify.sock");
  ASSERT_TRUE(notify.bound());
  setenv("NOTIFY_SOCKET", (dir_ / "notify.sock").c_str(), 1);
  setenv("WATCHDOG_USEC", "400000", 1);
  Process daemon({VNETD_PATH, "--unix_socket=" + socket(), "--state_dir=" + (dir_ / "state"),
                  "--fast_path=none", "--metrics_address=off"},
                 dir_ / "vnetd.log");
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  ASSERT_TRUE(WaitFor([&] { return Ctl({"status"}).exit_code == 0; }))
      << ReadFile(dir_ / "vnetd.log");
  // Probes every 200 ms: several answered meanwhile.
  EXPECT_GE(FakeNotifySocket::Count(notify.Collect(absl::Seconds(1)), "WATCHDOG=1"), 3);
  const std::string audit = ReadFile(dir_ / "state/audit.log");
  EXPECT_THAT(audit, HasSubstr("connection=unix uid=0"));  // the vnetctl calls are there
  EXPECT_THAT(audit, ::testing::Not(HasSubstr(absl::StrCat(" pid=", daemon.pid(), " "))));
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace vnet
