// The descriptors in flight of one context, in a file mapped shared into vnetd: one 32-byte
// record per cookie slot, written with plain stores. No system call and no fsync per
// descriptor; the stores land in the kernel's page cache, which outlives the process, so
// a kill -9 loses nothing. A host crash may lose any part of it, so the header names the
// boot it was written in and a file from an earlier boot is not trusted (its backends and
// guests did not survive that crash either).
//
// Records are written field by field with the end address last (release store): a record
// is in flight exactly when its end is non-zero, so a process killed between two stores
// leaves the slot either as it was or complete. A free record keeps the last cookie its
// slot issued, so after a restart the slot continues past it and no old cookie comes back.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/ledger/journal.h"

namespace vnet::ledger {

// /proc/sys/kernel/random/boot_id, or "" when it cannot be read.
std::string CurrentBootId();

class InFlightFile final : public InFlightLog {
 public:
  // A new, empty file (replacing any). `max_slots` bounds the mapping (the context's
  // in-flight limit); the file itself grows as slots are used.
  static absl::StatusOr<std::unique_ptr<InFlightFile>> Create(const std::string& path,
                                                              uint32_t context_id,
                                                              const std::string& boot_id,
                                                              uint32_t max_slots);
  // An existing file: its slots go to `*slots` (trailing never-used ones left out) and
  // recording carries on in it. DATA_LOSS naming the path when it is not a valid file of
  // this context. From another boot: `*slots` is empty, `*other_boot` set and the file
  // starts afresh.
  static absl::StatusOr<std::unique_ptr<InFlightFile>> Open(
      const std::string& path, uint32_t context_id, const std::string& boot_id, uint32_t max_slots,
      std::vector<SavedSlot>* slots, bool* other_boot);
  ~InFlightFile() override;
  InFlightFile(const InFlightFile&) = delete;
  InFlightFile& operator=(const InFlightFile&) = delete;

  bool Accepted(uint64_t cookie, const InFlightEntry& entry) override;
  void Completed(uint64_t cookie) override;

 private:
  struct Record {
    uint64_t cookie;
    uint64_t address;
    uint64_t region_id;
    uint64_t end;  // 0: not in flight
  };
  InFlightFile(int fd, char* base, size_t map_bytes, uint64_t slots_in_file);
  Record* At(uint64_t slot) const;
  bool Grow(uint64_t slot);

  const int fd_;
  char* const base_;
  const size_t map_bytes_;
  uint64_t slots_in_file_;
};

}  // namespace vnet::ledger
