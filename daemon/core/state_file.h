// Durable storage of the daemon's state in one file, `contexts.state`: a snapshot (protobuf
// text, a vnet.v1.PersistedState) followed by a journal of the changes made since.
//
// A change costs what it changes, not the pool's size: a group of changes is appended and
// synced once (fdatasync). When the journal has outgrown the snapshot (or the file needs an
// upgrade or a repair), the next write is a whole new snapshot instead, written atomically
// (temporary file, fsync, rename, directory fsync). The file so stays within about twice
// the state's size and a change costs O(1) amortised.
//
// The journal's lines start with '@', which no snapshot line does; an older vnetd refuses
// such a file as corrupt rather than starting without the changes:
//   @journal                          once, after the snapshot
//   @put <the context, one line of protobuf text>
//   @del <id>
//   @uplink "<interface, C-escaped>"
//   @end <lines> <FNV-1a 64 of the group's lines, hex>
// A group counts only with its @end line and a matching checksum. A crash while a group is
// appended leaves at most an incomplete last group; Load ignores it (none of its callers had
// an answer) and the next write replaces the file with a snapshot. Anything else that does
// not parse is DATA_LOSS naming the file (and the line); the file is left as it is.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vnet/v1/daemon.pb.h"

namespace vnet {

// One group of changes, as the journal records it.
struct StateChanges {
  std::vector<v1::Context> put;       // added or changed, whole
  std::vector<uint32_t> removed;      // ids released
  std::optional<std::string> uplink;  // set when it changed
  bool empty() const { return put.empty() && removed.empty() && !uplink.has_value(); }
};

class StateFile {
 public:
  explicit StateFile(std::string dir);

  // An absent file is an empty state. A file that cannot be read or parsed is DATA_LOSS
  // (or the errno's code) naming the path; the file is left exactly as it is.
  absl::StatusOr<v1::PersistedState> Load();

  // Whether the next write must be a snapshot (Save): no file loaded or written yet, an
  // older format, an incomplete group or a failed append to replace, or a long journal.
  bool NeedsSnapshot() const;

  // Replaces the file with a snapshot of `state`. `before_commit`, if given, runs after the
  // new file is written and synced and right before the rename that commits it; an error
  // from it is returned as is and the old file stays.
  absl::Status Save(const v1::PersistedState& state,
                    const std::function<absl::Status()>& before_commit = nullptr);

  // Appends `changes` as one group and syncs it. `before_commit`, if given, runs right
  // before the append (the write is the commit point); an error from it is returned as is
  // and nothing is written. Any error leaves the file as it was. Only when !NeedsSnapshot().
  absl::Status Append(const StateChanges& changes,
                      const std::function<absl::Status()>& before_commit = nullptr);

  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
  // What this vnetd knows of the file: the length of its committed content, how much of
  // it is the snapshot, and whether the journal has begun.
  bool known_ = false;
  bool damaged_ = false;  // an incomplete group or a failed append follows `size_`
  bool old_format_ = false;
  uint64_t size_ = 0;
  uint64_t snapshot_size_ = 0;
  bool journal_started_ = false;
};

}  // namespace vnet
