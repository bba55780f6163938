// vnetctl uplink set IFACE | uplink clear
#include <iostream>

#include "cli/command.h"
#include "vnet/v1/daemon.grpc.pb.h"

namespace vnetctl {
namespace {

int SendUplink(const std::string& ifname, Session& session) {
  vnet::v1::SetUplinkRequest req;
  req.set_interface_name(ifname);
  vnet::v1::Status resp;
  auto call = session.NewCall();
  grpc::Status status =
      vnet::v1::DaemonService::NewStub(session.channel())->SetUplink(call.get(), req, &resp);
  if (!status.ok()) return session.Refused(status);
  if (session.format() == OutputFormat::kJson) {
    Session::PrintJson(resp);
  } else {
    std::cout << "uplink: " << (resp.uplink().empty() ? "-" : resp.uplink()) << "\n"
              << "fast path: " << resp.fast_path() << "\n";
  }
  return kExitOk;
}

int Set(const ParsedArgs& args, Session& session) {
  if (args.positionals.size() != 1) return UsageError("uplink set", "give one interface name");
  return SendUplink(args.positionals[0], session);
}

int Clear(const ParsedArgs& args, Session& session) {
  if (!args.positionals.empty()) return UsageError("uplink clear", "clear takes no arguments");
  return SendUplink("", session);
}

}  // namespace

Command UplinkCommand() {
  Command group{"uplink", "choose the interface toward the wire", "", {}, nullptr, {}};
  group.subcommands = {
      {"set", "attach the uplink program to IFACE (persisted)", "IFACE", {}, Set, {}},
      {"clear", "detach the uplink", "", {}, Clear, {}},
  };
  return group;
}

}  // namespace vnetctl
