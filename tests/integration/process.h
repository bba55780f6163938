// Child processes for tests: run a command to completion and capture its output, or start
// a long-running one (vnetd) and stop it with a signal of the test's choosing.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vnet::testing {

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal or not started
  std::string out;
  std::string err;
};

// Runs argv[0] with argv, waits up to `timeout` (then SIGKILL), returns its outputs.
RunResult RunCommand(const std::vector<std::string>& argv,
                     absl::Duration timeout = absl::Seconds(30));

class Process {
 public:
  // Starts argv; stdout and stderr go to `log_path`.
  Process(const std::vector<std::string>& argv, const std::string& log_path);
  // A process still running is stopped as an operator stops vnetd (SIGTERM, SIGKILL after
  // 20 s), and anything but exit 0 fails the test with its log's tail: that is where a
  // sanitizer's report at exit (a leak) shows. Stop() or Wait() first to expect otherwise.
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `sig` and waits up to `timeout`; returns the exit code, or -signal if killed.
  int Stop(int sig, absl::Duration timeout = absl::Seconds(15));
  // Waits for the process to exit on its own; returns as Stop does (or -999 on timeout).
  int Wait(absl::Duration timeout);

 private:
  std::string name_;
  std::string log_path_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bound, read back, released).
int FreeTcpPort();

// Polls `predicate` every 20 ms until it is true or `timeout` passes.
template <typename Predicate>
bool WaitFor(Predicate predicate, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (predicate()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return predicate();
}

}  // namespace vnet::testing
