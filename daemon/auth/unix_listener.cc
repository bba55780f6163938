#include "daemon/auth/unix_listener.h"

#include <grpcpp/security/server_credentials.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "daemon/core/log.h"

namespace vnet::auth {
namespace {

absl::StatusOr<int> BindSocket(const std::string& path, std::optional<gid_t> group) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("unix_socket: ", path, " is too long"));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  // Owner-only from the moment it exists, whatever the umask; opened to the group after.
  const mode_t old_umask = umask(0177);
  const int bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  umask(old_umask);
  if (bound != 0) {
    close(fd);
    return absl::ErrnoToStatus(bind_errno, absl::StrCat("cannot bind ", path));
  }
  if (group.has_value() && chown(path.c_str(), static_cast<uid_t>(-1), *group) != 0) {
    LogWarning("cannot give %s to group %d: %s", path, *group, std::strerror(errno));
  }
  if (chmod(path.c_str(), 0660) != 0) {
    LogWarning("cannot chmod %s: %s", path, std::strerror(errno));
  }
  if (listen(fd, SOMAXCONN) != 0) {
    const int err = errno;
    close(fd);
    unlink(path.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat("cannot listen on ", path));
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Create(
    const std::string& path, const v1::UnixSocketAccess& access, AuditLog* audit,
    grpc::ServerBuilder* builder) {
  auto groups = ResolveRoleGroups(access);
  if (!groups.ok()) return groups.status();
  std::optional<gid_t> socket_group;
  if (!access.socket_group().empty()) {
    auto gid = ResolveGroup(access.socket_group());
    if (!gid.ok()) return gid.status();
    socket_group = *gid;
  }
  auto listen_fd = BindSocket(path, socket_group);
  if (!listen_fd.ok()) return listen_fd.status();
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    close(*listen_fd);
    return absl::ErrnoToStatus(errno, "eventfd");
  }
  std::unique_ptr<UnixListener> self(new UnixListener(path, *groups, *listen_fd, wake_fd, audit));

  // One door per rule of RoleOfPeer, in its order (a gid named twice keeps the first role).
  std::vector<std::pair<std::string, Role>> rules = {{"uid 0", Role::kAdmin}};
  if (groups->admin) rules.emplace_back(absl::StrCat("group ", *groups->admin), Role::kAdmin);
  if (groups->op) rules.emplace_back(absl::StrCat("group ", *groups->op), Role::kOperator);
  if (groups->reader) rules.emplace_back(absl::StrCat("group ", *groups->reader), Role::kReader);
  rules.emplace_back("no vnetd group", Role::kNone);
  for (const auto& [because, role] : rules) {
    if (self->doors_.count(because) != 0) continue;
    Door door;
    door.identity = absl::StrCat("unix ", because, " (", RoleName(role), ")");
    door.gate = std::make_shared<RoleGate>(FixedCaller({door.identity, role}), audit);
    auto credentials = grpc::experimental::LocalServerCredentials(UDS);
    credentials->SetAuthMetadataProcessor(door.gate);
    door.acceptor = builder->experimental().AddExternalConnectionAcceptor(
        grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, credentials);
    self->doors_.emplace(because, std::move(door));
  }
  return self;
}

UnixListener::~UnixListener() {
  Stop();
  close(listen_fd_);
  close(wake_fd_);
  unlink(path_.c_str());
}

void UnixListener::Start() {
  thread_ = std::thread([this] { AcceptLoop(); });
}

void UnixListener::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  thread_.join();
}

void UnixListener::AcceptLoop() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) {
      LogError("unix socket %s: poll: %s", path_, std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      HandOver(fd);
    } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Out of descriptors: the pending connection waits in the backlog; try again soon
      // rather than spin.
      LogWarning("unix socket %s: accept: %s", path_, std::strerror(errno));
      poll(&fds[1], 1, 100);
      if (fds[1].revents != 0) return;
    }
  }
}

void UnixListener::HandOver(int fd) {
  auto peer = ReadPeerCredentials(fd);
  if (!peer.ok()) {
    LogWarning("unix socket %s: %s; connection closed", path_, peer.status().message());
    close(fd);
    return;
  }
  const UnixRole role = RoleOfPeer(*peer, groups_);
  auto door = doors_.find(role.because);
  if (door == doors_.end()) {  // cannot happen: Create made a door for every rule
    close(fd);
    return;
  }
  // vnetd's own watchdog probe (every half WatchdogSec) is no caller: a line each would
  // push real callers' lines out of the rotated log. SO_PEERCRED's pid is the kernel's.
  const bool has_role = role.role != Role::kNone;
  bool noted = true;
  if (audit_ != nullptr && peer->pid != getpid()) {
    noted = audit_->RecordUnixConnection(peer->uid, peer->gid, peer->pid, door->second.identity,
                                         has_role);
  }
  // Its calls will be refused: say who it was, within the audit log's refusal budget (a
  // loop of such connections must not flood vnetd's log either).
  if (!has_role && noted) {
    LogInfo("unix socket: uid %d gid %d pid %d is in no vnetd group: calls refused", peer->uid,
            peer->gid, peer->pid);
  }
  grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters params;
  params.listener_fd = listen_fd_;
  params.fd = fd;  // gRPC owns it from here
  door->second.acceptor->HandleNewConnection(&params);
}

}  // namespace vnet::auth
