// Buffer ledger throughput: descriptors validated and completed per second, in-process on
// one thread and over the gRPC stream in batches of 256. Prints a table; asserts nothing.
//   vnet_ledger_bench [seconds per row, default 2] [all|inprocess|grpc]
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "daemon/ledger/buffer_ledger.h"
#include "daemon/ledger/file_journal.h"
#include "daemon/service/buffer_service.h"

namespace vnet::ledger {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kRegionBase = 0x40000000;
constexpr uint64_t kRegionBytes = uint64_t{1} << 30;
constexpr uint32_t kBufferBytes = 2048;  // one packet buffer per descriptor
constexpr int kBatch = 256;

struct Row {
  std::string name;
  uint64_t descriptors;
  uint64_t accepted;
  double seconds;
  double cpu_seconds;  // of this thread; 0 when several threads share the work
};

// Time this thread actually ran: other load on the machine does not inflate it.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

void Print(const Row& row) {
  const std::string per_cpu =
      row.cpu_seconds > 0 ? std::to_string(row.descriptors / row.cpu_seconds / 1e6) : "-";
  std::printf("%-58s %8.2f M/s wall %8.5s M/s cpu %11llu descriptors %5.1f%% accepted\n",
              row.name.c_str(), row.descriptors / row.seconds / 1e6, per_cpu.c_str(),
              static_cast<unsigned long long>(row.descriptors),
              100.0 * row.accepted / std::max<uint64_t>(row.descriptors, 1));
  std::fflush(stdout);
}

RegionSpec BigRegion() {
  RegionSpec spec;
  spec.region_id = 1;
  spec.guest_address = kRegionBase;
  spec.length = kRegionBytes;
  spec.access = Access::kReadWrite;
  return spec;
}

// Descriptor i of batch group g: disjoint 2 KiB buffers.
Descriptor Buffer(uint64_t group, int i, uint32_t bytes = kBufferBytes) {
  return {kRegionBase + (group * kBatch + i) * bytes, bytes,
          i % 2 ? Direction::kToDevice : Direction::kFromDevice, 1};
}

// Keeps `window` batches in flight (a ring of that many batches), completing the oldest
// before posting the next, so the in-flight index holds window * 256 entries. `journaled`:
// with the journal vnetd uses (regions and in-flight files in a directory under /tmp).
Row InProcess(double seconds, int window, uint32_t bytes = kBufferBytes, bool journaled = false) {
  char dir[] = "/tmp/vnet-ledger-bench-XXXXXX";
  if (journaled && mkdtemp(dir) == nullptr) std::abort();
  FileJournal journal(dir, LedgerLimits().max_in_flight_per_context, "bench");
  BufferLedger ledger(LedgerLimits(), journaled ? &journal : nullptr);
  if (!ledger.RegisterRegion(1, BigRegion()).ok()) std::abort();
  std::vector<std::vector<Descriptor>> groups(window);
  for (int g = 0; g < window; ++g) {
    for (int i = 0; i < kBatch; ++i) groups[g].push_back(Buffer(g, i, bytes));
  }
  std::vector<std::vector<uint64_t>> cookies(window);
  std::vector<DescriptorResult> results;
  uint64_t descriptors = 0, accepted = 0;
  const double cpu_start = ThreadCpuSeconds();
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration<double>(seconds);
  for (uint64_t k = 0;; ++k) {
    const int g = static_cast<int>(k % window);
    if (!cookies[g].empty()) ledger.Complete(1, cookies[g]);
    accepted += ledger.Validate(1, groups[g], &results);
    cookies[g].clear();
    for (const DescriptorResult& r : results) cookies[g].push_back(r.cookie);
    descriptors += kBatch;
    if ((k & 63) == 0 && Clock::now() >= stop) break;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = ThreadCpuSeconds() - cpu_start;
  if (journaled) {
    (void)ledger.ForceReleaseContext(1, absl::Now());  // removes its files
    rmdir(dir);
  }
  const std::string size = bytes == kBufferBytes ? "" : ", " + std::to_string(bytes) + " B";
  return {"in-process, 1 thread, " + std::to_string(window * kBatch) + " in flight" + size +
              (journaled ? ", journaled" : ""),
          descriptors, accepted, elapsed, cpu};
}

// The real BufferService on a Unix socket; one client stream keeps `window` batches
// outstanding: a writer thread posts, the reader hands cookies back for completion.
Row OverGrpc(double seconds, int window) {
  const std::string path = "/tmp/vnet-ledger-bench-" + std::to_string(getpid()) + ".sock";
  unlink(path.c_str());
  BufferLedger ledger;
  if (!ledger.RegisterRegion(1, BigRegion()).ok()) std::abort();
  BufferServiceImpl service(&ledger, [](uint32_t id) -> std::optional<uint32_t> {
    if (id == 1) return 1u;
    return std::nullopt;
  });
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::BufferService::NewStub(
      grpc::CreateChannel("unix:" + path, grpc::InsecureChannelCredentials()));
  grpc::ClientContext call;
  auto stream = stub->StreamDescriptors(&call);

  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  bool done = false;
  std::deque<uint64_t> to_complete;
  uint64_t descriptors = 0, accepted = 0;

  const int groups = 2 * window;  // a group is reused only after its results came back
  std::vector<v1::DescriptorBatch> batches(groups);
  for (int g = 0; g < groups; ++g) {
    batches[g].set_context_id(1);
    for (int i = 0; i < kBatch; ++i) {
      const Descriptor d = Buffer(g, i);
      v1::Descriptor* out = batches[g].add_descriptors();
      out->set_guest_address(d.guest_address);
      out->set_length(d.length);
      out->set_direction(static_cast<v1::DescriptorDirection>(d.direction));
      out->set_region_id(d.region_id);
    }
  }

  std::thread reader([&] {
    v1::DescriptorBatchResult result;
    while (stream->Read(&result)) {
      std::lock_guard<std::mutex> lock(mu);
      accepted += result.validation().accepted();
      descriptors += result.validation().verdicts_size();
      for (uint64_t c : result.validation().cookies()) {
        if (c != 0) to_complete.push_back(c);
      }
      --outstanding;
      cv.notify_all();
    }
  });

  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration<double>(seconds);
  for (uint64_t k = 0; Clock::now() < stop; ++k) {
    v1::DescriptorBatch& batch = batches[k % groups];
    batch.set_sequence(k);
    batch.clear_complete_cookies();
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return outstanding < window; });
      ++outstanding;
      for (uint64_t c : to_complete) batch.add_complete_cookies(c);
      to_complete.clear();
    }
    if (!stream->Write(batch)) break;
  }
  stream->WritesDone();
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return outstanding == 0; });
    done = true;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  reader.join();
  (void)done;
  (void)stream->Finish();
  server->Shutdown();
  server->Wait();
  unlink(path.c_str());
  return {"gRPC stream over a Unix socket, batches of 256, window " + std::to_string(window),
          descriptors, accepted, elapsed, 0};
}

}  // namespace
}  // namespace vnet::ledger

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  const std::string only = argc > 2 ? argv[2] : "all";
  // Other work on the machine shows in the numbers: print the load next to them.
  double load[3] = {0, 0, 0};
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    std::fclose(f);
  }
  std::printf("buffer ledger: validate + complete, %d-byte buffers, %u CPUs, load %.2f %.2f %.2f\n",
              static_cast<int>(vnet::ledger::kBufferBytes), std::thread::hardware_concurrency(),
              load[0], load[1], load[2]);
  if (only != "grpc") {
    for (int window : {1, 16, 256}) vnet::ledger::Print(vnet::ledger::InProcess(seconds, window));
    // Jumbo buffers straddle chunks; 64 KiB + 1 spans three and takes the B-tree path.
    vnet::ledger::Print(vnet::ledger::InProcess(seconds, 16, 9000));
    vnet::ledger::Print(vnet::ledger::InProcess(seconds, 4, 65537));
    // As vnetd runs it: every descriptor recorded in the in-flight file.
    for (int window : {1, 16, 256}) {
      vnet::ledger::Print(vnet::ledger::InProcess(seconds, window, vnet::ledger::kBufferBytes,
                                                  /*journaled=*/true));
    }
  }
  if (only != "inprocess") {
    for (int window : {1, 8, 32}) vnet::ledger::Print(vnet::ledger::OverGrpc(seconds, window));
  }
  return 0;
}
