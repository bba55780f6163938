// Reads under write load: GetContext latency while W clients assign and release contexts
// as fast as they can (every change fsyncs the state file), against the real gRPC server
// (VnetServer, no fast path) over its Unix socket, each client on its own connection.
// Prints one row per writer count; asserts nothing.
//   vnet_registry_bench assign ...     (the assign rate at a pool size: assign_rate.h)
//   vnet_registry_bench breakdown [n]  (where a whole-state write's time goes)
//   vnet_registry_bench [seconds per row, default 10] [rows, default 0,200]
//                       [state dir, default a fresh one under /var/tmp]
// A row is a writer count, optionally @ a total write rate: 200@180 is 200 writers making
// 180 writes/s between them (reads compared at the same write load); without it they
// write as fast as they can.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "daemon/server.h"
#include "tests/bench/own_connection.h"
#include "tests/bench/registry/assign_rate.h"
#include "vnet/v1/context.grpc.pb.h"

namespace vnet {
namespace {

using bench::OwnConnection;

using Clock = std::chrono::steady_clock;
constexpr int kReaders = 4;
constexpr uint32_t kTargets = 64;  // contexts the readers Get

v1::AssignContextRequest Guest(uint32_t n) {
  v1::AssignContextRequest req;
  v1::Context* c = req.mutable_context();
  c->set_domain_id(n);
  c->set_interface_name(absl::StrCat("vif", n, ".0"));
  c->set_mac(
      absl::StrFormat("00:16:3e:%02x:%02x:%02x", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff));
  c->add_ipv4_addresses(
      absl::StrFormat("198.%d.%d.%d", 18 + ((n >> 16) & 1), (n >> 8) & 0xff, n & 0xff));
  return req;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

void Row(const std::string& target, int writers, double rate, double seconds) {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<double> gets;
  std::vector<double> writes;
  uint64_t write_errors = 0;
  std::string first_error;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(writers) + static_cast<size_t>(kReaders));
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto stub = v1::ContextService::NewStub(OwnConnection(target));
      std::vector<double> mine;
      uint64_t errors = 0;
      const uint32_t domain = 1000 + static_cast<uint32_t>(w);
      // Paced: each writer makes rate/writers writes per second, starting at a random phase.
      const auto period = rate > 0 ? std::chrono::duration<double>(writers / rate)
                                   : std::chrono::duration<double>(0);
      auto next = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     period * (static_cast<double>(w) / writers));
      while (!stop) {
        for (int step = 0; step < 2 && !stop; ++step) {
          if (rate > 0) {
            std::this_thread::sleep_until(next);
            next += std::chrono::duration_cast<Clock::duration>(period);
          }
          grpc::ClientContext call;
          call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
          const auto start = Clock::now();
          grpc::Status s;
          if (step == 0) {
            v1::Context out;
            s = stub->AssignContext(&call, Guest(domain), &out);
          } else {
            v1::ReleaseContextRequest req;
            req.mutable_ref()->mutable_device()->set_domain_id(domain);
            req.set_allow_missing(true);
            v1::ReleaseContextResponse out;
            s = stub->ReleaseContext(&call, req, &out);
          }
          mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
          if (!s.ok()) {
            ++errors;
            std::lock_guard<std::mutex> lock(mu);
            if (first_error.empty())
              first_error = absl::StrCat(s.error_code(), " ", s.error_message());
          }
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      writes.insert(writes.end(), mine.begin(), mine.end());
      write_errors += errors;
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      auto stub = v1::ContextService::NewStub(OwnConnection(target));
      std::vector<double> mine;
      uint32_t n = static_cast<uint32_t>(r);
      while (!stop) {
        grpc::ClientContext call;
        v1::GetContextRequest req;
        req.mutable_ref()->mutable_device()->set_domain_id(1 + (n++ % kTargets));
        v1::Context out;
        const auto start = Clock::now();
        (void)stub->GetContext(&call, req, &out);
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      }
      std::lock_guard<std::mutex> lock(mu);
      gets.insert(gets.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  std::printf("| %4d%s | %9.0f | %8.2f | %8.2f | %8.2f | %8.0f | %8.1f | %8.1f | %6llu |\n",
              writers, rate > 0 ? absl::StrCat(" @", rate, "/s").c_str() : "",
              static_cast<double>(gets.size()) / seconds, Percentile(gets, 0.5),
              Percentile(gets, 0.99),
              gets.empty() ? 0 : *std::max_element(gets.begin(), gets.end()),
              static_cast<double>(writes.size()) / seconds, Percentile(writes, 0.5),
              Percentile(writes, 0.99), static_cast<unsigned long long>(write_errors));
  if (!first_error.empty()) std::fprintf(stderr, "first write error: %s\n", first_error.c_str());
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "assign") return AssignRateMain(argc - 2, argv + 2);
  if (argc > 1 && std::string(argv[1]) == "breakdown") return BreakdownMain(argc - 2, argv + 2);
  double seconds = 10;
  if (argc > 1) (void)absl::SimpleAtod(argv[1], &seconds);
  std::vector<std::pair<int, double>> rows = {{0, 0}, {200, 0}};
  if (argc > 2) {
    rows.clear();
    for (absl::string_view row : absl::StrSplit(argv[2], ',')) {
      std::vector<absl::string_view> parts = absl::StrSplit(row, '@');
      int writers = 0;
      double rate = 0;
      if (!absl::SimpleAtoi(parts[0], &writers)) continue;
      if (parts.size() > 1) (void)absl::SimpleAtod(parts[1], &rate);
      rows.emplace_back(writers, rate);
    }
  }
  std::string dir;
  if (argc > 3) {
    dir = argv[3];
  } else {
    char tmpl[] = "/var/tmp/vnet-registry-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    dir = tmpl;
  }
  v1::DaemonConfig config;
  config.set_unix_socket(dir + "/vnetd.sock");
  config.set_state_dir(dir + "/state");
  config.set_capacity(1024);
  NoDataplane dataplane;
  auto server = VnetServer::Start(config, &dataplane);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  const std::string target = "unix:" + config.unix_socket();
  auto stub = v1::ContextService::NewStub(OwnConnection(target));
  for (uint32_t n = 1; n <= kTargets; ++n) {
    grpc::ClientContext call;
    v1::Context out;
    (void)stub->AssignContext(&call, Guest(n), &out);
  }
  std::printf("state file on %s; %d readers; %.0f s per row\n\n", dir.c_str(), kReaders, seconds);
  std::printf(
      "| writers | Get/s | Get p50 ms | Get p99 ms | Get max ms | writes/s | write p50 ms "
      "| write p99 ms | write errors |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& [writers, rate] : rows) Row(target, writers, rate, seconds);
  (void)(*server)->Shutdown();
  if (argc <= 3) (void)std::system(("rm -rf " + dir).c_str());
  return 0;
}

}  // namespace
}  // namespace vnet

int main(int argc, char** argv) { return vnet::Main(argc, argv); }
