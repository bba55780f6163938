// daemon/dataplane/gso_size.*: BIG TCP limits set and read back on a real veth pair.
#include "daemon/dataplane/gso_size.h"

#include <gtest/gtest.h>
#include <net/if.h>

#include <memory>

#include "tests/bpf/test_net.h"

namespace vnet::testing {
namespace {

class GsoSizeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RequireRoot());
    net_ = std::make_unique<TestNet>("g");
    ASSERT_TRUE(net_->ok());
    ifindex_ = static_cast<int>(if_nametoindex(net_->AddPair("a").c_str()));
    ASSERT_NE(ifindex_, 0);
    // What the rest needs: this kernel reports the IPv4 attributes (Linux 6.3+).
    ASSERT_TRUE(BigTcpSupported().ok()) << BigTcpSupported();
  }
  std::unique_ptr<TestNet> net_;
  int ifindex_ = 0;
};

TEST_F(GsoSizeTest, VethStartsAt64KiB) {
  auto s = ReadGsoSizes(ifindex_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->gso_max, kGsoLegacyMaxSize);
  EXPECT_EQ(s->gro_max, kGsoLegacyMaxSize);
  EXPECT_EQ(s->gso_ipv4_max, kGsoLegacyMaxSize);
  EXPECT_EQ(s->gro_ipv4_max, kGsoLegacyMaxSize);
  EXPECT_GE(s->tso_max, 196608u);
}

TEST_F(GsoSizeTest, ApplyRaisesAllFourThenPutsThemBack) {
  auto on = ApplyBigTcp(ifindex_, true, 196608);
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(*on);
  auto s = ReadGsoSizes(ifindex_);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->gso_max, 196608u);
  EXPECT_EQ(s->gro_max, 196608u);
  EXPECT_EQ(s->gso_ipv4_max, 196608u);
  EXPECT_EQ(s->gro_ipv4_max, 196608u);

  auto off = ApplyBigTcp(ifindex_, true, 0);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(*off);
  s = ReadGsoSizes(ifindex_);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->gso_max, kGsoLegacyMaxSize);
  EXPECT_EQ(s->gso_ipv4_max, kGsoLegacyMaxSize);
  EXPECT_EQ(s->gro_ipv4_max, kGsoLegacyMaxSize);
}

TEST_F(GsoSizeTest, NotAVethKeeps64KiB) {
  auto on = ApplyBigTcp(ifindex_, false, 196608);
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_FALSE(*on);
  EXPECT_EQ(ReadGsoSizes(ifindex_)->gso_max, kGsoLegacyMaxSize);
}

TEST_F(GsoSizeTest, OutOfRangeRefusedAndNothingChanges) {
  EXPECT_EQ(SetGsoSizes(ifindex_, kGsoMaxSize + 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetGsoSizes(ifindex_, 1000).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadGsoSizes(ifindex_)->gso_max, kGsoLegacyMaxSize);
}

}  // namespace
}  // namespace vnet::testing
