// vnetctl status
#include <iostream>

#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "google/protobuf/util/time_util.h"
#include "vnet/v1/daemon.grpc.pb.h"

namespace vnetctl {
namespace {

int Status(const ParsedArgs& args, Session& session) {
  if (!args.positionals.empty()) return UsageError("status", "status takes no arguments");
  vnet::v1::Status resp;
  auto call = session.NewCall();
  grpc::Status status = vnet::v1::DaemonService::NewStub(session.channel())
                            ->GetStatus(call.get(), vnet::v1::GetStatusRequest(), &resp);
  if (!status.ok()) return session.Refused(status);
  if (session.format() == OutputFormat::kJson) {
    Session::PrintJson(resp);
    return kExitOk;
  }
  std::cout << "vnetd " << resp.version() << "\n"
            << "  started:   " << google::protobuf::util::TimeUtil::ToString(resp.start_time())
            << "\n"
            << "  contexts:  " << resp.contexts_in_use() << " of " << resp.capacity() << " in use\n"
            << "  listening: " << absl::StrJoin(resp.listen_addresses(), ", ") << "\n"
            << "  state:     " << resp.state_dir() << "\n"
            << "  uplink:    " << (resp.uplink().empty() ? "-" : resp.uplink()) << "\n"
            << "  fast path: " << resp.fast_path() << "\n";
  return kExitOk;
}

}  // namespace

Command StatusCommand() { return {"status", "show the daemon's status", "", {}, Status, {}}; }

}  // namespace vnetctl
