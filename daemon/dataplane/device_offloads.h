// A guest interface's offload features, set and read through the kernel's ethtool
// interface (SIOCETHTOOL, feature bits looked up by name, never by number).
//
// Which side models what: the dom0-side interface (host end of a veth, a Xen vif, a tap)
// transmits toward the guest, so its TX features are what the guest accepts: with
// tx-checksum off the kernel completes partial checksums before handing packets over, with
// TSO off it segments super-packets, with SG off it linearises. What the guest may send is
// its own device's business (the frontend honours what the backend advertised; the guest
// end of a test veth); the fast path enforces TSO on that side (drop reason "offload").
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace vnet {

struct DeviceOffloads {
  bool csum = false;  // tx-checksum-ip-generic / -ipv4 / -ipv6
  bool sg = false;    // tx-scatter-gather
  bool tso4 = false;  // tx-tcp-segmentation (and its ECN and mangle-id variants)
  bool tso6 = false;  // tx-tcp6-segmentation
};

// Requests `want` on `ifname` (features the device cannot change are left alone) and
// returns what is active afterwards; the kernel drops TSO without SG and checksum.
absl::StatusOr<DeviceOffloads> ApplyDeviceOffloads(const std::string& ifname,
                                                   const DeviceOffloads& want);

}  // namespace vnet
