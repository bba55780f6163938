// vnetd's Unix socket, accepted by vnetd itself so it can read each caller's peer
// credentials: the connection then goes to gRPC through the acceptor of the caller's role,
// whose role gate answers for it. gRPC alone cannot tell who is on a Unix socket.
#pragma once

#include <grpcpp/server_builder.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "daemon/auth/audit_log.h"
#include "daemon/auth/role_gate.h"
#include "daemon/auth/unix_peer.h"
#include "vnet/v1/daemon.pb.h"

namespace vnet::auth {

class UnixListener {
 public:
  // Binds `path` (owner-only while binding, then mode 0660 and group `socket_group`) and
  // registers one gRPC acceptor per role rule on `builder`, before the server is built.
  static absl::StatusOr<std::unique_ptr<UnixListener>> Create(const std::string& path,
                                                              const v1::UnixSocketAccess& access,
                                                              AuditLog* audit,
                                                              grpc::ServerBuilder* builder);
  ~UnixListener();  // stops accepting; the socket file is removed

  // Starts accepting; call once the gRPC server runs.
  void Start();
  void Stop();

 private:
  UnixListener(std::string path, UnixRoleGroups groups, int listen_fd, int wake_fd, AuditLog* audit)
      : path_(std::move(path)),
        groups_(groups),
        listen_fd_(listen_fd),
        wake_fd_(wake_fd),
        audit_(audit) {}
  void AcceptLoop();
  void HandOver(int fd);

  struct Door {
    std::string identity;  // what the audit lines of its calls name
    std::shared_ptr<RoleGate> gate;
    std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor;
  };

  const std::string path_;
  const UnixRoleGroups groups_;
  int listen_fd_;
  int wake_fd_;                        // eventfd: wakes the accept loop to stop
  AuditLog* audit_;                    // not owned; null: no audit lines
  std::map<std::string, Door> doors_;  // by UnixRole::because
  std::thread thread_;
};

}  // namespace vnet::auth
