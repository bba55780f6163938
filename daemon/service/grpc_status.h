// absl::Status and grpc::Status share their code numbering; this keeps the code and message.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace vnet {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return {static_cast<grpc::StatusCode>(status.code()), std::string(status.message())};
}

}  // namespace vnet
