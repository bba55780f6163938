// gRPC StatsService (callback API): per-context counters from the fast path, read on each
// call on gRPC's thread (map reads, no disk).
#pragma once

#include "daemon/core/context_registry.h"
#include "daemon/metrics/counters.h"
#include "vnet/v1/stats.grpc.pb.h"

namespace vnet {

class StatsServiceImpl final : public v1::StatsService::CallbackService {
 public:
  // Neither is owned. `source` is null when vnetd runs without a fast path.
  StatsServiceImpl(const ContextRegistry* registry, const metrics::CounterSource* source)
      : registry_(registry), source_(source) {}

  grpc::ServerUnaryReactor* GetContextStats(grpc::CallbackServerContext* ctx,
                                            const v1::GetContextStatsRequest* req,
                                            v1::GetContextStatsResponse* resp) override;

 private:
  grpc::Status Read(const v1::GetContextStatsRequest* req, v1::GetContextStatsResponse* resp) const;

  const ContextRegistry* registry_;
  const metrics::CounterSource* source_;
};

// The message form of one context's counters (drops: non-zero entries only).
v1::ContextStats ToContextStats(const v1::Context& ctx, const metrics::ContextCounters& c);

}  // namespace vnet
