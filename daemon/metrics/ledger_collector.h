// The buffer ledger's per-context figures (vnet_ledger_*), read at scrape time through a
// function returning its snapshot, so metrics depend on the snapshot struct only.
#pragma once

#include <prometheus/collectable.h>

#include <functional>
#include <vector>

#include "daemon/ledger/ledger_types.h"

namespace vnet::metrics {

using LedgerSnapshotFn = std::function<ledger::LedgerStats()>;

class LedgerCollector final : public prometheus::Collectable {
 public:
  explicit LedgerCollector(LedgerSnapshotFn snapshot);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  LedgerSnapshotFn snapshot_;
};

// Metric label of a ledger verdict ("unknown_region", ...).
const char* LedgerVerdictName(ledger::Verdict verdict);

}  // namespace vnet::metrics
