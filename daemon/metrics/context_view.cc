#include "daemon/metrics/context_view.h"

#include "daemon/core/context_registry.h"

namespace vnet::metrics {

ContextView ViewOf(const ContextRegistry* registry) {
  return {[registry] { return registry->List(); }, [registry] { return registry->capacity(); }};
}

std::vector<InterfaceAttach> GuestAttachStates(const std::vector<v1::Context>& contexts) {
  std::vector<InterfaceAttach> states;
  states.reserve(contexts.size());
  for (const v1::Context& ctx : contexts) {
    states.push_back({ctx.interface_name(), "guest", ctx.state() == v1::CONTEXT_STATE_ACTIVE, ""});
  }
  return states;
}

}  // namespace vnet::metrics
