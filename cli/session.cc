#include <chrono>
#include <iostream>

#include "cli/command.h"
#include "google/protobuf/util/json_util.h"

namespace vnetctl {

Session::Session(std::string target, OutputFormat format, int timeout_seconds,
                 std::shared_ptr<grpc::ChannelCredentials> credentials)
    : target_(std::move(target)),
      format_(format),
      timeout_seconds_(timeout_seconds),
      credentials_(credentials ? std::move(credentials) : grpc::InsecureChannelCredentials()) {}

std::shared_ptr<grpc::Channel> Session::channel() {
  if (!channel_) channel_ = grpc::CreateChannel(target_, credentials_);
  return channel_;
}

std::unique_ptr<grpc::ClientContext> Session::NewCall() const {
  auto call = std::make_unique<grpc::ClientContext>();
  call->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds_));
  return call;
}

int Session::Refused(const grpc::Status& status) const {
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    // vnetd may be busy rather than gone; a change vnetd had not committed by then was
    // dropped, one it had committed stands.
    std::cerr << "vnetctl: timed out after " << timeout_seconds_ << " s waiting for vnetd at "
              << target_ << " (--timeout sets the limit)\n";
  } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::cerr << "vnetctl: cannot reach vnetd at " << target_ << ": " << status.error_message()
              << "\n";
  } else {
    std::cerr << "vnetctl: " << status.error_message() << "\n";
  }
  return kExitRefused;
}

void Session::PrintJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::cout << json;
}

int UsageError(const std::string& path, const std::string& message) {
  std::cerr << "vnetctl: " << message << "\nTry 'vnetctl " << path << " --help'.\n";
  return kExitUsage;
}

}  // namespace vnetctl
