// deploy/vnetd.conf.example is a valid DaemonConfig whose values are the embedded defaults
// (so uncommenting nothing changes nothing), with metrics on loopback.
#include <gtest/gtest.h>

#include "daemon/core/config.h"
#include "google/protobuf/util/message_differencer.h"

namespace vnet {
namespace {

TEST(DeployConfigTest, ExampleParsesValidatesAndMatchesDefaults) {
  auto example = LoadConfig(VNET_SOURCE_DIR "/deploy/vnetd.conf.example", /*required=*/true);
  ASSERT_TRUE(example.ok()) << example.status();
  EXPECT_TRUE(ValidateConfig(*example).ok());
  EXPECT_EQ(example->metrics_address(), "127.0.0.1:9464");
  auto defaults = LoadConfig("/nonexistent/vnetd.conf", /*required=*/false);
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*example, *defaults))
      << "example:\n"
      << example->DebugString() << "defaults:\n"
      << defaults->DebugString();
}

}  // namespace
}  // namespace vnet
