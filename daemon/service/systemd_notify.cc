#include "daemon/service/systemd_notify.h"

#include <grpcpp/channel.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/channel_arguments.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "daemon/core/log.h"

namespace vnet {

bool SdNotify(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if (len >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  const ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                              reinterpret_cast<const sockaddr*>(&addr), addr_len);
  close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

absl::Duration WatchdogInterval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  uint64_t value = 0;
  if (usec == nullptr || !absl::SimpleAtoi(usec, &value) || value == 0) return absl::ZeroDuration();
  // WATCHDOG_PID, when set, names the process systemd means (not a child it forked).
  if (const char* pid = std::getenv("WATCHDOG_PID")) {
    int64_t wanted = 0;
    if (!absl::SimpleAtoi(pid, &wanted) || wanted != getpid()) return absl::ZeroDuration();
  }
  return absl::Microseconds(value);
}

bool ProbeHealth(const std::string& target, absl::Duration timeout) {
  grpc::ChannelArguments args;
  // A connection of its own (no subchannel shared with another channel): the point is to go
  // through accept() every time.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  grpc::GenericStub stub(channel);
  grpc::ClientContext call;
  call.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::CompletionQueue cq;
  grpc::ByteBuffer request;  // HealthCheckRequest{service: ""} is the empty message
  grpc::Slice empty;
  request = grpc::ByteBuffer(&empty, 1);
  auto rpc = stub.PrepareUnaryCall(&call, "/grpc.health.v1.Health/Check", request, &cq);
  rpc->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  rpc->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  const bool got = cq.Next(&tag, &ok);
  cq.Shutdown();
  void* drained_tag = nullptr;
  bool drained_ok = false;
  while (cq.Next(&drained_tag, &drained_ok)) {
  }
  if (!got || !ok || !status.ok()) return false;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse{status: SERVING}: field 1, varint 1.
  return bytes == std::string("\x08\x01", 2);
}

Watchdog::Watchdog(std::string target, absl::Duration interval)
    : target_(std::move(target)), interval_(interval), thread_([this] { Run(); }) {}

Watchdog::~Watchdog() {
  stop_.Notify();
  thread_.join();
}

void Watchdog::Run() {
  const absl::Duration period = interval_ / 2;
  bool failing = false;
  do {
    if (ProbeHealth(target_, std::max(period / 2, absl::Milliseconds(100)))) {
      SdNotify("WATCHDOG=1");
      if (failing) LogInfo("watchdog: %s answers again", target_);
      failing = false;
    } else if (!failing) {
      LogError("watchdog: %s does not answer a health check; not feeding systemd's watchdog",
               target_);
      failing = true;
    }
  } while (!stop_.WaitForNotificationWithTimeout(period));
}

}  // namespace vnet
