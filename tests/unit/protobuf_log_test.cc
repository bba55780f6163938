// Protobuf's log lines reach vnetd's log within a budget (daemon/core/protobuf_log.h).
#include "daemon/core/protobuf_log.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "vnet/v1/context.pb.h"

namespace vnet {
namespace {

// A Context whose mac (field 5, a string) is the single byte 0xff: not UTF-8, so parsing
// fails and protobuf logs an error line.
bool ParseNonUtf8Context() {
  const std::string bytes = {0x2a, 0x01, static_cast<char>(0xff)};
  v1::Context c;
  return c.ParseFromString(bytes);
}

int LinesContaining(const std::string& text, const std::string& needle) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(line, needle)) ++n;
  }
  return n;
}

TEST(ProtobufLogTest, ABadRequestLoopLogsOnlyTheBudgetThenSaysHowManyWereDropped) {
  RouteProtobufLogs({3, absl::Milliseconds(300)});
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(ParseNonUtf8Context());
  std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(LinesContaining(logged, "invalid UTF-8"), 3) << logged;
  EXPECT_EQ(LinesContaining(logged, "not logged"), 0) << logged;

  absl::SleepFor(absl::Milliseconds(350));  // the window ends
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(ParseNonUtf8Context());
  logged = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(LinesContaining(logged, "47 more messages"), 1) << logged;
  EXPECT_EQ(LinesContaining(logged, "invalid UTF-8"), 1) << logged;
  RouteProtobufLogs();  // the defaults again for the tests after this one
}

}  // namespace
}  // namespace vnet
