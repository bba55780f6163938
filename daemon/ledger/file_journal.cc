#include "daemon/ledger/file_journal.h"

#include <dirent.h>

#include <cerrno>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/core/atomic_file.h"
#include "daemon/core/log.h"
#include "daemon/core/make_dirs.h"
#include "daemon/ledger/in_flight_file.h"
#include "daemon/ledger/region_file.h"

namespace vnet::ledger {
namespace {

constexpr char kRegionsPrefix[] = "regions-";
constexpr char kRegionsSuffix[] = ".state";
constexpr char kInFlightPrefix[] = "inflight-";

// The context id in a name of the form prefix<id>suffix, or 0.
uint32_t IdIn(absl::string_view name, absl::string_view prefix, absl::string_view suffix) {
  if (!absl::ConsumePrefix(&name, prefix) || !absl::ConsumeSuffix(&name, suffix)) return 0;
  uint32_t id = 0;
  return absl::SimpleAtoi(name, &id) ? id : 0;
}

}  // namespace

FileJournal::FileJournal(std::string dir, uint32_t max_in_flight, std::string boot_id)
    : dir_(std::move(dir)), max_in_flight_(max_in_flight), boot_id_(std::move(boot_id)) {}

std::string FileJournal::InFlightName(uint32_t context_id) const {
  return absl::StrCat(kInFlightPrefix, context_id);
}

absl::StatusOr<std::vector<SavedContext>> FileJournal::Load() {
  std::vector<SavedContext> saved;
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return saved;  // nothing registered yet
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", dir_));
  }
  std::map<uint32_t, bool> contexts;  // id -> has an in-flight file
  std::set<uint32_t> in_flight_files;
  std::vector<uint32_t> orphans;  // in-flight files without regions
  std::vector<std::string> leftovers;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (absl::EndsWith(name, ".tmp")) leftovers.push_back(name);
    if (uint32_t id = IdIn(name, kRegionsPrefix, kRegionsSuffix); id != 0) contexts[id] = false;
    if (uint32_t id = IdIn(name, kInFlightPrefix, ""); id != 0) in_flight_files.insert(id);
  }
  closedir(d);
  for (uint32_t id : in_flight_files) {
    if (contexts.count(id) != 0) {
      contexts[id] = true;
    } else {
      orphans.push_back(id);
    }
  }
  for (const auto& [id, has_in_flight] : contexts) {
    auto regions = LoadRegionFile(absl::StrCat(dir_, "/", RegionFileName(id)), id);
    if (!regions.ok()) return regions.status();
    SavedContext c;
    c.context_id = id;
    c.address_space = regions->address_space;
    c.regions = std::move(regions->regions);
    const std::string path = absl::StrCat(dir_, "/", InFlightName(id));
    if (has_in_flight) {
      bool other_boot = false;
      auto log = InFlightFile::Open(path, id, boot_id_, max_in_flight_, &c.slots, &other_boot);
      if (!log.ok()) return log.status();
      if (other_boot) {
        LogWarning(
            "context %d: descriptors in flight were recorded before the host restarted; "
            "they are dropped (their backends did not survive it either)",
            id);
      }
      c.log = *std::move(log);
    } else {
      auto log = InFlightFile::Create(path, id, boot_id_, max_in_flight_);
      if (!log.ok()) return log.status();
      c.log = *std::move(log);
    }
    saved.push_back(std::move(c));
  }
  // Only now, once everything has been read: a refused start removes nothing.
  for (uint32_t id : orphans) {
    LogInfo("context %d: removing in-flight records without regions (an interrupted release)", id);
    if (absl::Status s = RemoveFileDurably(dir_, InFlightName(id)); !s.ok()) return s;
  }
  for (const std::string& name : leftovers) {
    if (absl::Status s = RemoveFileDurably(dir_, name); !s.ok()) return s;
  }
  return saved;
}

absl::Status FileJournal::SaveRegions(uint32_t context_id, uint32_t address_space,
                                      const std::vector<RegionSpec>& regions) {
  if (before_save_) before_save_();
  return SaveRegionFile(dir_, {context_id, address_space, regions});
}

absl::StatusOr<std::unique_ptr<InFlightLog>> FileJournal::CreateInFlightLog(uint32_t context_id) {
  if (absl::Status s = MakeDirs(dir_, 0750); !s.ok()) return s;
  auto file = InFlightFile::Create(absl::StrCat(dir_, "/", InFlightName(context_id)), context_id,
                                   boot_id_, max_in_flight_);
  if (!file.ok()) return file.status();
  return std::unique_ptr<InFlightLog>(*std::move(file));
}

void FileJournal::Forget(uint32_t context_id) {
  // Regions last: in-flight records without regions are known leftovers (removed at start),
  // while regions without in-flight records are simply a context with nothing in flight.
  for (const std::string& name : {InFlightName(context_id), RegionFileName(context_id)}) {
    if (absl::Status s = RemoveFileDurably(dir_, name); !s.ok()) {
      LogError("context %d: released, but %s", context_id, s.ToString());
    }
  }
}

}  // namespace vnet::ledger
