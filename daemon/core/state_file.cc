#include "daemon/core/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "daemon/core/make_dirs.h"
#include "google/protobuf/text_format.h"

namespace vnet {
namespace {

// 2: Offloads split per direction (rx_scatter_gather, rx_tso_v4/v6). Format 1's
// scatter_gather and tso_v4/v6 meant both directions; Load carries them over.
constexpr uint32_t kFormatVersion = 2;

void UpgradeFromFormat1(v1::PersistedState& state) {
  for (v1::Context& c : *state.mutable_contexts()) {
    if (!c.has_offloads()) continue;
    v1::Offloads* o = c.mutable_offloads();
    o->set_rx_scatter_gather(o->scatter_gather());
    o->set_rx_tso_v4(o->tso_v4());
    o->set_rx_tso_v6(o->tso_v6());
  }
  state.set_format_version(kFormatVersion);
}

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int err = errno;
  return absl::ErrnoToStatus(err, absl::StrCat(what, " ", path));
}

absl::Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path);
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

StateFile::StateFile(std::string dir) : dir_(std::move(dir)), path_(dir_ + "/contexts.state") {}

absl::StatusOr<v1::PersistedState> StateFile::Load() const {
  v1::PersistedState state;
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0) {
    if (errno == ENOENT) return state;  // first start
    return ErrnoError("cannot stat state file", path_);
  }
  std::ifstream in(path_);
  if (!in) return ErrnoError("cannot read state file", path_);
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return ErrnoError("cannot read state file", path_);
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &state)) {
    return absl::DataLossError(absl::StrCat("state file ", path_,
                                            " is corrupt (not a vnet.v1.PersistedState); it was "
                                            "left untouched: repair or move it away to start"));
  }
  if (state.format_version() == 1) UpgradeFromFormat1(state);
  if (state.format_version() != kFormatVersion) {
    return absl::DataLossError(absl::StrCat("state file ", path_, " has format version ",
                                            state.format_version(), ", this vnetd reads ",
                                            kFormatVersion));
  }
  return state;
}

absl::Status StateFile::Save(const v1::PersistedState& state,
                             const std::function<absl::Status()>& before_commit) const {
  if (auto s = MakeDirs(dir_, 0750); !s.ok()) return s;
  v1::PersistedState versioned = state;
  versioned.set_format_version(kFormatVersion);
  std::string text = "# vnetd state: written by vnetd, do not edit while it runs\n";
  std::string body;
  google::protobuf::TextFormat::PrintToString(versioned, &body);
  text += body;

  const std::string tmp = path_ + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  absl::Status s = WriteAll(fd, text, tmp);
  if (s.ok() && fsync(fd) != 0) s = ErrnoError("cannot fsync", tmp);
  close(fd);
  if (s.ok() && before_commit) s = before_commit();
  if (s.ok() && rename(tmp.c_str(), path_.c_str()) != 0) s = ErrnoError("cannot rename to", path_);
  if (!s.ok()) {
    unlink(tmp.c_str());
    return s;
  }
  // The rename is durable only once the directory entry is.
  const int dfd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return ErrnoError("cannot open", dir_);
  const int rc = fsync(dfd);
  close(dfd);
  if (rc != 0) return ErrnoError("cannot fsync", dir_);
  return absl::OkStatus();
}

}  // namespace vnet
