// libFuzzer target over vnetd's gRPC services in this process: a real registry, buffer
// ledger and state directory, the data plane set to none. Each input is a short program of
// calls with fuzzer-made binary requests (tests/fuzz/service_program.h). A finding is:
//   - a crash or a sanitizer report anywhere in the daemon's code;
//   - an answer with UNKNOWN, INTERNAL, DATA_LOSS or UNIMPLEMENTED (an unhandled error path),
//     or an error message longer than kMaxErrorMessage (input echoed unbounded);
//   - after the program, the API disagreeing with itself (List vs Get, regions of a context
//     that does not exist, in-flight totals), or a forced release of everything leaving
//     something behind;
//   - every 500 inputs (VNET_FUZZ_RESTART_EVERY), a restart that does not come back or
//     changes what the API shows.
// Each input starts from an empty daemon; the periodic restart makes a run depend on the
// order of inputs; a finding from it names the restart: replay the input with
// VNET_FUZZ_RESTART_EVERY=1.
//
// VNET_FUZZ_WRITE_SEEDS=DIR writes the seed programs into DIR and exits.
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "daemon/core/protobuf_log.h"
#include "tests/fuzz/service_harness.h"
#include "tests/fuzz/service_program.h"
#include "tests/fuzz/service_seeds.h"
#include "vnet/v1/buffer.pb.h"

namespace {

using vnet::fuzz::Op;

// Inputs between restarts; VNET_FUZZ_RESTART_EVERY=1 replays a finding that needs one.
int RestartEvery() {
  static const int every = [] {
    const char* env = std::getenv("VNET_FUZZ_RESTART_EVERY");
    const int n = env == nullptr ? 0 : std::atoi(env);
    return n > 0 ? n : 500;
  }();
  return every;
}

[[noreturn]] void Finding(const std::string& what) {
  std::fprintf(stderr, "service fuzz finding: %s\n", what.c_str());
  std::abort();
}

vnet::fuzz::ServiceHarness* harness = nullptr;

void WriteSeeds(const char* dir) {
  int n = 0;
  for (const std::string& seed : vnet::fuzz::ServiceSeeds()) {
    std::ofstream out(absl::StrCat(dir, "/seed-", n++), std::ios::binary);
    out << seed;
    if (!out) Finding(absl::StrCat("cannot write seeds into ", dir));
  }
  std::printf("wrote %d seeds into %s\n", n, dir);
}

// Turns a kCompleteLastValidated call into a CompleteDescriptors request.
std::string CompleteLastValidated(const std::string& call_bytes,
                                  const vnet::v1::ValidateDescriptorsResponse& last) {
  vnet::v1::CompleteDescriptorsRequest req;
  req.set_context_id(call_bytes.empty() ? 1 : static_cast<uint8_t>(call_bytes[0]));
  for (uint64_t cookie : last.cookies()) {
    if (cookie != 0) req.add_cookies(cookie);
  }
  return req.SerializeAsString();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("VNET_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  vnet::RouteProtobufLogs();  // as vnetd does: bad requests must not flood the output
  harness = new vnet::fuzz::ServiceHarness();
  // libFuzzer ends with exit(): stop the daemon and remove its directory then.
  std::atexit([] { delete harness; });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static int inputs = 0;
  if (std::string error = harness->Reset(); !error.empty()) {
    Finding(absl::StrCat("resetting before the input: ", error));
  }
  vnet::v1::ValidateDescriptorsResponse last_validated;
  for (const vnet::fuzz::Call& call : vnet::fuzz::DecodeProgram(data, size)) {
    const vnet::fuzz::MethodInfo method = vnet::fuzz::MethodOf(call.op);
    const std::string request = call.op == Op::kCompleteLastValidated
                                    ? CompleteLastValidated(call.request, last_validated)
                                    : call.request;
    std::vector<std::string> responses;
    const grpc::Status status = harness->Call(method.path, method.streaming, request, &responses);
    if (vnet::fuzz::IsUnhandledError(status.error_code())) {
      Finding(absl::StrCat(method.path, " answered ", status.error_code(), ": ",
                           status.error_message()));
    }
    if (status.error_message().size() > vnet::fuzz::kMaxErrorMessage) {
      Finding(absl::StrCat(method.path, " answered with a ", status.error_message().size(),
                           "-byte error message"));
    }
    if (call.op == Op::kValidate && status.ok() && !responses.empty()) {
      last_validated.ParseFromString(responses.front());
    }
  }
  vnet::fuzz::ServiceHarness::Snapshot snapshot;
  if (std::string error = harness->TakeSnapshot(&snapshot); !error.empty()) {
    Finding(absl::StrCat("after the input: ", error));
  }
  if (++inputs % RestartEvery() == 0) {
    if (std::string error = harness->RestartAndCompare(); !error.empty()) {
      Finding(absl::StrCat("restart after ", inputs, " inputs: ", error));
    }
  }
  return 0;
}
