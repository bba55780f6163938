// The three programs as the BPF_PROG_TEST_RUN tests (the fixtures, the differential fuzzer)
// run frames through them: loaded with tracing on (a load-time constant, so the redirect
// target, VLAN push and clones a test run cannot show are read back from the trace map),
// their maps pinned under a directory of this process and written through the daemon's own
// Tables. Nothing is attached to an interface.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <memory>
#include <string>

#include "daemon/dataplane/tables.h"
#include "tests/bpf/frames.h"
#include "vnet/guest_tc.skel.h"
#include "vnet/uplink_tc.skel.h"
#include "vnet/uplink_xdp.skel.h"

namespace vnet::testing {

struct TracedPrograms {
  std::string pin_dir;
  vnet_guest_tc* guest = nullptr;
  vnet_uplink_tc* uplink_tc = nullptr;
  vnet_uplink_xdp* xdp = nullptr;
  std::unique_ptr<Tables> tables;

  TracedPrograms() = default;
  TracedPrograms(const TracedPrograms&) = delete;
  TracedPrograms& operator=(const TracedPrograms&) = delete;
  // Destroys the programs and removes the pin directory.
  ~TracedPrograms();

  int trace_fd() const { return bpf_map__fd(guest->maps.vnet_trace); }
};

// Loads the programs into `p`, with maps for `max_contexts` contexts, pinned under
// <bpffs>/vnet-test-<pid>-<tag>. VNET_BPF_BUILD=compat loads the TC build for kernels before
// 6.2 (no bpf_cast_to_kern_ctx). Fails the calling test on error (a fatal failure: the
// caller checks HasFatalFailure or wraps the call in ASSERT_NO_FATAL_FAILURE).
void LoadTracedPrograms(TracedPrograms& p, const std::string& tag, uint32_t max_contexts);

// Loads the programs into `p` again with tracing off, over the maps `traced` pinned (no
// tables, no pins of its own): the code that runs in production, for cost measurements.
void LoadUntracedPrograms(TracedPrograms& p, const TracedPrograms& traced, uint32_t max_contexts);

// What one BPF_PROG_TEST_RUN gave back.
struct FrameRun {
  uint32_t retval = 0;    // the verdict
  uint32_t duration = 0;  // mean ns per run
  // data_out: for TC the skb's bytes from the MAC header to skb->len after the program (its
  // VLAN metadata is not among them); for XDP the buffer from data_meta to data_end.
  Bytes out;
};

// Runs `frame` through the program `prog_fd`, `repeat` times in the kernel. A TC program
// (xdp false) gets `skb` as its __sk_buff (ifindex, gso_size, gso_segs); an XDP program none.
// Returns 0, or -errno when the kernel refuses the run.
int RunFrame(int prog_fd, bool xdp, const Bytes& frame, const __sk_buff& skb, FrameRun* r,
             uint32_t repeat = 1);

}  // namespace vnet::testing
