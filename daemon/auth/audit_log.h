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
#include "absl/time/time.h"
#include "google/protobuf/message.h"

namespace vnet::auth {

inline constexpr size_t kMaxAuditLineBytes = 1024;
inline constexpr off_t kMaxAuditFileBytes = off_t{16} << 20;  // then audit.log -> audit.log.1
// Refusals (calls the role gate refused, connections from callers in no vnetd group) are
// lines too, but anyone who may connect can make them in a loop and rotate the real lines
// away: at most `lines` per `window` are written, and the next line after the window says
// how many were not. Calls that ran (by a caller with the role) are always written.
struct RefusalBudget {
  uint32_t lines = 600;
  absl::Duration window = absl::Minutes(1);
};

class AuditLog {
 public:
  // `path` "-" writes to vnetd's own log (the journal under systemd); anything else is a
  // file, appended to and rotated to PATH.1 when it reaches kMaxAuditFileBytes.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path,
                                                        RefusalBudget budget = {});
  ~AuditLog();

  // One line: time, identity, method, the request's key fields, status code (and message
  // when refused). Thread-safe.
  void Record(absl::string_view identity, absl::string_view method, absl::string_view fields,
              const grpc::Status& result);

  // The same line for a call the role gate refused, within the refusal budget. Thread-safe.
  void RecordRefusal(absl::string_view identity, absl::string_view method,
                     const grpc::Status& result);

  // One line per connection accepted on the Unix socket: the caller's uid, gid and pid, and
  // `identity`, the name its calls' lines carry (the role rule: gRPC hands the calls no
  // per-connection identity). Thread-safe.
  // `has_role` false: a refusal, within the refusal budget. Returns whether the line was
  // written (or went over budget: false).
  bool RecordUnixConnection(uid_t uid, gid_t gid, pid_t pid, absl::string_view identity,
                            bool has_role);

 private:
  AuditLog(std::string path, RefusalBudget budget) : path_(std::move(path)), budget_(budget) {}
  void WriteLine(const std::string& line);
  // Whether a refusal's line fits this window's budget (counts it if not).
  bool TakeRefusalLine();
  // Once the window is over, opens the next one and writes how many refusals the ended one
  // left out, if any. Every Record* calls it first.
  void ReportLeftOut();

  const std::string path_;
  absl::Mutex mu_;
  FILE* file_ ABSL_GUARDED_BY(mu_) = nullptr;
  const RefusalBudget budget_;
  absl::Mutex budget_mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(budget_mu_) = absl::InfinitePast();
  uint32_t refusals_in_window_ ABSL_GUARDED_BY(budget_mu_) = 0;
  uint64_t left_out_ ABSL_GUARDED_BY(budget_mu_) = 0;  // in the current window
  bool failing_ ABSL_GUARDED_BY(mu_) = false;          // the last write failed (logged once)
};

// The key fields of a request, as "domain=5 device=0 interface=vif5.0": the ids, device
// and interface names found in it (SetUplink's interface as uplink=).
std::string KeyFields(absl::string_view method, const google::protobuf::Message& request);

// Records every call whose method the role table marks audited, with the identity the role
// gate attached to the connection.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewAuditInterceptorFactory(
    AuditLog* log);

}  // namespace vnet::auth
