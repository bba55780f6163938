#include <gtest/gtest.h>

#include <sstream>

#include "cli/region_command.h"

namespace vnetctl {
namespace {

TEST(RegionTableTest, ShowsOneRowPerRegionAndContextsWithoutRegions) {
  vnet::v1::ListRegionsResponse resp;
  vnet::v1::ContextRegions* one = resp.add_contexts();
  one->set_context_id(3);
  vnet::v1::Region* r = one->add_regions();
  r->set_region_id(7);
  r->set_guest_address(0x100000);
  r->set_length(2 << 20);
  r->set_page_size(4096);
  r->set_access(vnet::v1::REGION_ACCESS_READ_ONLY);
  r->add_grant_refs(1);
  r->set_in_flight(5);
  resp.add_contexts()->set_context_id(4);

  std::ostringstream out;
  RegionTable(resp).Print(out);
  const std::string text = out.str();
  EXPECT_NE(text.find("IN-FLIGHT"), std::string::npos) << text;
  EXPECT_NE(text.find("0x100000"), std::string::npos) << text;
  EXPECT_NE(text.find("2M"), std::string::npos) << text;
  EXPECT_NE(text.find("4K"), std::string::npos) << text;
  EXPECT_NE(text.find("ro"), std::string::npos) << text;
  std::istringstream lines(text);
  std::string header, first, second;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_EQ(first.rfind('3', 0), 0u) << first;
  EXPECT_EQ(first.back(), '5') << first;
  EXPECT_EQ(second.rfind('4', 0), 0u) << second;
  EXPECT_NE(second.find('-'), std::string::npos) << second;
}

}  // namespace
}  // namespace vnetctl
