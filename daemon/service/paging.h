// AIP-158 paging shared by the List calls: page sizes and opaque page tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vnet {

inline constexpr size_t kDefaultPageSize = 500;
inline constexpr size_t kMaxPageSize = 1000;
// A page stops growing past this many bytes (well under gRPC's 4 MiB message limit), even
// short of its page size.
inline constexpr size_t kMaxPageBytes = size_t{2} << 20;

// 0 means the default, above the maximum means the maximum; negative is INVALID_ARGUMENT.
absl::StatusOr<size_t> PageSize(int32_t requested);

// A token names the list it belongs to (`kind`) and where the next page starts; clients
// treat it as opaque.
std::string EncodePageToken(absl::string_view kind, const std::vector<uint64_t>& position);
// An empty token is the first page (returns an empty position). A token of another list
// or a damaged one is INVALID_ARGUMENT.
absl::StatusOr<std::vector<uint64_t>> DecodePageToken(absl::string_view kind, size_t fields,
                                                      absl::string_view token);

}  // namespace vnet
