// Field-by-field validation of a context request. Every failure is INVALID_ARGUMENT and
// names the field, so a caller can fix its request without reading our source.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "vnet/v1/context.pb.h"

namespace vnet {

inline constexpr uint32_t kDefaultVlan = 1;
inline constexpr uint32_t kDefaultMtu = 1500;
inline constexpr uint32_t kMinMtu = 68;  // smallest MTU IPv4 allows
inline constexpr uint32_t kMaxMtu = 65535;
// Offloads.big_tcp_max_size: above the 64 KiB every kernel takes, at most GSO_MAX_SIZE.
inline constexpr uint32_t kBigTcpMinSize = 65536;
inline constexpr uint32_t kBigTcpMaxSize = 524280;
inline constexpr uint32_t kMaxXenDomainId = 0x7FEF;    // DOMID_FIRST_RESERVED - 1
inline constexpr size_t kMaxInterfaceNameLength = 15;  // IFNAMSIZ - 1
inline constexpr int kMaxAddressesPerFamily = 64;
// What the fast path holds per context and family (VNET_MAX_ADDRS_PER_CTX in abi.h); the
// IPv6 count includes the link-local addresses (or the EUI-64 default).
inline constexpr int kMaxFastPathAddressesPerFamily = 16;
// Contexts per VLAN: the fast path floods broadcast and multicast to a VLAN's members from
// a list of this length (VNET_VLAN_MAX_MEMBERS, checked in daemon/dataplane/tables.cc). An
// assign beyond it is refused rather than granted and left unattached.
inline constexpr uint32_t kMaxContextsPerVlan = 4096;

// Fills defaults, canonicalises addresses (lower-case MAC, compressed IPv6, sorted lists)
// and clears output-only fields; then checks every field. On error `ctx` may be partly
// normalised and must be discarded.
absl::Status NormalizeAndValidate(v1::Context& ctx);

// Refuses a context whose addresses the fast path cannot hold (a request, not a restore:
// a stored context that no longer fits goes DEGRADED rather than stopping the daemon).
absl::Status CheckFastPathCapacity(const v1::Context& ctx);

// The link-local addresses a context's guest may use: ipv6_link_local_addresses, or the
// EUI-64 address derived from its MAC when that list is empty. Canonical text.
std::vector<std::string> EffectiveLinkLocals(const v1::Context& ctx);

// The checks that apply to one updatable field, for UpdateContext.
absl::Status ValidateInterfaceName(const std::string& name);
v1::Offloads AllOffloads();

}  // namespace vnet
