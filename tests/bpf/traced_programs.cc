#include "tests/bpf/traced_programs.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "daemon/dataplane/bpffs.h"
#include "daemon/dataplane/object_prep.h"
#include "daemon/dataplane/program_set.h"
#include "gtest/gtest.h"

namespace vnet::testing {

TracedPrograms::~TracedPrograms() {
  tables.reset();
  if (xdp) vnet_uplink_xdp__destroy(xdp);
  if (uplink_tc) vnet_uplink_tc__destroy(uplink_tc);
  if (guest) vnet_guest_tc__destroy(guest);
  if (!pin_dir.empty()) RemovePinDir(pin_dir).IgnoreError();
}

namespace {

// Opens and loads the three programs against the maps pinned in `pin_dir`. The traced set
// creates the pins (and finishes the guest object's); the untraced set reuses them.
void OpenAndLoad(TracedPrograms& p, const std::string& pin_dir, uint32_t max_contexts,
                 bool traced) {
  bpf_object_open_opts o{};
  o.sz = sizeof(o);
  o.pin_root_path = pin_dir.c_str();
  const char* build_env = std::getenv("VNET_BPF_BUILD");
  KernelFeatures build;
  build.kern_ctx = build_env == nullptr || std::string(build_env) != "compat";
  p.guest = OpenGuestTc(&o, build);
  p.uplink_tc = OpenUplinkTc(&o, build);
  p.xdp = vnet_uplink_xdp__open_opts(&o);
  ASSERT_TRUE(p.guest && p.uplink_tc && p.xdp);
  if (traced) {
    p.guest->rodata->vnet_trace_on = 1;
    p.uplink_tc->rodata->vnet_trace_on = 1;
    p.xdp->rodata->vnet_trace_on = 1;
  }
  ASSERT_TRUE(PrepareVnetObject(p.guest->obj, pin_dir, max_contexts).ok());
  ASSERT_EQ(vnet_guest_tc__load(p.guest), 0);
  if (traced) {
    ASSERT_TRUE(FinishVnetObject(p.guest->obj, pin_dir).ok());
  }
  ASSERT_TRUE(PrepareVnetObject(p.uplink_tc->obj, pin_dir, max_contexts).ok());
  ASSERT_EQ(vnet_uplink_tc__load(p.uplink_tc), 0);
  ASSERT_TRUE(PrepareVnetObject(p.xdp->obj, pin_dir, max_contexts).ok());
  ASSERT_EQ(vnet_uplink_xdp__load(p.xdp), 0);
}

}  // namespace

void LoadTracedPrograms(TracedPrograms& p, const std::string& tag, uint32_t max_contexts) {
  ASSERT_TRUE(EnsureBpffsMounted().ok());
  p.pin_dir = std::string(kBpffsRoot) + "/vnet-test-" + std::to_string(getpid()) + "-" + tag;
  ASSERT_TRUE(MakePinDir(p.pin_dir).ok()) << p.pin_dir;
  OpenAndLoad(p, p.pin_dir, max_contexts, /*traced=*/true);
  if (::testing::Test::HasFatalFailure()) return;

  MapFds fds;
  fds.fdb = bpf_map__fd(p.guest->maps.vnet_fdb);
  fds.ctx = bpf_map__fd(p.guest->maps.vnet_ctx);
  fds.if_ctx = bpf_map__fd(p.guest->maps.vnet_if_ctx);
  fds.if_ctx_more = bpf_map__fd(p.guest->maps.vnet_if_ctx_more);
  fds.ip4 = bpf_map__fd(p.guest->maps.vnet_ip4);
  fds.ip6 = bpf_map__fd(p.guest->maps.vnet_ip6);
  fds.vlan = bpf_map__fd(p.guest->maps.vnet_vlan);
  fds.stats = bpf_map__fd(p.guest->maps.vnet_stats);
  fds.config = bpf_map__fd(p.guest->maps.vnet_config);
  fds.xdp_tx = bpf_map__fd(p.guest->maps.vnet_xdp_tx);
  fds.limit = bpf_map__fd(p.guest->maps.vnet_limit);
  p.tables = std::make_unique<Tables>(fds, max_contexts);
}

void LoadUntracedPrograms(TracedPrograms& p, const TracedPrograms& traced, uint32_t max_contexts) {
  OpenAndLoad(p, traced.pin_dir, max_contexts, /*traced=*/false);
}

int RunFrame(int prog_fd, bool xdp, const Bytes& frame, const __sk_buff& skb, FrameRun* r,
             uint32_t repeat) {
  Bytes in = frame;
  __sk_buff ctx = skb;
  r->out.assign(frame.size() + 256, 0);  // room for what a program may add (a tag)
  bpf_test_run_opts run{};
  run.sz = sizeof(run);
  run.data_in = in.data();
  run.data_size_in = static_cast<uint32_t>(in.size());
  run.data_out = r->out.data();
  run.data_size_out = static_cast<uint32_t>(r->out.size());
  run.repeat = repeat;
  if (!xdp) {
    run.ctx_in = &ctx;
    run.ctx_size_in = sizeof(ctx);
  }
  if (bpf_prog_test_run_opts(prog_fd, &run) != 0) return -errno;
  r->retval = run.retval;
  r->duration = run.duration;
  r->out.resize(run.data_size_out);
  return 0;
}

}  // namespace vnet::testing
