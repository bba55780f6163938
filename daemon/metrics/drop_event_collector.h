// Drop-event figures at scrape time: what the fast path emitted, held back by the
// per-context rate and lost to a full ring, and what vnetd's watchers lost by reading slowly.
#pragma once

#include <prometheus/collectable.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace vnet::metrics {

struct DropEventFigures {
  std::optional<uint64_t> emitted, suppressed, ring_full;  // unset: the fast path did not say
  uint64_t watcher_drops = 0;
  uint64_t watchers_refused = 0;
  uint64_t watchers = 0;
};

class DropEventCollector final : public prometheus::Collectable {
 public:
  explicit DropEventCollector(std::function<DropEventFigures()> read) : read_(std::move(read)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<DropEventFigures()> read_;
};

}  // namespace vnet::metrics
