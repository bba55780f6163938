#include "daemon/auth/role_gate.h"

#include "absl/strings/str_cat.h"
#include "daemon/auth/method_roles.h"
#include "daemon/core/echo.h"

namespace vnet::auth {

grpc::Status Authorize(const Caller& caller, absl::string_view method) {
  const MethodRule* rule = FindMethodRule(method);
  if (rule == nullptr) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(Echo(method), " is not in vnetd's role table: refused"));
  }
  if (!Allows(caller.role, rule->role)) {
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat(method, " needs role ", RoleName(rule->role), "; ", caller.identity,
                     caller.role == Role::kNone ? " has no role"
                                                : absl::StrCat(" is ", RoleName(caller.role))));
  }
  return grpc::Status::OK;
}

grpc::Status RoleGate::Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                               OutputMetadata* /*consumed_auth_metadata*/,
                               OutputMetadata* /*response_metadata*/) {
  auto path = auth_metadata.find(":path");
  const absl::string_view method =
      path == auth_metadata.end() ? absl::string_view()
                                  : absl::string_view(path->second.data(), path->second.size());
  const Caller caller = identify_(*context);
  grpc::Status verdict = Authorize(caller, method);
  if (!verdict.ok()) {
    const MethodRule* rule = FindMethodRule(method);
    if (audit_ != nullptr && rule != nullptr && rule->audited) {
      audit_->RecordRefusal(caller.identity, method, verdict);
    }
    return verdict;
  }
  // The connection's auth context is shared by its calls: tag it once, before any call of
  // it goes on (the audit interceptor reads the tag).
  absl::MutexLock lock(&mu_);
  if (context->FindPropertyValues(kIdentityProperty).empty()) {
    context->AddProperty(kIdentityProperty, caller.identity);
    context->AddProperty(kRoleProperty, std::string(RoleName(caller.role)));
  }
  return grpc::Status::OK;
}

IdentifyFn FixedCaller(Caller caller) {
  return [caller = std::move(caller)](const grpc::AuthContext&) { return caller; };
}

}  // namespace vnet::auth
