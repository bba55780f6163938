// How frames from the wire reach guests: which uplink hook delivers them.
//
//   xdp  the uplink's XDP program redirects unicast through a devmap to guests whose device
//        takes XDP frames; the rest passes to the uplink's TC program.
//   tc   no XDP on the uplink: its TC program delivers everything (bpf_redirect_peer into
//        namespace veths, bpf_redirect to vifs and taps).
//   auto the faster of the two for the uplink's kind, measured (docs/benchmarks.md,
//        "wire→guest: XDP vs TC per device pair"): tc for a veth uplink (XDP there puts the
//        veth in NAPI mode and a frame crosses a second NAPI at the guest's veth), xdp for a
//        device whose driver runs XDP natively (the kernel's xdp_features say so), tc for
//        the rest (generic XDP runs on the skb anyway, before TC, and adds a pass).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/dataplane/link_info.h"

namespace vnet {

enum class UplinkDelivery { kAuto, kXdp, kTc };

// "auto", "xdp" or "tc"; anything else is INVALID_ARGUMENT naming the three.
absl::StatusOr<UplinkDelivery> ParseUplinkDelivery(absl::string_view name);
absl::string_view UplinkDeliveryName(UplinkDelivery delivery);

// What `wanted` means on `uplink`: kXdp or kTc, never kAuto.
UplinkDelivery ResolveUplinkDelivery(UplinkDelivery wanted, const LinkInfo& uplink);

}  // namespace vnet
