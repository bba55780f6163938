#include "daemon/ledger/in_flight_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace vnet::ledger {
namespace {

constexpr char kMagic[8] = {'V', 'N', 'E', 'T', 'I', 'F', 'L', '1'};
constexpr uint64_t kRecordSize = 32;
constexpr uint64_t kGrowSlots = 2048;  // the file grows 64 KiB at a time

struct Header {
  char magic[8];
  uint32_t record_size;
  uint32_t context_id;
  char boot_id[40];
  uint64_t reserved;
};
static_assert(sizeof(Header) == 64);

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int err = errno;
  return absl::ErrnoToStatus(err, absl::StrCat(what, " ", path));
}

absl::Status Corrupt(const std::string& path, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("in-flight descriptor file ", path, " is corrupt (", why,
                                          "); it was left untouched: move it away to start "
                                          "(the context's descriptors in flight are then lost)"));
}

Header MakeHeader(uint32_t context_id, const std::string& boot_id) {
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.record_size = kRecordSize;
  h.context_id = context_id;
  std::memcpy(h.boot_id, boot_id.data(), std::min(boot_id.size(), sizeof(h.boot_id) - 1));
  return h;
}

// Writes the header and reserves the first records: with the blocks allocated, a store into
// the mapping can never meet a full disk (which would be SIGBUS).
absl::Status Initialise(int fd, const Header& h, const std::string& path) {
  if (ftruncate(fd, 0) != 0) return ErrnoError("cannot truncate", path);
  if (pwrite(fd, &h, sizeof(h), 0) != static_cast<ssize_t>(sizeof(h))) {
    return ErrnoError("cannot write", path);
  }
  const int err = posix_fallocate(fd, 0, sizeof(Header) + kGrowSlots * kRecordSize);
  if (err != 0) return absl::ErrnoToStatus(err, absl::StrCat("cannot allocate ", path));
  return absl::OkStatus();
}

size_t MapBytes(uint64_t slots) { return sizeof(Header) + slots * kRecordSize; }

}  // namespace

std::string CurrentBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return std::string(absl::StripAsciiWhitespace(id));
}

InFlightFile::InFlightFile(int fd, char* base, size_t map_bytes, uint64_t slots_in_file)
    : fd_(fd), base_(base), map_bytes_(map_bytes), slots_in_file_(slots_in_file) {}

InFlightFile::~InFlightFile() {
  munmap(base_, map_bytes_);
  close(fd_);
}

InFlightFile::Record* InFlightFile::At(uint64_t slot) const {
  return reinterpret_cast<Record*>(base_ + sizeof(Header) + slot * kRecordSize);
}

absl::StatusOr<std::unique_ptr<InFlightFile>> InFlightFile::Create(const std::string& path,
                                                                   uint32_t context_id,
                                                                   const std::string& boot_id,
                                                                   uint32_t max_slots) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoError("cannot create", path);
  if (absl::Status s = Initialise(fd, MakeHeader(context_id, boot_id), path); !s.ok()) {
    close(fd);
    unlink(path.c_str());
    return s;
  }
  // The whole range is mapped at once (address space only); the file grows under it.
  const size_t bytes = MapBytes(std::max<uint64_t>(max_slots, kGrowSlots));
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    absl::Status s = ErrnoError("cannot map", path);
    close(fd);
    unlink(path.c_str());
    return s;
  }
  return std::unique_ptr<InFlightFile>(
      new InFlightFile(fd, static_cast<char*>(base), bytes, kGrowSlots));
}

absl::StatusOr<std::unique_ptr<InFlightFile>> InFlightFile::Open(
    const std::string& path, uint32_t context_id, const std::string& boot_id, uint32_t max_slots,
    std::vector<SavedSlot>* slots, bool* other_boot) {
  slots->clear();
  *other_boot = false;
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    absl::Status s = ErrnoError("cannot stat", path);
    close(fd);
    return s;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  auto refuse = [fd](absl::Status s) {
    close(fd);
    return s;
  };
  if (size < sizeof(Header) || (size - sizeof(Header)) % kRecordSize != 0) {
    return refuse(Corrupt(path, absl::StrCat("size ", size)));
  }
  Header h{};
  if (pread(fd, &h, sizeof(h), 0) != static_cast<ssize_t>(sizeof(h))) {
    return refuse(ErrnoError("cannot read", path));
  }
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0 || h.record_size != kRecordSize) {
    return refuse(Corrupt(path, "not a vnet in-flight file of this format"));
  }
  if (h.context_id != context_id) {
    return refuse(Corrupt(path, absl::StrCat("holds context ", h.context_id)));
  }
  const Header now = MakeHeader(context_id, boot_id);
  uint64_t in_file = (size - sizeof(Header)) / kRecordSize;
  if (std::memcmp(h.boot_id, now.boot_id, sizeof(h.boot_id)) != 0) {
    *other_boot = true;
    if (absl::Status s = Initialise(fd, now, path); !s.ok()) return refuse(s);
    in_file = kGrowSlots;
  }
  const size_t bytes = MapBytes(std::max<uint64_t>({max_slots, kGrowSlots, in_file}));
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return refuse(ErrnoError("cannot map", path));
  std::unique_ptr<InFlightFile> file(
      new InFlightFile(fd, static_cast<char*>(base), bytes, in_file));
  if (*other_boot) return file;
  uint64_t used = 0;
  for (uint64_t i = 0; i < in_file; ++i) {
    const Record* r = file->At(i);
    if (r->cookie == 0 && r->end == 0) continue;
    if ((r->cookie & 0xffffffffu) != i || (r->cookie >> 32) == 0) {
      return Corrupt(path, absl::StrCat("slot ", i, " holds cookie ", r->cookie));
    }
    if (r->end != 0 && r->end <= r->address) {
      return Corrupt(path, absl::StrCat("slot ", i, " has an empty range"));
    }
    used = i + 1;
  }
  slots->resize(used);
  for (uint64_t i = 0; i < used; ++i) {
    const Record* r = file->At(i);
    (*slots)[i].cookie = r->cookie;
    (*slots)[i].in_flight = r->end != 0;
    if (r->end != 0) (*slots)[i].entry = {r->address, r->end, r->region_id};
  }
  return file;
}

bool InFlightFile::Grow(uint64_t slot) {
  const uint64_t want = (slot / kGrowSlots + 1) * kGrowSlots;
  if (MapBytes(want) > map_bytes_) return false;
  if (posix_fallocate(fd_, 0, static_cast<off_t>(MapBytes(want))) != 0) return false;
  slots_in_file_ = want;
  return true;
}

bool InFlightFile::Accepted(uint64_t cookie, const InFlightEntry& entry) {
  const uint64_t slot = cookie & 0xffffffffu;
  if (slot >= slots_in_file_ && !Grow(slot)) return false;
  Record* r = At(slot);
  r->cookie = cookie;
  r->address = entry.address;
  r->region_id = entry.region_id;
  __atomic_store_n(&r->end, entry.end, __ATOMIC_RELEASE);  // last: the record is now whole
  return true;
}

void InFlightFile::Completed(uint64_t cookie) {
  __atomic_store_n(&At(cookie & 0xffffffffu)->end, uint64_t{0}, __ATOMIC_RELEASE);
}

}  // namespace vnet::ledger
