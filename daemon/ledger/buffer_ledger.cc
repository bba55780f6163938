#include "daemon/ledger/buffer_ledger.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "daemon/ledger/region_rules.h"

namespace vnet::ledger {

BufferLedger::BufferLedger(LedgerLimits limits, LedgerJournal* journal)
    : limits_(limits), journal_(journal), budget_(limits.max_in_flight_total) {}

std::shared_ptr<ContextLedger> BufferLedger::Find(uint32_t context_id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = contexts_.find(context_id);
  return it == contexts_.end() ? nullptr : it->second;
}

std::shared_ptr<ContextLedger> BufferLedger::FindOrCreate(uint32_t context_id,
                                                          uint32_t address_space) {
  if (auto found = Find(context_id)) return found;
  absl::MutexLock lock(&mu_);
  auto& slot = contexts_[context_id];
  if (!slot)
    slot = std::make_shared<ContextLedger>(context_id, address_space, limits_, &index_, &budget_,
                                           journal_);
  return slot;
}

// Removes the table entry only if it still is this (closed) ledger: a new registration may
// already have created a fresh one.
void BufferLedger::Forget(uint32_t context_id, const std::shared_ptr<ContextLedger>& ledger,
                          uint64_t abandoned) {
  absl::MutexLock lock(&mu_);
  auto it = contexts_.find(context_id);
  if (it != contexts_.end() && it->second == ledger) contexts_.erase(it);
  ++contexts_released_;
  descriptors_abandoned_ += abandoned;
}

absl::Status BufferLedger::RegisterRegion(uint32_t context_id, const RegionSpec& spec,
                                          uint32_t address_space,
                                          const std::function<absl::Status()>& check) {
  if (context_id == 0) return absl::InvalidArgumentError("context_id: 0 means none");
  if (auto s = CheckRegionSpec(spec, limits_); !s.ok()) return s;
  for (;;) {
    std::shared_ptr<ContextLedger> ledger = FindOrCreate(context_id, address_space);
    absl::Status s = ledger->Register(spec, check);
    // A ledger closed under us by a release: its successor takes the region.
    if (!s.ok() && ledger->closed()) {
      absl::MutexLock lock(&mu_);
      auto it = contexts_.find(context_id);
      if (it != contexts_.end() && it->second == ledger) contexts_.erase(it);
      continue;
    }
    return s;
  }
}

absl::Status BufferLedger::UnregisterRegion(uint32_t context_id, uint64_t region_id,
                                            const std::function<absl::Status()>& check) {
  std::shared_ptr<ContextLedger> ledger = Find(context_id);
  if (!ledger) {
    return absl::NotFoundError(absl::StrCat("context ", context_id, " has no region ", region_id));
  }
  return ledger->Unregister(region_id, check);
}

std::vector<RegionInfo> BufferLedger::ListRegions(uint32_t context_id) const {
  std::shared_ptr<ContextLedger> ledger = Find(context_id);
  return ledger ? ledger->Regions() : std::vector<RegionInfo>{};
}

size_t BufferLedger::Validate(uint32_t context_id, absl::Span<const Descriptor> descriptors,
                              std::vector<DescriptorResult>* results) {
  results->resize(descriptors.size());
  std::shared_ptr<ContextLedger> ledger = Find(context_id);
  if (!ledger) {
    std::fill(results->begin(), results->end(), DescriptorResult{Verdict::kUnknownRegion, 0});
    return 0;
  }
  return ledger->Validate(descriptors, results->data());
}

size_t BufferLedger::Complete(uint32_t context_id, absl::Span<const uint64_t> cookies,
                              std::vector<uint64_t>* unknown) {
  std::shared_ptr<ContextLedger> ledger = Find(context_id);
  if (!ledger) {
    if (unknown != nullptr) unknown->insert(unknown->end(), cookies.begin(), cookies.end());
    return 0;
  }
  return ledger->Complete(cookies, unknown);
}

absl::StatusOr<ReleaseReport> BufferLedger::ReleaseContext(uint32_t context_id) {
  std::shared_ptr<ContextLedger> ledger = Find(context_id);
  if (!ledger) return ReleaseReport{};
  auto report = ledger->Close();
  if (report.ok()) Forget(context_id, ledger, 0);
  return report;
}

ReleaseReport BufferLedger::ForceReleaseContext(uint32_t context_id, absl::Time deadline) {
  std::shared_ptr<ContextLedger> ledger = Find(context_id);
  if (!ledger) return ReleaseReport{};
  ReleaseReport report = ledger->ForceClose(deadline);
  Forget(context_id, ledger, report.abandoned);
  return report;
}

absl::Status BufferLedger::BeginRelease(uint32_t context_id, bool force, absl::Time drain_deadline,
                                        const std::function<absl::Status()>& check) {
  std::shared_ptr<ContextLedger> ledger = Find(context_id);
  if (!ledger) return check ? check() : absl::OkStatus();
  return ledger->BeginClose(force, drain_deadline, check);
}

ReleaseReport BufferLedger::CommitRelease(uint32_t context_id) {
  std::shared_ptr<ContextLedger> ledger = Find(context_id);
  if (!ledger) return ReleaseReport{};
  ReleaseReport report = ledger->CommitClose();
  Forget(context_id, ledger, report.abandoned);
  return report;
}

void BufferLedger::AbortRelease(uint32_t context_id) {
  if (std::shared_ptr<ContextLedger> ledger = Find(context_id)) ledger->AbortClose();
}

absl::Status BufferLedger::StartRelease(uint32_t context_id, bool force) {
  std::shared_ptr<ContextLedger> ledger = Find(context_id);
  return ledger ? ledger->StartClose(force) : absl::OkStatus();
}

void BufferLedger::NotifyWhenDrained(uint32_t context_id, std::function<void()> drained) {
  std::shared_ptr<ContextLedger> ledger = Find(context_id);
  if (!ledger) return drained();
  ledger->NotifyWhenDrained(std::move(drained));
}

void BufferLedger::StopDrainNotice(uint32_t context_id) {
  if (std::shared_ptr<ContextLedger> ledger = Find(context_id)) ledger->StopDrainNotice();
}

absl::Status BufferLedger::Restore(std::vector<SavedContext> saved) {
  absl::Status failed;
  for (SavedContext& c : saved) {
    auto ledger = std::make_shared<ContextLedger>(c.context_id, c.address_space, limits_, &index_,
                                                  &budget_, journal_);
    if (absl::Status s = ledger->Restore(c.regions, c.slots, std::move(c.log)); !s.ok()) {
      failed = absl::FailedPreconditionError(
          absl::StrCat("saved buffers of context ", c.context_id, ": ", s.message()));
      break;
    }
    absl::MutexLock lock(&mu_);
    contexts_[c.context_id] = std::move(ledger);
  }
  if (failed.ok()) return failed;
  // Left empty, with nothing removed from the journal: the caller refuses to start.
  absl::MutexLock lock(&mu_);
  contexts_.clear();
  return failed;
}

LedgerStats BufferLedger::Snapshot() const {
  LedgerStats stats;
  std::vector<std::shared_ptr<ContextLedger>> ledgers;
  {
    absl::ReaderMutexLock lock(&mu_);
    stats.contexts_released = contexts_released_;
    stats.descriptors_abandoned = descriptors_abandoned_;
    stats.in_flight_budget = budget_.limit();
    stats.in_flight_budget_used = budget_.used();
    stats.in_flight_budget_refused = budget_.refused();
    for (const auto& [id, ledger] : contexts_) ledgers.push_back(ledger);
  }
  for (const auto& ledger : ledgers) stats.contexts.push_back(ledger->Stats());
  std::sort(
      stats.contexts.begin(), stats.contexts.end(),
      [](const ContextStats& a, const ContextStats& b) { return a.context_id < b.context_id; });
  return stats;
}

}  // namespace vnet::ledger
