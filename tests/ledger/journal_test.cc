// The ledger's journal on disk: region files, in-flight files, and a ledger restored from
// them as vnetd restores it after a restart or a kill -9.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/time/clock.h"
#include "daemon/ledger/buffer_ledger.h"
#include "daemon/ledger/file_journal.h"
#include "daemon/ledger/in_flight_file.h"
#include "daemon/ledger/region_file.h"
#include "tests/ledger/test_util.h"

namespace vnet::ledger {
namespace {

using ::testing::ElementsAre;
using testing::FromDevice;
using ::testing::HasSubstr;
using testing::kPage;
using testing::Region;
using testing::ToDevice;

constexpr char kBoot[] = "boot-one";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-journal-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/ledger";
  }
  void TearDown() override {
    ledger_.reset();
    journal_.reset();
    (void)std::system(("umount " + dir_ + " 2>/dev/null").c_str());  // the full-disk test's
    (void)std::system(("rm -rf " + dir_.substr(0, dir_.rfind('/'))).c_str());
  }

  // A vnetd start: a fresh journal and ledger over the directory, restored. The previous
  // ones are dropped without any release, as a killed process leaves them.
  absl::Status Start(const std::string& boot = kBoot) {
    ledger_.reset();
    journal_ = std::make_unique<FileJournal>(dir_, limits_.max_in_flight_per_context, boot);
    ledger_ = std::make_unique<BufferLedger>(limits_, journal_.get());
    auto saved = journal_->Load();
    if (!saved.ok()) return saved.status();
    return ledger_->Restore(*std::move(saved));
  }

  std::vector<uint64_t> Accept(uint32_t context, std::vector<Descriptor> descriptors) {
    std::vector<DescriptorResult> results;
    ledger_->Validate(context, descriptors, &results);
    std::vector<uint64_t> cookies;
    for (const DescriptorResult& r : results) {
      EXPECT_EQ(r.verdict, Verdict::kAccepted);
      cookies.push_back(r.cookie);
    }
    return cookies;
  }

  std::vector<uint64_t> RegionIds(uint32_t context) const {
    std::vector<uint64_t> ids;
    for (const RegionInfo& info : ledger_->ListRegions(context)) ids.push_back(info.spec.region_id);
    return ids;
  }

  std::string dir_;
  LedgerLimits limits_;
  std::unique_ptr<FileJournal> journal_;
  std::unique_ptr<BufferLedger> ledger_;
};

TEST_F(JournalTest, RegionFileRoundTrips) {
  RegionFile file{7, 3, {Region(1, 0, 2 * kPage, Access::kReadOnly), Region(9, 1 << 20, kPage)}};
  file.regions[0].grant_refs = {11, 12};
  ASSERT_TRUE(SaveRegionFile(dir_, file).ok());
  auto loaded = LoadRegionFile(dir_ + "/" + RegionFileName(7), 7);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->context_id, 7u);
  EXPECT_EQ(loaded->address_space, 3u);
  ASSERT_EQ(loaded->regions.size(), 2u);
  EXPECT_EQ(loaded->regions[0].access, Access::kReadOnly);
  EXPECT_THAT(loaded->regions[0].grant_refs, ElementsAre(11, 12));
  EXPECT_EQ(loaded->regions[1].guest_address, 1u << 20);
}

TEST_F(JournalTest, CorruptOrTruncatedRegionFileIsRefusedAndKept) {
  ASSERT_TRUE(SaveRegionFile(dir_, {4, 0, {Region(1, 0, kPage), Region(2, kPage, kPage)}}).ok());
  const std::string path = dir_ + "/" + RegionFileName(4);
  const std::string whole = ReadFile(path);
  for (const std::string& bad :
       {std::string("regions { region_id: "), whole.substr(0, whole.rfind("regions {")),
        whole.substr(0, whole.find("region_count")), std::string("format_version: 9\n")}) {
    std::ofstream(path, std::ios::trunc) << bad;
    absl::Status s = Start();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << bad;
    EXPECT_THAT(s.message(), HasSubstr(path));
    EXPECT_EQ(ReadFile(path), bad);  // left for the operator
  }
}

TEST_F(JournalTest, InFlightFileRoundTripsAndForgetsAnEarlierBoot) {
  const std::string path = dir_ + "-inflight";
  {
    auto file = InFlightFile::Create(path, 5, kBoot, 16);
    ASSERT_TRUE(file.ok()) << file.status();
    ASSERT_TRUE((*file)->Accepted((uint64_t{1} << 32) | 0, {0, 100, 1}));
    ASSERT_TRUE((*file)->Accepted((uint64_t{3} << 32) | 1, {100, 200, 2}));
    (*file)->Completed((uint64_t{1} << 32) | 0);
  }
  std::vector<SavedSlot> slots;
  bool other_boot = true;
  auto again = InFlightFile::Open(path, 5, kBoot, 16, &slots, &other_boot);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(other_boot);
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_FALSE(slots[0].in_flight);
  EXPECT_EQ(slots[0].cookie, (uint64_t{1} << 32) | 0);  // kept, so it is not issued again
  EXPECT_TRUE(slots[1].in_flight);
  EXPECT_EQ(slots[1].cookie, (uint64_t{3} << 32) | 1);
  EXPECT_EQ(slots[1].entry.address, 100u);
  EXPECT_EQ(slots[1].entry.end, 200u);
  EXPECT_EQ(slots[1].entry.region_id, 2u);
  again->reset();

  auto rebooted = InFlightFile::Open(path, 5, "boot-two", 16, &slots, &other_boot);
  ASSERT_TRUE(rebooted.ok());
  EXPECT_TRUE(other_boot);
  EXPECT_TRUE(slots.empty());
}

TEST_F(JournalTest, CorruptInFlightFileIsRefusedAndKept) {
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(ledger_->RegisterRegion(1, Region(1, 0, 16 * kPage)).ok());
  const std::string path = dir_ + "/inflight-1";
  ASSERT_TRUE(Exists(path));
  ledger_.reset();
  ASSERT_EQ(truncate(path.c_str(), 100), 0);  // cut inside a record
  absl::Status s = Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr(path));
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 100);
  std::ofstream(path, std::ios::trunc) << std::string(4096, 'x');
  EXPECT_EQ(Start().code(), absl::StatusCode::kDataLoss);
}

TEST_F(JournalTest, RegionsAndDescriptorsInFlightComeBackAndCompleteOnce) {
  limits_.max_in_flight_per_context = 3;
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(ledger_->RegisterRegion(1, Region(1, 0, 16 * kPage), 1).ok());
  ASSERT_TRUE(ledger_->RegisterRegion(1, Region(2, 64 * kPage, 4 * kPage), 1).ok());
  ASSERT_TRUE(ledger_->RegisterRegion(2, Region(1, 0, 4 * kPage, Access::kReadOnly), 2).ok());
  ASSERT_TRUE(ledger_->UnregisterRegion(1, 2).ok());
  std::vector<uint64_t> done = Accept(1, {ToDevice(1, 0, 100)});
  ASSERT_EQ(ledger_->Complete(1, done), 1u);
  std::vector<uint64_t> open = Accept(1, {ToDevice(1, 0, 100), FromDevice(1, kPage, 200)});
  std::vector<uint64_t> other = Accept(2, {ToDevice(1, 0, 64)});

  ASSERT_TRUE(Start().ok());  // as after kill -9: nothing was released or flushed
  EXPECT_THAT(RegionIds(1), ElementsAre(1));
  EXPECT_THAT(RegionIds(2), ElementsAre(1));
  EXPECT_EQ(ledger_->ListRegions(1)[0].in_flight, 2u);
  // Still in flight: the same bytes are refused, the region cannot go.
  std::vector<DescriptorResult> results;
  ledger_->Validate(1, std::vector<Descriptor>{ToDevice(1, 50, 10)}, &results);
  EXPECT_EQ(results[0].verdict, Verdict::kOverlapsInFlight);
  EXPECT_EQ(ledger_->UnregisterRegion(1, 1).code(), absl::StatusCode::kFailedPrecondition);
  // The per-context limit counts what came back: 2 of 3 in flight, so one more fits.
  std::vector<uint64_t> fresh = Accept(1, {ToDevice(1, 8 * kPage, 10)});
  ledger_->Validate(1, std::vector<Descriptor>{ToDevice(1, 9 * kPage, 10)}, &results);
  EXPECT_EQ(results[0].verdict, Verdict::kInFlightLimit);
  // No cookie handed out before the restart is handed out again.
  EXPECT_NE(fresh[0], done[0]);
  EXPECT_NE(fresh[0], open[0]);
  EXPECT_NE(fresh[0], open[1]);
  // An old cookie completes nothing; the restored ones complete exactly once.
  std::vector<uint64_t> unknown;
  EXPECT_EQ(ledger_->Complete(1, done, &unknown), 0u);
  EXPECT_EQ(ledger_->Complete(1, open, &unknown), 2u);
  EXPECT_EQ(ledger_->Complete(1, open, &unknown), 0u);
  EXPECT_EQ(ledger_->Complete(2, other), 1u);

  // Completions are recorded too: after another restart only `fresh` is in flight.
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(ledger_->ListRegions(1)[0].in_flight, 1u);
  EXPECT_EQ(ledger_->Complete(1, open), 0u);
  EXPECT_EQ(ledger_->Complete(1, fresh), 1u);
  EXPECT_EQ(ledger_->Complete(1, fresh), 0u);
}

TEST_F(JournalTest, DescriptorsFromAnEarlierBootAreDroppedRegionsStay) {
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(ledger_->RegisterRegion(1, Region(1, 0, 16 * kPage)).ok());
  std::vector<uint64_t> cookies = Accept(1, {ToDevice(1, 0, 100)});
  ASSERT_TRUE(Start("boot-two").ok());  // the host crashed and came back
  EXPECT_THAT(RegionIds(1), ElementsAre(1));
  EXPECT_EQ(ledger_->ListRegions(1)[0].in_flight, 0u);
  EXPECT_EQ(ledger_->Complete(1, cookies), 0u);
  EXPECT_TRUE(ledger_->UnregisterRegion(1, 1).ok());
}

TEST_F(JournalTest, AFailedWriteChangesNothing) {
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(ledger_->RegisterRegion(1, Region(1, 0, 4 * kPage)).ok());
  const std::string path = dir_ + "/" + RegionFileName(1);
  const std::string before = ReadFile(path);
  // A directory where the temporary file should go makes every write fail.
  ASSERT_EQ(mkdir((path + ".tmp").c_str(), 0700), 0);
  absl::Status s = ledger_->RegisterRegion(1, Region(2, 8 * kPage, 4 * kPage));
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("region 2 of context 1 not registered"));
  EXPECT_FALSE(ledger_->UnregisterRegion(1, 1).ok());
  EXPECT_THAT(RegionIds(1), ElementsAre(1));
  EXPECT_EQ(ReadFile(path), before);
  // The refused region's range is free again, and the kept region still takes descriptors.
  EXPECT_TRUE(ledger_->RegisterRegion(3, Region(1, 8 * kPage, 4 * kPage)).ok());
  Accept(1, {ToDevice(1, 0, 10)});
  ASSERT_EQ(rmdir((path + ".tmp").c_str()), 0);
  ASSERT_TRUE(Start().ok());
  EXPECT_THAT(RegionIds(1), ElementsAre(1));
  EXPECT_THAT(RegionIds(3), ElementsAre(1));
  ASSERT_TRUE(ledger_->RegisterRegion(1, Region(2, 16 * kPage, 4 * kPage)).ok());
}

TEST_F(JournalTest, AFullDiskRefusesRegionsAndDescriptorsCleanly) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
  if (std::system(
          ("mount -t tmpfs -o size=128k vnet-journal-test " + dir_ + " 2>/dev/null").c_str()) !=
      0) {
    GTEST_SKIP() << "cannot mount a tmpfs here";
  }
  limits_.max_in_flight_per_context = 1u << 20;
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(ledger_->RegisterRegion(1, Region(1, 0, 1u << 30)).ok());
  // Fill the disk with descriptors (each slot needs a record) until one is refused.
  std::vector<uint64_t> cookies;
  std::vector<DescriptorResult> results;
  Verdict last = Verdict::kAccepted;
  for (uint64_t i = 0; i < 100000 && last == Verdict::kAccepted; ++i) {
    ledger_->Validate(1, std::vector<Descriptor>{ToDevice(1, i * 64, 64)}, &results);
    last = results[0].verdict;
    if (last == Verdict::kAccepted) cookies.push_back(results[0].cookie);
  }
  EXPECT_EQ(last, Verdict::kInFlightLimit);
  // Make the region file's rewrite fail for want of space too.
  const std::string filler = dir_ + "/filler";
  (void)std::system(("dd if=/dev/zero of=" + filler + " bs=4k 2>/dev/null").c_str());
  RegionSpec big = Region(2, 1u << 30, 1u << 30);
  big.grant_refs.assign((1u << 30) / kPage, 7);  // a large file to write
  EXPECT_FALSE(ledger_->RegisterRegion(1, big).ok());
  EXPECT_THAT(RegionIds(1), ElementsAre(1));
  const size_t accepted = cookies.size();
  ASSERT_TRUE(Start().ok());
  EXPECT_THAT(RegionIds(1), ElementsAre(1));
  EXPECT_EQ(ledger_->ListRegions(1)[0].in_flight, accepted);
  EXPECT_EQ(ledger_->Complete(1, cookies), accepted);
  ledger_.reset();
  journal_.reset();
  (void)std::system(("umount " + dir_).c_str());
}

TEST_F(JournalTest, ReleasingAContextRemovesItsFiles) {
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(ledger_->RegisterRegion(1, Region(1, 0, 4 * kPage)).ok());
  ASSERT_TRUE(ledger_->RegisterRegion(2, Region(1, 0, 4 * kPage), 2).ok());
  Accept(1, {ToDevice(1, 0, 10)});
  EXPECT_EQ(ledger_->ForceReleaseContext(1, absl::Now()).abandoned, 1u);
  ASSERT_TRUE(ledger_->ReleaseContext(2).ok());
  EXPECT_FALSE(Exists(dir_ + "/" + RegionFileName(1)));
  EXPECT_FALSE(Exists(dir_ + "/inflight-1"));
  EXPECT_FALSE(Exists(dir_ + "/" + RegionFileName(2)));
  ASSERT_TRUE(Start().ok());
  EXPECT_TRUE(ledger_->Snapshot().contexts.empty());
}

TEST_F(JournalTest, InFlightRecordsThatFitNoRegionAreRefused) {
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(ledger_->RegisterRegion(1, Region(1, 0, 16 * kPage)).ok());
  Accept(1, {ToDevice(1, 8 * kPage, 100)});
  ledger_.reset();
  // The region file now says the region is smaller than the descriptor's place in it.
  ASSERT_TRUE(SaveRegionFile(dir_, {1, 0, {Region(1, 0, 4 * kPage)}}).ok());
  absl::Status s = Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("context 1"));
  EXPECT_THAT(s.message(), HasSubstr("lies in no region"));
}

}  // namespace
}  // namespace vnet::ledger
