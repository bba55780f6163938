// Small builders shared by the ledger tests.
#pragma once

#include <cstdint>

#include "daemon/ledger/ledger_types.h"

namespace vnet::ledger::testing {

constexpr uint64_t kPage = 4096;

inline RegionSpec Region(uint64_t id, uint64_t address, uint64_t length,
                         Access access = Access::kReadWrite) {
  RegionSpec spec;
  spec.region_id = id;
  spec.guest_address = address;
  spec.length = length;
  spec.access = access;
  return spec;
}

inline Descriptor ToDevice(uint64_t region_id, uint64_t address, uint32_t length) {
  return {address, length, Direction::kToDevice, region_id};
}

inline Descriptor FromDevice(uint64_t region_id, uint64_t address, uint32_t length) {
  return {address, length, Direction::kFromDevice, region_id};
}

}  // namespace vnet::ledger::testing
