// An independent client in a process of its own. While the load runs, it sends one
// GetContext and one Validate+Complete round trip every interval, one call at a time, and
// reports their latencies: what an orchestrator's read or a backend's buffer call sees
// while many others load vnetd, without the load generator's own threads in the way.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/process.h"

namespace vnet::bench {

// The probe process's main: sets up its own context and region on `target`, prints "ready",
// measures for `seconds`, prints its latencies, releases its context. Returns an exit code.
// `stages_path` not empty: one line per Validate+Complete round there, "validate_sent
// validate_answered complete_sent complete_answered" in CLOCK_MONOTONIC ns (what `perf
// record -k CLOCK_MONOTONIC` stamps), to line a round up with what vnetd's threads did.
int RunProbe(const std::string& target, double seconds, int interval_ms, int descriptors,
             const std::string& stages_path = "");

struct ProbeResult {
  std::vector<uint32_t> get_us;    // GetContext latencies, µs
  std::vector<uint32_t> round_us;  // Validate+Complete round trips, µs
  int errors = 0;                  // calls that failed
};

// Starts this program again as a probe, in a process of its own.
class Probe {
 public:
  // `niceness`: the probe's own (nice(1) execs it, the pid stays the probe's).
  Probe(const std::string& target, double seconds, int interval_ms, int descriptors,
        const std::string& log_path, const std::string& stages_path = "", int niceness = 0);
  // Waits until the probe has its context and region (false: it failed; see its log).
  bool WaitReady();
  // Waits for the probe to finish and reads what it measured (nothing if it failed).
  ProbeResult Finish();
  pid_t pid() const { return process_->pid(); }

 private:
  std::string log_path_;
  std::unique_ptr<testing::Process> process_;
};

}  // namespace vnet::bench
