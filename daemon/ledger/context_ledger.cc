#include "daemon/ledger/context_ledger.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace vnet::ledger {

ContextLedger::ContextLedger(uint32_t context_id, uint32_t address_space,
                             const LedgerLimits& limits, AddressIndex* index,
                             InFlightBudget* budget, LedgerJournal* journal)
    : context_id_(context_id),
      limits_(limits),
      address_space_(address_space),
      index_(index),
      budget_(budget),
      journal_(journal),
      in_flight_(limits.in_flight_tuning) {
  counters_.context_id = context_id;
}

ContextLedger::~ContextLedger() {
  absl::MutexLock lock(&mu_);
  budget_->Give(in_flight_.size());
}

std::vector<RegionSpec> ContextLedger::SpecsLocked(const RegionSpec* add, uint64_t skip) const {
  std::vector<RegionSpec> specs;
  specs.reserve(regions_.size() + 1);
  for (const auto& [id, region] : regions_) {
    if (id != skip) specs.push_back(region.spec);
  }
  if (add != nullptr) specs.push_back(*add);
  std::sort(specs.begin(), specs.end(),
            [](const RegionSpec& a, const RegionSpec& b) { return a.region_id < b.region_id; });
  return specs;
}

absl::Status ContextLedger::Save(const std::vector<RegionSpec>& specs) {
  bool has_log = false;
  {
    absl::MutexLock lock(&mu_);
    has_log = log_ != nullptr;
  }
  if (!has_log) {
    // Before the first region is saved: a restored region always finds its context's log.
    auto log = journal_->CreateInFlightLog(context_id_);
    if (!log.ok()) return log.status();
    absl::MutexLock lock(&mu_);
    log_ = *std::move(log);
  }
  return journal_->SaveRegions(context_id_, address_space_, specs);
}

absl::Status ContextLedger::Register(const RegionSpec& spec,
                                     const std::function<absl::Status()>& check) {
  absl::MutexLock writer(&write_mu_);
  std::vector<RegionSpec> next;
  {
    absl::MutexLock lock(&mu_);
    if (check) {
      if (absl::Status s = check(); !s.ok()) return s;
    }
    if (phase_ != Phase::kOpen) {
      return absl::FailedPreconditionError(
          absl::StrFormat("context %d is being released", context_id_));
    }
    if (regions_.contains(spec.region_id)) {
      return absl::AlreadyExistsError(
          absl::StrFormat("region %d of context %d already exists", spec.region_id, context_id_));
    }
    if (regions_.size() >= limits_.max_regions_per_context) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "context %d has %d regions, the most allowed", context_id_, regions_.size()));
    }
    if (spec.length >
        limits_.max_context_bytes - std::min(bytes_registered_, limits_.max_context_bytes)) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("context %d: %d bytes registered + %d would exceed the quota of %d bytes",
                          context_id_, bytes_registered_, spec.length, limits_.max_context_bytes));
    }
    // Claimed now, so no other context takes the range while the region is being saved.
    if (auto s = index_->Claim(address_space_, context_id_, spec.region_id, spec.guest_address,
                               spec.guest_address + spec.length);
        !s.ok()) {
      return s;
    }
    if (journal_ != nullptr) next = SpecsLocked(&spec, 0);
  }
  // Saved before it is seen: a region a caller was told about is on disk. Meanwhile the
  // context's descriptors go on (mu_ is free); its other region changes wait on write_mu_.
  const absl::Status saved = journal_ != nullptr ? Save(next) : absl::OkStatus();
  absl::MutexLock lock(&mu_);
  if (!saved.ok()) {
    index_->Drop(address_space_, context_id_, spec.region_id, spec.guest_address);
    // UNAVAILABLE, as the registry answers a state file it cannot write: the request was
    // fine, the disk was not; retrying later may work.
    return absl::UnavailableError(
        absl::StrFormat("region %d of context %d not registered: cannot persist it: %s",
                        spec.region_id, context_id_, saved.message()));
  }
  // A release that began meanwhile drops it with the others when it commits.
  regions_.emplace(spec.region_id, Region{spec, 0, false});
  bytes_registered_ += spec.length;
  return absl::OkStatus();
}

absl::Status ContextLedger::Unregister(uint64_t region_id,
                                       const std::function<absl::Status()>& check) {
  absl::MutexLock writer(&write_mu_);
  std::vector<RegionSpec> next;
  {
    absl::MutexLock lock(&mu_);
    if (check) {
      if (absl::Status s = check(); !s.ok()) return s;
    }
    auto it = regions_.find(region_id);
    if (it == regions_.end()) {
      return absl::NotFoundError(
          absl::StrFormat("context %d has no region %d", context_id_, region_id));
    }
    if (it->second.in_flight != 0) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "region %d of context %d has %d descriptors in flight; complete them first", region_id,
          context_id_, it->second.in_flight));
    }
    if (journal_ != nullptr) {
      it->second.leaving = true;  // no descriptor may pin it while it is being removed
      next = SpecsLocked(nullptr, region_id);
    }
  }
  const absl::Status saved = journal_ != nullptr
                                 ? journal_->SaveRegions(context_id_, address_space_, next)
                                 : absl::OkStatus();
  absl::MutexLock lock(&mu_);
  // Still there: only region changes (serialised by write_mu_) and a committed release
  // (which takes write_mu_ too) remove regions.
  auto it = regions_.find(region_id);
  if (!saved.ok()) {
    it->second.leaving = false;
    return absl::UnavailableError(
        absl::StrFormat("region %d of context %d not unregistered: cannot persist it: %s",
                        region_id, context_id_, saved.message()));
  }
  index_->Drop(address_space_, context_id_, region_id, it->second.spec.guest_address);
  bytes_registered_ -= it->second.spec.length;
  regions_.erase(it);
  return absl::OkStatus();
}

absl::Status ContextLedger::Restore(const std::vector<RegionSpec>& regions,
                                    const std::vector<SavedSlot>& slots,
                                    std::unique_ptr<InFlightLog> log) {
  absl::MutexLock lock(&mu_);
  for (const RegionSpec& spec : regions) {
    if (regions_.contains(spec.region_id)) {
      return absl::FailedPreconditionError(
          absl::StrFormat("region %d is listed twice", spec.region_id));
    }
    if (auto s = index_->Claim(address_space_, context_id_, spec.region_id, spec.guest_address,
                               spec.guest_address + spec.length);
        !s.ok()) {
      return s;
    }
    regions_.emplace(spec.region_id, Region{spec, 0, false});
    bytes_registered_ += spec.length;
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    if (!slots[i].in_flight) continue;
    const InFlightEntry& e = slots[i].entry;
    auto it = regions_.find(e.region_id);
    if (it == regions_.end() || e.address < it->second.spec.guest_address ||
        e.end > it->second.spec.guest_address + it->second.spec.length || e.end <= e.address) {
      return absl::FailedPreconditionError(
          absl::StrFormat("descriptor in flight in slot %d ([%#x, %#x) in region %d) lies in no "
                          "region of the context",
                          i, e.address, e.end, e.region_id));
    }
    ++it->second.in_flight;
  }
  if (!in_flight_.Restore(slots)) {
    in_flight_.Clear();  // holds no budget
    return absl::FailedPreconditionError("descriptors in flight overlap each other");
  }
  budget_->TakeRestored(in_flight_.size());
  log_ = std::move(log);
  return absl::OkStatus();
}

std::vector<RegionInfo> ContextLedger::Regions() const {
  absl::MutexLock lock(&mu_);
  std::vector<RegionInfo> out;
  out.reserve(regions_.size());
  for (const auto& [id, region] : regions_) out.push_back({region.spec, region.in_flight});
  std::sort(out.begin(), out.end(), [](const RegionInfo& a, const RegionInfo& b) {
    return a.spec.region_id < b.spec.region_id;
  });
  return out;
}

Verdict ContextLedger::ValidateOneLocked(const Descriptor& d, uint64_t* cookie) {
  if (phase_ != Phase::kOpen) return Verdict::kContextClosing;
  if (d.direction != Direction::kToDevice && d.direction != Direction::kFromDevice) {
    return Verdict::kBadDirection;
  }
  if (d.length == 0) return Verdict::kEmpty;
  auto it = regions_.find(d.region_id);
  if (it == regions_.end() || it->second.leaving) return Verdict::kUnknownRegion;
  Region& region = it->second;
  const RegionSpec& spec = region.spec;
  // Written so nothing overflows: the descriptor's offset and its length must both fit.
  if (d.guest_address < spec.guest_address || d.guest_address - spec.guest_address > spec.length ||
      d.length > spec.length - (d.guest_address - spec.guest_address)) {
    return Verdict::kOutsideRegion;
  }
  if (d.direction == Direction::kFromDevice && spec.access != Access::kReadWrite) {
    return Verdict::kAccessDenied;
  }
  if (in_flight_.size() >= limits_.max_in_flight_per_context) return Verdict::kInFlightLimit;
  // The daemon-wide budget answers as the context's own limit does: no room now, retry
  // after completions (the budget counts these refusals apart).
  if (!budget_->TryTake()) return Verdict::kInFlightLimit;
  const InFlightEntry entry{d.guest_address, d.guest_address + d.length, d.region_id};
  *cookie = in_flight_.TryInsert(entry);
  if (*cookie == 0) {
    budget_->Give(1);
    return Verdict::kOverlapsInFlight;
  }
  // Recorded before the backend hears of it; a record that cannot be kept (the log's file
  // cannot grow) refuses the descriptor, as a full context would.
  if (log_ != nullptr && !log_->Accepted(*cookie, entry)) {
    (void)in_flight_.Remove(*cookie);
    budget_->Give(1);
    *cookie = 0;
    return Verdict::kInFlightLimit;
  }
  ++region.in_flight;
  return Verdict::kAccepted;
}

size_t ContextLedger::Validate(absl::Span<const Descriptor> descriptors,
                               DescriptorResult* results) {
  absl::MutexLock lock(&mu_);
  size_t accepted = 0;
  for (size_t i = 0; i < descriptors.size(); ++i) {
    uint64_t cookie = 0;
    const Verdict verdict = ValidateOneLocked(descriptors[i], &cookie);
    results[i] = {verdict, cookie};
    if (verdict == Verdict::kAccepted) {
      ++accepted;
    } else {
      ++counters_.rejected[static_cast<int>(verdict)];
    }
  }
  counters_.accepted += accepted;
  return accepted;
}

size_t ContextLedger::Complete(absl::Span<const uint64_t> cookies, std::vector<uint64_t>* unknown) {
  absl::MutexLock lock(&mu_);
  size_t completed = 0;
  for (uint64_t cookie : cookies) {
    auto entry = in_flight_.Remove(cookie);
    if (!entry) {
      ++counters_.unknown_completions;
      if (unknown != nullptr) unknown->push_back(cookie);
      continue;
    }
    if (log_ != nullptr) log_->Completed(cookie);
    --regions_.find(entry->region_id)->second.in_flight;  // pinned while in flight
    ++completed;
  }
  budget_->Give(completed);
  counters_.completed += completed;
  if (on_drained_ && in_flight_.size() == 0) {
    std::function<void()> drained = std::move(on_drained_);
    on_drained_ = nullptr;
    drained();
  }
  return completed;
}

ReleaseReport ContextLedger::DropAllLocked() {
  ReleaseReport report;
  report.abandoned = in_flight_.size();
  for (const auto& [id, region] : regions_) {
    index_->Drop(address_space_, context_id_, id, region.spec.guest_address);
    ++report.regions;
    report.bytes += region.spec.length;
  }
  regions_.clear();
  budget_->Give(in_flight_.size());
  in_flight_.Clear();
  bytes_registered_ = 0;
  phase_ = Phase::kClosed;
  on_drained_ = nullptr;
  log_.reset();
  if (journal_ != nullptr) journal_->Forget(context_id_);
  return report;
}

absl::StatusOr<ReleaseReport> ContextLedger::Close() {
  absl::MutexLock writer(&write_mu_);
  absl::MutexLock lock(&mu_);
  if (phase_ == Phase::kClosed) return ReleaseReport{};
  if (in_flight_.size() != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "context %d has %d descriptors in flight; complete them or force the release", context_id_,
        in_flight_.size()));
  }
  return DropAllLocked();
}

ReleaseReport ContextLedger::ForceClose(absl::Time deadline) {
  {
    // Waits without write_mu_, so a registration meanwhile is refused at once.
    absl::MutexLock lock(&mu_);
    if (phase_ == Phase::kClosed) return ReleaseReport{};
    phase_ = Phase::kClosing;  // new descriptors are refused; completions still count
    auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_.size() == 0; };
    mu_.AwaitWithDeadline(absl::Condition(&drained), deadline);
  }
  absl::MutexLock writer(&write_mu_);  // a region being saved is in before the drop
  absl::MutexLock lock(&mu_);
  if (phase_ == Phase::kClosed) return ReleaseReport{};
  return DropAllLocked();
}

absl::Status ContextLedger::StartCloseLocked(bool force) {
  if (phase_ == Phase::kClosed) return absl::OkStatus();
  if (phase_ == Phase::kClosing) {
    return absl::AbortedError(
        absl::StrFormat("a release of context %d is already under way", context_id_));
  }
  if (!force && in_flight_.size() != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "context %d has %d descriptors in flight; complete them or force the release", context_id_,
        in_flight_.size()));
  }
  phase_ = Phase::kClosing;  // new descriptors are refused; completions still count
  return absl::OkStatus();
}

absl::Status ContextLedger::StartClose(bool force) {
  absl::MutexLock lock(&mu_);
  return StartCloseLocked(force);
}

void ContextLedger::NotifyWhenDrained(std::function<void()> drained) {
  absl::MutexLock lock(&mu_);
  if (in_flight_.size() == 0) {
    on_drained_ = nullptr;
    drained();
    return;
  }
  on_drained_ = std::move(drained);
}

void ContextLedger::StopDrainNotice() {
  absl::MutexLock lock(&mu_);
  on_drained_ = nullptr;
}

absl::Status ContextLedger::BeginClose(bool force, absl::Time drain_deadline,
                                       const std::function<absl::Status()>& check) {
  absl::MutexLock lock(&mu_);
  if (phase_ == Phase::kClosed) return absl::OkStatus();
  if (absl::Status s = StartCloseLocked(force); !s.ok()) return s;
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_.size() == 0; };
  // In slices, so a caller that gives up is noticed while it waits.
  constexpr absl::Duration kSlice = absl::Milliseconds(20);
  while (in_flight_.size() != 0 && absl::Now() < drain_deadline) {
    if (check) {
      if (absl::Status s = check(); !s.ok()) {
        phase_ = Phase::kOpen;
        return s;
      }
    }
    mu_.AwaitWithDeadline(absl::Condition(&drained),
                          std::min(drain_deadline, absl::Now() + kSlice));
  }
  if (check) {
    if (absl::Status s = check(); !s.ok()) {
      phase_ = Phase::kOpen;
      return s;
    }
  }
  return absl::OkStatus();
}

ReleaseReport ContextLedger::CommitClose() {
  absl::MutexLock writer(&write_mu_);
  absl::MutexLock lock(&mu_);
  if (phase_ == Phase::kClosed) return ReleaseReport{};
  return DropAllLocked();
}

void ContextLedger::AbortClose() {
  absl::MutexLock lock(&mu_);
  on_drained_ = nullptr;
  if (phase_ == Phase::kClosing) phase_ = Phase::kOpen;
}

bool ContextLedger::closed() const {
  absl::MutexLock lock(&mu_);
  return phase_ == Phase::kClosed;
}

ContextStats ContextLedger::Stats() const {
  absl::MutexLock lock(&mu_);
  ContextStats stats = counters_;
  stats.regions = regions_.size();
  stats.bytes_registered = bytes_registered_;
  stats.in_flight = in_flight_.size();
  return stats;
}

}  // namespace vnet::ledger
