#include "tests/ledger/model_check.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace vnet::ledger::testing {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kPages = 32;  // the model's guest address space, mostly
constexpr uint32_t kMaxContext = 3;
constexpr uint64_t kMaxRegionId = 4;

using Wide = unsigned __int128;  // brute force without overflow worries

bool Overlaps(Wide a_start, Wide a_end, Wide b_start, Wide b_end) {
  return a_start < b_end && b_start < a_end;
}

// Mostly page-aligned addresses in the small space; sometimes odd or near the top.
uint64_t PickAddress(Choices& c) {
  switch (c.Below(8)) {
    case 0:
      return UINT64_MAX - c.Below(3) * kPage - c.Below(2);
    case 1:
      return c.Below(kPages * kPage);
    default:
      return c.Below(kPages) * kPage;
  }
}

}  // namespace

uint64_t ByteChoices::Below(uint64_t n) {
  if (n <= 1) return 0;
  uint64_t value = 0;
  for (uint64_t span = n - 1; span != 0; span >>= 8) {
    value = (value << 8) | (pos_ < size_ ? data_[pos_] : 0);
    ++pos_;
  }
  return value % n;
}

LedgerLimits ModelLimits() {
  LedgerLimits limits;
  limits.max_region_bytes = 4 * kPage;
  limits.max_context_bytes = 6 * kPage;
  limits.max_regions_per_context = 3;
  limits.max_in_flight_per_context = 5;
  // 1 KiB chunks holding two ranges: bucketed, overflowing and long descriptors all occur.
  limits.in_flight_tuning = {10, 2};
  return limits;
}

ModelCheck::ModelCheck(LedgerJournal* journal)
    : limits_(ModelLimits()), ledger_(limits_, journal) {}

std::string ModelCheck::Step(Choices& c) {
  std::string error;
  // Mostly traffic, now and then a change of regions or a release.
  const uint64_t op = c.Below(40);
  if (op < 8) {
    error = Register(c);
  } else if (op < 24) {
    error = Validate(c);
  } else if (op < 36) {
    error = Complete(c);
  } else if (op < 38) {
    error = Unregister(c);
  } else if (op == 38) {
    error = Release(c);
  } else {
    error = ForceRelease(c);
  }
  return error.empty() ? Compare() : error;
}

absl::StatusCode ModelCheck::ExpectedRegister(uint32_t ctx, const RegionSpec& s) const {
  const uint64_t page = s.page_size;
  const bool page_ok = page >= 4096 && page <= (1u << 30) && (page & (page - 1)) == 0;
  if (ctx == 0 || s.region_id == 0 || !page_ok ||
      (s.access != Access::kReadOnly && s.access != Access::kReadWrite) || s.length == 0 ||
      s.guest_address % page != 0 || s.length % page != 0 ||
      Wide{s.guest_address} + s.length > Wide{UINT64_MAX} || s.length > limits_.max_region_bytes ||
      (!s.grant_refs.empty() && s.grant_refs.size() != s.length / 4096)) {
    return absl::StatusCode::kInvalidArgument;
  }
  auto it = contexts_.find(ctx);
  if (it != contexts_.end()) {
    const ModelContext& m = it->second;
    if (m.regions.count(s.region_id)) return absl::StatusCode::kAlreadyExists;
    if (m.regions.size() >= limits_.max_regions_per_context) {
      return absl::StatusCode::kResourceExhausted;
    }
    if (m.stats.bytes_registered + s.length > limits_.max_context_bytes) {
      return absl::StatusCode::kResourceExhausted;
    }
  }
  for (const auto& [other_ctx, other] : contexts_) {
    if (other_ctx == ctx) continue;
    for (const auto& [id, r] : other.regions) {
      if (Overlaps(s.guest_address, Wide{s.guest_address} + s.length, r.spec.guest_address,
                   Wide{r.spec.guest_address} + r.spec.length)) {
        return absl::StatusCode::kFailedPrecondition;
      }
    }
  }
  return absl::StatusCode::kOk;
}

std::string ModelCheck::Register(Choices& c) {
  const uint32_t ctx = static_cast<uint32_t>(c.Below(kMaxContext + 1));
  RegionSpec spec;
  spec.region_id = c.Below(20) == 0 ? 0 : 1 + c.Below(kMaxRegionId);
  spec.guest_address = c.Below(8) == 0 ? PickAddress(c) : c.Below(kPages) * kPage;
  spec.page_size = c.Below(10) == 0 ? 8192 : (c.Below(20) == 0 ? 3000 : 4096);
  spec.length = c.Below(10) == 0 ? c.Below(6) * kPage + c.Below(2) * 100 : (1 + c.Below(4)) * kPage;
  spec.access = static_cast<Access>(c.Below(16) == 0 ? 0 : 1 + c.Below(2));
  if (c.Below(4) == 0) spec.grant_refs.resize(spec.length / 4096 + (c.Below(4) == 0));

  const absl::StatusCode expected = ExpectedRegister(ctx, spec);
  const absl::Status got = ledger_.RegisterRegion(ctx, spec);
  if (got.code() != expected) {
    return absl::StrFormat("register ctx %d region %d [%#x,+%#x) page %d: got %s, expected %s", ctx,
                           spec.region_id, spec.guest_address, spec.length, spec.page_size,
                           got.ToString(), absl::StatusCodeToString(expected));
  }
  // The ledger knows a context from its first registration that passed the shape checks.
  if (expected != absl::StatusCode::kInvalidArgument) {
    ModelContext& m = contexts_[ctx];
    m.stats.context_id = ctx;
    if (expected == absl::StatusCode::kOk) {
      m.regions[spec.region_id] = {spec, 0};
      m.stats.regions = m.regions.size();
      m.stats.bytes_registered += spec.length;
    }
  }
  return "";
}

Verdict ModelCheck::ExpectedVerdict(const ModelContext& m, const Descriptor& d) const {
  if (d.direction != Direction::kToDevice && d.direction != Direction::kFromDevice) {
    return Verdict::kBadDirection;
  }
  if (d.length == 0) return Verdict::kEmpty;
  auto it = m.regions.find(d.region_id);
  if (it == m.regions.end()) return Verdict::kUnknownRegion;
  const RegionSpec& r = it->second.spec;
  if (d.guest_address < r.guest_address ||
      Wide{d.guest_address} + d.length > Wide{r.guest_address} + r.length) {
    return Verdict::kOutsideRegion;
  }
  if (d.direction == Direction::kFromDevice && r.access != Access::kReadWrite) {
    return Verdict::kAccessDenied;
  }
  if (m.in_flight.size() >= limits_.max_in_flight_per_context) return Verdict::kInFlightLimit;
  for (const auto& [cookie, f] : m.in_flight) {
    if (Overlaps(d.guest_address, Wide{d.guest_address} + d.length, f.address, f.end)) {
      return Verdict::kOverlapsInFlight;
    }
  }
  return Verdict::kAccepted;
}

std::string ModelCheck::Validate(Choices& c) {
  const uint32_t ctx = static_cast<uint32_t>(c.Below(kMaxContext + 1));
  std::vector<Descriptor> batch(c.Below(6));
  auto known = contexts_.find(ctx);
  for (Descriptor& d : batch) {
    d.region_id = c.Below(10) == 0 ? c.Below(kMaxRegionId + 2) : 1 + c.Below(kMaxRegionId);
    if (known != contexts_.end() && !known->second.regions.empty() && c.Below(4) != 0) {
      auto pick = known->second.regions.begin();
      std::advance(pick, c.Below(known->second.regions.size()));
      d.region_id = pick->first;  // usually one of the context's own regions
    }
    d.direction = static_cast<Direction>(c.Below(10) == 0 ? 0 : 1 + c.Below(2));
    const uint64_t size = c.Below(20);
    d.length = static_cast<uint32_t>(size == 0   ? UINT32_MAX - c.Below(2)
                                     : size == 1 ? c.Below(2 * kPage + 1)
                                     : size == 2 ? 0
                                                 : 1 + c.Below(512));
    // Aim inside a region most of the time, so acceptances and overlaps are common.
    const ModelRegion* target = nullptr;
    if (known != contexts_.end()) {
      auto region = known->second.regions.find(d.region_id);
      if (region != known->second.regions.end()) target = &region->second;
    }
    if (target != nullptr && c.Below(4) != 0) {
      d.guest_address = target->spec.guest_address + c.Below(target->spec.length);
    } else {
      d.guest_address = PickAddress(c);
    }
  }

  std::vector<DescriptorResult> results;
  const size_t accepted = ledger_.Validate(ctx, batch, &results);
  if (results.size() != batch.size()) return "validate: result count differs from batch";
  size_t expected_accepted = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Descriptor& d = batch[i];
    const Verdict expected =
        known == contexts_.end() ? Verdict::kUnknownRegion : ExpectedVerdict(known->second, d);
    const DescriptorResult& got = results[i];
    if (got.verdict != expected || (got.cookie != 0) != (expected == Verdict::kAccepted)) {
      return absl::StrFormat(
          "validate ctx %d #%d [%#x,+%#x) dir %d region %d: got verdict %d cookie %#x, "
          "expected %d",
          ctx, i, d.guest_address, d.length, static_cast<int>(d.direction), d.region_id,
          static_cast<int>(got.verdict), got.cookie, static_cast<int>(expected));
    }
    ++verdicts_seen_[static_cast<int>(got.verdict)];
    if (known == contexts_.end()) continue;
    ModelContext& m = known->second;
    if (expected != Verdict::kAccepted) {
      ++m.stats.rejected[static_cast<int>(expected)];
      continue;
    }
    // The safety property itself, independent of the verdict logic above.
    const ModelRegion& r = m.regions.at(d.region_id);
    if (d.guest_address < r.spec.guest_address ||
        Wide{d.guest_address} + d.length > Wide{r.spec.guest_address} + r.spec.length ||
        (d.direction == Direction::kFromDevice && r.spec.access != Access::kReadWrite)) {
      return "SAFETY: accepted a descriptor outside its owner's regions or access";
    }
    if (m.in_flight.count(got.cookie)) return "validate: cookie already in flight";
    m.in_flight[got.cookie] = {d.guest_address, d.guest_address + d.length, d.region_id};
    ++m.regions.at(d.region_id).in_flight;
    ++m.stats.accepted;
    ++m.stats.in_flight;
    ++expected_accepted;
  }
  if (accepted != expected_accepted) return "validate: accepted count differs";
  return "";
}

std::string ModelCheck::Complete(Choices& c) {
  const uint32_t ctx = static_cast<uint32_t>(c.Below(kMaxContext + 1));
  std::vector<uint64_t> cookies(c.Below(6));
  for (uint64_t& cookie : cookies) {
    const uint64_t pick = c.Below(4);
    // Usually a cookie of the completing context, sometimes another context's.
    const uint64_t owner = c.Below(4) == 0 ? c.Below(kMaxContext + 1) : ctx;
    auto source = contexts_.find(static_cast<uint32_t>(owner));
    if (pick <= 1 && source != contexts_.end() && !source->second.in_flight.empty()) {
      auto it = source->second.in_flight.begin();
      std::advance(it, c.Below(source->second.in_flight.size()));
      cookie = it->first;  // live, though maybe of another context
    } else if (pick == 2 && !old_cookies_.empty()) {
      cookie = old_cookies_[c.Below(old_cookies_.size())];  // stale
    } else {
      cookie = c.Below(4) == 0 ? 0 : (c.Below(3) << 32 | c.Below(8));  // forged
    }
  }

  std::vector<uint64_t> unknown;
  const size_t completed = ledger_.Complete(ctx, cookies, &unknown);
  std::vector<uint64_t> expected_unknown;
  size_t expected_completed = 0;
  auto known = contexts_.find(ctx);
  for (uint64_t cookie : cookies) {
    if (known == contexts_.end()) {
      expected_unknown.push_back(cookie);
      continue;
    }
    ModelContext& m = known->second;
    auto it = m.in_flight.find(cookie);
    if (it == m.in_flight.end()) {
      expected_unknown.push_back(cookie);
      ++m.stats.unknown_completions;
      continue;
    }
    --m.regions.at(it->second.region_id).in_flight;
    m.in_flight.erase(it);
    old_cookies_.push_back(cookie);
    ++m.stats.completed;
    --m.stats.in_flight;
    ++expected_completed;
  }
  if (completed != expected_completed || unknown != expected_unknown) {
    return absl::StrFormat("complete ctx %d: completed %d (expected %d), unknown %d (expected %d)",
                           ctx, completed, expected_completed, unknown.size(),
                           expected_unknown.size());
  }
  return "";
}

std::string ModelCheck::Unregister(Choices& c) {
  const uint32_t ctx = static_cast<uint32_t>(c.Below(kMaxContext + 1));
  const uint64_t id = c.Below(kMaxRegionId + 1);
  absl::StatusCode expected = absl::StatusCode::kNotFound;
  auto known = contexts_.find(ctx);
  if (known != contexts_.end()) {
    auto it = known->second.regions.find(id);
    if (it != known->second.regions.end()) {
      expected =
          it->second.in_flight != 0 ? absl::StatusCode::kFailedPrecondition : absl::StatusCode::kOk;
    }
  }
  const absl::Status got = ledger_.UnregisterRegion(ctx, id);
  if (got.code() != expected) {
    return absl::StrFormat("unregister ctx %d region %d: got %s, expected %s", ctx, id,
                           got.ToString(), absl::StatusCodeToString(expected));
  }
  if (expected == absl::StatusCode::kOk) {
    ModelContext& m = known->second;
    m.stats.bytes_registered -= m.regions.at(id).spec.length;
    m.regions.erase(id);
    m.stats.regions = m.regions.size();
  }
  return "";
}

std::string ModelCheck::Release(Choices& c) {
  const uint32_t ctx = static_cast<uint32_t>(c.Below(kMaxContext + 1));
  auto known = contexts_.find(ctx);
  const auto got = ledger_.ReleaseContext(ctx);
  if (known == contexts_.end()) {
    if (!got.ok() || got->regions != 0) return "release of an unknown context did something";
    return "";
  }
  const ModelContext& m = known->second;
  if (!m.in_flight.empty()) {
    if (!absl::IsFailedPrecondition(got.status()) ||
        got.status().message().find(absl::StrFormat("has %d descriptors", m.in_flight.size())) ==
            std::string::npos) {
      return absl::StrFormat("release ctx %d with %d in flight: got %s", ctx, m.in_flight.size(),
                             got.status().ToString());
    }
    return "";
  }
  if (!got.ok() || got->regions != m.regions.size() || got->bytes != m.stats.bytes_registered ||
      got->abandoned != 0) {
    return absl::StrFormat("release ctx %d: got %s", ctx, got.status().ToString());
  }
  contexts_.erase(known);
  ++released_;
  return "";
}

std::string ModelCheck::ForceRelease(Choices& c) {
  const uint32_t ctx = static_cast<uint32_t>(c.Below(kMaxContext + 1));
  // Nothing completes concurrently here, so a past deadline abandons what is in flight.
  const ReleaseReport got = ledger_.ForceReleaseContext(ctx, absl::Now());
  auto known = contexts_.find(ctx);
  if (known == contexts_.end()) {
    if (got.regions != 0 || got.abandoned != 0) return "forced release of unknown context";
    return "";
  }
  const ModelContext& m = known->second;
  if (got.regions != m.regions.size() || got.bytes != m.stats.bytes_registered ||
      got.abandoned != m.in_flight.size()) {
    return absl::StrFormat(
        "forced release ctx %d: regions %d bytes %d abandoned %d, expected "
        "%d %d %d",
        ctx, got.regions, got.bytes, got.abandoned, m.regions.size(), m.stats.bytes_registered,
        m.in_flight.size());
  }
  for (const auto& [cookie, f] : m.in_flight) old_cookies_.push_back(cookie);
  abandoned_ += m.in_flight.size();
  ++released_;
  contexts_.erase(known);
  return "";
}

std::string ModelCheck::Compare() const {
  const LedgerStats stats = ledger_.Snapshot();
  if (stats.contexts_released != released_ || stats.descriptors_abandoned != abandoned_) {
    return absl::StrFormat("released %d abandoned %d, expected %d %d", stats.contexts_released,
                           stats.descriptors_abandoned, released_, abandoned_);
  }
  if (stats.contexts.size() != contexts_.size()) {
    return absl::StrFormat("ledger knows %d contexts, model %d", stats.contexts.size(),
                           contexts_.size());
  }
  auto model = contexts_.begin();
  for (const ContextStats& got : stats.contexts) {
    const ContextStats& want = (model++)->second.stats;
    if (got.context_id != want.context_id || got.regions != want.regions ||
        got.bytes_registered != want.bytes_registered || got.in_flight != want.in_flight ||
        got.accepted != want.accepted || got.completed != want.completed ||
        got.unknown_completions != want.unknown_completions || got.rejected != want.rejected) {
      return absl::StrFormat(
          "ctx %d counters: regions %d/%d bytes %d/%d in flight %d/%d accepted %d/%d "
          "completed %d/%d unknown %d/%d (ledger/model)",
          got.context_id, got.regions, want.regions, got.bytes_registered, want.bytes_registered,
          got.in_flight, want.in_flight, got.accepted, want.accepted, got.completed, want.completed,
          got.unknown_completions, want.unknown_completions);
    }
  }
  for (const auto& [ctx, m] : contexts_) {
    const std::vector<RegionInfo> regions = ledger_.ListRegions(ctx);
    if (regions.size() != m.regions.size()) return "ListRegions: region count differs";
    auto want = m.regions.begin();
    for (const RegionInfo& got : regions) {
      const ModelRegion& r = (want++)->second;
      if (got.spec.region_id != r.spec.region_id ||
          got.spec.guest_address != r.spec.guest_address || got.spec.length != r.spec.length ||
          got.spec.access != r.spec.access || got.in_flight != r.in_flight) {
        return absl::StrFormat("ListRegions ctx %d region %d differs (in flight %d/%d)", ctx,
                               got.spec.region_id, got.in_flight, r.in_flight);
      }
    }
  }
  return "";
}

}  // namespace vnet::ledger::testing
