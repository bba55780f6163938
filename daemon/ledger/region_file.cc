#include "daemon/ledger/region_file.h"

#include "absl/strings/str_cat.h"
#include "daemon/core/atomic_file.h"
#include "daemon/ledger/region_rules.h"
#include "google/protobuf/text_format.h"
#include "vnet/v1/buffer.pb.h"

namespace vnet::ledger {
namespace {

constexpr uint32_t kFormatVersion = 1;

absl::Status Corrupt(const std::string& path, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("buffer region file ", path, " is corrupt (", why,
                                          "); it was left untouched: repair or move it away "
                                          "(the context's regions are then lost) to start"));
}

}  // namespace

std::string RegionFileName(uint32_t context_id) {
  return absl::StrCat("regions-", context_id, ".state");
}

absl::Status SaveRegionFile(const std::string& dir, const RegionFile& file) {
  v1::PersistedRegions saved;
  saved.set_format_version(kFormatVersion);
  saved.set_context_id(file.context_id);
  saved.set_address_space(file.address_space);
  for (const RegionSpec& spec : file.regions) {
    v1::Region* r = saved.add_regions();
    r->set_region_id(spec.region_id);
    r->set_guest_address(spec.guest_address);
    r->set_length(spec.length);
    r->set_page_size(spec.page_size);
    r->set_access(static_cast<v1::RegionAccess>(spec.access));
    r->mutable_grant_refs()->Add(spec.grant_refs.begin(), spec.grant_refs.end());
  }
  saved.set_region_count(static_cast<uint32_t>(file.regions.size()));
  std::string text = "# vnetd buffer regions: written by vnetd, do not edit while it runs\n";
  std::string body;
  google::protobuf::TextFormat::PrintToString(saved, &body);
  text += body;
  return WriteFileAtomically(dir, RegionFileName(file.context_id), text);
}

absl::StatusOr<RegionFile> LoadRegionFile(const std::string& path, uint32_t context_id) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  if (!text->has_value()) return absl::NotFoundError(absl::StrCat("no file ", path));
  v1::PersistedRegions saved;
  if (!google::protobuf::TextFormat::ParseFromString(**text, &saved)) {
    return Corrupt(path, "not a vnet.v1.PersistedRegions");
  }
  if (saved.format_version() != kFormatVersion) {
    return Corrupt(path, absl::StrCat("format version ", saved.format_version(),
                                      ", this vnetd reads ", kFormatVersion));
  }
  if (saved.region_count() != static_cast<uint32_t>(saved.regions_size())) {
    return Corrupt(path, absl::StrCat("says ", saved.region_count(), " regions, holds ",
                                      saved.regions_size()));
  }
  if (saved.context_id() != context_id) {
    return Corrupt(path, absl::StrCat("holds context ", saved.context_id()));
  }
  RegionFile file;
  file.context_id = saved.context_id();
  file.address_space = saved.address_space();
  for (const v1::Region& r : saved.regions()) {
    RegionSpec spec;
    spec.region_id = r.region_id();
    spec.guest_address = r.guest_address();
    spec.length = r.length();
    spec.page_size = r.page_size();
    spec.access = static_cast<Access>(r.access());
    spec.grant_refs.assign(r.grant_refs().begin(), r.grant_refs().end());
    if (absl::Status s = CheckRegionSpec(spec, LedgerLimits{}); !s.ok()) {
      return Corrupt(path, absl::StrCat("region ", spec.region_id, ": ", s.message()));
    }
    file.regions.push_back(std::move(spec));
  }
  return file;
}

}  // namespace vnet::ledger
