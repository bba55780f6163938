// How a unary handler of the callback API answers: at once on gRPC's thread (reads, the
// ledger's checks: nothing there waits for the disk), or from the write pool (changes that
// wait for a commit). gRPC's threads are never held by a disk write or a long lock.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <functional>

#include "daemon/service/write_pool.h"

namespace vnet {

// Finishes the call with `status` now.
grpc::ServerUnaryReactor* AnswerNow(grpc::CallbackServerContext* ctx, const grpc::Status& status);

// Queues `handler` on `pool` and finishes the call with what it returns. A full pool
// answers RESOURCE_EXHAUSTED at once (nothing changed). A call whose caller gave up while
// it waited in the queue (deadline passed, cancelled) is not run: DEADLINE_EXCEEDED or
// CANCELLED. `pool` null: `handler` runs now, on the calling thread (tests, benchmarks).
grpc::ServerUnaryReactor* AnswerFromPool(grpc::CallbackServerContext* ctx, WritePool* pool,
                                         std::function<grpc::Status()> handler);

}  // namespace vnet
