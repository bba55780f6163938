#include "tests/bench/controlplane/probe.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <thread>
#include <type_traits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/bench/controlplane/workload.h"
#include "tests/bench/own_connection.h"
#include "tests/integration/temp_dir.h"
#include "vnet/v1/buffer.grpc.pb.h"
#include "vnet/v1/context.grpc.pb.h"

namespace vnet::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kProbeGuest = 30000;
constexpr auto kCallDeadline = std::chrono::seconds(10);

std::unique_ptr<grpc::ClientContext> Call() {
  auto call = std::make_unique<grpc::ClientContext>();
  call->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  return call;
}

uint32_t MicrosSince(Clock::time_point start) {
  return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
}

uint64_t MonotonicNs(Clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

void PrintLine(const char* name, const std::vector<uint32_t>& values) {
  std::printf("%s", name);
  for (uint32_t v : values) std::printf(" %u", v);
  std::printf("\n");
}

}  // namespace

int RunProbe(const std::string& target, double seconds, int interval_ms, int descriptors,
             const std::string& stages_path) {
  static_assert(std::is_same_v<Clock::duration, std::chrono::nanoseconds>);
  auto channel = OwnConnection(target);
  auto contexts = v1::ContextService::NewStub(channel);
  auto buffers = v1::BufferService::NewStub(channel);
  v1::AssignContextRequest assign;
  *assign.mutable_context() = Guest(kProbeGuest);
  v1::Context context;
  grpc::Status s = contexts->AssignContext(Call().get(), assign, &context);
  if (!s.ok()) {
    std::fprintf(stderr, "probe: assign: %s\n", s.error_message().c_str());
    return 1;
  }
  v1::Region region;
  s = buffers->RegisterRegion(Call().get(), RegionRequest(context.id()), &region);
  if (!s.ok()) {
    std::fprintf(stderr, "probe: region: %s\n", s.error_message().c_str());
    return 1;
  }
  const v1::ValidateDescriptorsRequest validate = DescriptorsRequest(context.id(), descriptors);
  std::printf("ready\n");
  std::fflush(stdout);

  ProbeResult result;
  std::vector<std::array<Clock::time_point, 4>> stages;  // per round: sent, answered, twice
  const auto interval = std::chrono::milliseconds(interval_ms);
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  for (auto next = Clock::now(); next < end; next += interval) {
    std::this_thread::sleep_until(next);
    v1::GetContextRequest get;
    get.mutable_ref()->set_id(context.id());
    v1::Context got;
    auto start = Clock::now();
    if (contexts->GetContext(Call().get(), get, &got).ok()) {
      result.get_us.push_back(MicrosSince(start));
    } else {
      ++result.errors;
    }
    std::array<Clock::time_point, 4> stage;
    v1::ValidateDescriptorsResponse verdicts;
    start = stage[0] = Clock::now();
    const bool validated = buffers->ValidateDescriptors(Call().get(), validate, &verdicts).ok();
    stage[1] = Clock::now();
    if (!validated) {
      ++result.errors;
      continue;
    }
    v1::CompleteDescriptorsRequest complete;
    complete.set_context_id(context.id());
    for (const auto& cookie : verdicts.cookies()) complete.add_cookies(cookie);
    v1::CompleteDescriptorsResponse completed;
    stage[2] = Clock::now();
    const bool done = buffers->CompleteDescriptors(Call().get(), complete, &completed).ok();
    stage[3] = Clock::now();
    if (done) {
      result.round_us.push_back(MicrosSince(start));
      stages.push_back(stage);
    } else {
      ++result.errors;
    }
  }
  PrintLine("get", result.get_us);
  PrintLine("round", result.round_us);
  std::printf("errors %d\n", result.errors);
  if (!stages_path.empty()) {
    if (FILE* out = std::fopen(stages_path.c_str(), "w")) {
      for (const auto& st : stages) {
        std::fprintf(out, "%llu %llu %llu %llu\n",
                     static_cast<unsigned long long>(MonotonicNs(st[0])),
                     static_cast<unsigned long long>(MonotonicNs(st[1])),
                     static_cast<unsigned long long>(MonotonicNs(st[2])),
                     static_cast<unsigned long long>(MonotonicNs(st[3])));
      }
      std::fclose(out);
    } else {
      std::fprintf(stderr, "probe: cannot write %s\n", stages_path.c_str());
    }
  }
  v1::ReleaseContextRequest release;
  release.mutable_ref()->set_id(context.id());
  v1::ReleaseContextResponse released;
  (void)contexts->ReleaseContext(Call().get(), release, &released);
  return 0;
}

Probe::Probe(const std::string& target, double seconds, int interval_ms, int descriptors,
             const std::string& log_path, const std::string& stages_path, int niceness)
    : log_path_(log_path) {
  char self[4096] = {};
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  process_ = std::make_unique<testing::Process>(
      std::vector<std::string>{
          "/usr/bin/nice", absl::StrCat("--adjustment=", niceness),
          n > 0 ? std::string(self, static_cast<size_t>(n)) : "", "--probe_target=" + target,
          absl::StrCat("--probe_seconds=", seconds),
          absl::StrCat("--probe_interval_ms=", interval_ms),
          absl::StrCat("--descriptors=", descriptors), "--probe_stages=" + stages_path},
      log_path);
}

bool Probe::WaitReady() {
  return testing::WaitFor(
             [&] {
               return !process_->running() ||
                      testing::ReadFile(log_path_).find("ready\n") != std::string::npos;
             },
             absl::Seconds(30)) &&
         process_->running();
}

ProbeResult Probe::Finish() {
  ProbeResult result;
  if (process_->Wait(absl::Seconds(60)) != 0) return result;
  for (absl::string_view line : absl::StrSplit(testing::ReadFile(log_path_), '\n')) {
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.empty()) continue;
    std::vector<uint32_t>* into = words[0] == "get"     ? &result.get_us
                                  : words[0] == "round" ? &result.round_us
                                                        : nullptr;
    if (words[0] == "errors" && words.size() == 2) (void)absl::SimpleAtoi(words[1], &result.errors);
    if (into == nullptr) continue;
    for (size_t i = 1; i < words.size(); ++i) {
      uint32_t v = 0;
      if (absl::SimpleAtoi(words[i], &v)) into->push_back(v);
    }
  }
  return result;
}

}  // namespace vnet::bench
