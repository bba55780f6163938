// A request that does not parse (a string field with invalid UTF-8, a truncated message)
// never reaches our handlers: gRPC answers INTERNAL (the callback API: UNIMPLEMENTED)
// with an empty message. It is the caller's error, so this interceptor turns that answer into
// INVALID_ARGUMENT saying why.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>

namespace vnet {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRequestErrorInterceptorFactory();

}  // namespace vnet
