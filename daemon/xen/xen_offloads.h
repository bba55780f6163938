// Xen's offload negotiation, read from xenstore, as a context's offloads.
//
// Two sides, two directions (Linux xen-netback and xen-netfront):
//  - netback's own keys in the backend directory (backend/vif/D/N/feature-*) say what it
//    accepts FROM the guest: they set the guest's transmit offloads (tx_checksum, sg, tso);
//  - the frontend's keys (device/vif/N/feature-*) say what the guest accepts: they set its
//    receive offloads (rx_*), and only once the frontend is Connected (state 4).
// xen-hooks/README.md has the table.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "vnet/v1/context.pb.h"

namespace vnet::xen {

// Reads one key of a xenstore directory; nullopt when the key is absent.
using KeyReader = std::function<std::optional<std::string>(absl::string_view key)>;

inline constexpr int kXenbusStateConnected = 4;

// The offloads both sides negotiated. `frontend_connected` false: the guest takes nothing
// (its keys may be stale or not written yet), so every rx_* is off.
v1::Offloads OffloadsFromXenstore(const KeyReader& backend, const KeyReader& frontend,
                                  bool frontend_connected);

// (domain, device) of a path at or below BASE/D/N (BASE: ".../backend/vif"), else nullopt.
struct VifId {
  uint32_t domain = 0;
  uint32_t device = 0;
  bool operator<(const VifId& o) const {
    return domain != o.domain ? domain < o.domain : device < o.device;
  }
};
std::optional<VifId> ParseBackendVifPath(absl::string_view path, absl::string_view base);

}  // namespace vnet::xen
