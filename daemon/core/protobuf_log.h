// Protobuf's own log lines (for instance one per request whose string field is not UTF-8)
// go through vnetd's log with a bound: a client sending bad requests in a loop must not
// flood the journal. The request itself is refused with INVALID_ARGUMENT either way.
#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace vnet {

struct ProtobufLogBudget {
  uint32_t lines = 10;                       // lines let through per window
  absl::Duration window = absl::Minutes(1);  // the first line after it says how many were dropped
};

// Installs the handler for the whole process (protobuf has one); idempotent.
void RouteProtobufLogs(ProtobufLogBudget budget = {});

}  // namespace vnet
