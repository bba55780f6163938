// The buffer ledger: every context's registered guest regions and descriptors in flight.
// vnetd is the authority a backend asks before it touches guest memory: a descriptor is
// accepted only wholly inside a region of the posting context with the right access, and
// no region is let go while a descriptor in it is in flight.
//
// Thread-safe. Each context has its own lock (contexts never wait for each other on the
// hot path); the context table is read-locked once per call; the cross-context address
// index is locked only on register/unregister/release. Per descriptor: O(1) region look-up
// plus O(log n) in n descriptors in flight for the overlap check; completion likewise.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "daemon/ledger/address_index.h"
#include "daemon/ledger/context_ledger.h"
#include "daemon/ledger/in_flight_budget.h"
#include "daemon/ledger/journal.h"
#include "daemon/ledger/ledger_types.h"

namespace vnet::ledger {

class BufferLedger {
 public:
  // With a journal (not owned, may be null), regions are saved durably before they are
  // acknowledged and descriptors in flight are recorded where a process crash cannot lose
  // them (daemon/ledger/journal.h).
  explicit BufferLedger(LedgerLimits limits = {}, LedgerJournal* journal = nullptr);
  BufferLedger(const BufferLedger&) = delete;
  BufferLedger& operator=(const BufferLedger&) = delete;

  // INVALID_ARGUMENT (context 0, or a bad spec: alignment, size limit, grant count),
  // ALREADY_EXISTS (duplicate region id), RESOURCE_EXHAUSTED (quota), FAILED_PRECONDITION
  // (overlaps another context's region in the same address space). `address_space` is the
  // guest physical address space of the context (its Xen domain): the regions of contexts
  // of different domains never conflict. `check` (may be empty): see ContextLedger::Register.
  absl::Status RegisterRegion(uint32_t context_id, const RegionSpec& spec,
                              uint32_t address_space = 0,
                              const std::function<absl::Status()>& check = {});
  // NOT_FOUND (no such region), FAILED_PRECONDITION (descriptors in flight, counted).
  absl::Status UnregisterRegion(uint32_t context_id, uint64_t region_id,
                                const std::function<absl::Status()>& check = {});
  // Ordered by region id; empty for a context without regions.
  std::vector<RegionInfo> ListRegions(uint32_t context_id) const;

  // One result per descriptor, in order; `results` is resized. A context the ledger has
  // never seen has no regions, so each descriptor gets kUnknownRegion. Returns accepted.
  size_t Validate(uint32_t context_id, absl::Span<const Descriptor> descriptors,
                  std::vector<DescriptorResult>* results);
  // Completes the descriptors the cookies name; returns how many. Cookies that are not in
  // flight in this context (stale, repeated, forged) are appended to `unknown` if given.
  size_t Complete(uint32_t context_id, absl::Span<const uint64_t> cookies,
                  std::vector<uint64_t>* unknown = nullptr);

  // The context is going away: drop its regions. FAILED_PRECONDITION naming how many
  // descriptors are in flight, in which case nothing changes. OK for an unknown context.
  absl::StatusOr<ReleaseReport> ReleaseContext(uint32_t context_id);
  // The guest is gone: refuse new descriptors, wait for completions until `deadline`,
  // then drop everything and report how many descriptors were abandoned.
  ReleaseReport ForceReleaseContext(uint32_t context_id, absl::Time deadline);

  // A release in two steps, for a caller that has more to do before it may stand (persist
  // the registry): see ContextLedger::BeginClose. Begin (OK for an unknown context), then
  // exactly one of Commit (drops the regions; reports what was abandoned) or Abort (the
  // context keeps its regions and descriptors in flight, and takes new ones again).
  absl::Status BeginRelease(uint32_t context_id, bool force, absl::Time drain_deadline,
                            const std::function<absl::Status()>& check);
  ReleaseReport CommitRelease(uint32_t context_id);
  void AbortRelease(uint32_t context_id);
  // The forced wait of BeginRelease, for a caller that holds no thread while it waits:
  // StartRelease begins without waiting; NotifyWhenDrained calls `drained` (under the
  // context's lock: short, and never into the ledger) once nothing is in flight, at once
  // for an unknown or drained context; StopDrainNotice withdraws it before Commit or
  // Abort. See ContextLedger::StartClose and ContextLedger::NotifyWhenDrained.
  absl::Status StartRelease(uint32_t context_id, bool force);
  void NotifyWhenDrained(uint32_t context_id, std::function<void()> drained);
  void StopDrainNotice(uint32_t context_id);

  // At start, into an empty ledger: what the journal saved. FAILED_PRECONDITION naming the
  // context and what is inconsistent; the ledger is then left empty.
  absl::Status Restore(std::vector<SavedContext> saved);

  LedgerStats Snapshot() const;
  const LedgerLimits& limits() const { return limits_; }

 private:
  std::shared_ptr<ContextLedger> Find(uint32_t context_id) const;
  std::shared_ptr<ContextLedger> FindOrCreate(uint32_t context_id, uint32_t address_space);
  void Forget(uint32_t context_id, const std::shared_ptr<ContextLedger>& ledger,
              uint64_t abandoned);

  const LedgerLimits limits_;
  LedgerJournal* const journal_;
  AddressIndex index_;
  InFlightBudget budget_;  // before contexts_: their ledgers give it back when destroyed

  mutable absl::Mutex mu_;  // guards the table only, never held while a context works
  absl::flat_hash_map<uint32_t, std::shared_ptr<ContextLedger>> contexts_ ABSL_GUARDED_BY(mu_);
  uint64_t contexts_released_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t descriptors_abandoned_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vnet::ledger
