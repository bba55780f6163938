#include "daemon/service/buffer_restore.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/core/log.h"

namespace vnet {

absl::Status RestoreBuffers(ledger::FileJournal* journal, ledger::BufferLedger* ledger,
                            const ContextRegistry& registry) {
  auto saved = journal->Load();
  if (!saved.ok()) return saved.status();
  if (absl::Status s = ledger->Restore(*std::move(saved)); !s.ok()) {
    return absl::DataLossError(absl::StrCat("buffer ledger in ", journal->dir(), ": ", s.message(),
                                            "; the files were left untouched"));
  }
  uint64_t regions = 0;
  uint64_t in_flight = 0;
  size_t contexts = 0;
  for (const ledger::ContextStats& stats : ledger->Snapshot().contexts) {
    v1::ContextRef ref;
    ref.set_id(stats.context_id);
    if (!registry.Get(ref).ok()) {
      const ledger::ReleaseReport report =
          ledger->ForceReleaseContext(stats.context_id, absl::Now());
      LogInfo(
          "context %d no longer exists: finished its release, dropped %d buffer regions and "
          "%d descriptors in flight",
          stats.context_id, report.regions, report.abandoned);
      continue;
    }
    regions += stats.regions;
    in_flight += stats.in_flight;
    ++contexts;
  }
  LogInfo("restored %d buffer regions and %d descriptors in flight of %d contexts from %s", regions,
          in_flight, contexts, journal->dir());
  return absl::OkStatus();
}

}  // namespace vnet
