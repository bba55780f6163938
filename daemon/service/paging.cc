#include "daemon/service/paging.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace vnet {

absl::StatusOr<size_t> PageSize(int32_t requested) {
  if (requested < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", requested, " is negative (0 means ", kDefaultPageSize, ")"));
  }
  if (requested == 0) return kDefaultPageSize;
  return std::min(static_cast<size_t>(requested), kMaxPageSize);
}

std::string EncodePageToken(absl::string_view kind, const std::vector<uint64_t>& position) {
  return absl::WebSafeBase64Escape(absl::StrCat(kind, ":", absl::StrJoin(position, ":")));
}

absl::StatusOr<std::vector<uint64_t>> DecodePageToken(absl::string_view kind, size_t fields,
                                                      absl::string_view token) {
  if (token.empty()) return std::vector<uint64_t>();
  const auto invalid = absl::InvalidArgumentError(
      "page_token: not a next_page_token of this list (start again with an empty token)");
  std::string text;
  if (token.size() > 256 || !absl::WebSafeBase64Unescape(token, &text)) return invalid;
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  if (parts.size() != fields + 1 || parts[0] != kind) return invalid;
  std::vector<uint64_t> position;
  for (size_t i = 1; i < parts.size(); ++i) {
    uint64_t value = 0;
    if (!absl::SimpleAtoi(parts[i], &value)) return invalid;
    position.push_back(value);
  }
  return position;
}

}  // namespace vnet
