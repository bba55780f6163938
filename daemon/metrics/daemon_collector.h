// Daemon-wide gauges, read at scrape time: contexts in use and capacity, fast-path attach
// state per interface, and map fill when the counter source can tell.
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "daemon/metrics/context_view.h"
#include "daemon/metrics/counters.h"

namespace vnet::metrics {

class DaemonCollector final : public prometheus::Collectable {
 public:
  // `attach_state` may be empty (no fast path: no vnet_fastpath_attached series); `source`
  // may be null (no map fill). Neither is owned.
  DaemonCollector(ContextView view, AttachStateFn attach_state, const CounterSource* source);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  ContextView view_;
  AttachStateFn attach_state_;
  const CounterSource* source_;
};

}  // namespace vnet::metrics
