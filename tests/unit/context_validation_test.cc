#include "daemon/core/context_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vnet {
namespace {

using ::testing::HasSubstr;

v1::Context Valid() {
  v1::Context c;
  c.set_domain_id(5);
  c.set_device_id(0);
  c.set_interface_name("vif5.0");
  c.set_mac("00:16:3E:00:00:05");
  c.add_ipv4_addresses("198.18.0.5");
  c.add_ipv6_addresses("2001:DB8::5");
  return c;
}

// Runs validation on a modified valid context and returns the error message ("" when OK).
template <typename Mutate>
std::string ErrorAfter(Mutate mutate) {
  v1::Context c = Valid();
  mutate(c);
  absl::Status s = NormalizeAndValidate(c);
  if (!s.ok()) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  }
  return std::string(s.message());
}

TEST(ValidationTest, ValidContextIsNormalised) {
  v1::Context c = Valid();
  c.set_id(77);  // output-only: ignored
  c.set_state(v1::CONTEXT_STATE_ACTIVE);
  ASSERT_TRUE(NormalizeAndValidate(c).ok());
  EXPECT_EQ(c.id(), 0u);
  EXPECT_EQ(c.state(), v1::CONTEXT_STATE_UNSPECIFIED);
  EXPECT_EQ(c.mac(), "00:16:3e:00:00:05");
  EXPECT_EQ(c.ipv6_addresses(0), "2001:db8::5");
  EXPECT_EQ(c.vlan(), kDefaultVlan);
  EXPECT_EQ(c.mtu(), kDefaultMtu);
  EXPECT_TRUE(c.offloads().tso_v4() && c.offloads().tso_v6() && c.offloads().tx_checksum() &&
              c.offloads().scatter_gather() && c.offloads().rx_checksum());
}

TEST(ValidationTest, ExplicitOffloadsAreKept) {
  v1::Context c = Valid();
  c.mutable_offloads()->set_tso_v4(true);
  ASSERT_TRUE(NormalizeAndValidate(c).ok());
  EXPECT_TRUE(c.offloads().tso_v4());
  EXPECT_FALSE(c.offloads().tx_checksum());
}

TEST(ValidationTest, Mac) {
  EXPECT_THAT(ErrorAfter([](auto& c) { c.clear_mac(); }), HasSubstr("mac: required"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_mac("00:16:3e:00:05"); }), HasSubstr("mac:"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_mac("00:00:00:00:00:00"); }),
              HasSubstr("mac: must not be all zeros"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_mac("ff:ff:ff:ff:ff:ff"); }), HasSubstr("multicast"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_mac("33:33:00:00:00:01"); }), HasSubstr("multicast"));
}

TEST(ValidationTest, InterfaceName) {
  EXPECT_THAT(ErrorAfter([](auto& c) { c.clear_interface_name(); }),
              HasSubstr("interface_name: required"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_interface_name("a-very-long-name-x"); }),
              HasSubstr("interface_name"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_interface_name("vif/5"); }),
              HasSubstr("interface_name"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_interface_name("vif 5"); }),
              HasSubstr("interface_name"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_interface_name(".."); }), HasSubstr("interface_name"));
  EXPECT_EQ(ErrorAfter([](auto& c) { c.set_interface_name("vif5.0-emu"); }), "");
  EXPECT_EQ(ErrorAfter([](auto& c) { c.set_interface_name("abcdefghijklmno"); }), "");  // 15
}

TEST(ValidationTest, Vlan) {
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_vlan(4095); }), HasSubstr("vlan: 4095"));
  EXPECT_EQ(ErrorAfter([](auto& c) { c.set_vlan(4094); }), "");
  EXPECT_EQ(ErrorAfter([](auto& c) { c.set_vlan(1); }), "");
}

TEST(ValidationTest, Mtu) {
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_mtu(67); }), HasSubstr("mtu: 67"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_mtu(65536); }), HasSubstr("mtu: 65536"));
  EXPECT_EQ(ErrorAfter([](auto& c) { c.set_mtu(9000); }), "");
}

TEST(ValidationTest, Addresses) {
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv4_addresses("198.18.0.300"); }),
              HasSubstr("ipv4_addresses: '198.18.0.300'"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv4_addresses("2001:db8::9"); }),
              HasSubstr("ipv4_addresses"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv4_addresses("0.0.0.0"); }),
              HasSubstr("unspecified"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv4_addresses("224.0.0.1"); }),
              HasSubstr("multicast"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv4_addresses("198.18.0.5"); }),
              HasSubstr("listed twice"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv6_addresses("2001:db8:0::5"); }),
              HasSubstr("listed twice"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv6_addresses("ff02::1"); }),
              HasSubstr("ipv6_addresses"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv6_addresses("::"); }), HasSubstr("ipv6_addresses"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv6_addresses("2001:db8::zz"); }),
              HasSubstr("ipv6_addresses"));
}

TEST(ValidationTest, XenIds) {
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_domain_id(0x7FF0); }), HasSubstr("domain_id"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.set_device_id(70000); }), HasSubstr("device_id"));
}

TEST(ValidationTest, RateLimit) {
  EXPECT_THAT(ErrorAfter([](auto& c) { c.mutable_rate_limit()->set_burst_bytes(10); }),
              HasSubstr("rate_limit"));
  EXPECT_EQ(ErrorAfter([](auto& c) { c.mutable_rate_limit()->set_bits_per_second(1000000); }), "");
}

TEST(ValidationTest, LinkLocalAddressesAreFe80Slash10Canonical) {
  v1::Context c = Valid();
  c.add_ipv6_link_local_addresses("FE80::1:2:3:4");
  c.add_ipv6_link_local_addresses("febf::1");  // still fe80::/10
  ASSERT_TRUE(NormalizeAndValidate(c).ok());
  EXPECT_EQ(c.ipv6_link_local_addresses(0), "fe80::1:2:3:4");
  EXPECT_EQ(c.ipv6_link_local_addresses(1), "febf::1");
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv6_link_local_addresses("2001:db8::9"); }),
              HasSubstr("ipv6_link_local_addresses: 2001:db8::9 is not a link-local"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv6_link_local_addresses("fec0::1"); }),
              HasSubstr("not a link-local"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv6_link_local_addresses("fe80::zz"); }),
              HasSubstr("not a valid address"));
  EXPECT_THAT(ErrorAfter([](auto& c) {
                c.add_ipv6_link_local_addresses("fe80::1");
                c.add_ipv6_link_local_addresses("FE80::1");
              }),
              HasSubstr("listed twice"));
}

TEST(ValidationTest, EffectiveLinkLocalsDefaultToEui64) {
  v1::Context c = Valid();
  ASSERT_TRUE(NormalizeAndValidate(c).ok());
  EXPECT_EQ(EffectiveLinkLocals(c), std::vector<std::string>{"fe80::216:3eff:fe00:5"});
  c.add_ipv6_link_local_addresses("fe80::99");
  EXPECT_EQ(EffectiveLinkLocals(c), std::vector<std::string>{"fe80::99"});
}

TEST(ValidationTest, FastPathCapacityCountsLinkLocals) {
  v1::Context c = Valid();
  c.clear_ipv6_addresses();
  for (int i = 1; i <= 15; ++i) c.add_ipv6_addresses("2001:db8::" + std::to_string(i));
  ASSERT_TRUE(NormalizeAndValidate(c).ok());
  EXPECT_TRUE(CheckFastPathCapacity(c).ok());  // 15 + the EUI-64 one
  c.add_ipv6_link_local_addresses("fe80::1");
  c.add_ipv6_link_local_addresses("fe80::2");
  absl::Status s = CheckFastPathCapacity(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("17 IPv6 addresses"));
  c.clear_ipv4_addresses();
  c.clear_ipv6_link_local_addresses();
  for (int i = 1; i <= 17; ++i) c.add_ipv4_addresses("198.18.0." + std::to_string(i));
  EXPECT_THAT(CheckFastPathCapacity(c).message(), HasSubstr("ipv4_addresses: at most 16"));
}

}  // namespace
}  // namespace vnet
