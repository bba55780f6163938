// Field-by-field validation of a context request. Every failure is INVALID_ARGUMENT and
// names the field, so a caller can fix its request without reading our source.
#pragma once

#include "absl/status/status.h"
#include "vnet/v1/context.pb.h"

namespace vnet {

inline constexpr uint32_t kDefaultVlan = 1;
inline constexpr uint32_t kDefaultMtu = 1500;
inline constexpr uint32_t kMinMtu = 68;  // smallest MTU IPv4 allows
inline constexpr uint32_t kMaxMtu = 65535;
inline constexpr uint32_t kMaxXenDomainId = 0x7FEF;    // DOMID_FIRST_RESERVED - 1
inline constexpr size_t kMaxInterfaceNameLength = 15;  // IFNAMSIZ - 1
inline constexpr int kMaxAddressesPerFamily = 64;

// Fills defaults, canonicalises addresses (lower-case MAC, compressed IPv6, sorted lists)
// and clears output-only fields; then checks every field. On error `ctx` may be partly
// normalised and must be discarded.
absl::Status NormalizeAndValidate(v1::Context& ctx);

// The checks that apply to one updatable field, for UpdateContext.
absl::Status ValidateInterfaceName(const std::string& name);
v1::Offloads AllOffloads();

}  // namespace vnet
