#include "daemon/core/net_address.h"

#include <gtest/gtest.h>

namespace vnet {
namespace {

TEST(MacTest, ParsesBothSeparatorsAndCases) {
  auto colon = ParseMac("00:16:3E:aa:bb:0c");
  auto dash = ParseMac("00-16-3e-AA-BB-0C");
  ASSERT_TRUE(colon && dash);
  EXPECT_EQ(*colon, *dash);
  EXPECT_EQ(FormatMac(*colon), "00:16:3e:aa:bb:0c");
}

TEST(MacTest, RejectsMalformed) {
  for (const char* bad : {"", "00:16:3e:aa:bb", "00:16:3e:aa:bb:0c:00", "00:16-3e:aa:bb:0c",
                          "0g:16:3e:aa:bb:0c", "00163eaabb0c", "00:16:3e:aa:bb:0"}) {
    EXPECT_FALSE(ParseMac(bad)) << bad;
  }
}

TEST(MacTest, UnicastAndZero) {
  EXPECT_TRUE(IsUnicastMac(*ParseMac("00:16:3e:00:00:01")));
  EXPECT_FALSE(IsUnicastMac(*ParseMac("01:00:5e:00:00:01")));
  EXPECT_FALSE(IsUnicastMac(*ParseMac("ff:ff:ff:ff:ff:ff")));
  EXPECT_TRUE(IsZeroMac(*ParseMac("00:00:00:00:00:00")));
}

TEST(IpTest, CanonicalForms) {
  EXPECT_EQ(FormatIpv6(*ParseIpv6("2001:DB8:0:0::1")), "2001:db8::1");
  EXPECT_EQ(FormatIpv4(*ParseIpv4("198.18.0.1")), "198.18.0.1");
  EXPECT_FALSE(ParseIpv4("198.18.0"));
  EXPECT_FALSE(ParseIpv4("198.18.0.256"));
  EXPECT_FALSE(ParseIpv4("2001:db8::1"));
  EXPECT_FALSE(ParseIpv6("198.18.0.1"));
  EXPECT_FALSE(ParseIpv6("2001:db8:::1"));
}

}  // namespace
}  // namespace vnet
