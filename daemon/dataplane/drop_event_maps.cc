#include "daemon/dataplane/drop_event_maps.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <vector>

#include "vnet/abi.h"

namespace vnet {

absl::Status WriteMonitorConfig(int monitor_fd, bool on, uint32_t per_second) {
  const uint32_t zero = 0;
  vnet_monitor_config cfg{};
  cfg.flags = on ? VNET_MONITOR_F_ON : 0;
  cfg.events_per_sec = per_second;
  if (bpf_map_update_elem(monitor_fd, &zero, &cfg, BPF_ANY) != 0) {
    return absl::ErrnoToStatus(errno, "write vnet_monitor");
  }
  return absl::OkStatus();
}

absl::StatusOr<DropEventCounters> SumMonitorState(int state_fd, uint32_t entries) {
  DropEventCounters sum;
  for (uint32_t id = 0; id < entries; ++id) {
    vnet_monitor_state st{};
    if (bpf_map_lookup_elem(state_fd, &id, &st) != 0) {
      return absl::ErrnoToStatus(errno, "read vnet_monitor_state");
    }
    sum.emitted += st.emitted;
    sum.suppressed += st.suppressed;
    sum.ring_full += st.ring_full;
  }
  return sum;
}

}  // namespace vnet
