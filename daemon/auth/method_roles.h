// The one table of which role each RPC needs. Every method of every service vnetd serves
// has a row (tests/unit/method_roles_test.cc checks it against the generated descriptors),
// so a new RPC cannot be served before someone decides who may call it.
#pragma once

#include <vector>

#include "absl/strings/string_view.h"
#include "daemon/auth/role.h"

namespace vnet::auth {

struct MethodRule {
  absl::string_view method;  // full gRPC name: "/package.Service/Method"
  Role role;
  bool audited;  // a change to vnetd's state: one audit line per call
};

const std::vector<MethodRule>& MethodRules();

// The rule for `method`, or nullptr for a method not in the table (refused).
const MethodRule* FindMethodRule(absl::string_view method);

}  // namespace vnet::auth
