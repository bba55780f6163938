#include "daemon/metrics/daemon_collector.h"

#include "daemon/metrics/family.h"

namespace vnet::metrics {

using prometheus::MetricType;

DaemonCollector::DaemonCollector(ContextView view, AttachStateFn attach_state,
                                 const CounterSource* source)
    : view_(std::move(view)), attach_state_(std::move(attach_state)), source_(source) {}

std::vector<prometheus::MetricFamily> DaemonCollector::Collect() const {
  auto in_use =
      NewFamily("vnet_contexts_in_use", "Contexts assigned from the pool.", MetricType::Gauge);
  AddSample(in_use, {}, static_cast<double>(view_.list().size()));
  auto capacity =
      NewFamily("vnet_contexts_capacity", "Size of the context pool.", MetricType::Gauge);
  AddSample(capacity, {}, static_cast<double>(view_.capacity()));
  std::vector<prometheus::MetricFamily> families = {std::move(in_use), std::move(capacity)};

  if (attach_state_) {
    auto attached = NewFamily("vnet_fastpath_attached",
                              "1 when the fast path's programs are attached to the interface.",
                              MetricType::Gauge);
    auto delivery = NewFamily("vnet_uplink_delivery",
                              "1 for the uplink hook that delivers wire-to-guest frames "
                              "(delivery=\"xdp\" or \"tc\", per uplink_delivery).",
                              MetricType::Gauge);
    for (const InterfaceAttach& a : attach_state_()) {
      AddSample(attached, {{"interface", a.interface}, {"role", a.role}}, a.attached ? 1 : 0);
      if (a.attached && !a.delivery.empty())
        AddSample(delivery, {{"interface", a.interface}, {"delivery", a.delivery}}, 1);
    }
    families.push_back(std::move(attached));
    families.push_back(std::move(delivery));
  }
  if (source_ != nullptr) {
    const std::vector<MapFill> fill = source_->Fill();
    if (!fill.empty()) {
      auto entries =
          NewFamily("vnet_map_entries", "Entries in a fast-path map.", MetricType::Gauge);
      auto max =
          NewFamily("vnet_map_max_entries", "Capacity of a fast-path map.", MetricType::Gauge);
      for (const MapFill& m : fill) {
        AddSample(entries, {{"map", m.map}}, static_cast<double>(m.entries));
        AddSample(max, {{"map", m.map}}, static_cast<double>(m.max_entries));
      }
      families.push_back(std::move(entries));
      families.push_back(std::move(max));
    }
  }
  return families;
}

}  // namespace vnet::metrics
