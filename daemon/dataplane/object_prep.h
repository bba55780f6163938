// Shared preparation of the vnet BPF objects before and after load: map sizes from the
// capacity, and the one map libbpf cannot share by pin (see object_prep.cc).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

struct bpf_object;

namespace vnet {

// Before anything loads: FAILED_PRECONDITION when maps pinned under `maps_dir` by an earlier
// vnetd were sized for another capacity (libbpf would only say "parameter mismatch"). Maps
// in use by the running fast path cannot be resized; the message says what to do instead.
absl::Status CheckPinnedCapacity(const std::string& maps_dir, uint32_t capacity);
// Before load: sizes the maps and makes the devmap reuse its pin under `maps_dir` if any.
absl::Status PrepareVnetObject(bpf_object* obj, const std::string& maps_dir, uint32_t capacity);
// After load: pins the devmap if this object created it.
absl::Status FinishVnetObject(bpf_object* obj, const std::string& maps_dir);

}  // namespace vnet
