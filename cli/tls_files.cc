#include "cli/tls_files.h"

#include <fstream>
#include <sstream>

namespace vnetctl {
namespace {

bool ReadFile(const std::string& option, const std::optional<std::string>& path,
              std::string* contents, std::string* error) {
  if (!path) {
    *error = "--tls-ca, --tls-cert and --tls-key go together; --" + option + " is missing";
    return false;
  }
  std::ifstream in(*path);
  if (!in) {
    *error = "--" + option + ": cannot read " + *path;
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  *contents = text.str();
  return true;
}

}  // namespace

std::shared_ptr<grpc::ChannelCredentials> MutualTlsChannelCredentials(const TlsFiles& files,
                                                                      std::string* error) {
  grpc::SslCredentialsOptions options;
  if (!ReadFile("tls-ca", files.ca, &options.pem_root_certs, error) ||
      !ReadFile("tls-cert", files.cert, &options.pem_cert_chain, error) ||
      !ReadFile("tls-key", files.key, &options.pem_private_key, error)) {
    return nullptr;
  }
  return grpc::SslCredentials(options);
}

}  // namespace vnetctl
