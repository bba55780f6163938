#include "daemon/core/state_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace vnet {
namespace {

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-state-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(StateFileTest, MissingFileIsEmptyState) {
  StateFile file(dir_ + "/not-yet");
  auto state = file.Load();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->contexts_size(), 0);
}

TEST_F(StateFileTest, SaveThenLoadRoundTrips) {
  StateFile file(dir_ + "/nested/state");
  v1::PersistedState state;
  v1::Context* c = state.add_contexts();
  c->set_id(3);
  c->set_interface_name("vif3.0");
  c->add_ipv6_addresses("2001:db8::3");
  ASSERT_TRUE(file.Save(state).ok());
  auto loaded = file.Load();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->contexts_size(), 1);
  EXPECT_EQ(loaded->contexts(0).interface_name(), "vif3.0");
  EXPECT_EQ(loaded->format_version(), 2u);
  // No temporary file is left behind.
  EXPECT_NE(access((file.path() + ".tmp").c_str(), F_OK), 0);
}

TEST_F(StateFileTest, CorruptFileIsDataLossAndLeftUntouched) {
  StateFile file(dir_);
  const std::string garbage = "contexts { id: 1 interface_name: \"vif1.0\" \n this is not a proto";
  std::ofstream(file.path()) << garbage;
  auto loaded = file.Load();
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(loaded.status().message().find(file.path()), std::string::npos);
  EXPECT_EQ(ReadFile(file.path()), garbage);
}

// Format 1 had one set of TSO/SG flags for both directions: they become the receive ones too.
TEST_F(StateFileTest, FormatOneOffloadsCarryOverToReceive) {
  StateFile file(dir_);
  std::ofstream(file.path()) << "format_version: 1\n"
                                "contexts { id: 1 interface_name: \"vif1.0\" offloads { "
                                "tx_checksum: true tso_v4: true scatter_gather: true } }\n"
                                "contexts { id: 2 interface_name: \"vif2.0\" }\n";
  auto loaded = file.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->contexts_size(), 2);
  const v1::Offloads& o = loaded->contexts(0).offloads();
  EXPECT_TRUE(o.tso_v4() && o.rx_tso_v4() && o.scatter_gather() && o.rx_scatter_gather());
  EXPECT_FALSE(o.tso_v6() || o.rx_tso_v6() || o.rx_checksum());
  EXPECT_FALSE(loaded->contexts(1).has_offloads());  // unset still means "all"
  EXPECT_EQ(loaded->format_version(), 2u);
}

TEST_F(StateFileTest, UnknownFormatVersionIsRefused) {
  StateFile file(dir_);
  std::ofstream(file.path()) << "format_version: 99\n";
  EXPECT_EQ(file.Load().status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(StateFileTest, SaveFailureLeavesOldStateInPlace) {
  StateFile file(dir_);
  v1::PersistedState one;
  one.add_contexts()->set_id(1);
  ASSERT_TRUE(file.Save(one).ok());
  const std::string before = ReadFile(file.path());
  // A directory where the temporary file should go makes the write fail.
  ASSERT_EQ(mkdir((file.path() + ".tmp").c_str(), 0700), 0);
  v1::PersistedState two;
  two.add_contexts()->set_id(2);
  EXPECT_FALSE(file.Save(two).ok());
  EXPECT_EQ(ReadFile(file.path()), before);
}

// The registry's commit-point check: a refusal from before_commit leaves the old file
// exactly as it was and no temporary file behind.
TEST_F(StateFileTest, RefusalBeforeCommitKeepsTheOldFile) {
  StateFile file(dir_);
  v1::PersistedState first;
  first.set_uplink("eth0");
  ASSERT_TRUE(file.Save(first).ok());
  const std::string before = ReadFile(file.path());
  v1::PersistedState second;
  second.set_uplink("eth1");
  bool asked = false;
  const absl::Status s = file.Save(second, [&] {
    asked = true;
    return absl::DeadlineExceededError("caller gone");
  });
  EXPECT_TRUE(asked);
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_EQ(ReadFile(file.path()), before);
  EXPECT_NE(access((file.path() + ".tmp").c_str(), F_OK), 0);
  ASSERT_TRUE(file.Save(second, [] { return absl::OkStatus(); }).ok());
  EXPECT_EQ(file.Load()->uplink(), "eth1");
}

}  // namespace
}  // namespace vnet
