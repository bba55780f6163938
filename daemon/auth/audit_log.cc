#include "daemon/auth/audit_log.h"

#include <grpcpp/server_context.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/auth/method_roles.h"
#include "daemon/auth/role_gate.h"
#include "daemon/core/echo.h"
#include "daemon/core/log.h"

namespace vnet::auth {
namespace {

namespace gx = grpc::experimental;
namespace pb = google::protobuf;

constexpr size_t kMaxFieldEcho = 64;
constexpr size_t kMaxMessageEcho = 256;

// "uid 0" stays readable; anything with spaces or quotes is quoted.
std::string Quote(absl::string_view value, size_t max = kMaxFieldEcho) {
  std::string cut = Echo(value, max);
  if (!cut.empty() && cut.find_first_of(" \"\\=") == std::string::npos) return cut;
  std::string quoted = "\"";
  for (char c : cut) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += (c == '\n' ? ' ' : c);
  }
  return quoted + "\"";
}

// The audit name of a request field, or "" for a field that is not a key.
absl::string_view KeyName(absl::string_view method, const pb::FieldDescriptor& field) {
  const std::string& name = field.name();
  const std::string& owner = field.containing_type()->full_name();
  if (name == "domain_id") return "domain";
  if (name == "device_id") return "device";
  if (name == "context_id") return "context";
  if (name == "region_id") return "region";
  if (name == "interface_name") {
    return method == "/vnet.v1.DaemonService/SetUplink" ? "uplink" : "interface";
  }
  if (name == "id" && (owner == "vnet.v1.ContextRef" || owner == "vnet.v1.Context")) {
    return "context";
  }
  if (name == "id" && owner == "vnet.v1.Region") return "region";
  return "";
}

void CollectKeys(absl::string_view method, const pb::Message& message, int depth,
                 std::vector<std::string>* out) {
  const pb::Reflection* reflection = message.GetReflection();
  const pb::Descriptor* type = message.GetDescriptor();
  for (int i = 0; i < type->field_count(); ++i) {
    const pb::FieldDescriptor* field = type->field(i);
    if (field->is_repeated()) continue;
    // Unset fields are left out, but for ids, where 0 is a value (dom0, device 0).
    const bool is_id = field->name() == "domain_id" || field->name() == "device_id";
    if (!reflection->HasField(message, field) &&
        (!is_id || field->real_containing_oneof() != nullptr)) {
      continue;
    }
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (depth < 3) CollectKeys(method, reflection->GetMessage(message, field), depth + 1, out);
      continue;
    }
    const absl::string_view key = KeyName(method, *field);
    if (key.empty()) continue;
    std::string value;
    switch (field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        value = absl::StrCat(reflection->GetUInt32(message, field));
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        value = absl::StrCat(reflection->GetUInt64(message, field));
        break;
      case pb::FieldDescriptor::CPPTYPE_INT32:
        value = absl::StrCat(reflection->GetInt32(message, field));
        break;
      case pb::FieldDescriptor::CPPTYPE_STRING:
        value = Quote(reflection->GetString(message, field));
        break;
      default:
        continue;
    }
    out->push_back(absl::StrCat(key, "=", value));
  }
}

std::string IdentityOf(const grpc::ServerContextBase& context) {
  auto auth = context.auth_context();
  if (auth != nullptr) {
    auto values = auth->FindPropertyValues(kIdentityProperty);
    if (!values.empty()) return std::string(values.front().data(), values.front().size());
  }
  return "unknown";
}

class AuditInterceptor final : public gx::Interceptor {
 public:
  AuditInterceptor(AuditLog* log, gx::ServerRpcInfo* info) : log_(log), info_(info) {}

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr && fields_.empty()) {
      // The synchronous server hands the typed request, a protobuf message.
      fields_ =
          KeyFields(info_->method(), *static_cast<const pb::Message*>(methods->GetRecvMessage()));
    }
    if (methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::PRE_SEND_STATUS)) {
      log_->Record(IdentityOf(*info_->server_context()), info_->method(), fields_,
                   methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  AuditLog* log_;
  gx::ServerRpcInfo* info_;
  std::string fields_;
};

class AuditInterceptorFactory final : public gx::ServerInterceptorFactoryInterface {
 public:
  explicit AuditInterceptorFactory(AuditLog* log) : log_(log) {}
  gx::Interceptor* CreateServerInterceptor(gx::ServerRpcInfo* info) override {
    const MethodRule* rule = FindMethodRule(info->method() != nullptr ? info->method() : "");
    if (rule == nullptr || !rule->audited) return nullptr;
    return new AuditInterceptor(log_, info);
  }

 private:
  AuditLog* log_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path,
                                                         RefusalBudget budget) {
  std::unique_ptr<AuditLog> log(new AuditLog(path, budget));
  if (path == "-") return log;
  absl::MutexLock lock(&log->mu_);
  log->file_ = std::fopen(path.c_str(), "ae");
  if (log->file_ == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("audit log ", path));
  }
  chmod(path.c_str(), 0640);
  return log;
}

AuditLog::~AuditLog() {
  absl::MutexLock lock(&mu_);
  if (file_ != nullptr) std::fclose(file_);
}

namespace {

std::string Timestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string CallLine(absl::string_view identity, absl::string_view method, absl::string_view fields,
                     const grpc::Status& result) {
  std::string line =
      absl::StrCat(Timestamp(absl::Now()), " identity=", Quote(identity), " method=", method);
  if (!fields.empty()) absl::StrAppend(&line, " ", fields);
  absl::StrAppend(&line, " result=", static_cast<int>(result.error_code()));
  if (!result.ok())
    absl::StrAppend(&line, " message=", Quote(result.error_message(), kMaxMessageEcho));
  if (line.size() > kMaxAuditLineBytes) line = Echo(line, kMaxAuditLineBytes);
  return line;
}

}  // namespace

bool AuditLog::TakeRefusalLine() {
  absl::MutexLock lock(&budget_mu_);
  if (refusals_in_window_ < budget_.lines) {
    ++refusals_in_window_;
    return true;
  }
  ++left_out_;
  return false;
}

void AuditLog::ReportLeftOut() {
  uint64_t left_out = 0;
  absl::Time began;
  {
    absl::MutexLock lock(&budget_mu_);
    const absl::Time now = absl::Now();
    if (now - window_start_ < budget_.window) return;
    left_out = std::exchange(left_out_, 0);
    began = std::exchange(window_start_, now);
    refusals_in_window_ = 0;
  }
  if (left_out == 0) return;
  WriteLine(absl::StrCat(Timestamp(absl::Now()), " refusals_not_logged=", left_out,
                         " since=", Timestamp(began), " reason=\"over ", budget_.lines,
                         " refusals in ", absl::FormatDuration(budget_.window), "\""));
}

void AuditLog::RecordRefusal(absl::string_view identity, absl::string_view method,
                             const grpc::Status& result) {
  ReportLeftOut();
  if (TakeRefusalLine()) WriteLine(CallLine(identity, method, "", result));
}

void AuditLog::Record(absl::string_view identity, absl::string_view method,
                      absl::string_view fields, const grpc::Status& result) {
  ReportLeftOut();
  WriteLine(CallLine(identity, method, fields, result));
}

bool AuditLog::RecordUnixConnection(uid_t uid, gid_t gid, pid_t pid, absl::string_view identity,
                                    bool has_role) {
  ReportLeftOut();
  if (!has_role && !TakeRefusalLine()) return false;
  WriteLine(absl::StrCat(Timestamp(absl::Now()), " connection=unix uid=", uid, " gid=", gid,
                         " pid=", pid, " identity=", Quote(identity)));
  return true;
}

void AuditLog::WriteLine(const std::string& line) {
  if (path_ == "-") {
    LogInfo("audit: %s", line);
    return;
  }
  absl::MutexLock lock(&mu_);
  if (file_ == nullptr) return;
  struct stat st {};
  if (fstat(fileno(file_), &st) == 0 && st.st_size >= kMaxAuditFileBytes) {
    std::fclose(file_);
    const std::string old = path_ + ".1";
    if (std::rename(path_.c_str(), old.c_str()) != 0) {
      LogWarning("audit log: cannot rotate %s: %s", path_, std::strerror(errno));
    }
    file_ = std::fopen(path_.c_str(), "ae");
    if (file_ == nullptr) {
      LogError("audit log: cannot reopen %s: %s", path_, std::strerror(errno));
      return;
    }
    chmod(path_.c_str(), 0640);
  }
  // A line that cannot be written (a full disk) is lost: say so in vnetd's log, once per
  // run of failures, so a gap in the audit log is never silent.
  const bool written = std::fputs(line.c_str(), file_) != EOF && std::fputc('\n', file_) != EOF &&
                       std::fflush(file_) == 0;
  if (!written && !failing_) {
    LogError("audit log: cannot write %s: %s; audit lines are lost until it can", path_,
             std::strerror(errno));
  } else if (written && failing_) {
    LogInfo("audit log: writing %s again", path_);
  }
  failing_ = !written;
  if (!written) clearerr(file_);
}

std::string KeyFields(absl::string_view method, const pb::Message& request) {
  std::vector<std::string> keys;
  CollectKeys(method, request, 0, &keys);
  return absl::StrJoin(keys, " ");
}

std::unique_ptr<gx::ServerInterceptorFactoryInterface> NewAuditInterceptorFactory(AuditLog* log) {
  return std::make_unique<AuditInterceptorFactory>(log);
}

}  // namespace vnet::auth
