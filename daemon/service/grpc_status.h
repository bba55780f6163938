// absl::Status and grpc::Status share their code numbering; this keeps the code and message.
// And what the core needs of a call: its deadline and whether it was cancelled.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <chrono>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "daemon/core/call_limits.h"
#include "daemon/core/echo.h"

namespace vnet {

// The most of a message a status carries: messages quote input only in short excerpts
// (Echo), and this keeps any other long text from becoming a huge grpc-message.
inline constexpr size_t kMaxStatusMessage = 1024;

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return {static_cast<grpc::StatusCode>(status.code()), Echo(status.message(), kMaxStatusMessage)};
}

// The caller's deadline (none when it set none) and its cancellation, for the core.
inline CallLimits LimitsOf(grpc::ServerContextBase* ctx) {
  CallLimits limits;
  if (ctx == nullptr) return limits;
  const auto deadline = ctx->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    limits.deadline = absl::FromChrono(deadline);
  }
  limits.cancelled = [ctx] { return ctx->IsCancelled(); };
  return limits;
}

}  // namespace vnet
