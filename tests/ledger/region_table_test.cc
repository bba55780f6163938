#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "cli/region_command.h"

namespace vnetctl {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

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
  // Whole rows, column by column: a substring such as "ro" or '-' would match the header
  // or any other cell.
  std::istringstream lines(text);
  std::string header, first, second, extra;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_THAT(Words(header), ElementsAre("CONTEXT", "REGION", "ADDRESS", "LENGTH", "PAGE", "ACCESS",
                                         "GRANTS", "IN-FLIGHT"));
  EXPECT_THAT(Words(first), ElementsAre("3", "7", "0x100000", "2M", "4K", "ro", "1", "5"));
  EXPECT_THAT(Words(second), ElementsAre("4", "-", "-", "-", "-", "-", "-", "0"));
  EXPECT_FALSE(std::getline(lines, extra)) << "a third row: " << extra;
}

}  // namespace
}  // namespace vnetctl
