// mTLS on the TCP listener: vnetd's certificate, the CA that signs clients', and the role a
// client certificate carries in its subject's OU (reader, operator or admin).
#pragma once

#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/auth/role_gate.h"
#include "vnet/v1/daemon.pb.h"

namespace vnet::auth {

// Server credentials that require and verify a client certificate; errors name the file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MutualTlsCredentials(
    const v1::TlsConfig& tls);

// The role named by the OU of an RFC 2253 subject ("CN=ops1,OU=operator,O=example");
// none when no OU names a role or two OUs name different ones.
Role RoleFromSubject(absl::string_view subject);

// Identity "cert <subject>" and its role, from a verified peer's auth context.
Caller CallerFromCertificate(const grpc::AuthContext& context);

}  // namespace vnet::auth
