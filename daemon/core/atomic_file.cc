#include "daemon/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "daemon/core/make_dirs.h"

namespace vnet {
namespace {

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

// A rename or unlink is durable only once the directory entry is.
absl::Status SyncDir(const std::string& dir) {
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return ErrnoError("cannot open", dir);
  const int rc = fsync(dfd);
  close(dfd);
  if (rc != 0) return ErrnoError("cannot fsync", dir);
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& dir, const std::string& name,
                                 const std::string& data,
                                 const std::function<absl::Status()>& before_commit) {
  if (auto s = MakeDirs(dir, 0750); !s.ok()) return s;
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  absl::Status s = WriteAll(fd, data, tmp);
  if (s.ok() && fsync(fd) != 0) s = ErrnoError("cannot fsync", tmp);
  close(fd);
  if (s.ok() && before_commit) s = before_commit();
  if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) s = ErrnoError("cannot rename to", path);
  if (!s.ok()) {
    unlink(tmp.c_str());
    return s;
  }
  return SyncDir(dir);
}

absl::StatusOr<std::optional<std::string>> ReadWholeFile(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    return ErrnoError("cannot stat", path);
  }
  std::ifstream in(path);
  if (!in) return ErrnoError("cannot read", path);
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return ErrnoError("cannot read", path);
  return text.str();
}

absl::Status RemoveFileDurably(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  if (unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError("cannot remove", path);
  }
  return SyncDir(dir);
}

}  // namespace vnet
