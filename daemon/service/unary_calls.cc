#include "daemon/service/unary_calls.h"

#include "daemon/service/grpc_status.h"

namespace vnet {

grpc::ServerUnaryReactor* AnswerNow(grpc::CallbackServerContext* ctx, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::ServerUnaryReactor* AnswerFromPool(grpc::CallbackServerContext* ctx, WritePool* pool,
                                         std::function<grpc::Status()> handler) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (pool == nullptr) {
    reactor->Finish(handler());
    return reactor;
  }
  // The call (and ctx) lives until Finish: the job may read it until then.
  absl::Status queued = pool->Submit(
      [ctx, reactor, handler = std::move(handler)] {
        if (absl::Status gave_up = LimitsOf(ctx).Check(); !gave_up.ok()) {
          reactor->Finish(ToGrpcStatus(gave_up));
          return;
        }
        reactor->Finish(handler());
      },
      [ctx] { return LimitsOf(ctx).Check().ok(); });
  if (!queued.ok()) reactor->Finish(ToGrpcStatus(queued));
  return reactor;
}

}  // namespace vnet
