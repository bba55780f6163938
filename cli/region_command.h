// vnetctl region: the guest memory regions of the buffer ledger and their descriptors in
// flight.
#pragma once

#include "cli/command.h"
#include "cli/table.h"
#include "vnet/v1/buffer.pb.h"

namespace vnetctl {

Command RegionCommand();

// Appends one page of ListRegions to `all`, joining a context whose regions continue from
// the previous page into one entry.
void MergeRegionPage(const vnet::v1::ListRegionsResponse& page, vnet::v1::ListRegionsResponse* all);

// One row per region; a context without regions gets one row of dashes.
Table RegionTable(const vnet::v1::ListRegionsResponse& resp);

}  // namespace vnetctl
