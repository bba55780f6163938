#include "daemon/core/context_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "daemon/core/echo.h"
#include "google/protobuf/unknown_field_set.h"
#include "tests/unit/valid_context.h"

namespace vnet {
namespace {

using ::testing::HasSubstr;

// Runs validation on a modified valid context and returns the error message ("" when OK).
template <typename Mutate>
std::string ErrorAfter(Mutate mutate) {
  v1::Context c = testing::ValidContext();
  mutate(c);
  absl::Status s = NormalizeAndValidate(c);
  if (!s.ok()) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  }
  return std::string(s.message());
}

TEST(ValidationTest, ValidContextIsNormalised) {
  v1::Context c = testing::ValidContext();
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

// Fields unknown to this vnetd (wrong wire type, a newer client) are dropped, nested ones too.
TEST(ValidationTest, UnknownFieldsAreDropped) {
  v1::Context c = testing::ValidContext();
  c.GetReflection()->MutableUnknownFields(&c)->AddVarint(6, 58);
  v1::Offloads* o = c.mutable_offloads();
  o->GetReflection()->MutableUnknownFields(o)->AddVarint(77, 1);
  ASSERT_TRUE(NormalizeAndValidate(c).ok());
  EXPECT_TRUE(c.GetReflection()->GetUnknownFields(c).empty());
  EXPECT_TRUE(c.offloads().GetReflection()->GetUnknownFields(c.offloads()).empty());
}

TEST(ValidationTest, ExplicitOffloadsAreKept) {
  v1::Context c = testing::ValidContext();
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

TEST(ValidationTest, BigTcpMaxSize) {
  auto big = [](uint32_t n) {
    return [n](v1::Context& c) { c.mutable_offloads()->set_big_tcp_max_size(n); };
  };
  EXPECT_THAT(ErrorAfter(big(65536)), HasSubstr("offloads.big_tcp_max_size: 65536"));
  EXPECT_THAT(ErrorAfter(big(524281)), HasSubstr("offloads.big_tcp_max_size: 524281"));
  EXPECT_EQ(ErrorAfter(big(0)), "");
  EXPECT_EQ(ErrorAfter(big(65537)), "");
  EXPECT_EQ(ErrorAfter(big(524280)), "");
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

// IPv4 in IPv6 clothing is refused like its IPv4 form would be, and
// refused at all: a mapped form of a guest's IPv4 address would otherwise dodge the
// duplicate check (another context claiming 198.18.0.5 as ::ffff:198.18.0.5).
TEST(ValidationTest, Ipv4MappedAndCompatibleIpv6Refused) {
  for (const char* mapped : {"::ffff:127.0.0.1", "::ffff:224.0.0.1", "::ffff:0.0.0.0",
                             "::ffff:0.1.2.3", "::ffff:198.18.0.5", "::FFFF:c612:5"}) {
    EXPECT_THAT(ErrorAfter([&](auto& c) { c.add_ipv6_addresses(mapped); }),
                HasSubstr("IPv4-mapped"))
        << mapped;
  }
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv6_addresses("::198.18.0.9"); }),
              HasSubstr("IPv4-compatible"));
  // Neighbours of those ranges are ordinary addresses.
  EXPECT_EQ(ErrorAfter([](auto& c) { c.add_ipv6_addresses("::1:ffff:c612:5"); }), "");
  EXPECT_EQ(ErrorAfter([](auto& c) { c.add_ipv6_addresses("64:ff9b::c612:5"); }), "");
}

TEST(ValidationTest, ThisNetworkRefused) {
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv4_addresses("0.1.2.3"); }), HasSubstr("0.0.0.0/8"));
  EXPECT_THAT(ErrorAfter([](auto& c) { c.add_ipv4_addresses("0.255.255.255"); }),
              HasSubstr("0.0.0.0/8"));
  EXPECT_EQ(ErrorAfter([](auto& c) { c.add_ipv4_addresses("1.0.0.1"); }), "");
}

// A huge bad value is quoted in 64 bytes and an ellipsis, not whole.
TEST(ValidationTest, MessagesQuoteAtMost64BytesOfBadInput) {
  const std::string huge(1 << 20, 'x');
  for (const auto& mutate : std::vector<std::function<void(v1::Context&)>>{
           [&](v1::Context& c) { c.set_interface_name(huge); },
           [&](v1::Context& c) { c.set_interface_name(huge + "/"); },
           [&](v1::Context& c) { c.set_mac(huge); },
           [&](v1::Context& c) { c.add_ipv4_addresses(huge); },
           [&](v1::Context& c) { c.add_ipv6_addresses(huge); }}) {
    const std::string message = ErrorAfter(mutate);
    EXPECT_LT(message.size(), 200u) << message.substr(0, 300);
    EXPECT_THAT(message, HasSubstr(std::string(64, 'x') + "\u2026"));
    EXPECT_THAT(message, ::testing::Not(HasSubstr(std::string(65, 'x'))));
  }
}

TEST(EchoTest, CutsAtCharacterBoundaries) {
  EXPECT_EQ(Echo("short"), "short");
  EXPECT_EQ(Echo(std::string(64, 'a')), std::string(64, 'a'));
  EXPECT_EQ(Echo(std::string(65, 'a')), std::string(64, 'a') + "\u2026");
  // 63 ASCII bytes then a 2-byte character straddling the cut: the character goes whole.
  EXPECT_EQ(Echo(std::string(63, 'a') + "\u00e9zz"), std::string(63, 'a') + "\u2026");
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
  v1::Context c = testing::ValidContext();
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
  v1::Context c = testing::ValidContext();
  ASSERT_TRUE(NormalizeAndValidate(c).ok());
  EXPECT_EQ(EffectiveLinkLocals(c), std::vector<std::string>{"fe80::216:3eff:fe00:5"});
  c.add_ipv6_link_local_addresses("fe80::99");
  EXPECT_EQ(EffectiveLinkLocals(c), std::vector<std::string>{"fe80::99"});
}

TEST(ValidationTest, FastPathCapacityCountsLinkLocals) {
  v1::Context c = testing::ValidContext();
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
