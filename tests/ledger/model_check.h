// Replays register / validate / complete / unregister / release operations against the
// BufferLedger and a brute-force reference model at once, and reports the first place
// they disagree. Used by the randomized test (fixed seed) and the libFuzzer target.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "daemon/ledger/buffer_ledger.h"
#include "daemon/ledger/journal.h"

namespace vnet::ledger::testing {

// Where the operations come from: a seeded generator or fuzzer bytes.
class Choices {
 public:
  virtual ~Choices() = default;
  virtual uint64_t Below(uint64_t n) = 0;  // uniform-ish in [0, n); 0 when n == 0
};

class RandomChoices final : public Choices {
 public:
  explicit RandomChoices(uint64_t seed) : engine_(seed) {}
  uint64_t Below(uint64_t n) override { return n == 0 ? 0 : engine_() % n; }

 private:
  std::mt19937_64 engine_;
};

// Reads choices from a byte string; once it runs out every choice is 0.
class ByteChoices final : public Choices {
 public:
  ByteChoices(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t Below(uint64_t n) override;
  bool exhausted() const { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Small limits, a small address space and few ids, so collisions are frequent.
LedgerLimits ModelLimits();

class ModelCheck {
 public:
  // With a journal, the ledger writes through it (the answers must not change).
  explicit ModelCheck(LedgerJournal* journal = nullptr);

  // One random operation, then a full comparison. Returns "" or what went wrong.
  std::string Step(Choices& choices);
  // How often each verdict came up: shows the generator reaches every rule.
  const std::array<uint64_t, kVerdictCount>& verdicts_seen() const { return verdicts_seen_; }
  const BufferLedger& ledger() const { return ledger_; }

 private:
  struct ModelRegion {
    RegionSpec spec;
    uint64_t in_flight = 0;
  };
  struct ModelInFlight {
    uint64_t address, end, region_id;
  };
  struct ModelContext {
    std::map<uint64_t, ModelRegion> regions;      // by region id
    std::map<uint64_t, ModelInFlight> in_flight;  // by cookie
    ContextStats stats;
  };

  std::string Register(Choices& c);
  std::string Validate(Choices& c);
  std::string Complete(Choices& c);
  std::string Unregister(Choices& c);
  std::string Release(Choices& c);
  std::string ForceRelease(Choices& c);
  std::string Compare() const;

  absl::StatusCode ExpectedRegister(uint32_t ctx, const RegionSpec& spec) const;
  Verdict ExpectedVerdict(const ModelContext& m, const Descriptor& d) const;

  const LedgerLimits limits_;
  BufferLedger ledger_;
  std::map<uint32_t, ModelContext> contexts_;  // the ones the ledger is expected to know
  std::vector<uint64_t> old_cookies_;          // completed or abandoned, for replays
  uint64_t released_ = 0;
  uint64_t abandoned_ = 0;
  std::array<uint64_t, kVerdictCount> verdicts_seen_{};
};

}  // namespace vnet::ledger::testing
