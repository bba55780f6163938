#include "daemon/core/state_file.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "daemon/core/atomic_file.h"
#include "daemon/core/log.h"
#include "google/protobuf/text_format.h"

namespace vnet {
namespace {

// 2: Offloads split per direction (rx_scatter_gather, rx_tso_v4/v6). Format 1's
// scatter_gather and tso_v4/v6 meant both directions; Load carries them over.
// The journal after the snapshot needs no new version: an older vnetd refuses it.
constexpr uint32_t kFormatVersion = 2;
constexpr char kFileName[] = "contexts.state";
constexpr char kJournalStart[] = "@journal\n";
// A journal shorter than this is never compacted, however small the snapshot.
constexpr uint64_t kMinJournalBytes = uint64_t{64} * 1024;

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

// Detects torn and damaged groups; not a defence against deliberate edits.
uint64_t Fnv1a64(absl::string_view data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Fields this vnetd does not know (a newer client's, or a field sent with the wrong wire
// type) are never written: the text parser cannot read them back, and one would keep
// vnetd from starting.
google::protobuf::TextFormat::Printer StatePrinter() {
  google::protobuf::TextFormat::Printer printer;
  printer.SetHideUnknownFields(true);
  return printer;
}

std::string OneLine(const v1::Context& ctx) {
  google::protobuf::TextFormat::Printer printer = StatePrinter();
  printer.SetSingleLineMode(true);
  std::string line;
  printer.PrintToString(ctx, &line);
  return line;
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(errno, absl::StrCat(what, " ", path));
}

// An append may still fit in the file's last block on a full disk, but the snapshot that
// must follow the journal could not be written: changes are refused (and change nothing)
// while the file system lacks room for a copy of the file, as a whole-state write would.
absl::Status CheckRoom(const std::string& path, const std::string& dir, uint64_t needed) {
  struct statvfs fs {};
  if (statvfs(dir.c_str(), &fs) != 0) return Errno("cannot statvfs", dir);
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes >= needed) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat("no space left for ", path, ": ", free_bytes,
                                                   " bytes free, a snapshot of the "
                                                   "state needs ",
                                                   needed));
}

// The journal after the snapshot, applied to `state`. `*committed` is set to the length of
// the part that counts (everything up to the last complete group); `*torn` tells whether
// an incomplete group follows it.
absl::Status ApplyJournal(absl::string_view journal, const std::string& path, uint64_t first_line,
                          v1::PersistedState& state, uint64_t* committed, bool* torn) {
  std::map<uint32_t, v1::Context> by_id;
  for (v1::Context& c : *state.mutable_contexts()) {
    const uint32_t id = c.id();
    if (!by_id.emplace(id, std::move(c)).second) {
      return absl::DataLossError(
          absl::StrCat("state file ", path, ": context id ", id, " appears twice"));
    }
  }
  auto bad = [&](uint64_t line, absl::string_view why) {
    return absl::DataLossError(absl::StrCat("state file ", path, " line ", line, ": ", why,
                                            "; it was left untouched: repair or move it away"));
  };
  *committed = 0;
  *torn = false;
  size_t pos = 0;
  uint64_t line_no = first_line;
  size_t group_start = std::string::npos;  // offset of the current group's first line
  std::vector<std::pair<uint64_t, absl::string_view>> group;
  while (pos < journal.size()) {
    const size_t eol = journal.find('\n', pos);
    if (eol == absl::string_view::npos) break;  // an unfinished last line: torn
    const absl::string_view line = journal.substr(pos, eol - pos);
    const size_t next = eol + 1;
    if (line_no == first_line) {
      if (line != "@journal") return bad(line_no, "expected @journal");
      *committed = next;
    } else {
      absl::string_view rest = line;
      if (absl::ConsumePrefix(&rest, "@end ")) {
        std::vector<absl::string_view> f = absl::StrSplit(rest, ' ');
        uint64_t count = 0;
        uint64_t sum = 0;
        if (f.size() != 2 || !absl::SimpleAtoi(f[0], &count) || !absl::SimpleHexAtoi(f[1], &sum)) {
          return bad(line_no, "malformed @end");
        }
        const absl::string_view body = group_start == std::string::npos
                                           ? absl::string_view()
                                           : journal.substr(group_start, pos - group_start);
        if (count != group.size() || sum != Fnv1a64(body)) {
          return bad(line_no, "a change group whose checksum does not match");
        }
        for (const auto& [n, entry] : group) {
          absl::string_view arg = entry;
          if (absl::ConsumePrefix(&arg, "@put ")) {
            v1::Context ctx;
            if (!google::protobuf::TextFormat::ParseFromString(std::string(arg), &ctx)) {
              return bad(n, "not a vnet.v1.Context");
            }
            by_id[ctx.id()] = std::move(ctx);
          } else if (absl::ConsumePrefix(&arg, "@del ")) {
            uint32_t id = 0;
            if (!absl::SimpleAtoi(arg, &id)) return bad(n, "malformed @del");
            by_id.erase(id);
          } else if (absl::ConsumePrefix(&arg, "@uplink ")) {
            std::string name;
            if (!absl::ConsumePrefix(&arg, "\"") || !absl::ConsumeSuffix(&arg, "\"") ||
                !absl::CUnescape(arg, &name)) {
              return bad(n, "malformed @uplink");
            }
            state.set_uplink(name);
          } else {
            return bad(n, "not a journal entry");
          }
        }
        group.clear();
        group_start = std::string::npos;
        *committed = next;
      } else {
        if (group_start == std::string::npos) group_start = pos;
        group.emplace_back(line_no, line);
      }
    }
    pos = next;
    ++line_no;
  }
  *torn = *committed < journal.size();
  state.clear_contexts();
  for (auto& [id, ctx] : by_id) *state.add_contexts() = std::move(ctx);
  return absl::OkStatus();
}

}  // namespace

StateFile::StateFile(std::string dir) : dir_(std::move(dir)), path_(dir_ + "/" + kFileName) {}

absl::StatusOr<v1::PersistedState> StateFile::Load() {
  v1::PersistedState state;
  auto text = ReadWholeFile(path_);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("state file: ", text.status().message()));
  }
  if (!text->has_value()) {  // first start
    known_ = false;
    return state;
  }
  const std::string& all = **text;
  // The snapshot ends where the first line starting with '@' begins.
  size_t split = all.rfind('@', 0) == 0 ? 0 : all.find("\n@");
  split = split == std::string::npos ? all.size() : (split == 0 ? 0 : split + 1);
  if (!google::protobuf::TextFormat::ParseFromString(all.substr(0, split), &state)) {
    return absl::DataLossError(absl::StrCat("state file ", path_,
                                            " is corrupt (not a vnet.v1.PersistedState); it was "
                                            "left untouched: repair or move it away to start"));
  }
  const bool old_format = state.format_version() == 1;
  if (old_format) UpgradeFromFormat1(state);
  if (state.format_version() != kFormatVersion) {
    return absl::DataLossError(absl::StrCat("state file ", path_, " has format version ",
                                            state.format_version(), ", this vnetd reads ",
                                            kFormatVersion));
  }
  uint64_t committed = 0;
  bool torn = false;
  if (split < all.size()) {
    const auto lines_before = std::count(all.begin(), all.begin() + static_cast<long>(split), '\n');
    const uint64_t first_line = static_cast<uint64_t>(lines_before) + 1;
    if (auto s = ApplyJournal(absl::string_view(all).substr(split), path_, first_line, state,
                              &committed, &torn);
        !s.ok()) {
      return s;
    }
    if (torn) {
      LogWarning(
          "state file %s: ignored an incomplete last change group (%d bytes) left by an "
          "interrupted write; the next change rewrites the file",
          path_, all.size() - split - committed);
    }
  }
  known_ = true;
  damaged_ = torn;
  old_format_ = old_format;
  snapshot_size_ = split;
  size_ = split + committed;
  journal_started_ = committed > 0;
  return state;
}

bool StateFile::NeedsSnapshot() const {
  if (!known_ || damaged_ || old_format_) return true;
  const uint64_t journal = size_ - snapshot_size_;
  return journal > std::max<uint64_t>(snapshot_size_, kMinJournalBytes);
}

absl::Status StateFile::Save(const v1::PersistedState& state,
                             const std::function<absl::Status()>& before_commit) {
  v1::PersistedState versioned = state;
  versioned.set_format_version(kFormatVersion);
  std::string text = "# vnetd state: written by vnetd, do not edit while it runs\n";
  std::string body;
  StatePrinter().PrintToString(versioned, &body);
  text += body;

  if (auto s = WriteFileAtomically(dir_, kFileName, text, before_commit); !s.ok()) return s;
  known_ = true;
  damaged_ = false;
  old_format_ = false;
  size_ = snapshot_size_ = text.size();
  journal_started_ = false;
  return absl::OkStatus();
}

absl::Status StateFile::Append(const StateChanges& changes,
                               const std::function<absl::Status()>& before_commit) {
  if (NeedsSnapshot()) return absl::FailedPreconditionError("state file: needs a snapshot");
  std::string lines;
  uint64_t count = 0;
  for (const v1::Context& ctx : changes.put) {
    absl::StrAppend(&lines, "@put ", OneLine(ctx), "\n");
    ++count;
  }
  for (uint32_t id : changes.removed) {
    absl::StrAppend(&lines, "@del ", id, "\n");
    ++count;
  }
  if (changes.uplink.has_value()) {
    absl::StrAppend(&lines, "@uplink \"", absl::CEscape(*changes.uplink), "\"\n");
    ++count;
  }
  const std::string text = absl::StrCat(journal_started_ ? "" : kJournalStart, lines,
                                        absl::StrFormat("@end %d %016x\n", count, Fnv1a64(lines)));

  if (auto room = CheckRoom(path_, dir_, size_ + text.size()); !room.ok()) return room;
  if (before_commit) {
    if (auto s = before_commit(); !s.ok()) return s;
  }
  const int fd = open(path_.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path_);
  absl::Status s;
  size_t done = 0;
  while (s.ok() && done < text.size()) {
    const ssize_t n =
        pwrite(fd, text.data() + done, text.size() - done, static_cast<off_t>(size_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) s = Errno("cannot write", path_);
    if (n > 0) done += static_cast<size_t>(n);
  }
  if (s.ok() && fdatasync(fd) != 0) s = Errno("cannot fsync", path_);
  if (!s.ok()) {
    // Take the group back, and make the next write a snapshot. (If the truncation fails
    // too, a crash before that snapshot could bring the group back: the same window as a
    // rename whose directory sync fails.)
    (void)ftruncate(fd, static_cast<off_t>(size_));
    damaged_ = true;
  }
  close(fd);
  if (!s.ok()) return s;
  size_ += text.size();
  journal_started_ = true;
  return absl::OkStatus();
}

}  // namespace vnet
