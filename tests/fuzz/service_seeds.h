// Starting inputs for the service fuzzer: well-formed programs that reach past the request
// checks (a context's life, buffers, forced release, streams, a full pool), which random
// bytes would take long to find.
#pragma once

#include <string>
#include <vector>

namespace vnet::fuzz {

std::vector<std::string> ServiceSeeds();

}  // namespace vnet::fuzz
