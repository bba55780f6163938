// The randomized model check with the ledger writing through the file journal: the answers
// must be the same as in memory, and after every sequence a ledger restored from the files
// (as after kill -9) must hold the same regions and the same descriptors in flight.
#include <gtest/gtest.h>

#include <cstdlib>

#include "daemon/ledger/file_journal.h"
#include "tests/ledger/model_check.h"

namespace vnet::ledger::testing {
namespace {

// What must survive: per context, the regions (and their in-flight counts) and totals. A
// context holding nothing is the same as one the ledger does not know (a refused first
// registration leaves such an entry in memory, with nothing to save).
std::string Durable(const BufferLedger& ledger) {
  std::string out;
  for (const ContextStats& c : ledger.Snapshot().contexts) {
    if (c.regions == 0 && c.in_flight == 0) continue;
    out += "context " + std::to_string(c.context_id) + " regions " + std::to_string(c.regions) +
           " bytes " + std::to_string(c.bytes_registered) + " in flight " +
           std::to_string(c.in_flight) + ":";
    for (const RegionInfo& r : ledger.ListRegions(c.context_id)) {
      out += " " + std::to_string(r.spec.region_id) + "@" + std::to_string(r.spec.guest_address) +
             "+" + std::to_string(r.spec.length) + "/" + std::to_string(r.in_flight);
    }
    out += "\n";
  }
  return out;
}

TEST(LedgerJournalModelTest, JournaledLedgerAgreesAndRestoresWhatItHeld) {
  constexpr int kSequences = 20;
  constexpr int kSteps = 300;
  for (int seq = 0; seq < kSequences; ++seq) {
    char tmpl[] = "/tmp/vnet-journal-model-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    std::string before;
    {
      FileJournal journal(dir, ModelLimits().max_in_flight_per_context, "boot");
      ModelCheck check(&journal);
      RandomChoices choices(0x10a0000 + seq);
      for (int step = 0; step < kSteps; ++step) {
        const std::string error = check.Step(choices);
        ASSERT_EQ(error, "") << "seed " << 0x10a0000 + seq << " step " << step;
      }
      before = Durable(check.ledger());
    }  // dropped without releasing anything, as a killed vnetd leaves it
    FileJournal journal(dir, ModelLimits().max_in_flight_per_context, "boot");
    BufferLedger restored(ModelLimits(), &journal);
    auto saved = journal.Load();
    ASSERT_TRUE(saved.ok()) << saved.status();
    ASSERT_TRUE(restored.Restore(*std::move(saved)).ok());
    EXPECT_EQ(Durable(restored), before) << "seed " << 0x10a0000 + seq;
    (void)std::system(("rm -rf " + dir).c_str());
  }
}

}  // namespace
}  // namespace vnet::ledger::testing
