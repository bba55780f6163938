// The write discipline of every durable file vnetd keeps (the context state, the buffer
// regions): write a temporary file, fsync it, rename it over the old one, fsync the
// directory. A reader sees the old file or the new one, never a mix, even after a host crash.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace vnet {

// Replaces `dir`/`name` with `data`, creating `dir` if needed. `before_commit`, if given,
// runs after the new file is written and synced, right before the rename that commits it;
// an error from it is returned as is. Any error leaves the old file as it was.
absl::Status WriteFileAtomically(const std::string& dir, const std::string& name,
                                 const std::string& data,
                                 const std::function<absl::Status()>& before_commit = nullptr);

// The whole file; nullopt when it does not exist; an error naming `path` otherwise.
absl::StatusOr<std::optional<std::string>> ReadWholeFile(const std::string& path);

// Removes `dir`/`name` (absent is fine) and syncs the directory, so the removal is durable.
absl::Status RemoveFileDurably(const std::string& dir, const std::string& name);

}  // namespace vnet
