#include "cli/stats_rates.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"

namespace vnetctl {

using google::protobuf::util::TimeUtil;

uint64_t TotalDrops(const vnet::v1::ContextStats& s) {
  uint64_t total = 0;
  for (const auto& d : s.drops()) total += d.packets();
  return total;
}

std::vector<ContextRate> ComputeRates(const vnet::v1::GetContextStatsResponse& before,
                                      const vnet::v1::GetContextStatsResponse& now) {
  std::map<std::pair<uint32_t, std::string>, const vnet::v1::ContextStats*> earlier;
  for (const auto& s : before.contexts()) earlier[{s.context_id(), s.interface_name()}] = &s;
  const double seconds =
      static_cast<double>(TimeUtil::DurationToMicroseconds(now.read_time() - before.read_time())) /
      1e6;

  std::vector<ContextRate> rates;
  for (const auto& s : now.contexts()) {
    ContextRate r;
    r.context_id = s.context_id();
    r.domain_id = s.domain_id();
    r.interface_name = s.interface_name();
    auto it = earlier.find({s.context_id(), s.interface_name()});
    if (it != earlier.end() && seconds > 0) {
      const vnet::v1::ContextStats& b = *it->second;
      const bool monotonic = s.rx_packets() >= b.rx_packets() && s.rx_bytes() >= b.rx_bytes() &&
                             s.tx_packets() >= b.tx_packets() && s.tx_bytes() >= b.tx_bytes() &&
                             TotalDrops(s) >= TotalDrops(b);
      if (monotonic) {
        auto per_second = [seconds](uint64_t a, uint64_t z) {
          return static_cast<double>(z - a) / seconds;
        };
        r.known = true;
        r.rx_pps = per_second(b.rx_packets(), s.rx_packets());
        r.rx_bps = 8 * per_second(b.rx_bytes(), s.rx_bytes());
        r.tx_pps = per_second(b.tx_packets(), s.tx_packets());
        r.tx_bps = 8 * per_second(b.tx_bytes(), s.tx_bytes());
        r.drops_ps = per_second(TotalDrops(b), TotalDrops(s));
      }
    }
    rates.push_back(std::move(r));
  }
  return rates;
}

void SortByTraffic(std::vector<ContextRate>& rates) {
  std::stable_sort(rates.begin(), rates.end(), [](const ContextRate& a, const ContextRate& b) {
    if (a.known != b.known) return a.known;
    const double ta = a.rx_bps + a.tx_bps, tb = b.rx_bps + b.tx_bps;
    if (ta != tb) return ta > tb;
    return a.context_id < b.context_id;
  });
}

namespace {

std::string Scaled(double value, const char* const* units, int n_units, const char* suffix) {
  int i = 0;
  while (value >= 1000 && i + 1 < n_units) {
    value /= 1000;
    ++i;
  }
  if (i == 0) return absl::StrFormat("%.0f%s%s", value, units[0], suffix);
  return absl::StrFormat("%.*f%s%s", value < 10 ? 2 : (value < 100 ? 1 : 0), value, units[i],
                         suffix);
}

}  // namespace

std::string FormatBitRate(double bits_per_second) {
  static const char* const kUnits[] = {" ", " k", " M", " G", " T"};
  return Scaled(bits_per_second, kUnits, 5, "bit/s");
}

std::string FormatCount(double value) {
  static const char* const kUnits[] = {"", "k", "M", "G", "T"};
  return Scaled(value, kUnits, 5, "");
}

}  // namespace vnetctl
