// The collectors' read-only view of the context pool, as functions so they can be fed by
// the ContextRegistry in vnetd and by a plain vector in tests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vnet/v1/context.pb.h"

namespace vnet {
class ContextRegistry;
}

namespace vnet::metrics {

struct ContextView {
  std::function<std::vector<v1::Context>()> list;  // the contexts in use now
  std::function<uint32_t()> capacity;
};

// A view of `registry` (not owned; must outlive every user of the view).
ContextView ViewOf(const ContextRegistry* registry);

// Attach state of one interface of the fast path (the uplink or a guest's interface).
struct InterfaceAttach {
  std::string interface;
  std::string role;  // "uplink" or "guest"
  bool attached = false;
  std::string delivery;  // the uplink's: "xdp" or "tc" (WireDelivery); empty for guests
};
using AttachStateFn = std::function<std::vector<InterfaceAttach>()>;

// Guest interfaces from the pool: attached when the context is ACTIVE.
std::vector<InterfaceAttach> GuestAttachStates(const std::vector<v1::Context>& contexts);

}  // namespace vnet::metrics
