#include "daemon/auth/unix_peer.h"

#include <grp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vnet::auth {

absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return absl::ErrnoToStatus(errno, "SO_PEERCRED");
  }
  PeerCredentials peer{cred.uid, cred.gid, cred.pid, {}};
  // SO_PEERGROUPS (Linux 4.13): the supplementary groups the peer had when it connected.
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 2; ++attempt) {
    len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      peer.groups = std::move(groups);
      return peer;
    }
    if (errno != ERANGE) return absl::ErrnoToStatus(errno, "SO_PEERGROUPS");
    groups.resize(len / sizeof(gid_t) + 1);
  }
  return absl::InternalError("SO_PEERGROUPS: group list keeps growing");
}

absl::StatusOr<gid_t> ResolveGroup(const std::string& name_or_gid) {
  if (uint32_t gid = 0; absl::SimpleAtoi(name_or_gid, &gid)) return static_cast<gid_t>(gid);
  std::vector<char> buffer(16384);
  group entry{};
  group* found = nullptr;
  const int err = getgrnam_r(name_or_gid.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("group '", name_or_gid, "' does not exist",
                                            err != 0 ? absl::StrCat(" (errno ", err, ")") : ""));
  }
  return found->gr_gid;
}

absl::StatusOr<UnixRoleGroups> ResolveRoleGroups(const v1::UnixSocketAccess& access) {
  UnixRoleGroups groups;
  const std::pair<const std::string*, std::optional<gid_t>*> fields[] = {
      {&access.admin_group(), &groups.admin},
      {&access.operator_group(), &groups.op},
      {&access.reader_group(), &groups.reader}};
  for (const auto& [name, gid] : fields) {
    if (name->empty()) continue;
    auto resolved = ResolveGroup(*name);
    if (!resolved.ok()) return resolved.status();
    *gid = *resolved;
  }
  return groups;
}

UnixRole RoleOfPeer(const PeerCredentials& peer, const UnixRoleGroups& groups) {
  if (peer.uid == 0) return {Role::kAdmin, "uid 0"};
  auto member = [&peer](const std::optional<gid_t>& gid) {
    return gid.has_value() && (peer.gid == *gid || std::find(peer.groups.begin(), peer.groups.end(),
                                                             *gid) != peer.groups.end());
  };
  if (member(groups.admin)) return {Role::kAdmin, absl::StrCat("group ", *groups.admin)};
  if (member(groups.op)) return {Role::kOperator, absl::StrCat("group ", *groups.op)};
  if (member(groups.reader)) return {Role::kReader, absl::StrCat("group ", *groups.reader)};
  return {Role::kNone, "no vnetd group"};
}

}  // namespace vnet::auth
