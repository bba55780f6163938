// The ledger of one context: its regions, its descriptors in flight and its counters,
// behind one mutex of its own, so contexts never wait for each other on the hot path.
// With a journal, a region change is saved (fsync) before it is seen, with only the
// context's writer lock held: descriptors of the context are not held up by the disk.
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
#include "daemon/ledger/in_flight_budget.h"
#include "daemon/ledger/in_flight_table.h"
#include "daemon/ledger/journal.h"
#include "daemon/ledger/ledger_types.h"

namespace vnet::ledger {

class ContextLedger {
 public:
  // `address_space`: the guest physical address space the context's regions live in (its
  // Xen domain); overlap with other contexts is checked within it only.
  // `budget`: the in-flight budget shared by all contexts; each descriptor in flight here
  // holds one unit of it. `journal` may be null (nothing is saved).
  ContextLedger(uint32_t context_id, uint32_t address_space, const LedgerLimits& limits,
                AddressIndex* index, InFlightBudget* budget, LedgerJournal* journal = nullptr);
  ~ContextLedger();  // gives back the budget its descriptors still hold
  ContextLedger(const ContextLedger&) = delete;
  ContextLedger& operator=(const ContextLedger&) = delete;

  // Puts back what a journal saved, into a ledger that has nothing yet; `log` carries on
  // recording. FAILED_PRECONDITION naming the first inconsistency (a region that breaks the
  // rules or overlaps another, a descriptor outside its region or overlapping another).
  absl::Status Restore(const std::vector<RegionSpec>& regions, const std::vector<SavedSlot>& slots,
                       std::unique_ptr<InFlightLog> log);

  // Fails with FAILED_PRECONDITION once the context is closing or closed (the caller then
  // looks the context up again), RESOURCE_EXHAUSTED over quota, ALREADY_EXISTS for a
  // duplicate id, FAILED_PRECONDITION when another context owns an overlapping range.
  // The spec itself must already have passed CheckRegionSpec. `check` (may be empty) runs
  // once the context's earlier region changes are saved, before this one is: a caller that
  // gave up meanwhile (its error) changes nothing.
  absl::Status Register(const RegionSpec& spec, const std::function<absl::Status()>& check = {});
  absl::Status Unregister(uint64_t region_id, const std::function<absl::Status()>& check = {});
  std::vector<RegionInfo> Regions() const;

  // Answers every descriptor in order; accepted ones are in flight before the next is seen.
  // Returns how many were accepted.
  size_t Validate(absl::Span<const Descriptor> descriptors, DescriptorResult* results);
  // Completes what the cookies name; cookies not in flight go to `unknown` (may be null).
  size_t Complete(absl::Span<const uint64_t> cookies, std::vector<uint64_t>* unknown);

  // Closes the context unless descriptors are in flight (FAILED_PRECONDITION naming how
  // many). Forced: refuses new descriptors, waits for completions until the deadline, then
  // abandons the rest. Either way the regions leave the address index.
  absl::StatusOr<ReleaseReport> Close();
  ReleaseReport ForceClose(absl::Time deadline);

  // Closing in two steps, for a release that may still fail after this (the registry's
  // write): BeginClose refuses new descriptors and regions; unforced, it fails with
  // FAILED_PRECONDITION while descriptors are in flight (nothing changes); forced, it waits
  // for completions until `drain_deadline`, or until `check` fails (the caller gave up:
  // the context is open again and that error returned). ABORTED while another release of
  // the context is under way. Then CommitClose drops everything (abandoning what is still
  // in flight) or AbortClose reopens the context with its regions and descriptors intact.
  absl::Status BeginClose(bool force, absl::Time drain_deadline,
                          const std::function<absl::Status()>& check);
  // BeginClose without the wait, for a caller that waits elsewhere (holding no thread):
  // the same refusals, and on OK the context is closing.
  absl::Status StartClose(bool force);
  // Calls `drained` once no descriptor is in flight: at once if none is now, else from the
  // Complete that ends the last one. It runs under the ledger's lock: it must be short and
  // must not call the ledger. One notice at a time (a new one replaces the old). Once
  // StopDrainNotice returns, the notice is neither running nor will it run.
  void NotifyWhenDrained(std::function<void()> drained);
  void StopDrainNotice();
  ReleaseReport CommitClose();
  void AbortClose();
  bool closed() const;

  ContextStats Stats() const;

 private:
  struct Region {
    RegionSpec spec;
    uint64_t in_flight = 0;
    bool leaving = false;  // being unregistered: takes no new descriptors meanwhile
  };
  enum class Phase { kOpen, kClosing, kClosed };

  Verdict ValidateOneLocked(const Descriptor& d, uint64_t* cookie)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ReleaseReport DropAllLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StartCloseLocked(bool force) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The regions as they are, with `add` added and `skip` left out (0: none).
  std::vector<RegionSpec> SpecsLocked(const RegionSpec* add, uint64_t skip) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Saves `specs`, creating the in-flight log first if the context has none.
  absl::Status Save(const std::vector<RegionSpec>& specs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const uint32_t context_id_;
  const LedgerLimits limits_;
  const uint32_t address_space_;
  AddressIndex* const index_;
  InFlightBudget* const budget_;
  LedgerJournal* const journal_;

  // Serialises region changes and the final drop of a release, across their disk writes;
  // taken before mu_.
  absl::Mutex write_mu_;
  mutable absl::Mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kOpen;
  absl::flat_hash_map<uint64_t, Region> regions_ ABSL_GUARDED_BY(mu_);
  InFlightTable in_flight_ ABSL_GUARDED_BY(mu_);
  uint64_t bytes_registered_ ABSL_GUARDED_BY(mu_) = 0;
  ContextStats counters_ ABSL_GUARDED_BY(mu_);             // the monotonic part
  std::unique_ptr<InFlightLog> log_ ABSL_GUARDED_BY(mu_);  // null without a journal
  std::function<void()> on_drained_ ABSL_GUARDED_BY(mu_);  // see NotifyWhenDrained
};

}  // namespace vnet::ledger
