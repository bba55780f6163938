#include "daemon/dataplane/uplink_delivery.h"

#include "absl/strings/str_cat.h"

namespace vnet {

absl::StatusOr<UplinkDelivery> ParseUplinkDelivery(absl::string_view name) {
  if (name == "auto") return UplinkDelivery::kAuto;
  if (name == "xdp") return UplinkDelivery::kXdp;
  if (name == "tc") return UplinkDelivery::kTc;
  return absl::InvalidArgumentError(
      absl::StrCat("uplink_delivery: '", name, "' is not auto, xdp or tc"));
}

absl::string_view UplinkDeliveryName(UplinkDelivery delivery) {
  switch (delivery) {
    case UplinkDelivery::kXdp:
      return "xdp";
    case UplinkDelivery::kTc:
      return "tc";
    case UplinkDelivery::kAuto:
      break;
  }
  return "auto";
}

UplinkDelivery ResolveUplinkDelivery(UplinkDelivery wanted, const LinkInfo& uplink) {
  if (wanted != UplinkDelivery::kAuto) return wanted;
  // A veth's XDP is native too, but measured slower than TC into veth guests.
  if (uplink.kind == "veth") return UplinkDelivery::kTc;
  return uplink.xdp_native ? UplinkDelivery::kXdp : UplinkDelivery::kTc;
}

}  // namespace vnet
