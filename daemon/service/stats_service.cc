#include "daemon/service/stats_service.h"

#include "absl/time/clock.h"
#include "daemon/service/grpc_status.h"
#include "daemon/service/unary_calls.h"
#include "google/protobuf/util/time_util.h"

namespace vnet {

v1::ContextStats ToContextStats(const v1::Context& ctx, const metrics::ContextCounters& c) {
  v1::ContextStats s;
  s.set_context_id(ctx.id());
  s.set_domain_id(ctx.domain_id());
  s.set_device_id(ctx.device_id());
  s.set_interface_name(ctx.interface_name());
  s.set_rx_packets(c.rx_packets);
  s.set_rx_bytes(c.rx_bytes);
  s.set_tx_packets(c.tx_packets);
  s.set_tx_bytes(c.tx_bytes);
  for (int dir = 0; dir < VNET_DIR_MAX; ++dir) {
    for (int reason = 0; reason < VNET_DROP_MAX; ++reason) {
      if (c.drops[dir][reason] == 0) continue;
      v1::DropCount* d = s.add_drops();
      d->set_direction(dir == VNET_DIR_RX ? "rx" : "tx");
      d->set_reason(vnet_drop_reason_name(static_cast<unsigned>(reason)));
      d->set_packets(c.drops[dir][reason]);
    }
  }
  s.set_rx_gso_packets(c.rx_gso_packets);
  s.set_rx_gso_segments(c.rx_gso_segments);
  s.set_tx_gso_packets(c.tx_gso_packets);
  s.set_tx_gso_segments(c.tx_gso_segments);
  s.set_rx_gso_segmented(c.rx_gso_segmented);
  s.set_rx_gso_resized(c.rx_gso_resized);
  s.set_rx_csum_completed(c.rx_csum_completed);
  return s;
}

grpc::ServerUnaryReactor* StatsServiceImpl::GetContextStats(grpc::CallbackServerContext* ctx,
                                                            const v1::GetContextStatsRequest* req,
                                                            v1::GetContextStatsResponse* resp) {
  return AnswerNow(ctx, Read(req, resp));
}

grpc::Status StatsServiceImpl::Read(const v1::GetContextStatsRequest* req,
                                    v1::GetContextStatsResponse* resp) const {
  if (source_ == nullptr) {
    return {grpc::StatusCode::FAILED_PRECONDITION,
            "vnetd runs without a fast path: there are no traffic counters"};
  }
  std::vector<v1::Context> contexts;
  if (req->has_ref()) {
    auto ctx = registry_->Get(req->ref());
    if (!ctx.ok()) return ToGrpcStatus(ctx.status());
    contexts.push_back(*std::move(ctx));
  } else {
    contexts = registry_->List();
  }
  // Nanoseconds: rates over sub-second intervals need them (TimeUtil::GetCurrentTime()
  // has whole seconds only in this protobuf).
  *resp->mutable_read_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  for (const v1::Context& ctx : contexts) {
    auto counters = source_->Read(ctx.id());
    // Asked for one context: say why it has no counters. Asked for all: a context released
    // between List() and the read is simply left out.
    if (!counters.ok()) {
      if (req->has_ref()) return ToGrpcStatus(counters.status());
      continue;
    }
    *resp->add_contexts() = ToContextStats(ctx, *counters);
  }
  return grpc::Status::OK;
}

}  // namespace vnet
