// Xen's offload keys as a context's offloads: which side sets which direction.
#include "daemon/xen/xen_offloads.h"

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace vnet::xen {
namespace {

using Keys = std::map<std::string, std::string>;

KeyReader From(const Keys& keys) {
  return [keys](absl::string_view key) -> std::optional<std::string> {
    auto it = keys.find(std::string(key));
    if (it == keys.end()) return std::nullopt;
    return it->second;
  };
}

// What Linux netback writes in its backend directory.
const Keys kNetback = {{"feature-sg", "1"},
                       {"feature-gso-tcpv4", "1"},
                       {"feature-gso-tcpv6", "1"},
                       {"feature-ipv6-csum-offload", "1"},
                       {"feature-rx-copy", "1"}};
// What Linux netfront writes once it connects.
const Keys kNetfront = {{"feature-sg", "1"},        {"feature-gso-tcpv4", "1"},
                        {"feature-gso-tcpv6", "1"}, {"feature-ipv6-csum-offload", "1"},
                        {"feature-rx-notify", "1"}, {"state", "4"}};

TEST(XenOffloadsTest, TransmitFollowsNetbackBeforeTheFrontendConnects) {
  v1::Offloads o = OffloadsFromXenstore(From(kNetback), From({}), /*frontend_connected=*/false);
  EXPECT_TRUE(o.tx_checksum() && o.scatter_gather() && o.tso_v4() && o.tso_v6());
  EXPECT_FALSE(o.rx_checksum() || o.rx_scatter_gather() || o.rx_tso_v4() || o.rx_tso_v6());
}

TEST(XenOffloadsTest, ReceiveFollowsTheConnectedFrontend) {
  v1::Offloads o = OffloadsFromXenstore(From(kNetback), From(kNetfront), true);
  EXPECT_TRUE(o.rx_checksum() && o.rx_scatter_gather() && o.rx_tso_v4() && o.rx_tso_v6());
}

TEST(XenOffloadsTest, StaleFrontendKeysAreIgnoredUntilConnected) {
  v1::Offloads o = OffloadsFromXenstore(From(kNetback), From(kNetfront), false);
  EXPECT_FALSE(o.rx_checksum() || o.rx_scatter_gather() || o.rx_tso_v4() || o.rx_tso_v6());
}

TEST(XenOffloadsTest, EachSideOnlySetsItsOwnDirection) {
  // A backend that takes nothing from the guest; a frontend that takes everything.
  v1::Offloads o = OffloadsFromXenstore(From({{"feature-sg", "0"}}), From(kNetfront), true);
  EXPECT_FALSE(o.scatter_gather() || o.tso_v4() || o.tso_v6());
  EXPECT_TRUE(o.tx_checksum());  // netback has no key to refuse partial checksums
  EXPECT_TRUE(o.rx_scatter_gather() && o.rx_tso_v4() && o.rx_tso_v6());
}

TEST(XenOffloadsTest, NoCsumOffloadTurnsReceiveChecksumAndTso4Off) {
  Keys fe = kNetfront;
  fe["feature-no-csum-offload"] = "1";
  v1::Offloads o = OffloadsFromXenstore(From(kNetback), From(fe), true);
  EXPECT_FALSE(o.rx_checksum());
  EXPECT_FALSE(o.rx_tso_v4());
  EXPECT_TRUE(o.rx_tso_v6());  // IPv6 checksum offload is its own key
}

TEST(XenOffloadsTest, Ipv6ChecksumIsOptIn) {
  Keys fe = kNetfront;
  fe.erase("feature-ipv6-csum-offload");
  v1::Offloads o = OffloadsFromXenstore(From(kNetback), From(fe), true);
  EXPECT_FALSE(o.rx_checksum());  // one flag for both families: both must take it
  EXPECT_FALSE(o.rx_tso_v6());
  EXPECT_TRUE(o.rx_tso_v4());
}

TEST(XenOffloadsTest, ReceiveTsoNeedsScatterGather) {
  Keys fe = kNetfront;
  fe["feature-sg"] = "0";
  v1::Offloads o = OffloadsFromXenstore(From(kNetback), From(fe), true);
  EXPECT_FALSE(o.rx_scatter_gather() || o.rx_tso_v4() || o.rx_tso_v6());
  EXPECT_TRUE(o.rx_checksum());
}

TEST(XenOffloadsTest, OnlyOneMeansOn) {
  v1::Offloads o = OffloadsFromXenstore(
      From({{"feature-sg", "yes"}, {"feature-gso-tcpv4", "2"}, {"feature-gso-tcpv6", ""}}),
      From({}), false);
  EXPECT_FALSE(o.scatter_gather() || o.tso_v4() || o.tso_v6());
}

TEST(XenOffloadsTest, BackendVifPaths) {
  const std::string base = "/local/domain/0/backend/vif";
  auto id = ParseBackendVifPath(base + "/7/1/state", base);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->domain, 7u);
  EXPECT_EQ(id->device, 1u);
  EXPECT_TRUE(ParseBackendVifPath(base + "/12/0", base).has_value());
  EXPECT_FALSE(ParseBackendVifPath(base, base).has_value());
  EXPECT_FALSE(ParseBackendVifPath(base + "/7", base).has_value());
  EXPECT_FALSE(ParseBackendVifPath(base + "/x/0/state", base).has_value());
  EXPECT_FALSE(ParseBackendVifPath(base + "x/7/0", base).has_value());
  EXPECT_FALSE(ParseBackendVifPath("/local/domain/0/backend/vbd/7/0", base).has_value());
}

}  // namespace
}  // namespace vnet::xen
