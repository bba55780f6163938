// vnetctl monitor: drop events as the fast path reports them, one line each (like
// `cilium monitor`), from MonitorService.WatchDrops.
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "cli/command.h"
#include "cli/frame_decode.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "vnet/abi.h"
#include "vnet/v1/context.grpc.pb.h"
#include "vnet/v1/monitor.grpc.pb.h"

namespace vnetctl {
namespace {

namespace v1 = vnet::v1;
using google::protobuf::util::TimeUtil;

// Bytes of the frame shown as hex on a table line (all of them in JSON).
constexpr size_t kHexOnLine = 32;

std::string TimeText(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%H:%M:%E6S", absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(t)),
                          absl::LocalTimeZone());
}

void PrintLine(const v1::DropEvent& ev) {
  std::cout << TimeText(ev.time()) << " ctx " << ev.context_id() << " "
            << (ev.interface_name().empty() ? absl::StrCat("if", ev.ifindex())
                                            : ev.interface_name())
            << " " << ev.direction() << " " << ev.reason() << " len " << ev.frame_length() << ": "
            << DescribeFrame(ev.frame_head()) << " | " << HexBytes(ev.frame_head(), kHexOnLine)
            << (ev.frame_head().size() > kHexOnLine ? " ..." : "");
  if (ev.lost_before() != 0) std::cout << " (" << ev.lost_before() << " lost before)";
  std::cout << std::endl;
}

// One JSON object per line: the event (frame_head in base64, as protobuf's JSON has it)
// plus the hex and the decode, so scripts need not parse frames.
void PrintJsonLine(const v1::DropEvent& ev) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(ev, &json, options);
  if (!json.empty() && json.back() == '}') json.pop_back();
  const std::string summary =
      absl::StrReplaceAll(DescribeFrame(ev.frame_head()), {{"\\", "\\\\"}, {"\"", "\\\""}});
  std::cout << json << ",\"frame_head_hex\":\"" << HexBytes(ev.frame_head(), SIZE_MAX)
            << "\",\"summary\":\"" << summary << "\"}" << std::endl;
}

std::string ReasonNames() {
  std::vector<std::string> names;
  for (unsigned r = 1; r < VNET_DROP_MAX; ++r) names.emplace_back(vnet_drop_reason_name(r));
  return absl::StrJoin(names, ", ");
}

struct BadInput {
  std::string message;
};

// A context id, or a guest interface name looked up through vnetd.
uint32_t ContextIdOf(const std::string& value, Session& session) {
  uint32_t id = 0;
  if (absl::SimpleAtoi(value, &id)) return id;
  if (value.empty() || value[0] == '-') {
    throw BadInput{absl::StrCat("--context: '", value, "' is not a context id or interface")};
  }
  v1::GetContextRequest req;
  req.mutable_ref()->set_interface_name(value);
  v1::Context resp;
  auto call = session.NewCall();
  grpc::Status status =
      v1::ContextService::NewStub(session.channel())->GetContext(call.get(), req, &resp);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND ||
      status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    throw BadInput{absl::StrCat("--context: no context on interface '", value, "'")};
  }
  if (!status.ok()) throw status;
  return resp.id();
}

int RunMonitor(const ParsedArgs& args, Session& session) {
  const std::string path = "monitor";
  if (!args.positionals.empty()) {
    return UsageError(path, absl::StrCat("unexpected argument '", args.positionals[0], "'"));
  }
  v1::WatchDropsRequest req;
  if (auto count = args.Get("count")) {
    uint32_t n = 0;
    if (!absl::SimpleAtoi(*count, &n) || n == 0) {
      return UsageError(path, absl::StrCat("--count: '", *count, "' is not a positive number"));
    }
    req.set_max_events(n);
  }
  double seconds = 0;
  if (auto duration = args.Get("duration")) {
    if (!absl::SimpleAtod(*duration, &seconds) || !(seconds > 0) || seconds > 1e9) {
      return UsageError(
          path, absl::StrCat("--duration: '", *duration, "' is not a positive number of seconds"));
    }
    *req.mutable_max_duration() =
        TimeUtil::NanosecondsToDuration(static_cast<int64_t>(seconds * 1e9));
  }
  // vnetd validates the names too (it is the authority for other clients); checked here
  // first so that a typo is a usage error even before vnetd is reached.
  for (const std::string& reason : args.GetAll("reason")) {
    bool known = false;
    for (unsigned r = 1; r < VNET_DROP_MAX && !known; ++r)
      known = reason == vnet_drop_reason_name(r);
    if (!known) {
      return UsageError(path, absl::StrCat("--reason: '", reason, "' is not a drop reason; one of ",
                                           ReasonNames()));
    }
    req.add_reasons(reason);
  }
  try {
    for (const std::string& ctx : args.GetAll("context"))
      req.add_context_ids(ContextIdOf(ctx, session));
  } catch (const BadInput& bad) {
    return UsageError(path, bad.message);
  } catch (const grpc::Status& status) {
    return session.Refused(status);
  }

  // A stream has no per-call timeout: it runs until --count, --duration or Ctrl-C. With
  // --duration, vnetd ends it; the deadline only guards against a vnetd that does not.
  grpc::ClientContext call;
  if (seconds > 0) {
    call.set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000) + 10000));
  }
  auto reader = v1::MonitorService::NewStub(session.channel())->WatchDrops(&call, req);
  v1::DropEvent ev;
  while (reader->Read(&ev)) {
    if (session.format() == OutputFormat::kJson) {
      PrintJsonLine(ev);
    } else {
      PrintLine(ev);
    }
  }
  grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return UsageError(path, status.error_message());
  }
  if (!status.ok()) return session.Refused(status);
  return kExitOk;
}

}  // namespace

Command MonitorCommand() {
  return {"monitor",
          "drop events: which frames the fast path dropped, and why (Ctrl-C to stop)",
          "",
          {{"context", "ID|IFACE", "only this context (id or guest interface); repeatable", true},
           {"reason", "NAME", "only this drop reason; repeatable; reasons: " + ReasonNames(), true},
           {"count", "N", "stop after N events"},
           {"duration", "SECONDS", "stop after this long"}},
          RunMonitor,
          {}};
}

}  // namespace vnetctl
