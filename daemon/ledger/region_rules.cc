#include "daemon/ledger/region_rules.h"

#include "absl/strings/str_format.h"

namespace vnet::ledger {

absl::Status CheckRegionSpec(const RegionSpec& spec, const LedgerLimits& limits) {
  const uint64_t page = spec.page_size;
  if (spec.region_id == 0) {
    return absl::InvalidArgumentError("region_id: must be non-zero (0 means none)");
  }
  if (page < kMinPageSize || page > kMaxPageSize || (page & (page - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "page_size %d: must be a power of two from %d to %d", page, kMinPageSize, kMaxPageSize));
  }
  if (spec.access != Access::kReadOnly && spec.access != Access::kReadWrite) {
    return absl::InvalidArgumentError("access: must be read-only or read-write");
  }
  if (spec.length == 0) return absl::InvalidArgumentError("length: must be non-zero");
  if (spec.guest_address % page != 0 || spec.length % page != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "region %d [%#x, +%#x): address and length must be multiples of the page size %d",
        spec.region_id, spec.guest_address, spec.length, page));
  }
  if (spec.guest_address > UINT64_MAX - spec.length) {
    return absl::InvalidArgumentError(
        absl::StrFormat("region %d: %#x + %#x runs past the end of the address space",
                        spec.region_id, spec.guest_address, spec.length));
  }
  if (spec.length > limits.max_region_bytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("region %d: length %d exceeds the limit of %d bytes per region",
                        spec.region_id, spec.length, limits.max_region_bytes));
  }
  // Grants are 4 KiB frames whatever the guest's page size: one reference per frame.
  if (!spec.grant_refs.empty() && spec.grant_refs.size() != spec.length / kGrantPageSize) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "region %d: %d grant references for %d bytes; expected one per %d-byte frame (%d)",
        spec.region_id, spec.grant_refs.size(), spec.length, kGrantPageSize,
        spec.length / kGrantPageSize));
  }
  return absl::OkStatus();
}

}  // namespace vnet::ledger
