// A flat network: 4096 guests on one VLAN (ordinary on a cloud host). A broadcast from one
// guest must reach every other one, counted by the kernel's own device statistics (not by
// the program's account of itself), and a VLAN one member over the bound is refused at
// attach rather than left half-flooded.
#include <net/if.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/dataplane/bpf_dataplane.h"
#include "daemon/dataplane/bpffs.h"
#include "gtest/gtest.h"
#include "tests/bpf/test_net.h"
#include "vnet/abi.h"

namespace vnet::testing {
namespace {

constexpr uint32_t kGuests = VNET_VLAN_MAX_MEMBERS;
constexpr uint32_t kVlan = 40;

constexpr const char* kBacklog = "/proc/sys/net/core/netdev_max_backlog";

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::string v;
  f >> v;
  return v;
}

bool WriteFile(const std::string& path, const std::string& v) {
  std::ofstream f(path);
  f << v << "\n";
  return static_cast<bool>(f.flush());
}

uint64_t TxPackets(const std::string& ifname) {
  std::ifstream f("/sys/class/net/" + ifname + "/statistics/tx_packets");
  uint64_t n = 0;
  f >> n;
  return n;
}

// The same counter of a device in another namespace (sysfs shows the reader's namespace).
uint64_t NsTxPackets(const std::string& ns, const std::string& ifname) {
  const std::string cmd =
      "ip netns exec " + ns + " cat /sys/class/net/" + ifname + "/statistics/tx_packets";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  unsigned long long n = 0;
  if (std::fscanf(p, "%llu", &n) != 1) n = 0;
  pclose(p);
  return n;
}

std::string Mac(uint32_t i) { return absl::StrFormat("02:00:00:40:%02x:%02x", i >> 8, i & 0xff); }

class FlatVlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RequireRoot());
    net_ = std::make_unique<TestNet>("x");
    ASSERT_TRUE(net_->ok());
    uplink_ = net_->AddPair("up");
    // One `ip -batch` for all pairs: a fork per pair would take minutes. The peers live in
    // the test namespace, so deleting it (TestNet's destructor) removes every pair.
    const std::string batch = "/tmp/" + net_->ns() + ".batch";
    {
      std::ofstream b(batch);
      for (uint32_t i = 0; i < kGuests; ++i) {
        const std::string h = Host(i), p = Peer(i);
        b << "link add " << h << " type veth peer name " << p << " netns " << net_->ns() << "\n"
          << "link set " << h << " addrgenmode none up\n";
      }
    }
    ASSERT_EQ(Sh("ip -batch " + batch), 0) << "cannot create " << kGuests << " veth pairs";
    std::remove(batch.c_str());
    {
      std::ofstream b(batch);
      for (uint32_t i = 0; i < kGuests; ++i)
        b << "link set " << Peer(i) << " address " << Mac(i) << " addrgenmode none up\n";
    }
    ASSERT_EQ(Sh("ip -n " + net_->ns() + " -batch " + batch), 0);
    std::remove(batch.c_str());
    // Every clone of a broadcast into a plain veth waits in the CPU's one backlog queue
    // (net.core.netdev_max_backlog, 1000 by default) until the softirq drains it: a fan-out
    // to 4095 such guests overflows it, as a Linux bridge's does. Xen's vifs and taps queue
    // per guest. docs/operations.md says to raise it for big flat VLANs of veth guests.
    backlog_ = ReadFile(kBacklog);
    ASSERT_TRUE(WriteFile(kBacklog, std::to_string(4 * kGuests)));
    Log("pairs made");
    ASSERT_TRUE(EnsureBpffsMounted().ok());
    pin_dir_ = std::string(kBpffsRoot) + "/vnet-test-" + std::to_string(getpid()) + "-flat";
    BpfDataplaneOptions o;
    o.pin_dir = pin_dir_;
    o.uplink = uplink_;
    o.capacity = kGuests + 8;
    dp_ = std::make_unique<BpfDataplane>(o);
    absl::Status st = dp_->Init();
    ASSERT_TRUE(st.ok()) << st;
  }

  void Log(const char* what) {
    std::printf("[%6.1f s] %s\n", absl::ToDoubleSeconds(absl::Now() - start_), what);
    std::fflush(stdout);
  }

  void TearDown() override {
    if (dp_) {
      EXPECT_TRUE(dp_->RemoveAll().ok());
      dp_.reset();
    }
    Log("fast path removed");
    RemovePinDir(pin_dir_).IgnoreError();
    net_.reset();
    Log("pairs removed");
    if (!backlog_.empty()) WriteFile(kBacklog, backlog_);
  }

  // Short names: the pid-based prefix plus three hex digits fits IFNAMSIZ.
  std::string Host(uint32_t i) const { return net_->Host(absl::StrFormat("%03x", i)); }
  std::string Peer(uint32_t i) const { return net_->Peer(absl::StrFormat("%03x", i)); }

  v1::Context Guest(uint32_t i) const {
    v1::Context c;
    c.set_id(i + 1);
    c.set_interface_name(Host(i));
    c.set_mac(Mac(i));
    c.set_vlan(kVlan);
    c.add_ipv4_addresses(absl::StrFormat("198.18.%d.%d", 64 + (i >> 8), i & 0xff));
    return c;
  }

  std::unique_ptr<TestNet> net_;
  std::string uplink_, pin_dir_;
  std::unique_ptr<BpfDataplane> dp_;
  absl::Time start_ = absl::Now();
  std::string backlog_;  // the sysctl's value before the test
};

TEST_F(FlatVlanTest, BroadcastReachesEveryOtherGuest) {
  for (uint32_t i = 0; i < kGuests; ++i) {
    absl::Status st = dp_->Attach(Guest(i));
    ASSERT_TRUE(st.ok()) << "guest " << i << ": " << st;
  }
  Log("contexts attached");
  std::vector<uint64_t> before(kGuests);
  for (uint32_t i = 0; i < kGuests; ++i) before[i] = TxPackets(Host(i));
  const uint64_t wire_before = TxPackets(uplink_);

  // Guest 0 asks for an address nobody has: ARP requests, broadcast, retried by the kernel.
  const std::string p0 = Peer(0), ns = net_->ns();
  ASSERT_EQ(TestNet::InNs(ns, "ip addr add 198.18.64.0/15 dev " + p0), 0);
  // One request and no retries: the kernel would otherwise send more while the counters
  // below are read (a second or so for 4096 files) and the guests read later count more.
  ASSERT_EQ(TestNet::InNs(ns, "sysctl -w net.ipv4.neigh." + p0 + ".mcast_solicit=1"), 0);
  TestNet::InNs(ns, "ping -c 1 -W 1 198.18.127.254");  // fails: only the ARP matters
  const uint64_t sent = NsTxPackets(ns, p0);           // what the sender's stack put on its link
  ASSERT_GE(sent, 1u) << "the sender sent no ARP request";

  uint32_t short_of = 0, first_short = 0;
  for (uint32_t i = 1; i < kGuests; ++i) {
    if (TxPackets(Host(i)) - before[i] != sent && short_of++ == 0) first_short = i;
  }
  ASSERT_EQ(NsTxPackets(ns, p0), sent) << "the sender sent more while the guests were read";
  EXPECT_EQ(short_of, 0u) << short_of << " of " << kGuests - 1 << " guests did not get all " << sent
                          << " broadcasts (first: guest " << first_short << ")";
  EXPECT_EQ(TxPackets(Host(0)) - before[0], 0u) << "never back to the sender";
  EXPECT_GE(TxPackets(uplink_) - wire_before, sent) << "and the wire gets it too";
}

}  // namespace
}  // namespace vnet::testing
