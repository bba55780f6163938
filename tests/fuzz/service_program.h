// A fuzz input read as a short program of API calls: each call is one byte choosing the
// operation, two bytes (little-endian) of length, and that many bytes of request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "google/protobuf/message.h"

namespace vnet::fuzz {

enum class Op : uint8_t {
  kAssign,
  kRelease,
  kGet,
  kList,
  kUpdate,
  kRegisterRegion,
  kUnregisterRegion,
  kListRegions,
  kValidate,
  kComplete,
  kStreamDescriptors,
  kGetStatus,
  kSetUplink,
  kGetContextStats,
  kWatchDrops,
  // Not a method: completes the cookies the last ValidateDescriptors answer gave (the
  // request's first byte names the context), which the fuzzer could not guess.
  kCompleteLastValidated,
  kCount,
};

struct MethodInfo {
  const char* path;  // "/package.Service/Method"
  bool streaming;
};
// The method an operation calls; kCompleteLastValidated calls CompleteDescriptors.
MethodInfo MethodOf(Op op);

struct Call {
  Op op;
  std::string request;
};

// Most calls one input makes.
inline constexpr size_t kMaxCalls = 16;

std::vector<Call> DecodeProgram(const uint8_t* data, size_t size);

// Appends a call to a program (the seeds are written with it).
void AppendCall(Op op, const google::protobuf::Message& request, std::string* program);
void AppendCall(Op op, const std::string& request, std::string* program);

}  // namespace vnet::fuzz
