// Control plane under load: a real vnetd process (no fast path, state in a temp dir) and N
// clients, each on a gRPC connection of its own, driven by gRPC's callback API (a few
// library threads, not one thread per client). Clients are writers (AssignContext then
// ReleaseContext of their own guest, over and over), readers (GetContext of a buffer
// client's context, and every fourth call a page of ListContexts) and buffer clients
// (their own context and RegisterRegion once, then ValidateDescriptors + CompleteDescriptors
// round trips). Each client has one call in flight at a time. Prints Markdown: per method
// calls/s, p50/p99/max latency of the calls that succeeded, errors by status code; and
// vnetd's RSS, threads and open fds before, at peak and after. Asserts nothing (--smoke:
// exits 1 unless every column was produced). --same_daemon runs every count against one
// vnetd, to see whether what it holds keeps growing from run to run.
//   vnet_controlplane_bench [--clients=200,1000] [--seconds=10] [--writers_percent=40]
//                           [--readers_percent=30] [--descriptors=4] [--backoff_ms=10]
//                           [--same_daemon] [--smoke]
#include <dirent.h>
#include <grpcpp/alarm.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/bench/controlplane/probe.h"
#include "tests/bench/controlplane/thread_times.h"
#include "tests/bench/controlplane/workload.h"
#include "tests/bench/own_connection.h"
#include "tests/integration/process.h"
#include "tests/integration/temp_dir.h"
#include "vnet/v1/buffer.grpc.pb.h"
#include "vnet/v1/context.grpc.pb.h"

ABSL_FLAG(std::vector<std::string>, clients, std::vector<std::string>({"200", "1000"}),
          "client counts, one run each");
ABSL_FLAG(double, seconds, 10, "timed load per run");
ABSL_FLAG(int, writers_percent, 40, "share of clients that assign and release");
ABSL_FLAG(int, readers_percent, 30, "share that get and list; the rest are buffer clients");
ABSL_FLAG(int, descriptors, 4, "descriptors per ValidateDescriptors call");
ABSL_FLAG(int, backoff_ms, 10,
          "a client refused with RESOURCE_EXHAUSTED or UNAVAILABLE waits this long; 0: no wait");
ABSL_FLAG(bool, same_daemon, false,
          "one vnetd for every --clients run (each run releases what it assigned): shows "
          "whether what vnetd holds keeps growing");
ABSL_FLAG(std::string, vnetd, VNETD_PATH, "the vnetd binary");
ABSL_FLAG(std::string, vnetd_nice, "unit",
          "niceness vnetd starts at: 'unit' = the Nice= of deploy/systemd/vnetd.service (how "
          "the shipped unit starts it), or a number; the clients and the probe stay at 0");
ABSL_FLAG(int, probe_interval_ms, 5,
          "an independent client in its own process sends one Get and one Validate+Complete "
          "this often during the load and reports their latency (0: no probe)");
ABSL_FLAG(int, probe_nice, 0,
          "niceness the probe runs at (-20..19): 0 = an ordinary process; a backend whose unit "
          "sets Nice= as vnetd's does is -10");
ABSL_FLAG(std::string, probe_stages, "",
          "the probe writes the times of each Validate+Complete round here (CLOCK_MONOTONIC "
          "ns: validate sent, answered, complete sent, answered; the last run's)");
ABSL_FLAG(std::string, probe_target, "", "internal: run as the probe against this target");
ABSL_FLAG(double, probe_seconds, 10, "internal: how long the probe measures");
ABSL_FLAG(bool, smoke, false, "exit 1 unless every method and resource column has data");

namespace vnet {
namespace {

using bench::Guest;
using bench::OwnConnection;

using Clock = std::chrono::steady_clock;
using testing::Process;
using testing::ReadFile;
using testing::TempDir;
using testing::WaitFor;

constexpr auto kCallDeadline = std::chrono::seconds(10);
constexpr uint32_t kWriterBase = 10000;  // writer i is guest (domain) kWriterBase + i
constexpr uint32_t kBufferBase = 20000;  // buffer client i is guest kBufferBase + i

enum Method {
  kAssign,
  kRelease,
  kGet,
  kList,
  kValidate,
  kComplete,
  kRoundTrip,
  kSetupAssign,
  kRegister,
  kTeardown,
  kMethods
};
constexpr std::array<const char*, kMethods> kMethodNames = {"AssignContext",
                                                            "ReleaseContext",
                                                            "GetContext",
                                                            "ListContexts (page of 100)",
                                                            "ValidateDescriptors",
                                                            "CompleteDescriptors",
                                                            "Validate+Complete",
                                                            "AssignContext (setup, buffer clients)",
                                                            "RegisterRegion (setup)",
                                                            "ReleaseContext (teardown)"};

std::string CodeName(grpc::StatusCode code) {
  static const std::map<int, std::string> names = {{0, "OK"},
                                                   {1, "CANCELLED"},
                                                   {2, "UNKNOWN"},
                                                   {3, "INVALID_ARGUMENT"},
                                                   {4, "DEADLINE_EXCEEDED"},
                                                   {5, "NOT_FOUND"},
                                                   {6, "ALREADY_EXISTS"},
                                                   {7, "PERMISSION_DENIED"},
                                                   {8, "RESOURCE_EXHAUSTED"},
                                                   {9, "FAILED_PRECONDITION"},
                                                   {10, "ABORTED"},
                                                   {11, "OUT_OF_RANGE"},
                                                   {12, "UNIMPLEMENTED"},
                                                   {13, "INTERNAL"},
                                                   {14, "UNAVAILABLE"},
                                                   {15, "DATA_LOSS"},
                                                   {16, "UNAUTHENTICATED"}};
  auto it = names.find(static_cast<int>(code));
  return it == names.end() ? absl::StrCat("code ", static_cast<int>(code)) : it->second;
}

// Latencies (microseconds) of the calls that succeeded, and failures by status code.
class Stats {
 public:
  void Record(Method m, const grpc::Status& status, Clock::time_point start) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    std::lock_guard<std::mutex> lock(mu_);
    if (status.ok()) {
      latencies_[m].push_back(static_cast<uint32_t>(us.count()));
    } else {
      ++errors_[m][CodeName(status.error_code())];
      if (first_error_[m].empty())
        first_error_[m] = absl::StrCat(CodeName(status.error_code()), ": ", status.error_message());
    }
  }
  std::string FirstError(Method m) {
    std::lock_guard<std::mutex> lock(mu_);
    return first_error_[m];
  }
  void Error(Method m, const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    ++errors_[m][what];
  }
  std::vector<uint32_t> Latencies(Method m) {
    std::lock_guard<std::mutex> lock(mu_);
    return latencies_[m];
  }
  std::map<std::string, uint64_t> Errors(Method m) {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_[m];
  }

 private:
  std::mutex mu_;
  std::array<std::vector<uint32_t>, kMethods> latencies_;
  std::array<std::map<std::string, uint64_t>, kMethods> errors_;
  std::array<std::string, kMethods> first_error_;
};

double PercentileMs(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i] / 1000.0;
}

// vnetd as /proc sees it.
struct Resources {
  double rss_mib = 0;
  int threads = 0;
  int fds = 0;
};

Resources Sample(pid_t pid) {
  Resources r;
  std::istringstream status(ReadFile(absl::StrCat("/proc/", pid, "/status")));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view v = line;
    if (absl::ConsumePrefix(&v, "VmRSS:")) {
      int64_t kib = 0;
      if (absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(v), " kB"), &kib))
        r.rss_mib = static_cast<double>(kib) / 1024.0;
    } else if (absl::ConsumePrefix(&v, "Threads:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &r.threads);
    }
  }
  if (DIR* dir = opendir(absl::StrCat("/proc/", pid, "/fd").c_str())) {
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] != '.') ++r.fds;
    }
    closedir(dir);
  }
  return r;
}

// CPU seconds (user + system) a process has used so far.
double CpuSeconds(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::vector<std::string> f = absl::StrSplit(stat.substr(paren + 2), ' ');
  int64_t utime = 0;
  int64_t stime = 0;
  if (f.size() < 13 || !absl::SimpleAtoi(f[11], &utime) || !absl::SimpleAtoi(f[12], &stime))
    return 0;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string LoadAverage() {
  std::vector<std::string> f = absl::StrSplit(ReadFile("/proc/loadavg"), ' ');
  return f.size() >= 3 ? absl::StrCat(f[0], " ", f[1], " ", f[2]) : "?";
}

std::string Command(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[256];
    while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
    pclose(p);
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

template <typename T>
void SetDeadline(T& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
}

enum Kind { kWriter, kReader, kBuffer };

struct Client {
  Kind kind = kWriter;
  uint32_t guest = 0;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::ContextService::Stub> contexts;
  std::unique_ptr<v1::BufferService::Stub> buffers;
  uint32_t context_id = 0;  // writer: the context it holds (0: none); buffer: its own
  bool ready = false;       // buffer client: context and region in place
  uint64_t step = 0;
  std::string page_token;
  std::unique_ptr<grpc::ClientContext> call;
  // Backoff timers: the one set last, and the one before (it may still be returning from its
  // callback when the next is set, so it is destroyed one round later).
  std::unique_ptr<grpc::Alarm> alarm;
  std::unique_ptr<grpc::Alarm> old_alarm;
  Clock::time_point start;
  Clock::time_point round_start;
  v1::AssignContextRequest assign_req;
  v1::Context context;
  v1::ReleaseContextRequest release_req;
  v1::ReleaseContextResponse release_resp;
  v1::GetContextRequest get_req;
  v1::ListContextsRequest list_req;
  v1::ListContextsResponse list_resp;
  v1::ValidateDescriptorsRequest validate_req;
  v1::ValidateDescriptorsResponse validate_resp;
  v1::CompleteDescriptorsRequest complete_req;
  v1::CompleteDescriptorsResponse complete_resp;
};

class Load {
 public:
  Load(std::vector<std::unique_ptr<Client>>& clients, std::vector<uint32_t> targets, Stats& stats,
       int backoff_ms)
      : clients_(clients), targets_(std::move(targets)), stats_(stats), backoff_ms_(backoff_ms) {}

  // Starts every client's first call; returns at once.
  void Start() {
    active_ = static_cast<int>(clients_.size());
    for (auto& c : clients_) Next(*c);
  }
  // Lets the calls in flight finish; waits up to `timeout` for them.
  bool Stop(std::chrono::seconds timeout) {
    stop_ = true;
    std::unique_lock<std::mutex> lock(mu_);
    return done_.wait_for(lock, timeout, [&] { return active_ == 0; });
  }

 private:
  void Finish() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--active_ == 0) done_.notify_all();
  }

  void Begin(Client& c) {
    c.call = std::make_unique<grpc::ClientContext>();
    SetDeadline(*c.call);
    c.start = Clock::now();
  }

  // The next call now, or after a backoff when the server said it is busy.
  void Then(Client& c, const grpc::Status& s) {
    const bool busy =
        s.error_code() == grpc::RESOURCE_EXHAUSTED || s.error_code() == grpc::UNAVAILABLE;
    if (!busy || backoff_ms_ <= 0 || stop_) return Next(c);
    c.old_alarm = std::move(c.alarm);
    c.alarm = std::make_unique<grpc::Alarm>();
    c.alarm->Set(std::chrono::system_clock::now() + std::chrono::milliseconds(backoff_ms_),
                 [this, &c](bool) { Next(c); });
  }

  void Next(Client& c) {
    // A buffer client completes what it validated before it stops: nothing stays in flight.
    const bool in_flight = c.kind == kBuffer && c.ready && c.complete_req.cookies_size() > 0;
    if (stop_ && !in_flight) return Finish();
    switch (c.kind) {
      case kWriter:
        return c.context_id == 0 ? Assign(c) : Release(c);
      case kReader:
        return c.step++ % 4 == 3 ? List(c) : Get(c);
      case kBuffer:
        if (!c.ready) return Finish();
        // Descriptors still in flight (their Complete was refused) are completed first.
        return c.complete_req.cookies_size() > 0 ? Complete(c) : Validate(c);
    }
  }

  void Assign(Client& c) {
    Begin(c);
    *c.assign_req.mutable_context() = Guest(c.guest);
    c.contexts->async()->AssignContext(c.call.get(), &c.assign_req, &c.context,
                                       [this, &c](grpc::Status s) {
                                         stats_.Record(kAssign, s, c.start);
                                         if (s.ok()) c.context_id = c.context.id();
                                         Then(c, s);
                                       });
  }

  void Release(Client& c) {
    Begin(c);
    c.release_req.mutable_ref()->set_id(c.context_id);
    c.contexts->async()->ReleaseContext(c.call.get(), &c.release_req, &c.release_resp,
                                        [this, &c](grpc::Status s) {
                                          stats_.Record(kRelease, s, c.start);
                                          if (s.ok() || s.error_code() == grpc::NOT_FOUND)
                                            c.context_id = 0;
                                          Then(c, s);
                                        });
  }

  void Get(Client& c) {
    Begin(c);
    const uint32_t id = targets_.empty() ? 1 : targets_[(c.guest + c.step) % targets_.size()];
    c.get_req.mutable_ref()->set_id(id);
    c.contexts->async()->GetContext(c.call.get(), &c.get_req, &c.context,
                                    [this, &c](grpc::Status s) {
                                      stats_.Record(kGet, s, c.start);
                                      Then(c, s);
                                    });
  }

  void List(Client& c) {
    Begin(c);
    c.list_req.set_page_size(100);
    c.list_req.set_page_token(c.page_token);
    c.contexts->async()->ListContexts(c.call.get(), &c.list_req, &c.list_resp,
                                      [this, &c](grpc::Status s) {
                                        stats_.Record(kList, s, c.start);
                                        c.page_token = s.ok() ? c.list_resp.next_page_token() : "";
                                        Then(c, s);
                                      });
  }

  void Validate(Client& c) {
    Begin(c);
    c.round_start = c.start;
    c.buffers->async()->ValidateDescriptors(
        c.call.get(), &c.validate_req, &c.validate_resp, [this, &c](grpc::Status s) {
          stats_.Record(kValidate, s, c.start);
          if (!s.ok()) return Then(c, s);
          c.complete_req.clear_cookies();
          for (int i = 0; i < c.validate_resp.verdicts_size(); ++i) {
            if (c.validate_resp.verdicts(i) == v1::DESCRIPTOR_VERDICT_ACCEPTED) {
              c.complete_req.add_cookies(c.validate_resp.cookies(i));
            } else {
              stats_.Error(kValidate, v1::DescriptorVerdict_Name(c.validate_resp.verdicts(i)));
            }
          }
          Next(c);
        });
  }

  void Complete(Client& c) {
    Begin(c);
    c.buffers->async()->CompleteDescriptors(
        c.call.get(), &c.complete_req, &c.complete_resp, [this, &c](grpc::Status s) {
          stats_.Record(kComplete, s, c.start);
          if (s.ok() && c.complete_resp.unknown_cookies_size() > 0)
            stats_.Error(kComplete, "unknown cookies");
          if (s.ok()) {
            stats_.Record(kRoundTrip, s, c.round_start);
            c.complete_req.clear_cookies();
          } else {
            stats_.Error(kRoundTrip, CodeName(s.error_code()));
          }
          Then(c, s);
        });
  }

  std::vector<std::unique_ptr<Client>>& clients_;
  const std::vector<uint32_t> targets_;
  Stats& stats_;
  const int backoff_ms_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable done_;
  int active_ = 0;
};

// Connects every client, and gives each buffer client its context and region (blocking
// calls from a few threads; retried a few times when the server is busy).
void Setup(std::vector<std::unique_ptr<Client>>& clients, Stats& stats, int descriptors) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < clients.size(); i = next++) {
      Client& c = *clients[i];
      (void)c.channel->WaitForConnected(std::chrono::system_clock::now() + kCallDeadline);
      if (c.kind != kBuffer) continue;
      grpc::Status s;
      for (int attempt = 0; attempt < 5; ++attempt) {
        grpc::ClientContext call;
        SetDeadline(call);
        v1::AssignContextRequest req;
        *req.mutable_context() = Guest(c.guest);
        const auto start = Clock::now();
        s = c.contexts->AssignContext(&call, req, &c.context);
        stats.Record(kSetupAssign, s, start);
        if (s.ok() || s.error_code() != grpc::RESOURCE_EXHAUSTED) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!s.ok()) continue;
      c.context_id = c.context.id();
      for (int attempt = 0; attempt < 5; ++attempt) {
        grpc::ClientContext call;
        SetDeadline(call);
        const v1::RegisterRegionRequest req = bench::RegionRequest(c.context_id);
        v1::Region out;
        const auto start = Clock::now();
        s = c.buffers->RegisterRegion(&call, req, &out);
        stats.Record(kRegister, s, start);
        if (s.ok() || s.error_code() != grpc::RESOURCE_EXHAUSTED) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!s.ok()) continue;
      c.validate_req = bench::DescriptorsRequest(c.context_id, descriptors);
      c.complete_req.set_context_id(c.context_id);
      c.ready = true;
    }
  };
  constexpr int kSetupThreads = 4;
  std::vector<std::thread> threads;
  threads.reserve(kSetupThreads);
  for (int t = 0; t < kSetupThreads; ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
}

// Releases every context the clients still hold (writers stopped mid-cycle, buffer
// clients), so that the next run on the same vnetd starts from an empty pool.
void Teardown(std::vector<std::unique_ptr<Client>>& clients, Stats& stats) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < clients.size(); i = next++) {
      Client& c = *clients[i];
      if (c.kind == kReader || c.context_id == 0) continue;
      for (int attempt = 0; attempt < 5; ++attempt) {
        grpc::ClientContext call;
        SetDeadline(call);
        v1::ReleaseContextRequest req;
        req.mutable_ref()->set_id(c.context_id);
        req.set_allow_missing(true);
        req.mutable_force_wait()->set_seconds(1);
        v1::ReleaseContextResponse out;
        const auto start = Clock::now();
        const grpc::Status s = c.contexts->ReleaseContext(&call, req, &out);
        stats.Record(kTeardown, s, start);
        if (s.ok()) c.context_id = 0;
        if (s.ok() || s.error_code() != grpc::RESOURCE_EXHAUSTED) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  };
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
}

class Sampler {
 public:
  explicit Sampler(pid_t pid) : pid_(pid), thread_([this] { Run(); }) {}
  ~Sampler() {
    stop_ = true;
    thread_.join();
  }
  Resources peak() {
    std::lock_guard<std::mutex> lock(mu_);
    return peak_;
  }

 private:
  void Run() {
    while (!stop_) {
      const Resources r = Sample(pid_);
      {
        std::lock_guard<std::mutex> lock(mu_);
        peak_.rss_mib = std::max(peak_.rss_mib, r.rss_mib);
        peak_.threads = std::max(peak_.threads, r.threads);
        peak_.fds = std::max(peak_.fds, r.fds);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const pid_t pid_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  Resources peak_;
  std::thread thread_;
};

std::string OpenFilesLimit(pid_t pid) {
  std::istringstream limits(ReadFile(absl::StrCat("/proc/", pid, "/limits")));
  std::string line;
  while (std::getline(limits, line)) {
    if (absl::StartsWith(line, "Max open files")) {
      std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.size() >= 5) return absl::StrCat(f[3], " soft / ", f[4], " hard");
    }
  }
  return "?";
}

// The Nice= line of the shipped unit (0 without one): vnetd is measured as it is started.
int UnitNiceness() {
  std::istringstream unit(ReadFile(VNET_SOURCE_DIR "/deploy/systemd/vnetd.service"));
  std::string line;
  int nice = 0;
  while (std::getline(unit, line)) {
    absl::string_view v = line;
    if (absl::ConsumePrefix(&v, "Nice=")) (void)absl::SimpleAtoi(v, &nice);
  }
  return nice;
}

// --vnetd_nice as a number; exits on a bad value.
int VnetdNiceness() {
  const std::string flag = absl::GetFlag(FLAGS_vnetd_nice);
  if (flag == "unit") return UnitNiceness();
  int nice = 0;
  if (!absl::SimpleAtoi(flag, &nice) || nice < -20 || nice > 19) {
    std::fprintf(stderr, "--vnetd_nice: 'unit' or -20..19, not %s\n", flag.c_str());
    std::exit(2);
  }
  return nice;
}

// vnetd in a temp dir of its own.
class Daemon {
 public:
  bool Start(int capacity) {
    { std::ofstream(dir_ / "vnetd.conf") << "capacity: " << capacity << "\n"; }
    // nice(1) execs vnetd in the same process: the pid stays vnetd's.
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/nice", absl::StrCat("--adjustment=", VnetdNiceness()),
                                 absl::GetFlag(FLAGS_vnetd), "--unix_socket=" + socket(),
                                 "--state_dir=" + (dir_ / "state"),
                                 "--config=" + (dir_ / "vnetd.conf"), "--fast_path=none",
                                 "--metrics_address=off"},
        dir_ / "vnetd.log");
    auto probe = v1::ContextService::NewStub(OwnConnection(target()));
    const bool up = WaitFor([&] {
      if (!process_->running()) return true;
      grpc::ClientContext call;
      call.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
      v1::ListContextsRequest req;
      v1::ListContextsResponse resp;
      return probe->ListContexts(&call, req, &resp).ok();
    });
    if (!up || !process_->running()) {
      std::fprintf(stderr, "vnetd did not start:\n%s\n", ReadFile(dir_ / "vnetd.log").c_str());
      return false;
    }
    return true;
  }
  pid_t pid() const { return process_->pid(); }
  std::string socket() const { return dir_ / "vnetd.sock"; }
  std::string target() const { return "unix:" + socket(); }
  int Stop() { return process_->Stop(SIGTERM); }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
};

void PrintProbeRow(const char* name, std::vector<uint32_t> v) {
  const double max_ms =
      v.empty() ? 0 : static_cast<double>(*std::max_element(v.begin(), v.end())) / 1000.0;
  std::printf("| %s | %zu | %.2f | %.2f | %.2f |\n", name, v.size(), PercentileMs(v, 0.5),
              PercentileMs(v, 0.99), max_ms);
}

// "p99 of the load's own clients, and of the probe", each against the aim.
std::string AimReport(std::vector<uint32_t> load, std::vector<uint32_t> probe, double aim_ms) {
  auto one = [aim_ms](std::vector<uint32_t>& v) {
    if (v.empty()) return std::string("no data");
    const double p99 = PercentileMs(v, 0.99);
    return absl::StrFormat("%.2f ms (%s)", p99, p99 <= aim_ms ? "met" : "missed");
  };
  std::string out = absl::StrCat("load clients ", one(load));
  if (absl::GetFlag(FLAGS_probe_interval_ms) > 0) absl::StrAppend(&out, ", probe ", one(probe));
  return out;
}

// One run: a fresh vnetd (or `shared`), `n` clients, `seconds` of load, then the clients
// release what they hold and disconnect. Returns false when a column had no data (what
// --smoke checks) or vnetd did not start.
bool Run(int n, double seconds, int writers_percent, int readers_percent, int descriptors,
         Daemon* shared) {
  const int writers = n * writers_percent / 100;
  const int readers = n * readers_percent / 100;
  const int buffers = n - writers - readers;
  std::unique_ptr<Daemon> own;
  Daemon* vnetd = shared;
  if (vnetd == nullptr) {
    own = std::make_unique<Daemon>();
    if (!own->Start(n + 16)) return false;
    vnetd = own.get();
  }
  const std::string target = vnetd->target();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the probe's connection closes
  const Resources before = Sample(vnetd->pid());
  const std::string load_before = LoadAverage();

  Stats stats;
  std::vector<std::unique_ptr<Client>> clients;
  clients.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto c = std::make_unique<Client>();
    if (i < writers) {
      c->kind = kWriter;
      c->guest = kWriterBase + static_cast<uint32_t>(i);
    } else if (i < writers + readers) {
      c->kind = kReader;
      c->guest = static_cast<uint32_t>(i);
    } else {
      c->kind = kBuffer;
      c->guest = kBufferBase + static_cast<uint32_t>(i);
    }
    c->channel = OwnConnection(target);
    c->contexts = v1::ContextService::NewStub(c->channel);
    c->buffers = v1::BufferService::NewStub(c->channel);
    clients.push_back(std::move(c));
  }
  Resources peak;
  double measured = 0;
  double vnetd_cpu = 0;
  double bench_cpu = 0;
  double setup_seconds = 0;
  int ready_buffers = 0;
  bool drained = true;
  TempDir probe_log;
  bench::ProbeResult probed;
  bench::ThreadTimes vnetd_threads;
  bench::ThreadTimes bench_threads;
  bench::ThreadTimes probe_threads;
  {
    Sampler sampler(vnetd->pid());
    const auto setup_start = Clock::now();
    Setup(clients, stats, descriptors);
    setup_seconds = std::chrono::duration<double>(Clock::now() - setup_start).count();
    std::vector<uint32_t> targets;
    for (auto& c : clients) {
      if (c->kind == kBuffer && c->ready) {
        targets.push_back(c->context_id);
        ++ready_buffers;
      }
    }
    std::unique_ptr<bench::Probe> probe;
    if (const int interval = absl::GetFlag(FLAGS_probe_interval_ms); interval > 0) {
      probe = std::make_unique<bench::Probe>(
          target, seconds, interval, descriptors, probe_log / "probe.log",
          absl::GetFlag(FLAGS_probe_stages), absl::GetFlag(FLAGS_probe_nice));
      if (!probe->WaitReady()) {
        std::fprintf(stderr, "the probe did not start:\n%s\n",
                     ReadFile(probe_log / "probe.log").c_str());
        return false;
      }
    }
    Load load(clients, targets, stats, absl::GetFlag(FLAGS_backoff_ms));
    const double vnetd_cpu_start = CpuSeconds(vnetd->pid());
    const double bench_cpu_start = CpuSeconds(getpid());
    const bench::ThreadTimes vnetd_threads_start = bench::ReadThreadTimes(vnetd->pid());
    const bench::ThreadTimes bench_threads_start = bench::ReadThreadTimes(getpid());
    const bench::ThreadTimes probe_threads_start =
        probe ? bench::ReadThreadTimes(probe->pid()) : bench::ThreadTimes();
    const auto start = Clock::now();
    load.Start();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    // Before the load drains, while every thread still runs.
    vnetd_threads = bench::Since(vnetd_threads_start, bench::ReadThreadTimes(vnetd->pid()));
    bench_threads = bench::Since(bench_threads_start, bench::ReadThreadTimes(getpid()));
    if (probe) {
      probe_threads = bench::Since(probe_threads_start, bench::ReadThreadTimes(probe->pid()));
    }
    drained = load.Stop(std::chrono::seconds(30));
    if (probe) probed = probe->Finish();
    measured = std::chrono::duration<double>(Clock::now() - start).count();
    vnetd_cpu = CpuSeconds(vnetd->pid()) - vnetd_cpu_start;
    bench_cpu = CpuSeconds(getpid()) - bench_cpu_start;
    peak = sampler.peak();
  }
  const std::string load_after = LoadAverage();
  const auto teardown_start = Clock::now();
  if (drained) Teardown(clients, stats);
  const double teardown_seconds =
      std::chrono::duration<double>(Clock::now() - teardown_start).count();
  if (drained) clients.clear();  // every connection closes
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const Resources after = Sample(vnetd->pid());
  const std::string limit = OpenFilesLimit(vnetd->pid());
  const std::string exit_code = own ? absl::StrCat(own->Stop()) : "- (vnetd kept for the next run)";

  std::printf("\n### %d clients: %d writers, %d readers, %d buffer clients (%d ready)\n\n", n,
              writers, readers, buffers, ready_buffers);
  std::printf(
      "Timed load %.1f s (until the last call in flight returned); setup %.1f s. Load average "
      "%s before, %s after. CPU during the load: vnetd %.1f s, this client process %.1f s (of %.1f "
      "s x %u cores). "
      "vnetd open-files limit %s, niceness %d; exit code on SIGTERM %s.\n\n",
      measured, setup_seconds, load_before.c_str(), load_after.c_str(), vnetd_cpu, bench_cpu,
      measured, std::thread::hardware_concurrency(), limit.c_str(), VnetdNiceness(),
      exit_code.c_str());
  std::printf(
      "| method | ok calls | ok calls/s | p50 ms | p99 ms | max ms | errors |\n"
      "|---|---:|---:|---:|---:|---:|---|\n");
  bool complete = true;
  for (int m = 0; m < kMethods; ++m) {
    std::vector<uint32_t> v = stats.Latencies(static_cast<Method>(m));
    const bool setup = m == kSetupAssign || m == kRegister;
    const double over = m == kTeardown ? teardown_seconds : setup ? setup_seconds : measured;
    std::string errors;
    for (const auto& [what, count] : stats.Errors(static_cast<Method>(m)))
      absl::StrAppend(&errors, errors.empty() ? "" : ", ", what, " ", count);
    if (errors.empty()) errors = "none";
    const double max_ms =
        v.empty() ? 0 : static_cast<double>(*std::max_element(v.begin(), v.end())) / 1000.0;
    std::printf("| %s | %zu | %.0f | %.2f | %.2f | %.2f | %s |\n", kMethodNames[m], v.size(),
                over > 0 ? static_cast<double>(v.size()) / over : 0.0, PercentileMs(v, 0.5),
                PercentileMs(v, 0.99), max_ms, errors.c_str());
    const bool expected = (m == kAssign || m == kRelease) ? writers > 0
                          : (m == kGet || m == kList)     ? readers > 0
                                                          : buffers > 0;
    if (expected && v.empty()) complete = false;
  }
  for (int m = 0; m < kMethods; ++m) {
    const std::string first = stats.FirstError(static_cast<Method>(m));
    if (!first.empty()) std::printf("\nFirst %s error: %s\n", kMethodNames[m], first.c_str());
  }
  std::printf(
      "\n| vnetd | RSS MiB | threads | open fds |\n|---|---:|---:|---:|\n"
      "| before (started, no clients) | %.1f | %d | %d |\n"
      "| peak (setup and load, sampled every 100 ms) | %.1f | %d | %d |\n"
      "| after (clients gone, +2 s) | %.1f | %d | %d |\n",
      before.rss_mib, before.threads, before.fds, peak.rss_mib, peak.threads, peak.fds,
      after.rss_mib, after.threads, after.fds);
  std::printf(
      "\nThreads during the timed load (schedstat, by thread name; vnetd pid %d): CPU, and "
      "time runnable but waiting for a core\n\n| process | threads named | count | CPU s | "
      "run-queue wait s | scheduled in | wait ms per time in |\n"
      "|---|---|---:|---:|---:|---:|---:|\n",
      static_cast<int>(vnetd->pid()));
  bench::PrintThreadTimes("vnetd", vnetd_threads);
  bench::PrintThreadTimes("load", bench_threads);
  bench::PrintThreadTimes("probe", probe_threads);
  std::vector<uint32_t> gets = stats.Latencies(kGet);
  std::vector<uint32_t> rounds = stats.Latencies(kRoundTrip);
  if (absl::GetFlag(FLAGS_probe_interval_ms) > 0) {
    std::printf(
        "\nIndependent probe (a process of its own at niceness %d, one call at a time every %d "
        "ms during the load; %d failed calls):\n\n| probe | calls | p50 ms | p99 ms | max ms |\n"
        "|---|---:|---:|---:|---:|\n",
        absl::GetFlag(FLAGS_probe_nice), absl::GetFlag(FLAGS_probe_interval_ms), probed.errors);
    PrintProbeRow("GetContext", probed.get_us);
    PrintProbeRow("Validate+Complete", probed.round_us);
    if (probed.get_us.empty() || probed.round_us.empty()) complete = false;
  }
  std::printf(
      "\nAims (reported, not asserted): GetContext p99 %s (aim <= 20 ms); "
      "Validate+Complete p99 %s (aim <= 5 ms).\n",
      AimReport(gets, probed.get_us, 20).c_str(), AimReport(rounds, probed.round_us, 5).c_str());
  if (!drained) std::printf("Calls were still in flight 30 s after the load stopped.\n");
  std::fflush(stdout);
  if (before.threads == 0 || peak.threads == 0 || after.threads == 0) complete = false;
  return complete && drained;
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (const std::string probe = absl::GetFlag(FLAGS_probe_target); !probe.empty()) {
    return bench::RunProbe(probe, absl::GetFlag(FLAGS_probe_seconds),
                           absl::GetFlag(FLAGS_probe_interval_ms), absl::GetFlag(FLAGS_descriptors),
                           absl::GetFlag(FLAGS_probe_stages));
  }
  // Each client holds a connection: raise this process's (and so vnetd's) open-files limit.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &nofile);
  }
  utsname uts{};
  uname(&uts);
  std::printf("Control plane under load (`tests/bench/controlplane`)\n\n");
  std::printf(
      "| date | commit | kernel | cores | load average at start |\n|---|---|---|---|---|\n");
  std::printf("| %s | %s | %s | %u | %s |\n",
              absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(), absl::UTCTimeZone()).c_str(),
              Command("git -C " VNET_SOURCE_DIR " describe --always --dirty 2>/dev/null").c_str(),
              uts.release, std::thread::hardware_concurrency(), LoadAverage().c_str());
  std::vector<int> counts;
  for (const std::string& count : absl::GetFlag(FLAGS_clients)) {
    int n = 0;
    if (!absl::SimpleAtoi(count, &n) || n <= 0) {
      std::fprintf(stderr, "--clients: not a count: %s\n", count.c_str());
      return 2;
    }
    counts.push_back(n);
  }
  std::unique_ptr<Daemon> shared;
  if (absl::GetFlag(FLAGS_same_daemon)) {
    shared = std::make_unique<Daemon>();
    if (!shared->Start(*std::max_element(counts.begin(), counts.end()) + 16)) return 1;
  }
  bool ok = true;
  for (const int n : counts) {
    ok =
        Run(n, absl::GetFlag(FLAGS_seconds), absl::GetFlag(FLAGS_writers_percent),
            absl::GetFlag(FLAGS_readers_percent), absl::GetFlag(FLAGS_descriptors), shared.get()) &&
        ok;
  }
  if (shared) std::printf("\nShared vnetd exit code on SIGTERM: %d\n", shared->Stop());
  return absl::GetFlag(FLAGS_smoke) && !ok ? 1 : 0;
}

}  // namespace
}  // namespace vnet

int main(int argc, char** argv) { return vnet::Main(argc, argv); }
