// What a caller may do: each role includes the ones below it.
#pragma once

#include <optional>

#include "absl/strings/string_view.h"

namespace vnet::auth {

enum class Role {
  kNone = 0,      // known caller, no rights: every call is refused
  kReader = 1,    // get, list, stats, watch, status
  kOperator = 2,  // contexts, regions, descriptors
  kAdmin = 3,     // uplink, daemon-level calls
};

absl::string_view RoleName(Role role);

// "reader", "operator" or "admin"; nullopt for anything else.
std::optional<Role> ParseRole(absl::string_view name);

inline bool Allows(Role held, Role needed) { return held >= needed; }

}  // namespace vnet::auth
