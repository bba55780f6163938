#include "daemon/core/make_dirs.h"

#include <sys/stat.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace vnet {

absl::Status MakeDirs(const std::string& dir, mode_t mode) {
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    const std::string partial = dir.substr(0, pos);
    if (!partial.empty() && mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot create directory ", partial));
    }
  }
  return absl::OkStatus();
}

}  // namespace vnet
