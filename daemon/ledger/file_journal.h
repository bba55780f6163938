// The ledger's journal in a directory (STATE_DIR/ledger): per context, its regions
// (region_file.h, durable) and its descriptors in flight (in_flight_file.h, survives the
// process, not the host). See docs/buffer-ledger.md, "What survives what".
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/ledger/journal.h"

namespace vnet::ledger {

class FileJournal final : public LedgerJournal {
 public:
  // `max_in_flight`: the per-context limit, which bounds each in-flight file's mapping.
  // `boot_id` tells this boot from the one an in-flight file was written in.
  FileJournal(std::string dir, uint32_t max_in_flight, std::string boot_id);

  // Everything saved, by context id. Any file that cannot be trusted fails the whole load
  // (DATA_LOSS naming it) and no file is removed; the caller refuses to start.
  // In-flight records from an earlier boot are dropped (and logged): a host crash ended
  // every backend that held them. Leftovers of an interrupted write or release (a
  // temporary file, in-flight records without regions) are removed.
  absl::StatusOr<std::vector<SavedContext>> Load();

  absl::Status SaveRegions(uint32_t context_id, uint32_t address_space,
                           const std::vector<RegionSpec>& regions) override;
  absl::StatusOr<std::unique_ptr<InFlightLog>> CreateInFlightLog(uint32_t context_id) override;
  void Forget(uint32_t context_id) override;

  const std::string& dir() const { return dir_; }

  // Runs before each region file is written: a slow disk, for tests. Set it while no region
  // change runs.
  void SetBeforeSaveHookForTest(std::function<void()> hook) { before_save_ = std::move(hook); }

 private:
  std::string InFlightName(uint32_t context_id) const;

  const std::string dir_;
  const uint32_t max_in_flight_;
  const std::string boot_id_;
  std::function<void()> before_save_;
};

}  // namespace vnet::ledger
