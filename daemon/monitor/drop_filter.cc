#include "daemon/monitor/drop_filter.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vnet::monitor {
namespace {

// At most 64 bytes of a bad value in a message (docs/api.md, "Errors").
std::string Quote(absl::string_view value) {
  constexpr size_t kMaxQuoted = 64;
  if (value.size() <= kMaxQuoted) return std::string(value);
  return absl::StrCat(value.substr(0, kMaxQuoted), "…");
}

std::string ReasonNames() {
  std::vector<std::string> names;
  for (unsigned r = 1; r < VNET_DROP_MAX; ++r) names.emplace_back(vnet_drop_reason_name(r));
  return absl::StrJoin(names, ", ");
}

}  // namespace

absl::StatusOr<uint32_t> DropReasonByName(absl::string_view name) {
  for (unsigned r = 1; r < VNET_DROP_MAX; ++r) {
    if (name == vnet_drop_reason_name(r)) return r;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("reasons: '", Quote(name), "' is not a drop reason; one of ", ReasonNames()));
}

absl::StatusOr<DropFilter> DropFilter::Parse(const std::vector<uint32_t>& context_ids,
                                             const std::vector<std::string>& reasons) {
  if (context_ids.size() > kMaxFilterContexts) {
    return absl::InvalidArgumentError(
        absl::StrCat("context_ids: ", context_ids.size(), " given, at most ", kMaxFilterContexts));
  }
  if (reasons.size() > kMaxFilterReasons) {
    return absl::InvalidArgumentError(
        absl::StrCat("reasons: ", reasons.size(), " given, at most ", kMaxFilterReasons));
  }
  DropFilter f;
  f.contexts_.insert(context_ids.begin(), context_ids.end());
  for (const std::string& name : reasons) {
    auto r = DropReasonByName(name);
    if (!r.ok()) return r.status();
    f.reasons_.set(*r);
  }
  return f;
}

bool DropFilter::Matches(const vnet_drop_event& ev) const {
  if (!contexts_.empty() && !contexts_.contains(ev.ctx_id)) return false;
  return reasons_.none() || reasons_.test(ev.reason);
}

}  // namespace vnet::monitor
