#include "daemon/service/request_errors.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace vnet {
namespace {

namespace gx = grpc::experimental;

// What gRPC answers for a request it could not parse: the synchronous server INTERNAL, the
// callback API UNIMPLEMENTED, both with an empty message.
bool IsParseFailure(const grpc::Status& status) {
  return status.error_message().empty() && (status.error_code() == grpc::StatusCode::INTERNAL ||
                                            status.error_code() == grpc::StatusCode::UNIMPLEMENTED);
}

class RequestErrorInterceptor final : public gx::Interceptor {
 public:
  explicit RequestErrorInterceptor(const char* method) : method_(method != nullptr ? method : "") {}

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparsable_ = true;
    }
    if (methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::PRE_SEND_STATUS) &&
        unparsable_ && IsParseFailure(methods->GetSendStatus())) {
      methods->ModifySendStatus(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("the request to ", method_,
                       " could not be parsed: a string field holds invalid UTF-8, or the "
                       "message is malformed")));
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  bool unparsable_ = false;
};

class RequestErrorInterceptorFactory final : public gx::ServerInterceptorFactoryInterface {
 public:
  gx::Interceptor* CreateServerInterceptor(gx::ServerRpcInfo* info) override {
    return new RequestErrorInterceptor(info->method());
  }
};

}  // namespace

std::unique_ptr<gx::ServerInterceptorFactoryInterface> NewRequestErrorInterceptorFactory() {
  return std::make_unique<RequestErrorInterceptorFactory>();
}

}  // namespace vnet
