// BIG TCP on a guest's interface: its super-packet size limits, the rtnetlink link
// attributes gso_max_size / gro_max_size (IPv6 and the default) and gso_ipv4_max_size /
// gro_ipv4_max_size (IPv4, Linux 6.3+). Above 65536 the kernel builds and takes TCP
// super-packets whose IP length field is 0 (BIG TCP).
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vnet {

inline constexpr uint32_t kGsoLegacyMaxSize = 65536;  // every kernel, every device
inline constexpr uint32_t kGsoMaxSize = 524280;       // the kernel's GSO_MAX_SIZE (6.2+)

struct GsoSizes {
  uint32_t gso_max = 0;
  uint32_t gro_max = 0;
  uint32_t gso_ipv4_max = 0;  // 0 when the kernel has no IPv4 attributes
  uint32_t gro_ipv4_max = 0;
  uint32_t tso_max = 0;  // what the device can take (0 before Linux 5.19)
};

// The interface's current limits.
absl::StatusOr<GsoSizes> ReadGsoSizes(int ifindex);

// Sets all four limits to `size` (kGsoLegacyMaxSize: back to the default). Above
// kGsoLegacyMaxSize it needs BigTcpSupported() and a device whose tso_max allows it.
absl::Status SetGsoSizes(int ifindex, uint32_t size);

// A context's BIG TCP request (Offloads.big_tcp_max_size, 0: none) on its interface: raised
// on a veth (a container's or namespace's), never on other devices (a Xen vif's netfront
// takes 64 KiB); an interface raised before and no longer asked for goes back to 64 KiB.
// Returns whether BIG TCP is in effect.
absl::StatusOr<bool> ApplyBigTcp(int ifindex, bool is_veth, uint32_t size);

// A released context's interface back to 64 KiB where vnet raised it (a no-op otherwise,
// and when the interface is gone). Best effort: a release never fails on it.
void ReleaseBigTcp(int ifindex);

// OK when this kernel has BIG TCP for both families (the IPv4 link attributes are reported,
// Linux 6.3+), else FAILED_PRECONDITION saying why. Probed once, on the loopback device.
absl::Status BigTcpSupported();

}  // namespace vnet
