// The registry bench's assign-rate mode (assign_rate.cc).
#pragma once

namespace vnet {

// argv: [existing contexts, default 0,1000,4096] [clients, default 1,16]
//       [assigns per row, default 200] [base dir, default a fresh one under /var/tmp]
int AssignRateMain(int argc, char** argv);

// argv: [contexts, default 4096]. Times each step of a whole-state write.
int BreakdownMain(int argc, char** argv);

}  // namespace vnet
