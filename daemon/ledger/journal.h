// Where the ledger keeps what must outlive the vnetd process. The ledger itself does no I/O:
// it calls these at the points where a change becomes visible, and a null journal (tests,
// tools) keeps everything in memory only. daemon/ledger/file_journal.h is the real one.
//
// Two kinds of change, at two rates, so two disciplines:
//  * regions change rarely and are acknowledged to a guest, so SaveRegions is durable
//    (fsync) before the ledger lets the region be seen, and a failure refuses the change;
//  * descriptors change at packet rates, so InFlightLog only stores into memory shared with
//    the kernel's page cache: it survives the process (kill -9) without a system call per
//    descriptor, and a host crash loses it (the backends and guests are gone then too).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/ledger/in_flight_table.h"
#include "daemon/ledger/ledger_types.h"

namespace vnet::ledger {

// The descriptors in flight of one context, one record per cookie slot.
class InFlightLog {
 public:
  virtual ~InFlightLog() = default;
  // Records the descriptor before the caller learns its cookie. False when there is no room
  // for the record (the file cannot grow): the descriptor must then be refused.
  virtual bool Accepted(uint64_t cookie, const InFlightEntry& entry) = 0;
  // Records the completion before the caller learns of it.
  virtual void Completed(uint64_t cookie) = 0;
};

// One cookie slot as the log last saw it.
using SavedSlot = InFlightTable::Saved;

// What a journal hands back at start for one context.
struct SavedContext {
  uint32_t context_id = 0;
  uint32_t address_space = 0;
  std::vector<RegionSpec> regions;
  std::vector<SavedSlot> slots;      // indexed by slot (cookie & 0xffffffff)
  std::unique_ptr<InFlightLog> log;  // carries on recording where the saved one stopped
};

class LedgerJournal {
 public:
  virtual ~LedgerJournal() = default;
  // Replaces the context's saved regions; durable when it returns OK. On error nothing
  // saved has changed.
  virtual absl::Status SaveRegions(uint32_t context_id, uint32_t address_space,
                                   const std::vector<RegionSpec>& regions) = 0;
  // A new, empty in-flight log for a context that has none yet.
  virtual absl::StatusOr<std::unique_ptr<InFlightLog>> CreateInFlightLog(uint32_t context_id) = 0;
  // The context was released: its regions and in-flight records go. Errors are the
  // journal's to report (the release has already happened in memory).
  virtual void Forget(uint32_t context_id) = 0;
};

}  // namespace vnet::ledger
