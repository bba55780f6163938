#include "daemon/metrics/context_collector.h"

#include <string>

#include "daemon/metrics/family.h"

namespace vnet::metrics {
namespace {

using prometheus::MetricType;

const char* DirectionName(int dir) { return dir == VNET_DIR_RX ? "rx" : "tx"; }

}  // namespace

ContextCollector::ContextCollector(ContextView view, const CounterSource* source)
    : view_(std::move(view)), source_(source) {}

std::vector<prometheus::MetricFamily> ContextCollector::Collect() const {
  auto family = [](const char* name, const char* help) {
    return NewFamily(name, help, MetricType::Counter);
  };
  std::vector<prometheus::MetricFamily> f = {
      family("vnet_context_rx_packets_total", "Packets delivered to the guest."),
      family("vnet_context_rx_bytes_total", "Bytes delivered to the guest."),
      family("vnet_context_tx_packets_total", "Packets the guest sent (dropped ones included)."),
      family("vnet_context_tx_bytes_total", "Bytes the guest sent (dropped ones included)."),
      family("vnet_context_drops_total",
             "Packets dropped by the fast path, by direction (rx: toward the guest) and reason."),
      family("vnet_unattributed_drops_total",
             "Packets dropped that belong to no context (e.g. wire frames for no guest), by "
             "direction and reason."),
      // The offload counters of vnet_ctx_stats, under their own names.
      family("vnet_context_rx_gso_packets_total",
             "GSO super-packets delivered whole toward the guest."),
      family("vnet_context_rx_gso_segments_total",
             "Segments the super-packets toward the guest stand for."),
      family("vnet_context_tx_gso_packets_total",
             "GSO super-packets the guest sent, forwarded whole."),
      family("vnet_context_tx_gso_segments_total",
             "Segments the super-packets from the guest stand for."),
      family("vnet_context_rx_gso_segmented_total",
             "Super-packets toward the guest that the kernel segmented (guest without TSO)."),
      family("vnet_context_rx_gso_resized_total",
             "Super-packets toward the guest whose segment size was cut to the guest's MTU."),
      family("vnet_context_rx_csum_completed_total",
             "Partial checksums the kernel completed for a guest without receive checksum "
             "offload (kernel 6.2+; 0 on older kernels)."),
  };
  if (source_ == nullptr) return f;  // no fast path: no traffic series at all

  // Slot 0 of the counters: what the fast path could not attribute to a guest.
  if (auto none = source_->Read(0); none.ok()) {
    for (int dir = 0; dir < VNET_DIR_MAX; ++dir) {
      for (int reason = VNET_DROP_NONE + 1; reason < VNET_DROP_MAX; ++reason) {
        AddSample(f[5],
                  {{"direction", DirectionName(dir)},
                   {"reason", vnet_drop_reason_name(static_cast<unsigned>(reason))}},
                  static_cast<double>(none->drops[dir][reason]));
      }
    }
  }

  for (const v1::Context& ctx : view_.list()) {
    // A context whose counters cannot be read is left out of this scrape rather than
    // reported as zero, which would look like a counter reset.
    auto counters = source_->Read(ctx.id());
    if (!counters.ok()) continue;
    const Labels labels = {{"context", std::to_string(ctx.id())},
                           {"domain", std::to_string(ctx.domain_id())},
                           {"interface", ctx.interface_name()}};
    const ContextCounters& c = *counters;
    AddSample(f[0], labels, static_cast<double>(c.rx_packets));
    AddSample(f[1], labels, static_cast<double>(c.rx_bytes));
    AddSample(f[2], labels, static_cast<double>(c.tx_packets));
    AddSample(f[3], labels, static_cast<double>(c.tx_bytes));
    for (int dir = 0; dir < VNET_DIR_MAX; ++dir) {
      // Every reason is reported, zero included, so rate() sees the first drop.
      for (int reason = VNET_DROP_NONE + 1; reason < VNET_DROP_MAX; ++reason) {
        Labels drop_labels = labels;
        drop_labels.push_back({"direction", DirectionName(dir)});
        drop_labels.push_back({"reason", vnet_drop_reason_name(static_cast<unsigned>(reason))});
        AddSample(f[4], drop_labels, static_cast<double>(c.drops[dir][reason]));
      }
    }
    AddSample(f[6], labels, static_cast<double>(c.rx_gso_packets));
    AddSample(f[7], labels, static_cast<double>(c.rx_gso_segments));
    AddSample(f[8], labels, static_cast<double>(c.tx_gso_packets));
    AddSample(f[9], labels, static_cast<double>(c.tx_gso_segments));
    AddSample(f[10], labels, static_cast<double>(c.rx_gso_segmented));
    AddSample(f[11], labels, static_cast<double>(c.rx_gso_resized));
    AddSample(f[12], labels, static_cast<double>(c.rx_csum_completed));
  }
  return f;
}

}  // namespace vnet::metrics
