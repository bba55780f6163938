// Logging to stderr, one line per event, with the <N> syslog priority prefix that journald
// turns into the entry's priority (and strips). Nothing else is needed under systemd.
#pragma once

#include "absl/strings/str_format.h"

namespace vnet {

enum class LogLevel { kError = 3, kWarning = 4, kInfo = 6, kDebug = 7 };

void LogLine(LogLevel level, absl::string_view message);

template <typename... Args>
void LogInfo(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine(LogLevel::kInfo, absl::StrFormat(format, args...));
}
template <typename... Args>
void LogWarning(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine(LogLevel::kWarning, absl::StrFormat(format, args...));
}
template <typename... Args>
void LogError(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine(LogLevel::kError, absl::StrFormat(format, args...));
}

}  // namespace vnet
