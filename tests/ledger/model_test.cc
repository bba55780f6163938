// The randomized model test: random operation sequences (fixed seeds, so a failure
// reproduces) replayed against the ledger and the brute-force reference model.
#include <gtest/gtest.h>

#include <iostream>

#include "tests/ledger/model_check.h"

namespace vnet::ledger::testing {
namespace {

TEST(LedgerModelTest, RandomSequencesAgreeWithTheReferenceModel) {
  constexpr int kSequences = 500;
  constexpr int kSteps = 400;
  std::array<uint64_t, kVerdictCount> seen{};
  for (int seq = 0; seq < kSequences; ++seq) {
    ModelCheck check;
    RandomChoices choices(0x5eed0000 + seq);
    for (int step = 0; step < kSteps; ++step) {
      const std::string error = check.Step(choices);
      ASSERT_EQ(error, "") << "seed " << 0x5eed0000 + seq << " step " << step;
    }
    for (int v = 0; v < kVerdictCount; ++v) seen[v] += check.verdicts_seen()[v];
  }
  std::cout << "verdicts seen:";
  for (int v = 1; v < kVerdictCount; ++v) std::cout << " " << v << "=" << seen[v];
  std::cout << "\n";
  // The generator must reach every rule, acceptance most of all. (kContextClosing needs a
  // concurrent forced release; release_test covers it.)
  EXPECT_GT(seen[static_cast<int>(Verdict::kAccepted)], 5000u);
  for (Verdict v : {Verdict::kUnknownRegion, Verdict::kOutsideRegion, Verdict::kAccessDenied,
                    Verdict::kOverlapsInFlight, Verdict::kEmpty, Verdict::kBadDirection,
                    Verdict::kInFlightLimit}) {
    EXPECT_GT(seen[static_cast<int>(v)], 100u) << "verdict " << static_cast<int>(v);
  }
}

TEST(LedgerModelTest, ByteChoicesReplayLikeTheFuzzer) {
  std::vector<uint8_t> bytes(4096);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 131 + 7);
  ModelCheck check;
  ByteChoices choices(bytes.data(), bytes.size());
  while (!choices.exhausted()) ASSERT_EQ(check.Step(choices), "");
}

}  // namespace
}  // namespace vnet::ledger::testing
