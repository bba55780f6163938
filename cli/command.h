// vnetctl's command tree and what every command gets: a channel to vnetd, the output
// format, and the exit-code conventions (0 ok, 1 refused by the server, 2 usage).
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "google/protobuf/message.h"

namespace vnetctl {

enum ExitCode { kExitOk = 0, kExitRefused = 1, kExitUsage = 2 };
enum class OutputFormat { kTable, kJson };

class Session {
 public:
  // `credentials` null: plaintext (the Unix socket, or TCP on loopback).
  Session(std::string target, OutputFormat format, int timeout_seconds,
          std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

  std::shared_ptr<grpc::Channel> channel();
  // A ClientContext with the session's deadline.
  std::unique_ptr<grpc::ClientContext> NewCall() const;
  OutputFormat format() const { return format_; }
  const std::string& target() const { return target_; }

  // Prints the server's refusal on stderr; returns kExitRefused.
  int Refused(const grpc::Status& status) const;
  // Prints `message` as JSON (snake_case field names, defaults included) on stdout.
  static void PrintJson(const google::protobuf::Message& message);

 private:
  std::string target_;
  OutputFormat format_;
  int timeout_seconds_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::shared_ptr<grpc::Channel> channel_;
};

struct Command {
  std::string name;
  std::string summary;
  std::string arguments;  // e.g. "[ID]" for the usage line
  std::vector<OptionSpec> options;
  std::function<int(const ParsedArgs&, Session&)> run;  // empty for a group
  std::vector<Command> subcommands;
};

// Prints "vnetctl: <message>" and a hint to stderr; returns kExitUsage.
int UsageError(const std::string& path, const std::string& message);

// Command groups, each defined in its own file.
Command ContextCommand();
Command MonitorCommand();
Command StatusCommand();
Command UplinkCommand();

}  // namespace vnetctl
