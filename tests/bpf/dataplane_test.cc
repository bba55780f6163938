// BpfDataplane against the real kernel: a namespace, veth pairs for the uplink and two
// guests, and a pin directory of its own per test. Everything is removed in TearDown, also
// when an assertion failed.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/dataplane/bpf_dataplane.h"
#include "daemon/dataplane/bpffs.h"
#include "daemon/dataplane/gso_size.h"
#include "daemon/dataplane/tc_attach.h"
#include "gtest/gtest.h"
#include "tests/bpf/frames.h"
#include "tests/bpf/test_net.h"
#include "vnet/abi.h"

namespace vnet::testing {
namespace {

namespace fs = std::filesystem;

v1::Context Ctx(uint32_t id, const std::string& ifname, const std::string& mac, uint32_t vlan,
                const std::string& ip4) {
  v1::Context c;
  c.set_id(id);
  c.set_interface_name(ifname);
  c.set_mac(mac);
  c.set_vlan(vlan);
  c.add_ipv4_addresses(ip4);
  c.add_ipv6_addresses("2001:db8::" + std::to_string(id));
  return c;
}

// Keeps the calling thread on the CPU it runs on while in scope: per-CPU state (the
// destination hints) is then the same in every program run.
class PinnedToThisCpu {
 public:
  PinnedToThisCpu() : cpu_(sched_getcpu()) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu_, &one);
    ok_ = sched_getaffinity(0, sizeof(all_), &all_) == 0 &&
          sched_setaffinity(0, sizeof(one), &one) == 0;
  }
  ~PinnedToThisCpu() {
    if (ok_) sched_setaffinity(0, sizeof(all_), &all_);
  }
  PinnedToThisCpu(const PinnedToThisCpu&) = delete;
  PinnedToThisCpu& operator=(const PinnedToThisCpu&) = delete;
  bool ok() const { return ok_; }
  int cpu() const { return cpu_; }

 private:
  cpu_set_t all_{};
  int cpu_;
  bool ok_ = false;
};

class DataplaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RequireRoot());
    net_ = std::make_unique<TestNet>("d");
    ASSERT_TRUE(net_->ok());
    uplink_ = net_->AddPair("up");
    g1_ = net_->AddPair("g1");
    g2_ = net_->AddPair("g2");
    ASSERT_TRUE(net_->ok()) << "cannot create veth pairs";
    uplink_ifindex_ = static_cast<int>(if_nametoindex(uplink_.c_str()));
    ASSERT_TRUE(EnsureBpffsMounted().ok());
    static int seq = 0;
    pin_dir_ = std::string(kBpffsRoot) + "/vnet-test-" + std::to_string(getpid()) + "-" +
               std::to_string(++seq);
    dp_ = NewDataplane();
    absl::Status st = dp_->Init();
    ASSERT_TRUE(st.ok()) << st;
  }

  void TearDown() override {
    if (dp_) {
      absl::Status st = dp_->RemoveAll();
      EXPECT_TRUE(st.ok()) << st;
      dp_.reset();
    }
    RemovePinDir(pin_dir_).IgnoreError();
    net_.reset();
    // Dispatcher pins libxdp keeps for an interface that no longer exists.
    if (uplink_ifindex_ != 0) libxdp_clean_references(uplink_ifindex_);
  }

  // XDP delivery by default: most tests here exercise the uplink's XDP program, which auto
  // does not attach to a veth uplink.
  std::unique_ptr<BpfDataplane> NewDataplane(uint16_t native_vlan = 0,
                                             UplinkDelivery delivery = UplinkDelivery::kXdp) {
    BpfDataplaneOptions o;
    o.native_vlan = native_vlan;
    o.uplink_delivery = delivery;
    o.pin_dir = pin_dir_;
    o.uplink = uplink_;
    o.capacity = 8;
    return std::make_unique<BpfDataplane>(o);
  }

  std::string MapsDir(const std::string& pin_dir = "") const {
    return (pin_dir.empty() ? pin_dir_ : pin_dir) + "/maps-v" + std::to_string(VNET_ABI_VERSION);
  }

  int PinnedMap(const std::string& name) { return bpf_obj_get((MapsDir() + "/" + name).c_str()); }

  // The id the pinned forwarding table holds for (vlan, mac), 0 when none.
  uint32_t FdbLookup(uint16_t vlan, const uint8_t (&mac)[6]) {
    int fd = PinnedMap("vnet_fdb");
    EXPECT_GE(fd, 0);
    vnet_fdb_key key{};
    key.vlan = vlan;
    std::memcpy(key.mac, mac, 6);
    uint32_t id = 0;
    if (bpf_map_lookup_elem(fd, &key, &id) != 0) id = 0;
    close(fd);
    return id;
  }

  vnet_ctx_rec Record(uint32_t id) {
    int fd = PinnedMap("vnet_ctx");
    EXPECT_GE(fd, 0);
    vnet_ctx_rec rec{};
    bpf_map_lookup_elem(fd, &id, &rec);
    close(fd);
    return rec;
  }

  size_t Ip4EntriesOf(uint32_t id) {
    int fd = PinnedMap("vnet_ip4");
    EXPECT_GE(fd, 0);
    size_t n = 0;
    vnet_ip4_key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
      if (next.ctx_id == id) ++n;
      key = next;
      prev = &key;
    }
    close(fd);
    return n;
  }

  // The word in vnet_if_ctx's slot of `ifindex`, and the overflow's entry for it (0: none).
  uint64_t SlotWord(uint32_t ifindex) {
    int fd = PinnedMap("vnet_if_ctx");
    EXPECT_GE(fd, 0);
    uint32_t slot = ifindex & (VNET_IF_SLOTS - 1);
    uint64_t word = 0;
    EXPECT_EQ(bpf_map_lookup_elem(fd, &slot, &word), 0);
    close(fd);
    return word;
  }
  uint32_t OverflowOf(uint32_t ifindex) {
    int fd = PinnedMap("vnet_if_ctx_more");
    EXPECT_GE(fd, 0);
    uint32_t id = 0;
    if (bpf_map_lookup_elem(fd, &ifindex, &id) != 0) id = 0;
    close(fd);
    return id;
  }

  // Runs a frame from `mac`/`ip4` to `dst` through the guest program attached to `ifname`
  // as if it arrived there; returns the verdict.
  int Send(const std::string& ifname, const std::string& mac, const std::string& ip4,
           const std::string& dst = "02:00:00:00:10:99") {
    const int fd = bpf_prog_get_fd_by_id(TcProg(ifname));
    EXPECT_GE(fd, 0);
    const int verdict = Run(fd, ifname, UdpFrame(dst, mac, ip4));
    close(fd);
    return verdict;
  }

  // A frame from the wire (tagged with `vlan`) through the uplink's TC program, or its XDP
  // program when `xdp`; returns the verdict.
  int FromWire(const std::string& dst, const std::string& src, uint16_t vlan, bool xdp = false) {
    const int fd = xdp ? bpf_obj_get((pin_dir_ + "/progs/vnet_uplink_xdp").c_str())
                       : bpf_prog_get_fd_by_id(TcProg(uplink_));
    EXPECT_GE(fd, 0);
    const int verdict = Run(fd, xdp ? "" : uplink_, UdpFrame(dst, src, "198.18.0.99", vlan));
    close(fd);
    return verdict;
  }

  static Bytes UdpFrame(const std::string& dst, const std::string& src, const std::string& ip4,
                        uint16_t vlan = 0) {
    return Cat({Eth(Mac(dst), Mac(src), 0x0800, vlan),
                Ipv4Udp(Ip4(ip4), Ip4("198.18.0.98"), 40000, 5001)});
  }

  // BPF_PROG_TEST_RUN of `frame`; a TC program is given `ifname` as the skb's interface.
  static int Run(int prog_fd, const std::string& ifname, Bytes frame) {
    __sk_buff skb{};
    bpf_test_run_opts run{};
    run.sz = sizeof(run);
    run.data_in = frame.data();
    run.data_size_in = static_cast<uint32_t>(frame.size());
    if (!ifname.empty()) {
      skb.ifindex = if_nametoindex(ifname.c_str());
      run.ctx_in = &skb;
      run.ctx_size_in = sizeof(skb);
    }
    EXPECT_EQ(bpf_prog_test_run_opts(prog_fd, &run), 0) << strerror(errno);
    return static_cast<int>(run.retval);
  }

  // The wire's destination hint on `cpu`: context 0's per-CPU value in vnet_stats.
  uint32_t WireHint(int cpu) {
    int fd = PinnedMap("vnet_stats");
    EXPECT_GE(fd, 0);
    std::vector<vnet_stats_cpu> values(static_cast<size_t>(libbpf_num_possible_cpus()));
    uint32_t key = 0;
    EXPECT_EQ(bpf_map_lookup_elem(fd, &key, values.data()), 0);
    close(fd);
    return values.at(static_cast<size_t>(cpu)).hint.ctx_id;
  }

  uint64_t Counter(uint32_t id, __u64 ContextCounters::*field) {
    auto c = dp_->ReadCounters(id);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? (*c).*field : 0;
  }

  // Whether the guest program on `ifname` counts a frame of context `id` as sent by it (it
  // found the interface's context) and forwards it.
  bool SentAs(const std::string& ifname, uint32_t id, const std::string& mac,
              const std::string& ip4) {
    const uint64_t before = Counter(id, &ContextCounters::tx_packets);
    const int verdict = Send(ifname, mac, ip4);
    return Counter(id, &ContextCounters::tx_packets) == before + 1 && verdict == TC_ACT_REDIRECT;
  }

  uint32_t TcProg(const std::string& ifname) {
    auto id =
        TcAttacher(pin_dir_ + "/links").Query(static_cast<int>(if_nametoindex(ifname.c_str())));
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  // Another tool's XDP program on the uplink, attached without libxdp (so nothing can join
  // it); its fd (the caller detaches and closes it), -1 on failure.
  int AttachForeignXdp() {
    const bpf_insn pass[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    const int prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "other_tool", "GPL", pass, 2, nullptr);
    if (prog < 0) return -1;
    if (bpf_xdp_attach(uplink_ifindex_, prog, XDP_FLAGS_SKB_MODE, nullptr) != 0) {
      close(prog);
      return -1;
    }
    return prog;
  }

  uint32_t XdpProg(int ifindex) {
    uint32_t id = 0;
    bpf_xdp_query_id(ifindex, 0, &id);
    return id;
  }

  std::unique_ptr<TestNet> net_;
  std::string uplink_, g1_, g2_, pin_dir_;
  int uplink_ifindex_ = 0;
  std::unique_ptr<BpfDataplane> dp_;
  static constexpr uint8_t kMac1[6] = {2, 0, 0, 0, 0x10, 1};
  static constexpr uint8_t kMac2[6] = {2, 0, 0, 0, 0x10, 2};
};

TEST_F(DataplaneTest, InitAttachesUplinkAndReportsXdpMode) {
  EXPECT_NE(TcProg(uplink_), 0u);
  EXPECT_NE(XdpProg(uplink_ifindex_), 0u);
  EXPECT_EQ(dp_->XdpMode(), "native");  // veth has native XDP
  EXPECT_NE(dp_->Describe().find("xdp native"), std::string::npos) << dp_->Describe();
  EXPECT_EQ(dp_->WireDelivery(), "xdp");
  EXPECT_TRUE(fs::exists(MapsDir() + "/vnet_fdb"));
  EXPECT_TRUE(fs::exists(MapsDir() + "/vnet_xdp_tx"));
  EXPECT_TRUE(fs::exists(pin_dir_ + "/progs/vnet_guest_tc"));
  EXPECT_TRUE(fs::exists(pin_dir_ + "/progs/vnet_uplink_xdp"));
}

TEST_F(DataplaneTest, AttachWritesTablesAndFilterDetachRemovesThem) {
  const v1::Context c1 = Ctx(1, g1_, "02:00:00:00:10:01", 10, "198.18.0.1");
  absl::Status st = dp_->Attach(c1);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_NE(TcProg(g1_), 0u);
  EXPECT_EQ(FdbLookup(10, kMac1), 1u);
  vnet_ctx_rec rec = Record(1);
  EXPECT_TRUE(rec.flags & VNET_CTX_F_ACTIVE);
  EXPECT_TRUE(rec.flags & VNET_CTX_F_PEER) << "veth peer is in another namespace";
  EXPECT_FALSE(rec.flags & VNET_CTX_F_XDP_TARGET) << "peer runs no NAPI (GRO off)";
  EXPECT_EQ(rec.ifindex, if_nametoindex(g1_.c_str()));
  EXPECT_EQ(rec.vlan, 10);
  EXPECT_EQ(Ip4EntriesOf(1), 1u);
  auto counters = dp_->ReadCounters(1);
  ASSERT_TRUE(counters.ok()) << counters.status();
  EXPECT_EQ(dp_->ActiveContextIds(), std::vector<uint32_t>{1});
  ASSERT_TRUE(dp_->Attach(c1).ok()) << "attach is idempotent";

  st = dp_->Detach(c1);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(TcProg(g1_), 0u);
  EXPECT_EQ(FdbLookup(10, kMac1), 0u);
  EXPECT_EQ(Record(1).flags, 0u);
  EXPECT_EQ(Ip4EntriesOf(1), 0u);
  EXPECT_TRUE(dp_->ActiveContextIds().empty());
  EXPECT_TRUE(dp_->Detach(c1).ok()) << "detach is idempotent";
}

// An interface index that passed to another context (a vif removed, its index reused) is
// the new owner's: removing the old context leaves that entry alone.
TEST_F(DataplaneTest, RemovingAContextLeavesItsFormerInterfaceToTheNewOwner) {
  ASSERT_TRUE(dp_->Attach(Ctx(1, g1_, "02:00:00:00:10:01", 10, "198.18.0.1")).ok());
  ASSERT_TRUE(dp_->Attach(Ctx(2, g1_, "02:00:00:00:10:02", 10, "198.18.0.2")).ok());
  ASSERT_TRUE(dp_->Detach(Ctx(1, g1_, "02:00:00:00:10:01", 10, "198.18.0.1")).ok());
  const uint32_t ifindex = if_nametoindex(g1_.c_str());
  EXPECT_EQ(SlotWord(ifindex), VNET_IF_SLOT(2, ifindex)) << "the new owner's entry was deleted";
  EXPECT_NE(TcProg(g1_), 0u) << "the new owner's program was detached";
  EXPECT_EQ(FdbLookup(10, kMac2), 2u);
  EXPECT_EQ(FdbLookup(10, kMac1), 0u);
}

// Interfaces are found by the low bits of their index (vnet_if_ctx's slots), so indexes past
// the slot count work, and one whose slot another interface holds goes to the overflow table
// and still finds its context. Removing the slot's owner clears only its own slot; the next
// refresh of the other moves it into the freed slot.
TEST_F(DataplaneTest, InterfacesSharingASlotEachFindTheirContext) {
  const uint32_t g1 = if_nametoindex(g1_.c_str());
  uint32_t twin = 0;  // a free index past the slot count with g1's slot
  for (uint32_t i = g1 + VNET_IF_SLOTS; twin == 0 && i < g1 + 64 * VNET_IF_SLOTS;
       i += VNET_IF_SLOTS) {
    char name[IF_NAMESIZE];
    if (if_indextoname(i, name) == nullptr) twin = i;
  }
  ASSERT_NE(twin, 0u);
  const std::string g3 = net_->AddPair("g3", "", twin);
  ASSERT_TRUE(net_->ok());
  ASSERT_EQ(if_nametoindex(g3.c_str()), twin);
  const v1::Context c1 = Ctx(1, g1_, "02:00:00:00:10:01", 10, "198.18.0.1");
  const v1::Context c3 = Ctx(3, g3, "02:00:00:00:10:03", 10, "198.18.0.3");
  ASSERT_TRUE(dp_->Attach(c1).ok());
  ASSERT_TRUE(dp_->Attach(c3).ok());
  EXPECT_EQ(SlotWord(g1), VNET_IF_SLOT(1, g1));
  EXPECT_EQ(OverflowOf(twin), 3u);
  EXPECT_TRUE(SentAs(g1_, 1, "02:00:00:00:10:01", "198.18.0.1"));
  EXPECT_TRUE(SentAs(g3, 3, "02:00:00:00:10:03", "198.18.0.3"));

  ASSERT_TRUE(dp_->Detach(c1).ok());
  EXPECT_EQ(SlotWord(g1), 0u);
  EXPECT_EQ(OverflowOf(twin), 3u) << "the other context's entry was deleted";
  EXPECT_TRUE(SentAs(g3, 3, "02:00:00:00:10:03", "198.18.0.3"));

  ASSERT_TRUE(dp_->Attach(c3).ok());
  EXPECT_EQ(SlotWord(twin), VNET_IF_SLOT(3, twin));
  EXPECT_EQ(OverflowOf(twin), 0u);
  EXPECT_TRUE(SentAs(g3, 3, "02:00:00:00:10:03", "198.18.0.3"));
}

// The destination hint (a sender's last unicast target, per CPU) is taken only while that
// context still has the frame's VLAN and MAC: a context that took another MAC or VLAN, or
// went, gets no frame for its old address. On one CPU, so every run sees the same hint.
TEST_F(DataplaneTest, DestinationHintFollowsTheTablesNotTheOldAddress) {
  const PinnedToThisCpu pinned;
  ASSERT_TRUE(pinned.ok());
  const std::string m1 = "02:00:00:00:10:01", m2 = "02:00:00:00:10:02";
  ASSERT_TRUE(dp_->Attach(Ctx(1, g1_, m1, 10, "198.18.0.1")).ok());
  ASSERT_TRUE(dp_->Attach(Ctx(2, g2_, m2, 10, "198.18.0.2")).ok());
  auto rx2 = [&] { return Counter(2, &ContextCounters::rx_packets); };
  uint64_t n = rx2();
  EXPECT_EQ(Send(g1_, m1, "198.18.0.1", m2), TC_ACT_REDIRECT);
  EXPECT_EQ(Send(g1_, m1, "198.18.0.1", m2), TC_ACT_REDIRECT);  // through the hint
  EXPECT_EQ(rx2(), n + 2);

  // Context 2 takes another MAC: its old one is unknown unicast (to the wire) at once.
  const std::string m2b = "02:00:00:00:10:22";
  ASSERT_TRUE(dp_->Attach(Ctx(2, g2_, m2b, 10, "198.18.0.2")).ok());
  n = rx2();
  EXPECT_EQ(Send(g1_, m1, "198.18.0.1", m2), TC_ACT_REDIRECT);
  EXPECT_EQ(rx2(), n) << "a frame for context 2's old MAC reached it";
  EXPECT_EQ(Send(g1_, m1, "198.18.0.1", m2b), TC_ACT_REDIRECT);
  EXPECT_EQ(rx2(), n + 1);

  // Another VLAN: not reachable from VLAN 10 any more.
  ASSERT_TRUE(dp_->Attach(Ctx(2, g2_, m2b, 20, "198.18.0.2")).ok());
  n = rx2();
  EXPECT_EQ(Send(g1_, m1, "198.18.0.1", m2b), TC_ACT_REDIRECT);
  EXPECT_EQ(rx2(), n) << "a frame crossed from VLAN 10 to VLAN 20";

  // Back on VLAN 10, then gone; a new context with its MAC gets the frames.
  ASSERT_TRUE(dp_->Attach(Ctx(2, g2_, m2b, 10, "198.18.0.2")).ok());
  EXPECT_EQ(Send(g1_, m1, "198.18.0.1", m2b), TC_ACT_REDIRECT);
  ASSERT_TRUE(dp_->Detach(Ctx(2, g2_, m2b, 10, "198.18.0.2")).ok());
  ASSERT_TRUE(dp_->Attach(Ctx(4, g2_, m2b, 10, "198.18.0.4")).ok());
  const uint64_t rx4 = Counter(4, &ContextCounters::rx_packets);
  n = rx2();
  EXPECT_EQ(Send(g1_, m1, "198.18.0.1", m2b), TC_ACT_REDIRECT);
  EXPECT_EQ(Counter(4, &ContextCounters::rx_packets), rx4 + 1);
  EXPECT_EQ(rx2(), n);
}

// The wire's hint (context 0's slot, per CPU) follows the same rule as a guest's: a unicast
// frame from the wire reaches a context only while it has the frame's VLAN and MAC, the
// source-MAC guard still applies to a hinted frame, and a VLAN whose guests all went is the
// host's again. Both uplink programs; on one CPU, so every run sees the same hint.
TEST_F(DataplaneTest, WireHintFollowsTheTablesNotTheOldAddress) {
  const PinnedToThisCpu pinned;
  ASSERT_TRUE(pinned.ok());
  const std::string m1 = "02:00:00:00:10:01", m2 = "02:00:00:00:10:02", wire = "02:00:00:00:77:01";
  ASSERT_TRUE(dp_->Attach(Ctx(1, g1_, m1, 10, "198.18.0.1")).ok());
  ASSERT_TRUE(dp_->Attach(Ctx(2, g2_, m2, 10, "198.18.0.2")).ok());
  auto rx2 = [&] { return Counter(2, &ContextCounters::rx_packets); };
  uint64_t n = rx2();
  EXPECT_EQ(FromWire(m2, wire, 10), TC_ACT_REDIRECT);
  EXPECT_EQ(WireHint(pinned.cpu()), 2u) << "the fdb's answer is not the wire's hint";
  EXPECT_EQ(FromWire(m2, wire, 10), TC_ACT_REDIRECT);  // through the hint
  EXPECT_EQ(rx2(), n + 2);
  EXPECT_EQ(FromWire(m2, wire, 10, /*xdp=*/true), XDP_PASS);  // no XDP target: on to TC

  // A local guest's source MAC on a frame the hint would deliver: still dropped.
  auto local_src = [&] {
    return dp_->ReadCounters(1)->drops[VNET_DIR_RX][VNET_DROP_LOCAL_SOURCE_MAC];
  };
  uint64_t d = local_src();
  n = rx2();
  EXPECT_EQ(FromWire(m2, m1, 10), TC_ACT_SHOT);
  EXPECT_EQ(FromWire(m2, m1, 10, /*xdp=*/true), XDP_DROP);
  EXPECT_EQ(local_src(), d + 2);
  EXPECT_EQ(rx2(), n);

  // Context 2 takes another MAC: its old one is unknown unicast at once, on both programs.
  const std::string m2b = "02:00:00:00:10:22";
  EXPECT_EQ(FromWire(m2, wire, 10), TC_ACT_REDIRECT);
  ASSERT_TRUE(dp_->Attach(Ctx(2, g2_, m2b, 10, "198.18.0.2")).ok());
  n = rx2();
  EXPECT_EQ(FromWire(m2, wire, 10), TC_ACT_SHOT) << "a frame for context 2's old MAC";
  EXPECT_EQ(FromWire(m2, wire, 10, /*xdp=*/true), XDP_DROP) << "a frame for context 2's old MAC";
  EXPECT_EQ(rx2(), n);
  EXPECT_EQ(FromWire(m2b, wire, 10), TC_ACT_REDIRECT);
  EXPECT_EQ(rx2(), n + 1);

  // Another VLAN: a frame tagged 10 no longer reaches it; one tagged 20 does.
  ASSERT_TRUE(dp_->Attach(Ctx(2, g2_, m2b, 20, "198.18.0.2")).ok());
  n = rx2();
  EXPECT_EQ(FromWire(m2b, wire, 10), TC_ACT_SHOT) << "a frame crossed from VLAN 10 to 20";
  EXPECT_EQ(rx2(), n);
  EXPECT_EQ(FromWire(m2b, wire, 20), TC_ACT_REDIRECT);
  EXPECT_EQ(rx2(), n + 1);

  // Gone, and a new context with its MAC gets the frames.
  ASSERT_TRUE(dp_->Detach(Ctx(2, g2_, m2b, 20, "198.18.0.2")).ok());
  ASSERT_TRUE(dp_->Attach(Ctx(4, g2_, m2b, 10, "198.18.0.4")).ok());
  const uint64_t rx4 = Counter(4, &ContextCounters::rx_packets);
  EXPECT_EQ(FromWire(m2b, wire, 10), TC_ACT_REDIRECT);
  EXPECT_EQ(Counter(4, &ContextCounters::rx_packets), rx4 + 1);

  // Every guest of VLAN 10 gone: its frames are the host's again, hint or not.
  ASSERT_TRUE(dp_->Detach(Ctx(4, g2_, m2b, 10, "198.18.0.4")).ok());
  ASSERT_TRUE(dp_->Detach(Ctx(1, g1_, m1, 10, "198.18.0.1")).ok());
  EXPECT_EQ(FromWire(m2b, wire, 10), TC_ACT_UNSPEC);
  EXPECT_EQ(FromWire(m2b, wire, 10, /*xdp=*/true), XDP_PASS);
}

TEST_F(DataplaneTest, XdpCapableTargetIsDetectedNotAssumed) {
  // GRO on the guest end gives the veth NAPI, and the kernel then reports ndo_xdp_xmit.
  ASSERT_EQ(net_->InNs("ethtool -K " + net_->Peer("g2") + " gro on"), 0);
  absl::Status st = dp_->Attach(Ctx(2, g2_, "02:00:00:00:10:02", 10, "198.18.0.2"));
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_TRUE(Record(2).flags & VNET_CTX_F_XDP_TARGET);
  int fd = PinnedMap("vnet_xdp_tx");
  ASSERT_GE(fd, 0);
  uint32_t key = 2, ifindex = 0;
  EXPECT_EQ(bpf_map_lookup_elem(fd, &key, &ifindex), 0);
  EXPECT_EQ(ifindex, if_nametoindex(g2_.c_str()));
  close(fd);
}

TEST_F(DataplaneTest, ReconcileRemovesStaleAndAddsMissing) {
  ASSERT_TRUE(dp_->Attach(Ctx(1, g1_, "02:00:00:00:10:01", 10, "198.18.0.1")).ok());
  ASSERT_TRUE(dp_->Attach(Ctx(2, g2_, "02:00:00:00:10:02", 10, "198.18.0.2")).ok());
  // The pool now has only context 2, with a new VLAN.
  absl::Status st = dp_->Reconcile({Ctx(2, g2_, "02:00:00:00:10:02", 20, "198.18.0.2")});
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(dp_->ActiveContextIds(), std::vector<uint32_t>{2});
  EXPECT_EQ(TcProg(g1_), 0u);
  EXPECT_NE(TcProg(g2_), 0u);
  EXPECT_EQ(FdbLookup(10, kMac1), 0u);
  EXPECT_EQ(FdbLookup(10, kMac2), 0u);
  EXPECT_EQ(FdbLookup(20, kMac2), 2u);
  EXPECT_EQ(Ip4EntriesOf(1), 0u);
  // And back: a missing context is added.
  st = dp_->Reconcile({Ctx(1, g1_, "02:00:00:00:10:01", 10, "198.18.0.1"),
                       Ctx(2, g2_, "02:00:00:00:10:02", 20, "198.18.0.2")});
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(dp_->ActiveContextIds(), (std::vector<uint32_t>{1, 2}));
}

TEST_F(DataplaneTest, DaemonExitKeepsForwardingAndRestartReusesTables) {
  ASSERT_TRUE(dp_->Attach(Ctx(1, g1_, "02:00:00:00:10:01", 10, "198.18.0.1")).ok());
  dp_.reset();  // the daemon stops: nothing is detached
  EXPECT_NE(TcProg(g1_), 0u);
  EXPECT_NE(TcProg(uplink_), 0u);
  const uint32_t before_restart_xdp = XdpProg(uplink_ifindex_);
  EXPECT_NE(before_restart_xdp, 0u);
  EXPECT_EQ(FdbLookup(10, kMac1), 1u);

  dp_ = NewDataplane();
  absl::Status st = dp_->Init();
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(dp_->ActiveContextIds(), std::vector<uint32_t>{1});
  EXPECT_EQ(FdbLookup(10, kMac1), 1u);
  EXPECT_NE(TcProg(g1_), 0u);
  // The new XDP program replaced the old one: in libxdp's dispatcher, or, where the kernel
  // refuses dispatchers (freplace), as the single program on the NIC.
  const uint32_t old_xdp = before_restart_xdp;
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(uplink_ifindex_);
  ASSERT_FALSE(libxdp_get_error(mp));
  if (xdp_multiprog__is_legacy(mp)) {
    xdp_program* main = xdp_multiprog__main_prog(mp);
    ASSERT_NE(main, nullptr);
    EXPECT_STREQ(xdp_program__name(main), "vnet_uplink_xdp");
    EXPECT_NE(xdp_program__id(main), old_xdp);
  } else {
    EXPECT_EQ(xdp_multiprog__program_count(mp), 1);
  }
  xdp_multiprog__close(mp);
}

// A restart with another capacity: the pinned maps are in use and cannot be resized. Init
// says so with both capacities and what to do, and changes nothing: the fast path keeps
// its tables and programs, and a vnetd with the old capacity starts on them.
TEST_F(DataplaneTest, RestartWithAnotherCapacityIsRefusedAndChangesNothing) {
  ASSERT_TRUE(dp_->Attach(Ctx(1, g1_, "02:00:00:00:10:01", 10, "198.18.0.1")).ok());
  const uint32_t guest_prog = TcProg(g1_);
  dp_.reset();
  BpfDataplaneOptions o;
  o.pin_dir = pin_dir_;
  o.capacity = 16;
  auto bigger = std::make_unique<BpfDataplane>(o);
  const absl::Status st = bigger->Init();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find("made for capacity 8"), absl::string_view::npos) << st;
  EXPECT_NE(st.message().find("this vnetd has capacity 16"), absl::string_view::npos) << st;
  EXPECT_NE(st.message().find("vnetd --remove_fast_path"), absl::string_view::npos) << st;
  bigger.reset();
  EXPECT_EQ(TcProg(g1_), guest_prog);
  EXPECT_EQ(FdbLookup(10, kMac1), 1u);
  dp_ = NewDataplane();
  ASSERT_TRUE(dp_->Init().ok());
  EXPECT_EQ(dp_->ActiveContextIds(), std::vector<uint32_t>{1});
}

// vnetd --remove_fast_path and a daemon whose config names no uplink: Init touches no
// uplink, the earlier one keeps forwarding, RemoveAll still takes it away.
TEST_F(DataplaneTest, InitWithoutUplinkLeavesEarlierUplinkAlone) {
  const uint32_t xdp = XdpProg(uplink_ifindex_);
  ASSERT_NE(xdp, 0u);
  dp_.reset();
  BpfDataplaneOptions o;
  o.pin_dir = pin_dir_;
  o.capacity = 8;
  dp_ = std::make_unique<BpfDataplane>(o);
  absl::Status st = dp_->Init();
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(XdpProg(uplink_ifindex_), xdp) << "the uplink was re-attached";
  EXPECT_NE(dp_->Describe().find(uplink_), std::string::npos) << dp_->Describe();
  ASSERT_TRUE(dp_->RemoveAll().ok());
  EXPECT_EQ(XdpProg(uplink_ifindex_), 0u);
  EXPECT_EQ(TcProg(uplink_), 0u);
}

// A load that fails says why in libbpf's own words, naming the map, not a guess.
TEST_F(DataplaneTest, LoadFailureNamesTheCause) {
  dp_.reset();
  const std::string other = pin_dir_ + "-bad";
  ASSERT_TRUE(MakePinDir(MapsDir(other)).ok());
  // A vnet_ctx of another layout under this ABI version's name (a map changed without
  // bumping VNET_ABI_VERSION).
  const int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "vnet_ctx", 4, 8, 9, nullptr);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(bpf_obj_pin(fd, (MapsDir(other) + "/vnet_ctx").c_str()), 0);
  close(fd);
  BpfDataplaneOptions o;
  o.pin_dir = other;
  o.capacity = 8;
  BpfDataplane dp(o);
  absl::Status st = dp.Init();
  RemovePinDir(other).IgnoreError();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("vnet_ctx"), std::string::npos) << st;
  EXPECT_NE(st.message().find("pinned map"), std::string::npos) << st;
  std::cout << "vnetd would say: " << st << "\n";
}

// An upgrade: the pins of an older map ABI (the unversioned maps/ of version 1, with a
// vnet_stats of another size) are not reused; vnetd starts on new maps and removes them.
TEST_F(DataplaneTest, MapsOfAnotherAbiVersionAreNotReused) {
  dp_.reset();
  const std::string other = pin_dir_ + "-old";
  ASSERT_TRUE(MakePinDir(other + "/maps").ok());
  const int fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "vnet_stats", 4, 40, 9, nullptr);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(bpf_obj_pin(fd, (other + "/maps/vnet_stats").c_str()), 0);
  close(fd);
  BpfDataplaneOptions o;
  o.pin_dir = other;
  o.capacity = 8;
  BpfDataplane dp(o);
  absl::Status st = dp.Init();
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_TRUE(fs::exists(MapsDir(other) + "/vnet_stats"));
  EXPECT_FALSE(fs::exists(other + "/maps")) << "the old version's pins are left behind";
  EXPECT_TRUE(dp.RemoveAll().ok());
  RemovePinDir(other).IgnoreError();
}

// The context records and the config are read on every frame: their maps are mmapable so
// that each 64-byte record starts on a cache line (a plain array's values start 56 bytes
// past one), bpf/lib/maps.h. The pins vnetd made carry the flag.
TEST_F(DataplaneTest, RecordMapsKeepEachRecordInOneCacheLine) {
  for (const char* name : {"vnet_ctx", "vnet_config"}) {
    const int fd = PinnedMap(name);
    ASSERT_GE(fd, 0) << name;
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0) << name;
    close(fd);
    EXPECT_TRUE(info.map_flags & BPF_F_MMAPABLE) << name << " is a plain array";
    EXPECT_LE(info.value_size, 64u) << name << ": a value larger than a cache line";
  }
}

// auto on a veth uplink delivers by TC (measured faster, docs/benchmarks.md): no XDP on the
// uplink, and an XDP program of an earlier run with XDP delivery is taken off.
TEST_F(DataplaneTest, AutoOnVethUplinkDeliversByTcAndRemovesXdp) {
  ASSERT_NE(XdpProg(uplink_ifindex_), 0u) << "the fixture's dataplane attached XDP";
  dp_.reset();
  dp_ = NewDataplane(0, UplinkDelivery::kAuto);
  absl::Status st = dp_->Init();
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(dp_->WireDelivery(), "tc");
  EXPECT_EQ(dp_->XdpMode(), "none");
  EXPECT_EQ(XdpProg(uplink_ifindex_), 0u) << "XDP left on a TC-delivered uplink";
  EXPECT_NE(TcProg(uplink_), 0u);
  EXPECT_NE(dp_->Describe().find("delivery tc"), std::string::npos) << dp_->Describe();
  // Back to XDP delivery: attached again.
  dp_.reset();
  dp_ = NewDataplane(0, UplinkDelivery::kXdp);
  ASSERT_TRUE(dp_->Init().ok());
  EXPECT_EQ(dp_->WireDelivery(), "xdp");
  EXPECT_NE(XdpProg(uplink_ifindex_), 0u);
}

// An XDP program that cannot sit beside another tool's (attached without libxdp): forced
// XDP delivery is refused, with nothing of vnet's left on the uplink; auto runs on TC.
TEST_F(DataplaneTest, XdpDeliveryRefusedWhereXdpCannotAttach) {
  ASSERT_TRUE(dp_->RemoveAll().ok());
  dp_.reset();
  const int prog = AttachForeignXdp();
  ASSERT_GE(prog, 0);
  const uint32_t theirs = XdpProg(uplink_ifindex_);
  dp_ = NewDataplane(0, UplinkDelivery::kXdp);
  absl::Status st = dp_->Init();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find("uplink_delivery xdp"), std::string::npos) << st;
  EXPECT_EQ(TcProg(uplink_), 0u) << "a refused uplink keeps no TC program";
  EXPECT_EQ(XdpProg(uplink_ifindex_), theirs) << "the other tool's program was replaced";
  EXPECT_TRUE(dp_->RemoveAll().ok());
  dp_.reset();
  bpf_xdp_detach(uplink_ifindex_, XDP_FLAGS_SKB_MODE, nullptr);
  close(prog);
}

// Another tool's XDP program on the uplink (attached without libxdp, so nothing can be
// added beside it) is left alone; the uplink runs on TC, which switches everything.
TEST_F(DataplaneTest, UplinkWithoutXdpRunsOnTcAlone) {
  ASSERT_TRUE(dp_->RemoveAll().ok());
  dp_.reset();
  const int prog = AttachForeignXdp();
  ASSERT_GE(prog, 0);
  const uint32_t theirs = XdpProg(uplink_ifindex_);
  dp_ = NewDataplane(0, UplinkDelivery::kAuto);
  absl::Status st = dp_->Init();
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(dp_->XdpMode(), "none");
  EXPECT_EQ(dp_->WireDelivery(), "tc");
  EXPECT_NE(TcProg(uplink_), 0u) << "the uplink's TC program is attached";
  EXPECT_EQ(XdpProg(uplink_ifindex_), theirs) << "the other tool's program was replaced";
  ASSERT_TRUE(dp_->Attach(Ctx(1, g1_, "02:00:00:00:10:01", 10, "198.18.0.1")).ok());
  bpf_xdp_detach(uplink_ifindex_, XDP_FLAGS_SKB_MODE, nullptr);
  close(prog);
}

TEST_F(DataplaneTest, RemoveAllLeavesNothingBehind) {
  ASSERT_TRUE(dp_->Attach(Ctx(1, g1_, "02:00:00:00:10:01", 10, "198.18.0.1")).ok());
  ASSERT_TRUE(dp_->Attach(Ctx(2, g2_, "02:00:00:00:10:02", 20, "198.18.0.2")).ok());
  absl::Status st = dp_->RemoveAll();
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_FALSE(fs::exists(pin_dir_));
  EXPECT_EQ(TcProg(g1_), 0u);
  EXPECT_EQ(TcProg(g2_), 0u);
  EXPECT_EQ(TcProg(uplink_), 0u);
  EXPECT_EQ(XdpProg(uplink_ifindex_), 0u);
  const std::string prefix = "dispatch-" + std::to_string(uplink_ifindex_) + "-";
  if (fs::exists(std::string(kBpffsRoot) + "/xdp")) {
    for (const auto& e : fs::directory_iterator(std::string(kBpffsRoot) + "/xdp"))
      EXPECT_NE(e.path().filename().string().rfind(prefix, 0), 0u) << e.path();
  }
}

// Real traffic: two guests in their own namespaces on one VLAN, no bridge anywhere. ARP
// fans out through the guest program's clones, replies come back by bpf_redirect_peer.
TEST_F(DataplaneTest, GuestsInNamespacesTalkAndSpoofedTrafficIsDropped) {
  const std::string na = net_->AddNamespace("a"), nb = net_->AddNamespace("b");
  const std::string ga = net_->AddPair("ga", na), gb = net_->AddPair("gb", nb);
  const std::string pa = net_->Peer("ga"), pb = net_->Peer("gb");
  ASSERT_TRUE(net_->ok());
  for (auto [ns, dev, mac, ip4, ip6] :
       {std::tuple{na, pa, "02:00:00:00:20:01", "198.18.2.1/24", "2001:db8:2::1/64"},
        std::tuple{nb, pb, "02:00:00:00:20:02", "198.18.2.2/24", "2001:db8:2::2/64"}}) {
    ASSERT_EQ(TestNet::InNs(ns, "ip link set " + dev + " address " + mac), 0);
    ASSERT_EQ(TestNet::InNs(ns, "sysctl -w net.ipv6.conf." + dev + ".disable_ipv6=0"), 0);
    ASSERT_EQ(TestNet::InNs(ns, std::string("ip addr add ") + ip4 + " dev " + dev), 0);
    ASSERT_EQ(TestNet::InNs(ns, std::string("ip addr add ") + ip6 + " dev " + dev + " nodad"), 0);
  }
  v1::Context a = Ctx(3, ga, "02:00:00:00:20:01", 30, "198.18.2.1");
  v1::Context b = Ctx(4, gb, "02:00:00:00:20:02", 30, "198.18.2.2");
  a.set_ipv6_addresses(0, "2001:db8:2::1");
  b.set_ipv6_addresses(0, "2001:db8:2::2");
  ASSERT_TRUE(dp_->Attach(a).ok());
  ASSERT_TRUE(dp_->Attach(b).ok());
  EXPECT_TRUE(Record(3).flags & VNET_CTX_F_PEER);

  EXPECT_EQ(TestNet::InNs(na, "ping -c 3 -i 0.2 -w 5 198.18.2.2"), 0) << "IPv4 guest to guest";
  EXPECT_EQ(TestNet::InNs(na, "ping -6 -c 3 -i 0.2 -w 5 2001:db8:2::2"), 0) << "IPv6";
  auto ca = dp_->ReadCounters(3), cb = dp_->ReadCounters(4);
  ASSERT_TRUE(ca.ok() && cb.ok());
  EXPECT_GE(ca->tx_packets, 6u);
  EXPECT_GE(ca->rx_packets, 6u);
  EXPECT_GE(cb->rx_packets, 6u);

  // A source address the context does not own goes nowhere and is counted.
  ASSERT_EQ(TestNet::InNs(na, "ip addr add 198.18.2.9/32 dev " + pa), 0);
  EXPECT_NE(TestNet::InNs(na, "ping -c 2 -i 0.2 -w 2 -I 198.18.2.9 198.18.2.2"), 0);
  ca = dp_->ReadCounters(3);
  ASSERT_TRUE(ca.ok());
  EXPECT_GE(ca->drops[VNET_DIR_TX][VNET_DROP_SPOOF_IPV4], 2u);

  // Released: its traffic stops.
  ASSERT_TRUE(dp_->Detach(b).ok());
  EXPECT_NE(TestNet::InNs(na, "ping -c 2 -i 0.2 -w 2 198.18.2.2"), 0);
}

// A guest reaches a host on the wire through the uplink (XDP passes, the uplink TC program
// redirects). This kernel has no 802.1Q devices for the wire side, so the guest's VLAN is
// the uplink's native (untagged) one here; tag push and pop are covered by the fixtures.
TEST_F(DataplaneTest, GuestReachesWireHostThroughUplink) {
  ASSERT_TRUE(dp_->RemoveAll().ok());
  dp_ = NewDataplane(/*native_vlan=*/30);
  ASSERT_TRUE(dp_->Init().ok());
  const std::string na = net_->AddNamespace("a");
  const std::string ga = net_->AddPair("ga", na), pa = net_->Peer("ga");
  ASSERT_TRUE(net_->ok());
  ASSERT_EQ(TestNet::InNs(na, "ip link set " + pa + " address 02:00:00:00:20:01"), 0);
  ASSERT_EQ(TestNet::InNs(na, "ip addr add 198.18.3.1/24 dev " + pa), 0);
  // The wire: the uplink's far end in the test namespace.
  ASSERT_EQ(net_->InNs("ip addr add 198.18.3.100/24 dev " + net_->Peer("up")), 0);
  ASSERT_TRUE(dp_->Attach(Ctx(3, ga, "02:00:00:00:20:01", 30, "198.18.3.1")).ok());

  EXPECT_EQ(TestNet::InNs(na, "ping -c 3 -i 0.2 -w 5 198.18.3.100"), 0);
  auto c = dp_->ReadCounters(3);
  ASSERT_TRUE(c.ok());
  EXPECT_GE(c->tx_packets, 3u);
  EXPECT_GE(c->rx_packets, 3u);
}

// With GRO on the guest end the kernel reports the veth XDP-capable, and unicast from the
// wire takes the XDP fast path: redirected by the uplink's XDP program through the devmap.
TEST_F(DataplaneTest, WireToXdpCapableGuestTakesXdpRedirect) {
  ASSERT_TRUE(dp_->RemoveAll().ok());
  dp_ = NewDataplane(/*native_vlan=*/30);
  ASSERT_TRUE(dp_->Init().ok());
  ASSERT_EQ(dp_->XdpMode(), "native");
  const std::string na = net_->AddNamespace("a");
  const std::string ga = net_->AddPair("ga", na), pa = net_->Peer("ga");
  ASSERT_TRUE(net_->ok());
  ASSERT_EQ(TestNet::InNs(na, "ip link set " + pa + " address 02:00:00:00:20:01"), 0);
  ASSERT_EQ(TestNet::InNs(na, "ip addr add 198.18.3.1/24 dev " + pa), 0);
  ASSERT_EQ(TestNet::InNs(na, "ethtool -K " + pa + " gro on"), 0);
  ASSERT_EQ(net_->InNs("ip addr add 198.18.3.100/24 dev " + net_->Peer("up")), 0);
  ASSERT_TRUE(dp_->Attach(Ctx(3, ga, "02:00:00:00:20:01", 30, "198.18.3.1")).ok());
  ASSERT_TRUE(Record(3).flags & VNET_CTX_F_XDP_TARGET);

  EXPECT_EQ(TestNet::InNs(na, "ping -c 3 -i 0.2 -w 5 198.18.3.100"), 0);
  // veth counts what its XDP program redirected.
  EXPECT_EQ(Sh("ethtool -S " + uplink_ + " | awk '/xdp_redirect/ {n += $2} END {exit !(n >= 3)}'"),
            0);
}

// The teardown of `vnetd --remove_fast_path` must work from the pins alone, also when the
// programs cannot be loaded (e.g. pins of an older layout).
TEST_F(DataplaneTest, RemoveAllWithoutInitUsesThePins) {
  ASSERT_TRUE(dp_->Attach(Ctx(1, g1_, "02:00:00:00:10:01", 10, "198.18.0.1")).ok());
  dp_.reset();
  BpfDataplaneOptions o;
  o.pin_dir = pin_dir_;
  dp_ = std::make_unique<BpfDataplane>(o);
  absl::Status st = dp_->RemoveAll();
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_FALSE(fs::exists(pin_dir_));
  EXPECT_EQ(TcProg(g1_), 0u);
  EXPECT_EQ(TcProg(uplink_), 0u);
  EXPECT_EQ(XdpProg(uplink_ifindex_), 0u);
}

// vnet raises a BIG TCP context's interface sizes and puts them back when the context
// leaves the interface: released, or moved to another one.
TEST_F(DataplaneTest, BigTcpSizesGoBackWhenTheContextLeaves) {
  if (absl::Status st = BigTcpSupported(); !st.ok()) GTEST_SKIP() << st;
  constexpr uint32_t kBig = 196608;
  v1::Context c1 = Ctx(1, g1_, "02:00:00:00:10:01", 10, "198.18.0.1");
  c1.mutable_offloads()->set_big_tcp_max_size(kBig);
  const int if1 = static_cast<int>(if_nametoindex(g1_.c_str()));
  const int if2 = static_cast<int>(if_nametoindex(g2_.c_str()));
  auto gso_max = [](int ifindex) {
    auto sizes = ReadGsoSizes(ifindex);
    return sizes.ok() ? sizes->gso_max : 0u;
  };

  ASSERT_TRUE(dp_->Attach(c1).ok());
  ASSERT_EQ(gso_max(if1), kBig);
  ASSERT_TRUE(dp_->Detach(c1).ok());
  EXPECT_EQ(gso_max(if1), kGsoLegacyMaxSize) << "released: back to 64 KiB";

  ASSERT_TRUE(dp_->Attach(c1).ok());
  c1.set_interface_name(g2_);
  ASSERT_TRUE(dp_->Attach(c1).ok());
  EXPECT_EQ(gso_max(if1), kGsoLegacyMaxSize) << "moved away: the old interface is back";
  EXPECT_EQ(gso_max(if2), kBig);
}

TEST_F(DataplaneTest, RefusesHostInterfaces) {
  EXPECT_FALSE(dp_->Attach(Ctx(1, "lo", "02:00:00:00:10:01", 10, "198.18.0.1")).ok());
  EXPECT_FALSE(dp_->Attach(Ctx(1, uplink_, "02:00:00:00:10:01", 10, "198.18.0.1")).ok());
  EXPECT_FALSE(dp_->Attach(Ctx(0, g1_, "02:00:00:00:10:01", 10, "198.18.0.1")).ok());
  EXPECT_FALSE(dp_->Attach(Ctx(9, g1_, "02:00:00:00:10:01", 10, "198.18.0.1")).ok());
  EXPECT_EQ(TcProg(g1_), 0u);
}

}  // namespace
}  // namespace vnet::testing
