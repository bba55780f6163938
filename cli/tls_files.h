// vnetctl's side of mutual TLS: --tls-ca, --tls-cert and --tls-key (PEM files) become
// the channel's credentials.
#pragma once

#include <grpcpp/security/credentials.h>

#include <memory>
#include <optional>
#include <string>

namespace vnetctl {

struct TlsFiles {
  std::optional<std::string> ca;    // CA that signed vnetd's certificate
  std::optional<std::string> cert;  // this client's certificate (its OU is its role)
  std::optional<std::string> key;   // and private key
  bool any() const { return ca || cert || key; }
};

// Credentials for `files` (all three needed), or nullptr and `error` set.
std::shared_ptr<grpc::ChannelCredentials> MutualTlsChannelCredentials(const TlsFiles& files,
                                                                      std::string* error);

}  // namespace vnetctl
