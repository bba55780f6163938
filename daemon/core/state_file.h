// Durable storage of the daemon's state as one protobuf text file, replaced atomically:
// write a temporary file, fsync it, rename it over the old one, fsync the directory.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "vnet/v1/daemon.pb.h"

namespace vnet {

class StateFile {
 public:
  explicit StateFile(std::string dir);

  // An absent file is an empty state. A file that cannot be read or parsed is DATA_LOSS
  // (or the errno's code) naming the path; the file is left exactly as it is.
  absl::StatusOr<v1::PersistedState> Load() const;
  // `before_commit`, if given, runs after the new file is written and synced and right
  // before the rename that commits it; an error from it is returned as is and the old
  // file stays.
  absl::Status Save(const v1::PersistedState& state,
                    const std::function<absl::Status()>& before_commit = nullptr) const;

  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

}  // namespace vnet
