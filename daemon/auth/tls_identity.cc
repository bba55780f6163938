#include "daemon/auth/tls_identity.h"

#include <grpc/grpc_security_constants.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vnet::auth {
namespace {

absl::StatusOr<std::string> ReadPem(absl::string_view field, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("tls.", field, " is not set"));
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("tls.", field, ": cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("tls.", field, ": ", path, " holds no PEM"));
  }
  return text.str();
}

// RFC 2253 attributes, split at commas that are not escaped.
std::vector<std::string> SplitSubject(absl::string_view subject) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < subject.size(); ++i) {
    if (subject[i] == '\\' && i + 1 < subject.size()) {
      parts.back() += subject[++i];
    } else if (subject[i] == ',') {
      parts.emplace_back();
    } else {
      parts.back() += subject[i];
    }
  }
  return parts;
}

std::string FirstProperty(const grpc::AuthContext& context, const char* name) {
  auto values = context.FindPropertyValues(name);
  return values.empty() ? "" : std::string(values.front().data(), values.front().size());
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MutualTlsCredentials(
    const v1::TlsConfig& tls) {
  auto cert = ReadPem("server_cert_file", tls.server_cert_file());
  if (!cert.ok()) return cert.status();
  auto key = ReadPem("server_key_file", tls.server_key_file());
  if (!key.ok()) return key.status();
  auto ca = ReadPem("client_ca_file", tls.client_ca_file());
  if (!ca.ok()) return ca.status();
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = *ca;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

Role RoleFromSubject(absl::string_view subject) {
  Role found = Role::kNone;
  for (const std::string& part : SplitSubject(subject)) {
    const absl::string_view attribute = absl::StripAsciiWhitespace(part);
    if (!absl::StartsWithIgnoreCase(attribute, "OU=")) continue;
    const std::optional<Role> role = ParseRole(attribute.substr(3));
    if (!role.has_value()) continue;
    if (found != Role::kNone && found != *role) return Role::kNone;  // ambiguous
    found = *role;
  }
  return found;
}

Caller CallerFromCertificate(const grpc::AuthContext& context) {
  std::string subject = FirstProperty(context, GRPC_X509_SUBJECT_PROPERTY_NAME);
  if (subject.empty()) subject = "CN=" + FirstProperty(context, GRPC_X509_CN_PROPERTY_NAME);
  return {absl::StrCat("cert ", subject), RoleFromSubject(subject)};
}

}  // namespace vnet::auth
