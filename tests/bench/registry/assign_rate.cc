// Assign rate at a given pool size: vnetd (VnetServer, no fast path) starts from a state
// file that already holds N contexts, then clients assign new ones over the Unix socket.
// Prints one row per (N, clients): start-up time, assigns/s, latency p50/p99/max and the
// state directory's size. Asserts nothing.
#include "tests/bench/registry/assign_rate.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "daemon/core/atomic_file.h"
#include "daemon/server.h"
#include "google/protobuf/text_format.h"
#include "tests/bench/own_connection.h"
#include "vnet/v1/context.grpc.pb.h"

namespace vnet {
namespace {

using Clock = std::chrono::steady_clock;

// Guest n: domain n, vif<n>.0, a MAC and an address from 198.18.0.0/15 derived from n, in
// VLAN 1 + (n-1)/2048 (a VLAN floods to at most 4096 members).
v1::Context GuestSpec(uint32_t n) {
  v1::Context c;
  c.set_vlan(1 + (n - 1) / 2048);
  c.set_domain_id(n);
  c.set_interface_name(absl::StrCat("vif", n, ".0"));
  c.set_mac(
      absl::StrFormat("00:16:3e:%02x:%02x:%02x", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff));
  c.add_ipv4_addresses(
      absl::StrFormat("198.%d.%d.%d", 18 + ((n >> 16) & 1), (n >> 8) & 0xff, n & 0xff));
  return c;
}

// A format-2 state file with contexts 1..n, as vnetd would have written it.
void WriteState(const std::string& dir, uint32_t n) {
  std::filesystem::create_directories(dir);
  std::ofstream out(dir + "/contexts.state");
  out << "format_version: 2\n";
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  for (uint32_t i = 1; i <= n; ++i) {
    v1::Context c = GuestSpec(i);
    c.set_id(i);
    c.set_mtu(1500);
    c.mutable_create_time()->set_seconds(1700000000);
    std::string line;
    printer.PrintToString(c, &line);
    out << "contexts { " << line << " }\n";
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

long RssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// `clients` threads assign `count` new guests between them (ids first..first+count-1).
// Returns each call's latency in ms; counts failures in `errors`.
std::vector<double> AssignMany(const std::string& target, int clients, uint32_t first,
                               uint32_t count, uint64_t* errors, std::string* first_error) {
  std::mutex mu;
  std::vector<double> all;
  std::atomic<uint32_t> next{first};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(clients));
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      auto stub = v1::ContextService::NewStub(bench::OwnConnection(target));
      std::vector<double> mine;
      uint64_t failed = 0;
      for (uint32_t n = next++; n < first + count; n = next++) {
        v1::AssignContextRequest req;
        *req.mutable_context() = GuestSpec(n);
        grpc::ClientContext call;
        call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
        v1::Context out;
        const auto start = Clock::now();
        const grpc::Status s = stub->AssignContext(&call, req, &out);
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        if (!s.ok()) {
          ++failed;
          std::lock_guard<std::mutex> lock(mu);
          if (first_error->empty()) *first_error = s.error_message();
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      all.insert(all.end(), mine.begin(), mine.end());
      *errors += failed;
    });
  }
  for (auto& t : threads) t.join();
  return all;
}

void Row(const std::string& base, uint32_t existing, int clients, uint32_t count) {
  const std::string dir = absl::StrCat(base, "/n", existing, "-c", clients);
  WriteState(dir + "/state", existing);
  v1::DaemonConfig config;
  config.set_unix_socket(dir + "/vnetd.sock");
  config.set_state_dir(dir + "/state");
  config.set_capacity(existing + count + 1);
  NoDataplane dataplane;
  const auto t0 = Clock::now();
  auto server = VnetServer::Start(config, &dataplane);
  const double start_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return;
  }
  const std::string target = "unix:" + config.unix_socket();
  uint64_t errors = 0;
  std::string first_error;
  const auto t1 = Clock::now();
  std::vector<double> ms = AssignMany(target, clients, existing + 1, count, &errors, &first_error);
  const double seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  std::printf("| %5u | %3d | %8.1f | %8.1f | %7.2f | %7.2f | %7.2f | %8.0f | %7ld | %4llu |\n",
              existing, clients, start_ms, static_cast<double>(ms.size()) / seconds,
              Percentile(ms, 0.5), Percentile(ms, 0.99),
              ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end()),
              static_cast<double>(DirBytes(dir + "/state")) / 1024, RssKiB(),
              static_cast<unsigned long long>(errors));
  if (!first_error.empty()) std::fprintf(stderr, "first error: %s\n", first_error.c_str());
  std::fflush(stdout);
  (void)(*server)->Shutdown();
  std::filesystem::remove_all(dir);
}

std::vector<int> Ints(absl::string_view list) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    int v = 0;
    if (absl::SimpleAtoi(part, &v)) out.push_back(v);
  }
  return out;
}

template <typename F>
double MillisPerCall(int reps, F f) {
  const auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) f();
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / reps;
}

}  // namespace

// Where a whole-state write's time goes at n contexts: the steps a write of the whole
// state takes (copy of the pool, its list as a PersistedState, text printing, the atomic
// replace with its fsyncs), each timed alone.
int BreakdownMain(int argc, char** argv) {
  uint32_t n = 4096;
  if (argc > 0) (void)absl::SimpleAtoi(argv[0], &n);
  const int reps = 20;
  ContextPool pool(n + 1);
  for (uint32_t i = 1; i <= n; ++i) {
    if (!pool.Assign(GuestSpec(i), absl::Now()).ok()) return 1;
  }
  std::string dir = "/var/tmp/vnet-breakdown-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) return 1;
  v1::PersistedState state;
  std::string text;
  size_t copied = 0;  // used, so that the copy is not optimised away
  const double copy = MillisPerCall(reps, [&] {
    // The copy is what is timed (what each write did before the journal).
    ContextPool copy(pool);  // NOLINT(performance-unnecessary-copy-initialization)
    copied += copy.size();
  });
  const double list = MillisPerCall(reps, [&] {
    state.Clear();
    for (v1::Context& c : pool.List()) *state.add_contexts() = std::move(c);
  });
  const double print = MillisPerCall(reps, [&] {
    text.clear();
    google::protobuf::TextFormat::PrintToString(state, &text);
  });
  const double write = MillisPerCall(reps, [&] {
    if (!WriteFileAtomically(dir, "contexts.state", text).ok()) std::abort();
  });
  std::printf("| %u | %.2f | %.2f | %.2f | %.2f | %.0f |\n", n, copy, list, print, write,
              static_cast<double>(text.size()) / 1024);
  if (copied != static_cast<size_t>(reps) * n) return 1;
  std::filesystem::remove_all(dir);
  return 0;
}

int AssignRateMain(int argc, char** argv) {
  std::vector<int> sizes = {0, 1000, 4096};
  std::vector<int> clients = {1, 16};
  uint32_t count = 200;
  if (argc > 0) sizes = Ints(argv[0]);
  if (argc > 1) clients = Ints(argv[1]);
  if (argc > 2) (void)absl::SimpleAtoi(argv[2], &count);
  std::string base;
  if (argc > 3) {
    base = argv[3];
  } else {
    char tmpl[] = "/var/tmp/vnet-assign-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    base = tmpl;
  }
  std::printf("state under %s; %u assigns per row, each a new context\n\n", base.c_str(), count);
  std::printf(
      "| existing | clients | start ms | assigns/s | p50 ms | p99 ms | max ms | state KiB | "
      "RSS KiB | errors |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (int n : sizes) {
    for (int c : clients) Row(base, static_cast<uint32_t>(n), c, count);
  }
  if (argc <= 3) std::filesystem::remove_all(base);
  return 0;
}

}  // namespace vnet
