#include "daemon/metrics/ledger_collector.h"

#include <string>

#include "daemon/metrics/family.h"

namespace vnet::metrics {

using prometheus::MetricType;

const char* LedgerVerdictName(ledger::Verdict verdict) {
  switch (verdict) {
    case ledger::Verdict::kAccepted:
      return "accepted";
    case ledger::Verdict::kUnknownRegion:
      return "unknown_region";
    case ledger::Verdict::kOutsideRegion:
      return "outside_region";
    case ledger::Verdict::kAccessDenied:
      return "access_denied";
    case ledger::Verdict::kOverlapsInFlight:
      return "overlaps_in_flight";
    case ledger::Verdict::kEmpty:
      return "empty";
    case ledger::Verdict::kBadDirection:
      return "bad_direction";
    case ledger::Verdict::kInFlightLimit:
      return "in_flight_limit";
    case ledger::Verdict::kContextClosing:
      return "context_closing";
  }
  return "unknown";
}

LedgerCollector::LedgerCollector(LedgerSnapshotFn snapshot) : snapshot_(std::move(snapshot)) {}

std::vector<prometheus::MetricFamily> LedgerCollector::Collect() const {
  auto gauge = [](const char* name, const char* help) {
    return NewFamily(name, help, MetricType::Gauge);
  };
  auto counter = [](const char* name, const char* help) {
    return NewFamily(name, help, MetricType::Counter);
  };
  std::vector<prometheus::MetricFamily> f = {
      gauge("vnet_ledger_regions", "Guest memory regions registered."),
      gauge("vnet_ledger_registered_bytes", "Bytes covered by the registered regions."),
      gauge("vnet_ledger_in_flight", "Descriptors accepted and not yet completed."),
      counter("vnet_ledger_descriptors_accepted_total", "Descriptors accepted."),
      counter("vnet_ledger_descriptors_completed_total", "Descriptors completed."),
      counter("vnet_ledger_descriptors_rejected_total", "Descriptors refused, by reason."),
      counter("vnet_ledger_unknown_completions_total",
              "Completions naming no descriptor in flight (stale, repeated or forged)."),
      counter("vnet_ledger_contexts_released_total", "Contexts whose ledger was released."),
      counter("vnet_ledger_descriptors_abandoned_total",
              "Descriptors still in flight when a forced release gave up waiting."),
      gauge("vnet_ledger_in_flight_budget",
            "Descriptors all contexts together may have in flight (max_in_flight_descriptors)."),
      gauge("vnet_ledger_in_flight_budget_used",
            "Descriptors in flight across all contexts, holding the budget."),
      counter("vnet_ledger_in_flight_budget_refused_total",
              "Descriptors refused because the budget of all contexts was used up."),
  };
  const ledger::LedgerStats stats = snapshot_();
  for (const ledger::ContextStats& c : stats.contexts) {
    const Labels labels = {{"context", std::to_string(c.context_id)}};
    AddSample(f[0], labels, static_cast<double>(c.regions));
    AddSample(f[1], labels, static_cast<double>(c.bytes_registered));
    AddSample(f[2], labels, static_cast<double>(c.in_flight));
    AddSample(f[3], labels, static_cast<double>(c.accepted));
    AddSample(f[4], labels, static_cast<double>(c.completed));
    for (int v = 0; v < ledger::kVerdictCount; ++v) {
      const auto verdict = static_cast<ledger::Verdict>(v);
      if (v == 0 || verdict == ledger::Verdict::kAccepted) continue;  // 0 is not a verdict
      Labels reason = labels;
      reason.push_back({"reason", LedgerVerdictName(verdict)});
      AddSample(f[5], reason, static_cast<double>(c.rejected[v]));
    }
    AddSample(f[6], labels, static_cast<double>(c.unknown_completions));
  }
  AddSample(f[7], {}, static_cast<double>(stats.contexts_released));
  AddSample(f[8], {}, static_cast<double>(stats.descriptors_abandoned));
  AddSample(f[9], {}, static_cast<double>(stats.in_flight_budget));
  AddSample(f[10], {}, static_cast<double>(stats.in_flight_budget_used));
  AddSample(f[11], {}, static_cast<double>(stats.in_flight_budget_refused));
  return f;
}

}  // namespace vnet::metrics
