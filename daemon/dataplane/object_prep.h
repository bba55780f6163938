// Shared preparation of the vnet BPF objects before and after load: map sizes from the
// capacity, and the one map libbpf cannot share by pin (see object_prep.cc).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

struct bpf_object;

namespace vnet {

// Before load: sizes the maps and makes the devmap reuse its pin under `maps_dir` if any.
absl::Status PrepareVnetObject(bpf_object* obj, const std::string& maps_dir, uint32_t capacity);
// After load: pins the devmap if this object created it.
absl::Status FinishVnetObject(bpf_object* obj, const std::string& maps_dir);

}  // namespace vnet
