#include "daemon/core/state_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "google/protobuf/text_format.h"
#include "google/protobuf/unknown_field_set.h"

namespace vnet {
namespace {

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-state-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(StateFileTest, MissingFileIsEmptyState) {
  StateFile file(dir_ + "/not-yet");
  auto state = file.Load();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->contexts_size(), 0);
}

TEST_F(StateFileTest, SaveThenLoadRoundTrips) {
  StateFile file(dir_ + "/nested/state");
  v1::PersistedState state;
  v1::Context* c = state.add_contexts();
  c->set_id(3);
  c->set_interface_name("vif3.0");
  c->add_ipv6_addresses("2001:db8::3");
  ASSERT_TRUE(file.Save(state).ok());
  auto loaded = file.Load();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->contexts_size(), 1);
  EXPECT_EQ(loaded->contexts(0).interface_name(), "vif3.0");
  EXPECT_EQ(loaded->format_version(), 2u);
  // No temporary file is left behind.
  EXPECT_NE(access((file.path() + ".tmp").c_str(), F_OK), 0);
}

TEST_F(StateFileTest, CorruptFileIsDataLossAndLeftUntouched) {
  StateFile file(dir_);
  const std::string garbage = "contexts { id: 1 interface_name: \"vif1.0\" \n this is not a proto";
  std::ofstream(file.path()) << garbage;
  auto loaded = file.Load();
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(loaded.status().message().find(file.path()), std::string::npos);
  EXPECT_EQ(ReadFile(file.path()), garbage);
}

// Format 1 had one set of TSO/SG flags for both directions: they become the receive ones too.
TEST_F(StateFileTest, FormatOneOffloadsCarryOverToReceive) {
  StateFile file(dir_);
  std::ofstream(file.path()) << "format_version: 1\n"
                                "contexts { id: 1 interface_name: \"vif1.0\" offloads { "
                                "tx_checksum: true tso_v4: true scatter_gather: true } }\n"
                                "contexts { id: 2 interface_name: \"vif2.0\" }\n";
  auto loaded = file.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->contexts_size(), 2);
  const v1::Offloads& o = loaded->contexts(0).offloads();
  EXPECT_TRUE(o.tso_v4() && o.rx_tso_v4() && o.scatter_gather() && o.rx_scatter_gather());
  EXPECT_FALSE(o.tso_v6() || o.rx_tso_v6() || o.rx_checksum());
  EXPECT_FALSE(loaded->contexts(1).has_offloads());  // unset still means "all"
  EXPECT_EQ(loaded->format_version(), 2u);
}

TEST_F(StateFileTest, UnknownFormatVersionIsRefused) {
  StateFile file(dir_);
  std::ofstream(file.path()) << "format_version: 99\n";
  EXPECT_EQ(file.Load().status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(StateFileTest, SaveFailureLeavesOldStateInPlace) {
  StateFile file(dir_);
  v1::PersistedState one;
  one.add_contexts()->set_id(1);
  ASSERT_TRUE(file.Save(one).ok());
  const std::string before = ReadFile(file.path());
  // A directory where the temporary file should go makes the write fail.
  ASSERT_EQ(mkdir((file.path() + ".tmp").c_str(), 0700), 0);
  v1::PersistedState two;
  two.add_contexts()->set_id(2);
  EXPECT_FALSE(file.Save(two).ok());
  EXPECT_EQ(ReadFile(file.path()), before);
}

// The registry's commit-point check: a refusal from before_commit leaves the old file
// exactly as it was and no temporary file behind.
TEST_F(StateFileTest, RefusalBeforeCommitKeepsTheOldFile) {
  StateFile file(dir_);
  v1::PersistedState first;
  first.set_uplink("eth0");
  ASSERT_TRUE(file.Save(first).ok());
  const std::string before = ReadFile(file.path());
  v1::PersistedState second;
  second.set_uplink("eth1");
  bool asked = false;
  const absl::Status s = file.Save(second, [&] {
    asked = true;
    return absl::DeadlineExceededError("caller gone");
  });
  EXPECT_TRUE(asked);
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_EQ(ReadFile(file.path()), before);
  EXPECT_NE(access((file.path() + ".tmp").c_str(), F_OK), 0);
  ASSERT_TRUE(file.Save(second, [] { return absl::OkStatus(); }).ok());
  EXPECT_EQ(file.Load()->uplink(), "eth1");
}

v1::Context Numbered(uint32_t id) {
  v1::Context c;
  c.set_id(id);
  c.set_domain_id(id);
  c.set_interface_name("vif" + std::to_string(id) + ".0");
  c.add_ipv4_addresses("198.18.0." + std::to_string(id % 250));
  return c;
}

v1::PersistedState WithContexts(uint32_t n) {
  v1::PersistedState state;
  for (uint32_t id = 1; id <= n; ++id) *state.add_contexts() = Numbered(id);
  return state;
}

std::vector<uint32_t> Ids(const v1::PersistedState& state) {
  std::vector<uint32_t> ids;
  for (const v1::Context& c : state.contexts()) ids.push_back(c.id());
  return ids;
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// The journal: puts, removals and the uplink after the snapshot, read back in order.
TEST_F(StateFileTest, AppendedChangesLoadOverTheSnapshot) {
  StateFile file(dir_);
  v1::PersistedState state = WithContexts(3);
  state.set_uplink("eth0");
  ASSERT_TRUE(file.Save(state).ok());
  ASSERT_FALSE(file.NeedsSnapshot());
  StateChanges first;
  first.put.push_back(Numbered(4));
  first.removed.push_back(1);
  ASSERT_TRUE(file.Append(first).ok());
  StateChanges second;
  v1::Context changed = Numbered(2);
  changed.set_mtu(9000);
  second.put.push_back(changed);
  second.uplink = "eth \"1\"";  // escaped and read back
  ASSERT_TRUE(file.Append(second).ok());

  StateFile again(dir_);
  auto loaded = again.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Ids(*loaded), (std::vector<uint32_t>{2, 3, 4}));
  EXPECT_EQ(loaded->contexts(0).mtu(), 9000u);
  EXPECT_EQ(loaded->uplink(), "eth \"1\"");
  EXPECT_FALSE(again.NeedsSnapshot());
  // The contexts stay readable in the file itself (operators grep it).
  EXPECT_NE(ReadFile(file.path()).find("vif4.0"), std::string::npos);
}

// A field the text parser cannot name (unknown to this vnetd: a newer client's, or one sent
// with the wrong wire type) is not written, in a snapshot or an append: the file stays
// loadable. The service fuzzer found a state file that stopped vnetd this way.
TEST_F(StateFileTest, FieldsUnknownToThisVnetdAreNotWritten) {
  StateFile file(dir_);
  v1::PersistedState state = WithContexts(1);
  state.mutable_contexts(0)
      ->GetReflection()
      ->MutableUnknownFields(state.mutable_contexts(0))
      ->AddVarint(6, 58);
  ASSERT_TRUE(file.Save(state).ok());
  StateChanges change;
  change.put.push_back(Numbered(2));
  change.put.back().GetReflection()->MutableUnknownFields(&change.put.back())->AddVarint(999, 1);
  ASSERT_TRUE(file.Append(change).ok());

  StateFile again(dir_);
  auto loaded = again.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Ids(*loaded), (std::vector<uint32_t>{1, 2}));
  const std::string text = ReadFile(file.path());
  EXPECT_EQ(text.find("6: 58"), std::string::npos) << text;
  EXPECT_EQ(text.find("999: 1"), std::string::npos) << text;
}

// What a change costs does not depend on how many contexts there are.
TEST_F(StateFileTest, AnAppendWritesOnlyTheChange) {
  for (uint32_t n : {10u, 4000u}) {
    StateFile file(dir_ + "/" + std::to_string(n));
    ASSERT_TRUE(file.Save(WithContexts(n)).ok());
    const uint64_t before = FileSize(file.path());
    StateChanges one;
    one.put.push_back(Numbered(n + 1));
    ASSERT_TRUE(file.Append(one).ok());
    EXPECT_LT(FileSize(file.path()) - before, 200u) << n << " contexts";
  }
}

// An older vnetd must refuse a file with a journal rather than start without the changes.
TEST_F(StateFileTest, AJournalIsNotAPersistedStateForAnOlderParser) {
  StateFile file(dir_);
  ASSERT_TRUE(file.Save(WithContexts(1)).ok());
  v1::PersistedState plain;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(ReadFile(file.path()), &plain));
  StateChanges one;
  one.removed.push_back(1);
  ASSERT_TRUE(file.Append(one).ok());
  EXPECT_FALSE(google::protobuf::TextFormat::ParseFromString(ReadFile(file.path()), &plain));
}

// kill -9 (or a host crash) in the middle of an append leaves a prefix of the group: cut
// the file at every byte of the last group and the load gives the old state or the new
// one, never a part of it, and the next write is a snapshot that drops the cut tail.
TEST_F(StateFileTest, AnInterruptedAppendLoadsAsTheOldOrTheNewState) {
  StateFile file(dir_);
  ASSERT_TRUE(file.Save(WithContexts(3)).ok());
  StateChanges first;
  first.put.push_back(Numbered(4));
  ASSERT_TRUE(file.Append(first).ok());
  const std::string old_text = ReadFile(file.path());
  StateChanges second;
  second.put.push_back(Numbered(5));
  second.removed.push_back(2);
  second.uplink = "eth1";
  ASSERT_TRUE(file.Append(second).ok());
  const std::string new_text = ReadFile(file.path());
  ASSERT_EQ(new_text.compare(0, old_text.size(), old_text), 0);

  const std::vector<uint32_t> old_ids = {1, 2, 3, 4};
  const std::vector<uint32_t> new_ids = {1, 3, 4, 5};
  const std::string cut_dir = dir_ + "/cut";
  for (size_t cut = old_text.size(); cut <= new_text.size(); ++cut) {
    StateFile cut_file(cut_dir);
    ASSERT_TRUE(cut_file.Save(v1::PersistedState()).ok());
    std::ofstream(cut_file.path(), std::ios::trunc) << new_text.substr(0, cut);
    auto loaded = cut_file.Load();
    ASSERT_TRUE(loaded.ok()) << "cut at " << cut << ": " << loaded.status();
    const bool complete = cut == new_text.size();
    EXPECT_EQ(Ids(*loaded), complete ? new_ids : old_ids) << "cut at " << cut;
    EXPECT_EQ(loaded->uplink(), complete ? "eth1" : "") << "cut at " << cut;
    EXPECT_EQ(cut_file.NeedsSnapshot(), !complete && cut != old_text.size()) << cut;
  }
  // The snapshot after a cut holds the old state and no trace of the cut group.
  StateFile cut_file(cut_dir);
  std::ofstream(cut_file.path(), std::ios::trunc) << new_text.substr(0, new_text.size() - 3);
  auto loaded = cut_file.Load();
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE(cut_file.Save(*loaded).ok());
  EXPECT_EQ(ReadFile(cut_file.path()).find("vif5.0"), std::string::npos);
  EXPECT_EQ(Ids(*StateFile(cut_dir).Load()), old_ids);
}

// A complete group that does not check out is damage, not an interrupted write: refused,
// naming the file and the line, and the file is left as it is.
TEST_F(StateFileTest, ADamagedGroupIsDataLossNamingTheLine) {
  StateFile file(dir_);
  ASSERT_TRUE(file.Save(WithContexts(2)).ok());
  ASSERT_TRUE(file.Append(StateChanges{{Numbered(3)}, {}, {}}).ok());
  ASSERT_TRUE(file.Append(StateChanges{{Numbered(4)}, {}, {}}).ok());
  std::string text = ReadFile(file.path());
  const size_t at = text.find("vif3.0");
  ASSERT_NE(at, std::string::npos);
  text[at + 3] = '7';  // vif7.0: still parses, but the checksum no longer matches
  std::ofstream(file.path(), std::ios::trunc) << text;
  auto loaded = StateFile(dir_).Load();
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(loaded.status().message().find(file.path()), std::string::npos) << loaded.status();
  EXPECT_NE(loaded.status().message().find("line "), std::string::npos) << loaded.status();
  EXPECT_EQ(ReadFile(file.path()), text);
}

TEST_F(StateFileTest, ARefusedAppendWritesNothing) {
  StateFile file(dir_);
  ASSERT_TRUE(file.Save(WithContexts(2)).ok());
  const std::string before = ReadFile(file.path());
  const absl::Status s = file.Append(StateChanges{{Numbered(3)}, {}, {}},
                                     [] { return absl::DeadlineExceededError("caller gone"); });
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_EQ(ReadFile(file.path()), before);
  EXPECT_FALSE(file.NeedsSnapshot());
}

TEST_F(StateFileTest, AFailedAppendChangesNothingAndTheNextWriteIsASnapshot) {
  StateFile file(dir_);
  ASSERT_TRUE(file.Save(WithContexts(2)).ok());
  const std::string before = ReadFile(file.path());
  // A file size limit 20 bytes past the end: the append writes part of the group, then
  // fails (EFBIG), as on a full disk.
  struct rlimit old_limit {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit tight = old_limit;
  tight.rlim_cur = before.size() + 20;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &tight), 0);
  const absl::Status s = file.Append(StateChanges{{Numbered(3)}, {}, {}});
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(file.path()), std::string::npos) << s;
  EXPECT_EQ(ReadFile(file.path()), before);  // the part written was taken back
  EXPECT_TRUE(file.NeedsSnapshot());
  ASSERT_TRUE(file.Save(WithContexts(3)).ok());
  EXPECT_EQ(Ids(*StateFile(dir_).Load()), (std::vector<uint32_t>{1, 2, 3}));
}

// The journal is folded into a snapshot once it outgrows it, and an older format is
// rewritten whole by the first change (so the upgrade leaves a current file).
TEST_F(StateFileTest, ALongJournalOrAnOldFormatAsksForASnapshot) {
  StateFile file(dir_);
  ASSERT_TRUE(file.Save(WithContexts(1)).ok());
  uint32_t appends = 0;
  while (!file.NeedsSnapshot()) {
    ASSERT_TRUE(file.Append(StateChanges{{Numbered(2)}, {}, {}}).ok());
    ASSERT_LT(++appends, 10000u);
  }
  EXPECT_GT(FileSize(file.path()), 64u * 1024);
  ASSERT_TRUE(file.Save(WithContexts(2)).ok());
  EXPECT_FALSE(file.NeedsSnapshot());
  EXPECT_EQ(ReadFile(file.path()).find('@'), std::string::npos);

  StateFile old(dir_ + "/old");
  ASSERT_TRUE(old.Save(v1::PersistedState()).ok());
  std::ofstream(old.path(), std::ios::trunc) << "format_version: 1\ncontexts { id: 1 }\n";
  ASSERT_TRUE(old.Load().ok());
  EXPECT_TRUE(old.NeedsSnapshot());
  EXPECT_EQ(old.Append(StateChanges{{Numbered(2)}, {}, {}}).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace vnet
