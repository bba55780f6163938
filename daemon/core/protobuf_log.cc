#include "daemon/core/protobuf_log.h"

#include <google/protobuf/stubs/logging.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "daemon/core/log.h"

namespace vnet {
namespace {

struct Window {
  absl::Mutex mu;
  ProtobufLogBudget budget ABSL_GUARDED_BY(mu);
  absl::Time start ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  uint32_t passed ABSL_GUARDED_BY(mu) = 0;
  uint64_t dropped ABSL_GUARDED_BY(mu) = 0;
};

Window& TheWindow() {
  static Window* window = new Window();  // lives as long as the handler may run
  return *window;
}

LogLevel LevelOf(google::protobuf::LogLevel level) {
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO:
      return LogLevel::kInfo;
    case google::protobuf::LOGLEVEL_WARNING:
      return LogLevel::kWarning;
    default:
      return LogLevel::kError;
  }
}

void Handle(google::protobuf::LogLevel level, const char* file, int line,
            const std::string& message) {
  Window& w = TheWindow();
  std::string summary;
  {
    absl::MutexLock lock(&w.mu);
    const absl::Time now = absl::Now();
    if (now - w.start >= w.budget.window) {
      if (w.dropped > 0) {
        summary = absl::StrCat("protobuf: ", w.dropped, " more messages in the last ",
                               absl::FormatDuration(w.budget.window), " not logged");
      }
      w.start = now;
      w.passed = 0;
      w.dropped = 0;
    }
    if (w.passed >= w.budget.lines) {
      ++w.dropped;
      return;
    }
    ++w.passed;
  }
  if (!summary.empty()) LogLine(LogLevel::kWarning, summary);
  LogLine(LevelOf(level), absl::StrCat("protobuf (", file, ":", line, "): ", message));
}

}  // namespace

void RouteProtobufLogs(ProtobufLogBudget budget) {
  Window& w = TheWindow();
  {
    absl::MutexLock lock(&w.mu);
    w.budget = budget;
    w.start = absl::InfinitePast();
    w.passed = 0;
    w.dropped = 0;
  }
  google::protobuf::SetLogHandler(&Handle);
}

}  // namespace vnet
