#include "tests/fuzz/service_program.h"

#include <algorithm>

namespace vnet::fuzz {

MethodInfo MethodOf(Op op) {
  switch (op) {
    case Op::kAssign:
      return {"/vnet.v1.ContextService/AssignContext", false};
    case Op::kRelease:
      return {"/vnet.v1.ContextService/ReleaseContext", false};
    case Op::kGet:
      return {"/vnet.v1.ContextService/GetContext", false};
    case Op::kList:
      return {"/vnet.v1.ContextService/ListContexts", false};
    case Op::kUpdate:
      return {"/vnet.v1.ContextService/UpdateContext", false};
    case Op::kRegisterRegion:
      return {"/vnet.v1.BufferService/RegisterRegion", false};
    case Op::kUnregisterRegion:
      return {"/vnet.v1.BufferService/UnregisterRegion", false};
    case Op::kListRegions:
      return {"/vnet.v1.BufferService/ListRegions", false};
    case Op::kValidate:
      return {"/vnet.v1.BufferService/ValidateDescriptors", false};
    case Op::kComplete:
    case Op::kCompleteLastValidated:
      return {"/vnet.v1.BufferService/CompleteDescriptors", false};
    case Op::kStreamDescriptors:
      return {"/vnet.v1.BufferService/StreamDescriptors", true};
    case Op::kGetStatus:
      return {"/vnet.v1.DaemonService/GetStatus", false};
    case Op::kSetUplink:
      return {"/vnet.v1.DaemonService/SetUplink", false};
    case Op::kGetContextStats:
      return {"/vnet.v1.StatsService/GetContextStats", false};
    case Op::kWatchDrops:
      return {"/vnet.v1.MonitorService/WatchDrops", true};
    case Op::kCount:
      break;
  }
  return {"", false};
}

std::vector<Call> DecodeProgram(const uint8_t* data, size_t size) {
  std::vector<Call> calls;
  size_t pos = 0;
  while (pos < size && calls.size() < kMaxCalls) {
    const Op op = static_cast<Op>(data[pos++] % static_cast<uint8_t>(Op::kCount));
    size_t length = 0;
    if (pos < size) length = data[pos++];
    if (pos < size) length |= static_cast<size_t>(data[pos++]) << 8;
    length = std::min(length, size - pos);
    calls.push_back({op, std::string(reinterpret_cast<const char*>(data + pos), length)});
    pos += length;
  }
  return calls;
}

void AppendCall(Op op, const std::string& request, std::string* program) {
  program->push_back(static_cast<char>(op));
  program->push_back(static_cast<char>(request.size() & 0xff));
  program->push_back(static_cast<char>((request.size() >> 8) & 0xff));
  program->append(request);
}

void AppendCall(Op op, const google::protobuf::Message& request, std::string* program) {
  AppendCall(op, request.SerializeAsString(), program);
}

}  // namespace vnet::fuzz
