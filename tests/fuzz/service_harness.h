// The daemon as the service fuzzer sees it: a real VnetServer in this process (no fast
// path, state on a temporary directory), reached over its Unix socket, and the checks its
// answers must pass whatever a caller sent.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/server.h"
#include "vnet/v1/buffer.grpc.pb.h"
#include "vnet/v1/context.grpc.pb.h"

namespace vnet::fuzz {

// Contexts the fuzzed daemon holds: small, so a few assigns fill the pool.
inline constexpr uint32_t kCapacity = 6;

class ServiceHarness {
 public:
  // Starts the daemon in a new temporary directory; aborts on failure (nothing to fuzz).
  ServiceHarness();
  ~ServiceHarness();

  // One call with `request` as the raw request bytes. Unary methods answer once; a
  // streaming method gets `request` as its only message and is read to its end. Returns
  // the status; `responses` gets the answers' bytes.
  grpc::Status Call(const std::string& method, bool streaming, const std::string& request,
                    std::vector<std::string>* responses);

  // What the daemon holds now, read through the API; an error names the broken rule.
  struct Snapshot {
    std::vector<v1::Context> contexts;
    std::vector<v1::ContextRegions> regions;
  };
  std::string TakeSnapshot(Snapshot* out);

  // Releases every context (forced: descriptors in flight are abandoned), so that each
  // input starts from an empty daemon. An error names what failed.
  std::string Reset();

  // Stops the daemon and starts it again on the same state; the API must show the same
  // contexts and regions afterwards. An error names the difference.
  std::string RestartAndCompare();

 private:
  void StartServer();

  std::string dir_;
  v1::DaemonConfig config_;
  NoDataplane dataplane_;
  std::unique_ptr<VnetServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> generic_;
  std::unique_ptr<v1::ContextService::Stub> contexts_;
  std::unique_ptr<v1::BufferService::Stub> buffers_;
};

// Status codes no request may produce: they mean an error path the daemon did not handle.
bool IsUnhandledError(grpc::StatusCode code);

// Longest error message an answer may carry (callers' input is quoted in bounded pieces).
inline constexpr size_t kMaxErrorMessage = 1024;

}  // namespace vnet::fuzz
