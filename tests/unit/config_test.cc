#include "daemon/core/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace vnet {
namespace {

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/vnet-config-test-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  std::ofstream(path) << text;
  close(fd);
  return path;
}

TEST(ConfigTest, DefaultsWhenNoFile) {
  auto config = LoadConfig("/nonexistent/vnetd.conf", /*required=*/false);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->unix_socket(), "/run/vnet/vnetd.sock");
  EXPECT_EQ(config->state_dir(), "/var/lib/vnet");
  EXPECT_EQ(config->capacity(), 128u);
  EXPECT_TRUE(config->tcp_address().empty());
  EXPECT_EQ(config->fast_path(), "bpf");
  EXPECT_EQ(config->xenstore(), "auto");
  EXPECT_TRUE(ValidateConfig(*config).ok());
}

// The data plane and the xenstore watch are configuration like the rest, checked alike.
TEST(ConfigTest, FastPathAndXenstoreFromTheFile) {
  const std::string path = WriteTemp("fast_path: \"none\"\nxenstore: \"off\"\n");
  auto config = LoadConfig(path, true);
  std::remove(path.c_str());
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->fast_path(), "none");
  EXPECT_EQ(config->xenstore(), "off");
  EXPECT_TRUE(ValidateConfig(*config).ok());
  v1::DaemonConfig bad = *config;
  bad.set_fast_path("xdp");
  EXPECT_NE(ValidateConfig(bad).message().find("fast_path: 'xdp'"), std::string::npos);
  bad = *config;
  bad.set_xenstore("on");
  EXPECT_NE(ValidateConfig(bad).message().find("xenstore: 'on'"), std::string::npos);
}

// uplink_delivery: auto by default, xdp or tc from the file, anything else refused.
TEST(ConfigTest, UplinkDelivery) {
  EXPECT_EQ(DefaultConfig().uplink_delivery(), "auto");
  const std::string path = WriteTemp("uplink_delivery: \"tc\"\n");
  auto config = LoadConfig(path, true);
  std::remove(path.c_str());
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->uplink_delivery(), "tc");
  EXPECT_TRUE(ValidateConfig(*config).ok());
  v1::DaemonConfig bad = *config;
  bad.set_uplink_delivery("skb");
  EXPECT_NE(ValidateConfig(bad).message().find("uplink_delivery: 'skb' is not auto, xdp or tc"),
            std::string::npos);
}

TEST(ConfigTest, RequiredFileMustExist) {
  EXPECT_EQ(LoadConfig("/nonexistent/vnetd.conf", true).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ConfigTest, FileOverridesOnlyWhatItSets) {
  const std::string path = WriteTemp("capacity: 4096\ntcp_address: \"127.0.0.1:50051\"\n");
  auto config = LoadConfig(path, true);
  std::remove(path.c_str());
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->capacity(), 4096u);
  EXPECT_EQ(config->tcp_address(), "127.0.0.1:50051");
  EXPECT_EQ(config->unix_socket(), "/run/vnet/vnetd.sock");
}

// The buffer ledger's budget across contexts: a default for a 4096-context host, the file
// may change it, and the ledger gets what the config says.
TEST(ConfigTest, InFlightBudgetFromTheFile) {
  EXPECT_EQ(DefaultConfig().max_in_flight_descriptors(), 4194304u);
  EXPECT_EQ(LedgerLimitsFrom(DefaultConfig()).max_in_flight_total, 4194304u);
  const std::string path = WriteTemp("max_in_flight_descriptors: 65536\n");
  auto config = LoadConfig(path, true);
  std::remove(path.c_str());
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(ValidateConfig(*config).ok());
  EXPECT_EQ(LedgerLimitsFrom(*config).max_in_flight_total, 65536u);
  EXPECT_EQ(LedgerLimitsFrom(*config).max_in_flight_per_context, 1u << 20);  // unchanged
  v1::DaemonConfig bad = *config;
  bad.set_max_in_flight_descriptors(0);
  EXPECT_NE(ValidateConfig(bad).message().find("max_in_flight_descriptors: 0"), std::string::npos);
}

// The write pool's pace: a default, the file may change it, and out-of-range values are
// refused by name.
TEST(ConfigTest, ChangesPerSecondFromTheFileAndBounded) {
  EXPECT_EQ(DefaultConfig().max_changes_per_second(), 500u);
  const std::string path = WriteTemp("max_changes_per_second: 2000\n");
  auto config = LoadConfig(path, true);
  std::remove(path.c_str());
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(ValidateConfig(*config).ok());
  EXPECT_EQ(config->max_changes_per_second(), 2000u);
  v1::DaemonConfig bad = *config;
  bad.set_max_changes_per_second(0);
  EXPECT_NE(ValidateConfig(bad).message().find("max_changes_per_second: 0 is not in 1.."),
            std::string::npos);
  bad.set_max_changes_per_second(1000001);
  EXPECT_FALSE(ValidateConfig(bad).ok());
}

TEST(ConfigTest, MalformedFileIsAnError) {
  const std::string path = WriteTemp("capacity: lots\n");
  auto config = LoadConfig(path, false);
  std::remove(path.c_str());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, ValidationBounds) {
  v1::DaemonConfig config = DefaultConfig();
  config.set_capacity(0);
  EXPECT_FALSE(ValidateConfig(config).ok());
  config.set_capacity(65536);
  EXPECT_FALSE(ValidateConfig(config).ok());
  config.set_capacity(4096);
  config.set_state_dir("relative/dir");
  EXPECT_FALSE(ValidateConfig(config).ok());
}

}  // namespace
}  // namespace vnet
