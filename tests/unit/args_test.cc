#include "cli/args.h"

#include <gtest/gtest.h>

namespace vnetctl {
namespace {

const std::vector<OptionSpec> kSpecs = {{"mac", "MAC", "mac"},
                                        {"ip", "ADDR", "ip", true},
                                        {"allow-missing", "", "flag"},
                                        {"o", "F", "fmt"}};

TEST(ArgsTest, ValuesFlagsAndPositionals) {
  std::string error;
  auto parsed = ParseArgs({"7", "--mac", "00:16:3e:00:00:01", "--ip=198.18.0.1", "--ip",
                           "2001:db8::1", "--allow-missing", "-o", "json"},
                          kSpecs, &error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_EQ(parsed->positionals, std::vector<std::string>{"7"});
  EXPECT_EQ(*parsed->Get("mac"), "00:16:3e:00:00:01");
  EXPECT_EQ(parsed->GetAll("ip"), (std::vector<std::string>{"198.18.0.1", "2001:db8::1"}));
  EXPECT_TRUE(parsed->Has("allow-missing"));
  EXPECT_EQ(*parsed->Get("o"), "json");
}

TEST(ArgsTest, Errors) {
  std::string error;
  EXPECT_FALSE(ParseArgs({"--bogus"}, kSpecs, &error));
  EXPECT_EQ(error, "unknown option --bogus");
  EXPECT_FALSE(ParseArgs({"--mac"}, kSpecs, &error));
  EXPECT_NE(error.find("needs a value"), std::string::npos);
  EXPECT_FALSE(ParseArgs({"--mac", "a", "--mac", "b"}, kSpecs, &error));
  EXPECT_NE(error.find("more than once"), std::string::npos);
  EXPECT_FALSE(ParseArgs({"--allow-missing=yes"}, kSpecs, &error));
}

// A one-letter option takes its value attached, as getopt does; nothing that starts with a
// dash becomes a positional.
TEST(ArgsTest, ShortOptionWithAttachedValue) {
  std::string error;
  auto parsed = ParseArgs({"-ojson", "3"}, kSpecs, &error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_EQ(*parsed->Get("o"), "json");
  EXPECT_EQ(parsed->positionals, std::vector<std::string>{"3"});
  parsed = ParseArgs({"-o=table"}, kSpecs, &error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_EQ(*parsed->Get("o"), "table");
  EXPECT_FALSE(ParseArgs({"-xjson"}, kSpecs, &error));
  EXPECT_EQ(error, "unknown option -xjson");
  EXPECT_FALSE(ParseArgs({"-mac"}, kSpecs, &error));  // not --mac, and not a positional
}

TEST(ArgsTest, HelpAnywhere) {
  std::string error;
  auto parsed = ParseArgs({"--mac", "x", "--help"}, kSpecs, &error);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->help);
}

}  // namespace
}  // namespace vnetctl
