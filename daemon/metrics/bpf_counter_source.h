// BpfDataplane as seen by the metrics: per-context counters from its pinned per-CPU stats
// map, the context table's fill, and attach state of the uplink and guest interfaces.
#pragma once

#include <string>
#include <vector>

#include "daemon/dataplane/bpf_dataplane.h"
#include "daemon/metrics/context_view.h"
#include "daemon/metrics/counters.h"

namespace vnet::metrics {

class BpfCounterSource final : public CounterSource {
 public:
  // `dataplane` is not owned and must outlive this source; `capacity` is the pool size.
  BpfCounterSource(const BpfDataplane* dataplane, uint32_t capacity)
      : dataplane_(dataplane), capacity_(capacity) {}

  absl::StatusOr<ContextCounters> Read(uint32_t ctx_id) const override;
  std::vector<MapFill> Fill() const override;

 private:
  const BpfDataplane* dataplane_;
  uint32_t capacity_;
};

// The uplink in effect (it can change at run time; attached while its XDP program runs),
// followed by every context's interface.
AttachStateFn BpfAttachState(const BpfDataplane* dataplane, ContextView view);

}  // namespace vnet::metrics
