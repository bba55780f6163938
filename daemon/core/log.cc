#include "daemon/core/log.h"

#include <cstdio>
#include <string>

namespace vnet {

void LogLine(LogLevel level, absl::string_view message) {
  // One fprintf per line so concurrent threads never interleave within a line.
  std::string line = absl::StrFormat("<%d>%s\n", static_cast<int>(level), message);
  std::fputs(line.c_str(), stderr);
}

}  // namespace vnet
