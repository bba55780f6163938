#include "daemon/metrics/bpf_counter_source.h"

namespace vnet::metrics {

absl::StatusOr<ContextCounters> BpfCounterSource::Read(uint32_t ctx_id) const {
  auto raw = dataplane_->ReadCounters(ctx_id);
  if (!raw.ok()) return raw.status();
  ContextCounters c;
  c.rx_packets = raw->rx_packets;
  c.rx_bytes = raw->rx_bytes;
  c.tx_packets = raw->tx_packets;
  c.tx_bytes = raw->tx_bytes;
  c.drops = raw->drops;
  c.gso_super_packets[VNET_DIR_TX] = raw->tx_gso_packets;
  c.gso_segments[VNET_DIR_TX] = raw->tx_gso_segments;
  c.gso_super_packets[VNET_DIR_RX] = raw->rx_gso_packets;
  c.gso_segments[VNET_DIR_RX] = raw->rx_gso_segments;
  c.gso_segmented = raw->rx_gso_segmented;
  c.gso_resized = raw->rx_gso_resized;
  c.checksums_completed = raw->rx_csum_completed;
  // The fast path has no rate limiter yet: rate_limit_drops stays zero.
  return c;
}

std::vector<MapFill> BpfCounterSource::Fill() const {
  return {{"vnet_ctx", dataplane_->ActiveContextIds().size(), capacity_}};
}

AttachStateFn BpfAttachState(const BpfDataplane* dataplane, ContextView view) {
  return [dataplane, view = std::move(view)] {
    std::vector<InterfaceAttach> states;
    const std::string uplink = dataplane->Uplink();
    if (!uplink.empty()) states.push_back({uplink, "uplink", dataplane->XdpMode() != "none"});
    for (InterfaceAttach& g : GuestAttachStates(view.list())) states.push_back(std::move(g));
    return states;
  };
}

}  // namespace vnet::metrics
