// Per-second rates between two counter readings, for `vnetctl stats --watch` and `top`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vnet/v1/stats.pb.h"

namespace vnetctl {

struct ContextRate {
  uint32_t context_id = 0;
  uint32_t domain_id = 0;
  std::string interface_name;
  bool known = false;  // false: no earlier reading of this context, or its counters restarted
  double rx_pps = 0, rx_bps = 0;  // bits per second
  double tx_pps = 0, tx_bps = 0;
  double drops_ps = 0;
};

// Rates of every context in `now`, in its order. A context is matched with `before` by id
// and interface (a reused id is another guest).
std::vector<ContextRate> ComputeRates(const vnet::v1::GetContextStatsResponse& before,
                                      const vnet::v1::GetContextStatsResponse& now);

// Busiest first: by rx + tx bits per second, then by id; unknown rates last.
void SortByTraffic(std::vector<ContextRate>& rates);

uint64_t TotalDrops(const vnet::v1::ContextStats& s);
// "1.50 Gbit/s", "12.0 kbit/s", "0 bit/s".
std::string FormatBitRate(double bits_per_second);
// "1.2M", "3.4k", "12".
std::string FormatCount(double value);

}  // namespace vnetctl
