// vnetctl: the operator's command line for vnetd.
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/region_command.h"
#include "cli/stats_command.h"
#include "cli/tls_files.h"

namespace vnetctl {
namespace {

constexpr char kDefaultSocket[] = "/run/vnet/vnetd.sock";

std::vector<OptionSpec> GlobalOptions() {
  return {{"socket", "PATH", "vnetd's Unix socket (default $VNET_SOCKET or /run/vnet/vnetd.sock)"},
          {"address", "HOST:PORT", "reach vnetd over TCP instead"},
          {"o", "FORMAT", "output: table (default) or json"},
          {"output", "FORMAT", "same as -o"},
          {"timeout", "SECONDS", "deadline per call (default 10)"},
          {"tls-ca", "FILE", "with --address: PEM CA that signed vnetd's certificate"},
          {"tls-cert", "FILE", "with --address: this client's PEM certificate (mutual TLS)"},
          {"tls-key", "FILE", "with --address: its PEM private key"}};
}

std::vector<Command> TopLevel() {
  return {ContextCommand(), MonitorCommand(), RegionCommand(), StatusCommand(),
          StatsCommand(),   TopCommand(),     UplinkCommand()};
}

void PrintHelp(const std::string& path, const Command* command,
               const std::vector<Command>& children) {
  std::cout << "Usage: vnetctl " << (path.empty() ? "" : path + " ");
  if (!children.empty()) {
    std::cout << "COMMAND [OPTIONS]\n";
  } else {
    std::cout << "[OPTIONS] " << command->arguments << "\n";
  }
  if (command != nullptr) std::cout << "\n" << command->summary << "\n";
  if (!children.empty()) {
    std::cout << "\nCommands:\n";
    for (const Command& child : children) {
      std::cout << "  " << child.name
                << std::string(child.name.size() < 10 ? 10 - child.name.size() : 1, ' ')
                << child.summary << "\n";
    }
  }
  if (command != nullptr && !command->options.empty()) {
    std::cout << "\nOptions:\n" << DescribeOptions(command->options);
  }
  std::cout << "\nGlobal options:\n" << DescribeOptions(GlobalOptions());
  std::cout << "\nExit status: 0 success, 1 refused by vnetd (or unreachable), 2 usage error.\n";
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Walk down the command tree: options before the command words are global ones.
  const std::vector<Command> tree = TopLevel();
  const std::vector<OptionSpec> globals = GlobalOptions();
  const std::vector<Command>* children = &tree;
  const Command* command = nullptr;
  std::string path;
  std::vector<std::string> rest;
  bool help = false;
  size_t i = 0;
  for (; i < args.size() && !children->empty(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help = true;
      continue;
    }
    if (!arg.empty() && arg[0] == '-') {
      rest.push_back(arg);
      // The next word is this option's value only for a global option that takes one and
      // has none attached (--socket PATH, -o json; not --socket=PATH or -ojson).
      const bool is_long = arg.size() > 2 && arg[1] == '-';
      const std::string name = is_long ? arg.substr(2) : arg.substr(1);
      const bool takes_next = std::any_of(globals.begin(), globals.end(), [&](const OptionSpec& g) {
        return g.name == name && !g.value_name.empty();
      });
      if (takes_next && i + 1 < args.size()) rest.push_back(args[++i]);
      continue;
    }
    auto it = std::find_if(children->begin(), children->end(),
                           [&](const Command& c) { return c.name == arg; });
    if (it == children->end()) {
      return UsageError(path, absl::StrCat("unknown command '", arg, "'"));
    }
    command = &*it;
    path = path.empty() ? command->name : absl::StrCat(path, " ", command->name);
    children = &command->subcommands;
  }
  rest.insert(rest.end(), args.begin() + static_cast<long>(i), args.end());
  if (command == nullptr || !children->empty()) {
    if (help) {
      PrintHelp(path, command, *children);
      return kExitOk;
    }
    return UsageError(path, path.empty() ? "missing command" : "missing subcommand");
  }

  std::vector<OptionSpec> specs = command->options;
  specs.insert(specs.end(), globals.begin(), globals.end());
  std::string error;
  auto parsed = ParseArgs(rest, specs, &error);
  if (!parsed) return UsageError(path, error);
  if (help || parsed->help) {
    PrintHelp(path, command, {});
    return kExitOk;
  }

  std::string format_name = parsed->Get("output").value_or(parsed->Get("o").value_or("table"));
  if (format_name != "table" && format_name != "json") {
    return UsageError(path, absl::StrCat("-o: '", format_name, "' is not table or json"));
  }
  int timeout = 10;
  if (auto t = parsed->Get("timeout"); t && (!absl::SimpleAtoi(*t, &timeout) || timeout <= 0)) {
    return UsageError(path, "--timeout: give a positive number of seconds");
  }
  std::string target;
  if (auto address = parsed->Get("address")) {
    if (parsed->Has("socket")) return UsageError(path, "--socket and --address exclude each other");
    target = *address;
  } else {
    const char* env = std::getenv("VNET_SOCKET");
    target = "unix:" + parsed->Get("socket").value_or(env != nullptr ? env : kDefaultSocket);
  }
  const TlsFiles tls{parsed->Get("tls-ca"), parsed->Get("tls-cert"), parsed->Get("tls-key")};
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (tls.any()) {
    if (!parsed->Has("address")) return UsageError(path, "--tls-* options need --address");
    std::string tls_error;
    credentials = MutualTlsChannelCredentials(tls, &tls_error);
    if (!credentials) return UsageError(path, tls_error);
  }
  for (const char* global :
       {"socket", "address", "o", "output", "timeout", "tls-ca", "tls-cert", "tls-key"})
    parsed->options.erase(global);
  Session session(target, format_name == "json" ? OutputFormat::kJson : OutputFormat::kTable,
                  timeout, credentials);
  return command->run(*parsed, session);
}

}  // namespace
}  // namespace vnetctl

int main(int argc, char** argv) { return vnetctl::Main(argc, argv); }
