// The registry over its state file: what is answered is what a restart finds, what fails
// leaves nothing behind (in memory or on disk), and kill -9 at any moment leaves whole
// contexts only.
#include "daemon/core/context_registry.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace vnet {
namespace {

class ContextRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-registry-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir_).c_str()); }

  std::unique_ptr<ContextRegistry> Open(uint32_t capacity = 64) {
    auto r = std::make_unique<ContextRegistry>(capacity, StateFile(dir_), &dataplane_);
    const absl::Status s = r->Start();
    EXPECT_TRUE(s.ok()) << s;
    return r;
  }
  std::string StateText() const {
    std::ifstream in(dir_ + "/contexts.state");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  NoDataplane dataplane_;
  std::string dir_;
};

v1::Context Guest(uint32_t n) {
  v1::Context c;
  c.set_domain_id(n);
  c.set_interface_name(absl::StrCat("vif", n, ".0"));
  c.set_mac(absl::StrFormat("00:16:3e:00:%02x:%02x", (n >> 8) & 0xff, n & 0xff));
  c.add_ipv4_addresses(absl::StrFormat("198.18.%d.%d", (n >> 8) & 0xff, n & 0xff));
  return c;
}

std::string Summary(const std::vector<v1::Context>& all) {
  std::string out;
  for (const v1::Context& c : all) {
    absl::StrAppend(&out, c.id(), ":", c.interface_name(), "/", c.mtu(), " ");
  }
  return out;
}

TEST_F(ContextRegistryTest, ARestartFindsWhatWasAnswered) {
  std::string before;
  {
    auto r = Open();
    for (uint32_t n = 1; n <= 5; ++n) ASSERT_TRUE(r->Assign(Guest(n)).ok());
    bool found = false;
    v1::ContextRef two;
    two.set_id(2);
    ASSERT_TRUE(r->Release(two, false, &found).ok());
    v1::Context patch;
    patch.set_mtu(9000);
    google::protobuf::FieldMask mask;
    mask.add_paths("mtu");
    v1::ContextRef four;
    four.set_id(4);
    ASSERT_TRUE(r->Update(four, patch, mask).ok());
    ASSERT_TRUE(r->Assign(Guest(6)).ok());  // takes id 2 again
    before = Summary(r->List());
  }
  EXPECT_NE(StateText().find("@journal"), std::string::npos) << "changes were not appended";
  auto again = Open();
  EXPECT_EQ(Summary(again->List()), before);
  // A clean Persist (what vnetd does when it stops) folds the journal into a snapshot.
  ASSERT_TRUE(again->Persist().ok());
  EXPECT_EQ(StateText().find('@'), std::string::npos);
  EXPECT_EQ(Summary(Open()->List()), before);
}

// A change whose caller gave up at the commit point is in neither the file nor the
// registry, and the next change is numbered as if it had never been tried.
TEST_F(ContextRegistryTest, AChangeNotCommittedLeavesNoTrace) {
  auto r = Open();
  ASSERT_TRUE(r->Assign(Guest(1)).ok());
  const std::string text = StateText();
  CallLimits limits;
  limits.deadline = absl::Now() + absl::Milliseconds(50);
  r->SetBeforeCommitHookForTest([] { absl::SleepFor(absl::Milliseconds(100)); });
  EXPECT_TRUE(absl::IsDeadlineExceeded(r->Assign(Guest(2), limits).status()));
  r->SetBeforeCommitHookForTest(nullptr);
  EXPECT_EQ(StateText(), text);
  EXPECT_EQ(r->size(), 1u);
  v1::ContextRef two;
  two.set_interface_name("vif2.0");
  EXPECT_TRUE(absl::IsNotFound(r->Get(two).status()));
  // The writers' copy went back too: the next guest gets id 2 (not 3, as it would if the
  // abandoned assign still held 2 there), and the abandoned one can be assigned anew.
  auto next = r->Assign(Guest(3));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->id(), 2u);
  auto again = r->Assign(Guest(2));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id(), 3u);
  EXPECT_EQ(r->size(), 3u);
  EXPECT_EQ(Summary(Open()->List()), Summary(r->List()));
}

// kill -9 at random moments while a child assigns and updates as fast as it can:
// every restart loads (no torn context), and holds every change the child was answered.
TEST_F(ContextRegistryTest, KillNineAtAnyMomentLeavesWholeContexts) {
  std::mt19937 random(14);
  std::set<uint32_t> acked;  // contexts whose assign and update were answered
  for (int round = 0; round < 12; ++round) {
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(pipe_fds[0]);
      ContextRegistry r(4096, StateFile(dir_), &dataplane_);
      if (!r.Start().ok()) _exit(2);
      for (uint32_t n = static_cast<uint32_t>(r.size()) + 1;; ++n) {
        auto ctx = r.Assign(Guest(n));
        if (!ctx.ok()) _exit(3);
        v1::Context patch;
        patch.set_mtu(1000 + n % 8000);
        google::protobuf::FieldMask mask;
        mask.add_paths("mtu");
        v1::ContextRef ref;
        ref.set_id(ctx->id());
        if (!r.Update(ref, patch, mask).ok()) _exit(4);
        // The id of a context whose assign and update were both answered.
        if (write(pipe_fds[1], &n, sizeof(n)) != sizeof(n)) _exit(5);
      }
    }
    close(pipe_fds[1]);
    absl::SleepFor(absl::Milliseconds(20 + random() % 200));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited " << WEXITSTATUS(status);
    uint32_t n = 0;
    while (read(pipe_fds[0], &n, sizeof(n)) == sizeof(n)) acked.insert(n);
    close(pipe_fds[0]);

    ContextRegistry after(4096, StateFile(dir_), &dataplane_);
    const absl::Status s = after.Start();
    ASSERT_TRUE(s.ok()) << "round " << round << ": " << s;
    for (const v1::Context& c : after.List()) {
      // Names as the child made them (whole contexts), and every answered update.
      EXPECT_EQ(c.interface_name(), absl::StrCat("vif", c.id(), ".0"));
      if (acked.count(c.id()) != 0) {
        EXPECT_EQ(c.mtu(), 1000 + c.id() % 8000) << "round " << round << " context " << c.id();
      }
    }
    for (uint32_t id : acked) {
      v1::ContextRef ref;
      ref.set_id(id);
      ASSERT_TRUE(after.Get(ref).ok())
          << "round " << round << ": answered context " << id << " is lost";
    }
  }
  EXPECT_GT(acked.size(), 50u) << "too few changes to have tested much";
}

}  // namespace
}  // namespace vnet
