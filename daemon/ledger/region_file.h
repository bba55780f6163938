// The regions of one context in a file of their own (protobuf text, vnet.v1.PersistedRegions),
// replaced atomically and synced like the context state file (daemon/core/atomic_file.h).
// One file per context: a registration rewrites its own context's regions, not everyone's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/ledger/ledger_types.h"

namespace vnet::ledger {

struct RegionFile {
  uint32_t context_id = 0;
  uint32_t address_space = 0;
  std::vector<RegionSpec> regions;
};

std::string RegionFileName(uint32_t context_id);  // regions-<id>.state

// Durable when it returns OK; on error the old file is as it was.
absl::Status SaveRegionFile(const std::string& dir, const RegionFile& file);

// DATA_LOSS naming the path when the file is not a complete, valid set of regions for
// `context_id` (cut short, edited, another format); the file is left as it is.
absl::StatusOr<RegionFile> LoadRegionFile(const std::string& path, uint32_t context_id);

}  // namespace vnet::ledger
