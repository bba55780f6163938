#include "daemon/metrics/drop_event_collector.h"

#include "daemon/metrics/family.h"

namespace vnet::metrics {

using prometheus::MetricType;

std::vector<prometheus::MetricFamily> DropEventCollector::Collect() const {
  const DropEventFigures f = read_();
  std::vector<prometheus::MetricFamily> families;
  auto counter = [&](const char* name, const char* help, std::optional<uint64_t> value) {
    if (!value) return;
    auto family = NewFamily(name, help, MetricType::Counter);
    AddSample(family, {}, static_cast<double>(*value));
    families.push_back(std::move(family));
  };
  counter("vnet_drop_events_emitted_total",
          "Drop events the fast path put in its ring buffer (only while someone watches).",
          f.emitted);
  counter("vnet_drop_events_suppressed_total",
          "Drop events held back by the per-context rate (drop_events_per_second).", f.suppressed);
  counter("vnet_drop_events_ring_full_total",
          "Drop events lost because the fast path's ring buffer was full.", f.ring_full);
  counter("vnet_drop_events_watcher_lost_total",
          "Drop events a watcher lost because it read too slowly (its queue was full).",
          f.watcher_drops);
  counter("vnet_drop_watchers_refused_total",
          "WatchDrops streams refused because max_drop_watchers were open.", f.watchers_refused);
  auto watchers = NewFamily("vnet_drop_watchers", "WatchDrops streams open.", MetricType::Gauge);
  AddSample(watchers, {}, static_cast<double>(f.watchers));
  families.push_back(std::move(watchers));
  return families;
}

}  // namespace vnet::metrics
