#include "daemon/core/state_file.h"

#include "absl/strings/str_cat.h"
#include "daemon/core/atomic_file.h"
#include "google/protobuf/text_format.h"

namespace vnet {
namespace {

// 2: Offloads split per direction (rx_scatter_gather, rx_tso_v4/v6). Format 1's
// scatter_gather and tso_v4/v6 meant both directions; Load carries them over.
constexpr uint32_t kFormatVersion = 2;
constexpr char kFileName[] = "contexts.state";

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

}  // namespace

StateFile::StateFile(std::string dir) : dir_(std::move(dir)), path_(dir_ + "/" + kFileName) {}

absl::StatusOr<v1::PersistedState> StateFile::Load() const {
  v1::PersistedState state;
  auto text = ReadWholeFile(path_);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("state file: ", text.status().message()));
  }
  if (!text->has_value()) return state;  // first start
  if (!google::protobuf::TextFormat::ParseFromString(**text, &state)) {
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
  v1::PersistedState versioned = state;
  versioned.set_format_version(kFormatVersion);
  std::string text = "# vnetd state: written by vnetd, do not edit while it runs\n";
  std::string body;
  google::protobuf::TextFormat::PrintToString(versioned, &body);
  text += body;

  return WriteFileAtomically(dir_, kFileName, text, before_commit);
}

}  // namespace vnet
