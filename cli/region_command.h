// vnetctl region: the guest memory regions of the buffer ledger and their descriptors in
// flight.
#pragma once

#include "cli/command.h"
#include "cli/table.h"
#include "vnet/v1/buffer.pb.h"

namespace vnetctl {

Command RegionCommand();

// One row per region; a context without regions gets one row of dashes.
Table RegionTable(const vnet::v1::ListRegionsResponse& resp);

}  // namespace vnetctl
