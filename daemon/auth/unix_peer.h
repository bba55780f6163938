// Who is on the other end of a Unix socket (SO_PEERCRED, SO_PEERGROUPS), and the role that
// gives them: uid 0 and the admin group are admin, then the operator and reader groups.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/auth/role.h"
#include "vnet/v1/daemon.pb.h"

namespace vnet::auth {

struct PeerCredentials {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  std::vector<gid_t> groups;  // supplementary groups
};

absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd);

struct UnixRoleGroups {
  std::optional<gid_t> admin;
  std::optional<gid_t> op;
  std::optional<gid_t> reader;
};

// A group name or a numeric gid.
absl::StatusOr<gid_t> ResolveGroup(const std::string& name_or_gid);

// Resolves the configured groups; a group that does not exist is an error.
absl::StatusOr<UnixRoleGroups> ResolveRoleGroups(const v1::UnixSocketAccess& access);

// The role of `peer`, and which rule gave it ("uid 0", "group 42"); kNone when none did.
struct UnixRole {
  Role role = Role::kNone;
  std::string because;
};
UnixRole RoleOfPeer(const PeerCredentials& peer, const UnixRoleGroups& groups);

}  // namespace vnet::auth
