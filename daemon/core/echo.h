// What an error message may quote of a caller's input: at most kMaxEcho bytes (cut at a
// UTF-8 character boundary) followed by "…" when cut, so a 1 MB name never becomes a 1 MB
// grpc-message.
#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace vnet {

inline constexpr size_t kMaxEcho = 64;

std::string Echo(absl::string_view input, size_t max = kMaxEcho);

}  // namespace vnet
