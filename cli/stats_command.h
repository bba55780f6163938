// vnetctl stats and vnetctl top: the fast path's per-context counters and live rates.
#pragma once

#include "cli/command.h"

namespace vnetctl {

Command StatsCommand();
Command TopCommand();

}  // namespace vnetctl
