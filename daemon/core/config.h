// vnetd's configuration: embedded defaults, then the config file (protobuf text format),
// then command-line flags (applied by the caller).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/ledger/ledger_types.h"
#include "vnet/v1/daemon.pb.h"

namespace vnet {

inline constexpr char kDefaultConfigPath[] = "/etc/vnet/vnetd.conf";
// Drop events (MonitorService): per context and second, and watchers at once.
inline constexpr uint32_t kDefaultDropEventsPerSecond = 100;
inline constexpr uint32_t kMaxDropEventsPerSecond = 100000;
// Changes started per second (the write pool's pace): well above what a host's toolstack
// asks (a guest's start is a few changes), low enough that a storm of changes leaves the
// cores to the buffer calls (docs/benchmarks.md, "A pace for changes").
inline constexpr uint32_t kDefaultMaxChangesPerSecond = 500;
inline constexpr uint32_t kMaxChangesPerSecond = 1000000;
inline constexpr uint32_t kDefaultMaxDropWatchers = 8;
inline constexpr uint32_t kMaxDropWatchers = 64;
// The buffer ledger's in-flight budget across all contexts (max_in_flight_descriptors).
inline constexpr uint32_t kDefaultMaxInFlightDescriptors = ledger::kDefaultMaxInFlightTotal;

v1::DaemonConfig DefaultConfig();

// Reads `path` over the defaults. A missing file is fine only when `required` is false
// (the default path on a machine with no config); a malformed one is always an error.
absl::StatusOr<v1::DaemonConfig> LoadConfig(const std::string& path, bool required);

// Checks the merged result (capacity bounds, absolute paths).
absl::Status ValidateConfig(const v1::DaemonConfig& config);

// The buffer ledger's limits with what the config sets (max_in_flight_descriptors).
ledger::LedgerLimits LedgerLimitsFrom(const v1::DaemonConfig& config);

}  // namespace vnet
