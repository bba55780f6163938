// vnetctl monitor's one-line frame decode.
#include "cli/frame_decode.h"

#include <gtest/gtest.h>

#include <string>

namespace vnetctl {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

const std::string kEthIpv4 =
    Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 0x00, 0x00, 0x05, 0x08, 0x00});

TEST(FrameDecode, Ipv4Udp) {
  std::string f = kEthIpv4 + Bytes({0x45, 0,  0,   28, 0, 0, 0, 0,  64, 17, 0, 0, 198, 18,
                                    0,    66, 198, 18, 0, 1, 0, 68, 0,  67, 0, 8, 0,   0});
  EXPECT_EQ(DescribeFrame(f),
            "00:16:3e:00:00:05 > ff:ff:ff:ff:ff:ff IPv4 198.18.0.66 > 198.18.0.1 UDP 68 > 67");
}

TEST(FrameDecode, TruncatedAndUnknown) {
  EXPECT_EQ(DescribeFrame("abc"), "truncated");
  EXPECT_EQ(DescribeFrame(kEthIpv4 + Bytes({0x45, 0})),
            "00:16:3e:00:00:05 > ff:ff:ff:ff:ff:ff IPv4 truncated");
  std::string lldp = kEthIpv4;
  lldp[12] = static_cast<char>(0x88);
  lldp[13] = static_cast<char>(0xcc);
  EXPECT_EQ(DescribeFrame(lldp), "00:16:3e:00:00:05 > ff:ff:ff:ff:ff:ff ethertype 0x88cc");
}

TEST(FrameDecode, VlanTagAndArp) {
  std::string f = Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 0,  0, 5,
                         0x81, 0x00, 0x00, 0x0a, 0x08, 0x06, 0,    1,    8,    0,  6, 4,
                         0,    1,    0x00, 0x16, 0x3e, 0,    0,    5,    198,  18, 0, 5,
                         0,    0,    0,    0,    0,    0,    198,  18,   0,    1});
  EXPECT_EQ(DescribeFrame(f),
            "00:16:3e:00:00:05 > ff:ff:ff:ff:ff:ff vlan 10 ARP request 00:16:3e:00:00:05 "
            "198.18.0.5 > 198.18.0.1");
}

TEST(FrameDecode, HexIsBounded) {
  EXPECT_EQ(HexBytes(Bytes({0, 0xab, 0x10}), 2), "00 ab");
  EXPECT_EQ(HexBytes("", 8), "");
}

}  // namespace
}  // namespace vnetctl
