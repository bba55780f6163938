#include "tests/integration/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/temp_dir.h"

namespace vnet::testing {
namespace {

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path,
            const std::string& err_path) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int err =
      err_path == out_path ? out : open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int null = open("/dev/null", O_RDONLY);
  dup2(null, 0);
  dup2(out, 1);
  dup2(err, 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

int Decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

}  // namespace

RunResult RunCommand(const std::vector<std::string>& argv, absl::Duration timeout) {
  TempDir dir;
  RunResult result;
  const pid_t pid = Spawn(argv, dir / "out", dir / "err");
  int status = 0;
  const bool done = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(dir / "out");
  result.err = ReadFile(dir / "err");
  return result;
}

Process::Process(const std::vector<std::string>& argv, const std::string& log_path)
    : name_(argv.empty() ? "" : argv[0]), log_path_(log_path) {
  pid_ = Spawn(argv, log_path, log_path);
}

Process::~Process() {
  if (pid_ <= 0 || !running()) return;
  kill(pid_, SIGTERM);
  kill(pid_, SIGCONT);  // a test may have left it stopped
  const int code = Wait(absl::Seconds(20));
  if (code == -999) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
  if (code != 0) {
    std::string log = ReadFile(log_path_);
    if (log.size() > 6000) log = "..." + log.substr(log.size() - 6000);
    const std::string how = code == -999 ? "did not exit within 20 s (killed)"
                            : code < 0   ? absl::StrCat("died of signal ", -code)
                                         : absl::StrCat("exited with ", code);
    ADD_FAILURE() << name_ << " (pid " << pid_ << "), stopped with SIGTERM at the end of the test, "
                  << how << "; its log " << log_path_ << " ends:\n"
                  << log;
  }
}

bool Process::running() {
  if (reaped_) return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

int Process::Wait(absl::Duration timeout) {
  if (!WaitFor([this] { return !running(); }, timeout)) return -999;
  return Decode(status_);
}

int Process::Stop(int sig, absl::Duration timeout) {
  if (running()) kill(pid_, sig);
  return Wait(timeout);
}

int FreeTcpPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace vnet::testing
