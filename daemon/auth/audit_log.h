// The audit log: one line per mutating call (who, what, result). Lines are capped and the
// file is rotated at a fixed size, so it never grows without bound.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/status.h>
#include <sys/types.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/message.h"

namespace vnet::auth {

inline constexpr size_t kMaxAuditLineBytes = 1024;
inline constexpr off_t kMaxAuditFileBytes = off_t{16} << 20;  // then audit.log -> audit.log.1

class AuditLog {
 public:
  // `path` "-" writes to vnetd's own log (the journal under systemd); anything else is a
  // file, appended to and rotated to PATH.1 when it reaches kMaxAuditFileBytes.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path);
  ~AuditLog();

  // One line: time, identity, method, the request's key fields, status code (and message
  // when refused). Thread-safe.
  void Record(absl::string_view identity, absl::string_view method, absl::string_view fields,
              const grpc::Status& result);

  // One line per connection accepted on the Unix socket: the caller's uid, gid and pid, and
  // `identity`, the name its calls' lines carry (the role rule: gRPC hands the calls no
  // per-connection identity). Thread-safe.
  void RecordUnixConnection(uid_t uid, gid_t gid, pid_t pid, absl::string_view identity);

 private:
  explicit AuditLog(std::string path) : path_(std::move(path)) {}
  void WriteLine(const std::string& line);

  const std::string path_;
  absl::Mutex mu_;
  FILE* file_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool failing_ ABSL_GUARDED_BY(mu_) = false;  // the last write failed (logged once)
};

// The key fields of a request, as "domain=5 device=0 interface=vif5.0": the ids, device
// and interface names found in it (SetUplink's interface as uplink=).
std::string KeyFields(absl::string_view method, const google::protobuf::Message& request);

// Records every call whose method the role table marks audited, with the identity the role
// gate attached to the connection.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewAuditInterceptorFactory(
    AuditLog* log);

}  // namespace vnet::auth
