// A data plane as seen by the metrics: per-context counters, the context table's fill, and
// attach state of the uplink and guest interfaces, through the Dataplane interface.
#pragma once

#include <string>
#include <vector>

#include "daemon/core/dataplane.h"
#include "daemon/metrics/context_view.h"
#include "daemon/metrics/counters.h"

namespace vnet::metrics {

class DataplaneCounterSource final : public CounterSource {
 public:
  // `dataplane` is not owned and must outlive this source; `capacity` is the pool size.
  DataplaneCounterSource(const Dataplane* dataplane, uint32_t capacity)
      : dataplane_(dataplane), capacity_(capacity) {}

  absl::StatusOr<ContextCounters> Read(uint32_t ctx_id) const override;
  std::vector<MapFill> Fill() const override;

 private:
  const Dataplane* dataplane_;
  uint32_t capacity_;
};

// The uplink in effect (it can change at run time; attached while its XDP program runs),
// followed by every context's interface.
AttachStateFn DataplaneAttachState(const Dataplane* dataplane, ContextView view);

}  // namespace vnet::metrics
