// How contexts look in vnetctl's table output.
#pragma once

#include <string>
#include <vector>

#include "cli/table.h"
#include "vnet/v1/context.pb.h"

namespace vnetctl {

std::string FormatOffloads(const vnet::v1::Offloads& offloads);
std::string FormatRate(const vnet::v1::RateLimit& rate);
std::string FormatState(vnet::v1::ContextState state);
Table ContextTable(const std::vector<vnet::v1::Context>& contexts);

}  // namespace vnetctl
