// Coexistence: vnet removes only what it attached. Other tools' TC filters, tcx programs and
// XDP programs, put on the uplink and on a guest's interface before and after vnet attaches,
// stay and keep seeing traffic across a restart (descriptors closed as by kill -9), a context's
// release and RemoveAll (vnetd --remove_fast_path); vnet's own programs are gone afterwards.
// Every TC test runs in both attach modes where the kernel has tcx; where it has not, tcx is
// refused with a clear error and cls_bpf is tested.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "daemon/dataplane/bpf_dataplane.h"
#include "daemon/dataplane/bpffs.h"
#include "daemon/dataplane/cls_bpf_filter.h"
#include "daemon/dataplane/tc_attach.h"
#include "daemon/dataplane/tcx_link.h"
#include "gtest/gtest.h"
#include "tests/bpf/test_net.h"

namespace vnet::testing {
namespace {

constexpr auto kTcxIngress = static_cast<bpf_attach_type>(46);  // BPF_TCX_INGRESS (6.6 uapi)
constexpr char kForeignXdpObject[] = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o";
constexpr char kForeignXdpName[] = "xdpfilt_alw_all";

std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* f = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!f) return out;
  char buf[512];
  while (fgets(buf, sizeof(buf), f)) out += buf;
  pclose(f);
  return out;
}

// The running kernel's version is 6.6 or later (tcx links appeared in 6.6).
bool KernelAtLeast66() {
  utsname u{};
  uname(&u);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  return major > 6 || (major == 6 && minor >= 6);
}

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

// Another tool's TC program: counts every frame it sees in an array map and hands it on
// (TC_ACT_UNSPEC: the next filter or tcx program, else the stack). Built from instructions so
// that it shares nothing with vnet's programs.
class ForeignCounter {
 public:
  ForeignCounter() {
    map_fd_ = bpf_map_create(BPF_MAP_TYPE_ARRAY, "foreign_cnt", 4, 8, 1, nullptr);
    if (map_fd_ < 0) return;
    const std::vector<bpf_insn> prog = {
        Insn(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0),  // key = 0
        Insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
        Insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),  // r2 = &key
        Insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd_),
        Insn(0, 0, 0, 0, 0),
        Insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
        Insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 2, 0),
        Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 1),
        Insn(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_0, BPF_REG_1, 0, BPF_ADD),  // += 1
        Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, TC_ACT_UNSPEC),
        Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
    };
    prog_fd_ = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "foreign_count", "GPL", prog.data(),
                             prog.size(), nullptr);
  }
  ~ForeignCounter() {
    if (prog_fd_ >= 0) close(prog_fd_);
    if (map_fd_ >= 0) close(map_fd_);
  }
  ForeignCounter(const ForeignCounter&) = delete;
  ForeignCounter& operator=(const ForeignCounter&) = delete;

  bool ok() const { return prog_fd_ >= 0; }
  int fd() const { return prog_fd_; }
  uint64_t count() const {
    uint32_t key = 0;
    uint64_t n = 0;
    bpf_map_lookup_elem(map_fd_, &key, &n);
    return n;
  }

 private:
  int map_fd_ = -1;
  int prog_fd_ = -1;
};

// What another tool put on one interface: a counting cls_bpf filter at priority 7, handle 7
// (attached through clsact, created here if missing), and where the kernel has tcx, a counting
// tcx program (its link held open by the "tool").
struct ForeignTc {
  int ifindex = 0;
  ForeignCounter filter;
  ForeignCounter tcx;
  int tcx_link = -1;

  ~ForeignTc() {
    if (tcx_link >= 0) close(tcx_link);
  }
};

bool HasOperatorFilter(const std::string& ifname) {
  return absl::StrContains(Capture("tc filter show dev " + ifname + " ingress prio 9"),
                           "handle 0x9");
}

bool HasForeignFilter(const std::string& ifname) {
  return absl::StrContains(Capture("tc filter show dev " + ifname + " ingress prio 7"),
                           "foreign_count");
}

// Names of the tcx programs on the ingress of `ifindex`, first to last.
std::vector<std::string> TcxPrograms(int ifindex) {
  std::vector<std::string> names;
  uint32_t ids[16] = {};
  struct bpf_prog_query_opts q {};
  q.sz = sizeof(q);
  q.prog_ids = ids;
  q.prog_cnt = 16;
  if (bpf_prog_query_opts(ifindex, kTcxIngress, &q) != 0) return names;
  for (uint32_t i = 0; i < q.prog_cnt; ++i) {
    const int fd = bpf_prog_get_fd_by_id(ids[i]);
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0) names.emplace_back(info.name);
    if (fd >= 0) close(fd);
  }
  return names;
}

// vnet programs attached anywhere on the ingress of `ifname` (tcx or clsact).
int VnetAttachments(const std::string& ifname) {
  int n = 0;
  for (const std::string& name : TcxPrograms(static_cast<int>(if_nametoindex(ifname.c_str()))))
    n += absl::StartsWith(name, "vnet_");
  // One line per filter; it names the program twice (section and "name").
  for (absl::string_view line :
       absl::StrSplit(Capture("tc filter show dev " + ifname + " ingress"), '\n'))
    n += absl::StrContains(line, "vnet_");
  return n;
}

std::vector<std::string> XdpPrograms(int ifindex) {
  std::vector<std::string> names;
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (libxdp_get_error(mp) || !mp) return names;
  if (xdp_multiprog__is_legacy(mp)) {
    if (xdp_program* p = xdp_multiprog__main_prog(mp)) names.emplace_back(xdp_program__name(p));
  } else {
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p;
         p = xdp_multiprog__next_prog(p, mp))
      names.emplace_back(xdp_program__name(p));
  }
  xdp_multiprog__close(mp);
  return names;
}

int Count(const std::vector<std::string>& names, const std::string& name) {
  int n = 0;
  for (const auto& x : names) n += x == name;
  return n;
}

v1::Context Guest(const std::string& ifname) {
  v1::Context c;
  c.set_id(1);
  c.set_interface_name(ifname);
  c.set_mac("02:00:00:00:20:01");
  c.set_vlan(10);
  c.add_ipv4_addresses("198.18.20.1");
  return c;
}

class CoexistTest : public ::testing::TestWithParam<TcAttachMode> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RequireRoot());
    net_ = std::make_unique<TestNet>("c");
    ASSERT_TRUE(net_->ok());
    uplink_ = net_->AddPair("up");
    g1_ = net_->AddPair("g1");
    ASSERT_TRUE(net_->ok()) << "cannot create veth pairs";
    uplink_ifindex_ = static_cast<int>(if_nametoindex(uplink_.c_str()));
    g1_ifindex_ = static_cast<int>(if_nametoindex(g1_.c_str()));
    // Addresses on the far ends, so that a ping from there sends ARP requests into the ports.
    ASSERT_EQ(net_->InNs("ip addr add 198.18.210.1/24 dev " + net_->Peer("up")), 0);
    ASSERT_EQ(net_->InNs("ip addr add 198.18.211.1/24 dev " + net_->Peer("g1")), 0);
    ASSERT_TRUE(EnsureBpffsMounted().ok());
    static int seq = 0;
    pin_dir_ = std::string(kBpffsRoot) + "/vnet-test-" + std::to_string(getpid()) + "-c" +
               std::to_string(++seq);
    tcx_kernel_ = KernelHasTcx();
    if (GetParam() == TcAttachMode::kTcx && !tcx_kernel_) {
      auto dp = NewDataplane(TcAttachMode::kTcx);
      const absl::Status st = dp->Init();
      EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
      EXPECT_TRUE(absl::StrContains(st.message(), "no tcx")) << st;
      GTEST_SKIP() << "kernel without tcx: tc_attach=tcx is refused (checked), cls_bpf is tested";
    }
  }

  void TearDown() override {
    if (dp_) {
      EXPECT_TRUE(dp_->RemoveAll().ok());
      dp_.reset();
    }
    foreign_.clear();
    RemovePinDir(pin_dir_).IgnoreError();
    net_.reset();
    if (uplink_ifindex_ != 0) libxdp_clean_references(uplink_ifindex_);
  }

  std::unique_ptr<BpfDataplane> NewDataplane(TcAttachMode mode) {
    BpfDataplaneOptions o;
    o.pin_dir = pin_dir_;
    o.uplink = uplink_;
    o.capacity = 8;
    o.tc_attach = mode;
    o.uplink_delivery = delivery_;
    return std::make_unique<BpfDataplane>(o);
  }

  // XDP delivery: the XDP program's coexistence is tested (auto puts none on a veth uplink).
  UplinkDelivery delivery_ = UplinkDelivery::kXdp;

  void StartVnet() {
    dp_ = NewDataplane(GetParam());
    const absl::Status st = dp_->Init();
    ASSERT_TRUE(st.ok()) << st;
  }

  // Another tool attaches to `ifname` (before or after vnet: it does not know about vnet).
  ForeignTc& AddForeign(const std::string& ifname) {
    auto f = std::make_unique<ForeignTc>();
    f->ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    EXPECT_TRUE(f->filter.ok() && f->tcx.ok()) << "foreign program refused: " << errno;
    bpf_tc_hook hook{};
    hook.sz = sizeof(hook);
    hook.ifindex = f->ifindex;
    hook.attach_point = BPF_TC_INGRESS;
    const int err = bpf_tc_hook_create(&hook);
    EXPECT_TRUE(err == 0 || err == -EEXIST) << err;
    bpf_tc_opts opts{};
    opts.sz = sizeof(opts);
    opts.handle = 7;
    opts.priority = 7;
    opts.prog_fd = f->filter.fd();
    EXPECT_EQ(bpf_tc_attach(&hook, &opts), 0);
    if (tcx_kernel_) {
      f->tcx_link = bpf_link_create(f->tcx.fd(), f->ifindex, kTcxIngress, nullptr);
      EXPECT_GE(f->tcx_link, 0);
    }
    foreign_.push_back(std::move(f));
    return *foreign_.back();
  }

  // An operator's filter typed by hand after vnet attached (classic BPF, never matches).
  static void AddOperatorFilter(const std::string& ifname) {
    EXPECT_EQ(
        Sh("tc filter add dev " + ifname + " ingress prio 9 handle 9 bpf bytecode '1,6 0 0 0,'"),
        0);
  }

  // ARP requests from the far end of `pair` into its host port.
  void SendFrom(const std::string& pair, const std::string& to) {
    net_->InNs("ip neigh flush dev " + net_->Peer(pair));
    net_->InNs("ping -c 2 -i 0.2 -W 1 " + to);
  }

  // Each foreign attachment on the port is there and counts what reaches it.
  void ExpectForeignSeesTraffic(const ForeignTc& f, const std::string& ifname,
                                const std::string& pair, const std::string& to) {
    EXPECT_TRUE(HasForeignFilter(ifname)) << ifname;
    const uint64_t filter_before = f.filter.count(), tcx_before = f.tcx.count();
    SendFrom(pair, to);
    EXPECT_GT(f.filter.count(), filter_before) << "foreign filter on " << ifname << " sees nothing";
    if (tcx_kernel_) {
      EXPECT_EQ(Count(TcxPrograms(f.ifindex), "foreign_count"), 1) << ifname;
      EXPECT_GT(f.tcx.count(), tcx_before)
          << "foreign tcx program on " << ifname << " sees nothing";
    }
  }

  // vnet's program on `ifname` is attached once, in the mode asked for.
  void ExpectVnetAttached(const std::string& ifname) {
    const int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    auto id = dp_->TcProgramId(ifindex);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_NE(*id, 0u) << ifname;
    EXPECT_EQ(VnetAttachments(ifname), 1) << ifname;
    auto cls = ClsBpfQueryIngress(ifindex);
    ASSERT_TRUE(cls.ok());
    const bool tcx = dp_->TcMode() == TcAttachMode::kTcx;
    EXPECT_EQ(*cls != 0, !tcx) << ifname << ": cls_bpf filter present in mode tcx or absent";
    if (tcx) {
      // First in the list: a guest's frames meet vnet's guards before anything else.
      auto names = TcxPrograms(ifindex);
      ASSERT_FALSE(names.empty());
      EXPECT_TRUE(absl::StartsWith(names.front(), "vnet_")) << names.front();
    }
  }

  std::unique_ptr<TestNet> net_;
  std::string uplink_, g1_, pin_dir_;
  int uplink_ifindex_ = 0, g1_ifindex_ = 0;
  bool tcx_kernel_ = false;
  std::unique_ptr<BpfDataplane> dp_;
  std::vector<std::unique_ptr<ForeignTc>> foreign_;
};

TEST_P(CoexistTest, OthersFiltersStayThroughAttachRestartReleaseAndRemoveAll) {
  ForeignTc& up = AddForeign(uplink_);
  ForeignTc& g1 = AddForeign(g1_);
  StartVnet();
  EXPECT_EQ(dp_->TcMode(), GetParam() == TcAttachMode::kAuto
                               ? (tcx_kernel_ ? TcAttachMode::kTcx : TcAttachMode::kClsBpf)
                               : GetParam());
  ASSERT_TRUE(dp_->Attach(Guest(g1_)).ok());
  AddOperatorFilter(uplink_);
  AddOperatorFilter(g1_);
  ExpectVnetAttached(uplink_);
  ExpectVnetAttached(g1_);
  // Frames from the wire for the host pass vnet's program on to the others.
  ExpectForeignSeesTraffic(up, uplink_, "up", "198.18.210.2");

  // vnetd killed: descriptors closed, programs stay attached and pinned.
  const uint32_t old_guest = *dp_->TcProgramId(g1_ifindex_);
  dp_.reset();
  auto still = TcAttacher(pin_dir_ + "/links").Query(g1_ifindex_);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(*still, old_guest) << "the guest's program went away with vnetd";
  // The restarted vnetd replaces its programs in place and adds no second attachment.
  StartVnet();
  ASSERT_TRUE(dp_->Reconcile({Guest(g1_)}).ok());
  EXPECT_NE(*dp_->TcProgramId(g1_ifindex_), old_guest) << "not replaced by the new build";
  ExpectVnetAttached(uplink_);
  ExpectVnetAttached(g1_);
  ExpectForeignSeesTraffic(up, uplink_, "up", "198.18.210.2");
  EXPECT_TRUE(HasOperatorFilter(uplink_));

  // Release: vnet's program leaves the guest's port, the others stay and see its frames.
  ASSERT_TRUE(dp_->Detach(Guest(g1_)).ok());
  EXPECT_EQ(VnetAttachments(g1_), 0);
  EXPECT_EQ(*dp_->TcProgramId(g1_ifindex_), 0u);
  EXPECT_TRUE(HasOperatorFilter(g1_));
  ExpectForeignSeesTraffic(g1, g1_, "g1", "198.18.211.2");

  // vnetd --remove_fast_path: nothing of vnet's left on the uplink, everything else there.
  ASSERT_TRUE(dp_->RemoveAll().ok());
  dp_.reset();
  EXPECT_EQ(VnetAttachments(uplink_), 0);
  EXPECT_TRUE(HasOperatorFilter(uplink_));
  ExpectForeignSeesTraffic(up, uplink_, "up", "198.18.210.2");
  ExpectForeignSeesTraffic(g1, g1_, "g1", "198.18.211.2");
}

// Another tool's XDP program on the uplink stays: with libxdp's dispatcher (where the kernel
// allows it) vnet's program joins it and a restart, moving the uplink away and RemoveAll
// take out vnet's only; without (the tool's program then holds the NIC alone) vnet never
// displaces it and runs on TC alone.
TEST_P(CoexistTest, OthersXdpProgramStays) {
  ASSERT_EQ(access(kForeignXdpObject, R_OK), 0) << kForeignXdpObject << " (xdp-tools) missing";
  ASSERT_EQ(Sh(std::string("xdp-loader load -m skb ") + uplink_ + " " + kForeignXdpObject), 0);
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(uplink_ifindex_);
  ASSERT_FALSE(libxdp_get_error(mp) || !mp);
  const bool dispatcher = !xdp_multiprog__is_legacy(mp);
  xdp_multiprog__close(mp);
  std::cout << "foreign XDP program "
            << (dispatcher ? "in libxdp's dispatcher" : "alone (no dispatcher)") << "\n";
  const int ours_expected = dispatcher ? 1 : 0;
  // Without a dispatcher XDP delivery is refused (dataplane_test); auto runs on TC beside it.
  if (!dispatcher) delivery_ = UplinkDelivery::kAuto;
  auto expect = [&](int ours, const std::string& when) {
    auto names = XdpPrograms(uplink_ifindex_);
    EXPECT_EQ(Count(names, kForeignXdpName), 1) << when;
    EXPECT_EQ(Count(names, "vnet_uplink_xdp"), ours) << when;
  };
  StartVnet();
  EXPECT_EQ(dp_->XdpMode() != "none", dispatcher);
  EXPECT_NE(*dp_->TcProgramId(uplink_ifindex_), 0u) << "the uplink runs on TC at least";
  expect(ours_expected, "attached");
  dp_.reset();
  StartVnet();
  expect(ours_expected, "restart");
  ASSERT_TRUE(dp_->SetUplink("").ok());
  expect(0, "uplink cleared");
  ASSERT_TRUE(dp_->SetUplink(uplink_).ok());
  expect(ours_expected, "uplink set again");
  ASSERT_TRUE(dp_->RemoveAll().ok());
  dp_.reset();
  expect(0, "RemoveAll");
  Sh("xdp-loader unload -a " + uplink_);
}

INSTANTIATE_TEST_SUITE_P(Modes, CoexistTest,
                         ::testing::Values(TcAttachMode::kAuto, TcAttachMode::kTcx,
                                           TcAttachMode::kClsBpf),
                         [](const ::testing::TestParamInfo<TcAttachMode>& info) {
                           return std::string(TcAttachModeName(info.param));
                         });

// A vnetd started in the other mode takes over without a gap and leaves nothing of the old
// mode behind (an upgrade from a cls_bpf-only vnet onto a tcx kernel, or an operator's switch).
TEST(CoexistModeSwitch, TakesOverFromTheOtherModeAndLeavesTheOthers) {
  ASSERT_TRUE(RequireRoot());
  if (!KernelHasTcx()) GTEST_SKIP() << "one mode only on a kernel without tcx";
  TestNet net("s");
  ASSERT_TRUE(net.ok());
  const std::string g1 = net.AddPair("g1");
  ASSERT_TRUE(net.ok());
  const int ifindex = static_cast<int>(if_nametoindex(g1.c_str()));
  ForeignCounter other;
  ASSERT_TRUE(other.ok());
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_INGRESS;
  ASSERT_EQ(bpf_tc_hook_create(&hook), 0);
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = 7;
  opts.priority = 7;
  opts.prog_fd = other.fd();
  ASSERT_EQ(bpf_tc_attach(&hook, &opts), 0);

  const std::string pin_dir =
      std::string(kBpffsRoot) + "/vnet-test-" + std::to_string(getpid()) + "-switch";
  auto start = [&](TcAttachMode mode) {
    BpfDataplaneOptions o;
    o.pin_dir = pin_dir;
    o.capacity = 8;
    o.tc_attach = mode;
    auto dp = std::make_unique<BpfDataplane>(o);
    EXPECT_TRUE(dp->Init().ok());
    EXPECT_TRUE(dp->Reconcile({Guest(g1)}).ok());
    return dp;
  };
  const std::string link = TcAttacher(pin_dir + "/links").LinkPath(ifindex);
  start(TcAttachMode::kClsBpf).reset();
  EXPECT_NE(*ClsBpfQueryIngress(ifindex), 0u);
  EXPECT_EQ(*TcxQuery(link), 0u);
  start(TcAttachMode::kTcx).reset();
  EXPECT_EQ(*ClsBpfQueryIngress(ifindex), 0u) << "the cls_bpf filter of the earlier run is left";
  EXPECT_NE(*TcxQuery(link), 0u);
  EXPECT_EQ(VnetAttachments(g1), 1);
  auto dp = start(TcAttachMode::kClsBpf);
  EXPECT_NE(*ClsBpfQueryIngress(ifindex), 0u);
  EXPECT_EQ(*TcxQuery(link), 0u) << "the tcx link of the earlier run is left";
  EXPECT_EQ(VnetAttachments(g1), 1);
  EXPECT_TRUE(HasForeignFilter(g1));
  EXPECT_TRUE(dp->RemoveAll().ok());
  EXPECT_EQ(VnetAttachments(g1), 0);
  EXPECT_TRUE(HasForeignFilter(g1));
  RemovePinDir(pin_dir).IgnoreError();
}

// The probe says what the kernel has: tcx exactly from 6.6; auto follows it; tcx asked for on
// an older kernel is refused and says why.
TEST(TcAttachMode, ProbeMatchesTheKernelAndTcxIsRefusedWithoutIt) {
  ASSERT_TRUE(RequireRoot());
  EXPECT_EQ(KernelHasTcx(), KernelAtLeast66());
  auto autom = ResolveTcAttachMode(TcAttachMode::kAuto);
  ASSERT_TRUE(autom.ok());
  EXPECT_EQ(*autom, KernelHasTcx() ? TcAttachMode::kTcx : TcAttachMode::kClsBpf);
  auto tcx = ResolveTcAttachMode(TcAttachMode::kTcx);
  if (KernelHasTcx()) {
    EXPECT_TRUE(tcx.ok());
  } else {
    EXPECT_EQ(tcx.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(absl::StrContains(tcx.status().message(), "6.6")) << tcx.status();
  }
  EXPECT_EQ(*ResolveTcAttachMode(TcAttachMode::kClsBpf), TcAttachMode::kClsBpf);
  EXPECT_FALSE(ParseTcAttachMode("bogus").ok());
  EXPECT_EQ(*ParseTcAttachMode("cls_bpf"), TcAttachMode::kClsBpf);
}

}  // namespace
}  // namespace vnet::testing
