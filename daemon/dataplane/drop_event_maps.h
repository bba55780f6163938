// The drop-event maps (bpf/lib/monitor.h) seen from vnetd: the switch the programs read and
// the per-context rate state they keep.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/core/dataplane.h"

namespace vnet {

// Writes vnet_monitor: events on or off, at most `per_second` per context.
absl::Status WriteMonitorConfig(int monitor_fd, bool on, uint32_t per_second);

// Sums vnet_monitor_state's counters over its `entries` slots (context ids 0..capacity).
absl::StatusOr<DropEventCounters> SumMonitorState(int state_fd, uint32_t entries);

}  // namespace vnet
