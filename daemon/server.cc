#include "daemon/server.h"

#include <fcntl.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/core/context_registry.h"
#include "daemon/core/log.h"
#include "daemon/service/context_service.h"
#include "daemon/service/daemon_service.h"

namespace vnet {
namespace {

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

absl::Status EnsureDir(const std::string& dir, mode_t mode) {
  std::string partial;
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (!partial.empty() && mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", partial));
    }
  }
  return absl::OkStatus();
}

// One daemon per state directory: a second one would fight over the state file and pins.
absl::StatusOr<int> LockStateDir(const std::string& dir) {
  if (auto s = EnsureDir(dir, 0750); !s.ok()) return s;
  const std::string path = dir + "/vnetd.lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("another vnetd holds ", path, ": one daemon per state directory"));
  }
  return fd;
}

// A socket file left by a daemon that died would make bind fail.
absl::Status PrepareUnixSocket(const std::string& path) {
  if (auto s = EnsureDir(DirName(path), 0755); !s.ok()) return s;
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a socket"));
    }
    unlink(path.c_str());
  }
  return absl::OkStatus();
}

int WaitForStopSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace

absl::Status RunDaemon(const DaemonOptions& options) {
  const v1::DaemonConfig& config = options.config;
  // Block the stop signals before any thread starts, so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto lock_fd = LockStateDir(config.state_dir());
  if (!lock_fd.ok()) return lock_fd.status();

  NoDataplane no_dataplane;
  Dataplane* dataplane = &no_dataplane;

  ContextRegistry registry(config.capacity(), StateFile(config.state_dir()), dataplane);
  if (auto s = registry.Start(); !s.ok()) return s;

  std::vector<std::string> listen_addresses;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (!config.unix_socket().empty()) {
    if (auto s = PrepareUnixSocket(config.unix_socket()); !s.ok()) return s;
    listen_addresses.push_back("unix:" + config.unix_socket());
  }
  if (!config.tcp_address().empty()) listen_addresses.push_back(config.tcp_address());
  // Local sockets and an explicitly configured TCP address; no credentials on the wire
  // yet, so the TCP listener is for loopback or a management network only.
  std::vector<int> bound_ports(listen_addresses.size(), 0);
  for (size_t i = 0; i < listen_addresses.size(); ++i) {
    builder.AddListeningPort(listen_addresses[i], grpc::InsecureServerCredentials(),
                             &bound_ports[i]);
  }

  ContextServiceImpl context_service(&registry);
  DaemonServiceImpl daemon_service(config, listen_addresses, &registry, dataplane);
  builder.RegisterService(&context_service);
  builder.RegisterService(&daemon_service);

  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return absl::UnavailableError("gRPC server failed to start");
  for (size_t i = 0; i < listen_addresses.size(); ++i) {
    if (bound_ports[i] == 0) {
      server->Shutdown();
      return absl::UnavailableError(absl::StrCat("cannot listen on ", listen_addresses[i]));
    }
  }
  if (!config.unix_socket().empty() && chmod(config.unix_socket().c_str(), 0660) != 0) {
    LogWarning("cannot chmod %s: %s", config.unix_socket(), std::strerror(errno));
  }
  LogInfo("vnetd %s listening on %s; %d of %d contexts in use; fast path: %s", VNET_VERSION,
          absl::StrJoin(listen_addresses, ", "), registry.size(), registry.capacity(),
          dataplane->Describe());

  const int sig = WaitForStopSignal();
  LogInfo("signal %d: finishing in-flight calls", sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server->Wait();
  if (auto s = registry.Persist(); !s.ok()) {
    LogError("final persist failed: %s", s.ToString());
    return s;
  }
  if (!config.unix_socket().empty()) unlink(config.unix_socket().c_str());
  close(*lock_fd);
  LogInfo("stopped; state saved in %s", config.state_dir());
  return absl::OkStatus();
}

}  // namespace vnet
