#include "daemon/metrics/dataplane_counter_source.h"

namespace vnet::metrics {

absl::StatusOr<ContextCounters> DataplaneCounterSource::Read(uint32_t ctx_id) const {
  return dataplane_->ReadCounters(ctx_id);
}

std::vector<MapFill> DataplaneCounterSource::Fill() const {
  return {{"vnet_ctx", dataplane_->ActiveContextIds().size(), capacity_}};
}

AttachStateFn DataplaneAttachState(const Dataplane* dataplane, ContextView view) {
  return [dataplane, view = std::move(view)] {
    std::vector<InterfaceAttach> states;
    const std::string uplink = dataplane->Uplink();
    if (!uplink.empty()) {
      const std::string delivery = dataplane->WireDelivery();
      states.push_back({uplink, "uplink", delivery != "none", delivery});
    }
    for (InterfaceAttach& g : GuestAttachStates(view.list())) states.push_back(std::move(g));
    return states;
  };
}

}  // namespace vnet::metrics
