// The one place that decides whether a call may run: a gRPC AuthMetadataProcessor on
// every listener's credentials. It runs before any handler; a refused call answers
// PERMISSION_DENIED and never reaches a service, so it changes nothing.
#pragma once

#include <grpcpp/security/auth_metadata_processor.h>

#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "daemon/auth/audit_log.h"
#include "daemon/auth/role.h"

namespace vnet::auth {

// Auth-context properties the gate attaches to a connection for the audit log.
inline constexpr char kIdentityProperty[] = "vnet_identity";
inline constexpr char kRoleProperty[] = "vnet_role";

struct Caller {
  std::string identity;  // "uid 0", "cert CN=orchestrator,OU=operator", ...
  Role role = Role::kNone;
};

// How a listener learns who is calling from the connection's auth context.
using IdentifyFn = std::function<Caller(const grpc::AuthContext&)>;

// OK, or PERMISSION_DENIED saying which role `method` needs and what the caller has.
grpc::Status Authorize(const Caller& caller, absl::string_view method);

class RoleGate final : public grpc::AuthMetadataProcessor {
 public:
  // `audit` (not owned, may be null) records refused calls to audited methods.
  RoleGate(IdentifyFn identify, AuditLog* audit) : identify_(std::move(identify)), audit_(audit) {}

  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  IdentifyFn identify_;
  AuditLog* audit_;
  absl::Mutex mu_;  // one connection's calls may run the gate at once; tag it only once
};

// A listener whose every caller is the same (a Unix socket's role acceptor, loopback TCP).
IdentifyFn FixedCaller(Caller caller);

}  // namespace vnet::auth
