#include "daemon/auth/method_roles.h"

#include <algorithm>

namespace vnet::auth {

const std::vector<MethodRule>& MethodRules() {
  // Descriptor validation and completion are the buffer data path (thousands per second):
  // operator calls, counted in the RPC metrics, not audited line by line.
  static const auto* const rules = new std::vector<MethodRule>{
      {"/vnet.v1.ContextService/AssignContext", Role::kOperator, true},
      {"/vnet.v1.ContextService/ReleaseContext", Role::kOperator, true},
      {"/vnet.v1.ContextService/UpdateContext", Role::kOperator, true},
      {"/vnet.v1.ContextService/GetContext", Role::kReader, false},
      {"/vnet.v1.ContextService/ListContexts", Role::kReader, false},
      {"/vnet.v1.BufferService/RegisterRegion", Role::kOperator, true},
      {"/vnet.v1.BufferService/UnregisterRegion", Role::kOperator, true},
      {"/vnet.v1.BufferService/ListRegions", Role::kReader, false},
      {"/vnet.v1.BufferService/ValidateDescriptors", Role::kOperator, false},
      {"/vnet.v1.BufferService/CompleteDescriptors", Role::kOperator, false},
      {"/vnet.v1.BufferService/StreamDescriptors", Role::kOperator, false},
      {"/vnet.v1.DaemonService/GetStatus", Role::kReader, false},
      {"/vnet.v1.DaemonService/SetUplink", Role::kAdmin, true},
      {"/vnet.v1.StatsService/GetContextStats", Role::kReader, false},
      {"/vnet.v1.MonitorService/WatchDrops", Role::kReader, false},
      {"/grpc.health.v1.Health/Check", Role::kReader, false},
      {"/grpc.health.v1.Health/Watch", Role::kReader, false},
      {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Role::kReader, false},
  };
  return *rules;
}

const MethodRule* FindMethodRule(absl::string_view method) {
  const auto& rules = MethodRules();
  auto it = std::find_if(rules.begin(), rules.end(),
                         [method](const MethodRule& rule) { return rule.method == method; });
  return it == rules.end() ? nullptr : &*it;
}

}  // namespace vnet::auth
