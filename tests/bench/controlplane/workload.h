// What the control-plane benchmark's clients send: one guest per client number, and the
// region and descriptors a buffer client validates. Shared by the load and the probe.
#pragma once

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "vnet/v1/buffer.pb.h"
#include "vnet/v1/context.pb.h"

namespace vnet::bench {

constexpr uint64_t kRegionAddress = 0x100000;
constexpr uint64_t kRegionPages = 64;

inline v1::Context Guest(uint32_t n) {
  v1::Context c;
  c.set_domain_id(n);
  c.set_interface_name(absl::StrCat("vif", n, ".0"));
  c.set_mac(
      absl::StrFormat("00:16:3e:%02x:%02x:%02x", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff));
  c.add_ipv4_addresses(absl::StrFormat("10.%d.%d.%d", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff));
  return c;
}

// Region 1 of a buffer client's context: kRegionPages pages at kRegionAddress, read-write.
inline v1::RegisterRegionRequest RegionRequest(uint32_t context_id) {
  v1::RegisterRegionRequest req;
  req.set_context_id(context_id);
  v1::Region* r = req.mutable_region();
  r->set_region_id(1);
  r->set_guest_address(kRegionAddress);
  r->set_length(kRegionPages * 4096);
  r->set_access(v1::REGION_ACCESS_READ_WRITE);
  return req;
}

// `descriptors` packets of 1500 bytes in that region, alternating directions.
inline v1::ValidateDescriptorsRequest DescriptorsRequest(uint32_t context_id, int descriptors) {
  v1::ValidateDescriptorsRequest req;
  req.set_context_id(context_id);
  for (int d = 0; d < descriptors; ++d) {
    v1::Descriptor* desc = req.add_descriptors();
    desc->set_guest_address(kRegionAddress + static_cast<uint64_t>(d % kRegionPages) * 4096);
    desc->set_length(1500);
    desc->set_direction(d % 2 == 0 ? v1::DESCRIPTOR_DIRECTION_TO_DEVICE
                                   : v1::DESCRIPTOR_DIRECTION_FROM_DEVICE);
    desc->set_region_id(1);
  }
  return req;
}

}  // namespace vnet::bench
