// Per-context traffic series, read from the counter source at scrape time: nothing polls in
// the background, and only contexts in the pool are reported, so a released context's
// series disappear on the next scrape.
//
// Monotonic across daemon restarts: the counters live in pinned per-CPU maps that outlive
// vnetd, and this collector keeps no state of its own. A context id reused by another guest
// carries other domain/interface labels, hence is a new series; the data plane zeroes a
// context's counters when it first attaches it, which Prometheus' rate() reads as a reset.
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "daemon/metrics/context_view.h"
#include "daemon/metrics/counters.h"

namespace vnet::metrics {

class ContextCollector final : public prometheus::Collectable {
 public:
  // `source` is not owned and must outlive the collector.
  ContextCollector(ContextView view, const CounterSource* source);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  ContextView view_;
  const CounterSource* source_;
};

}  // namespace vnet::metrics
