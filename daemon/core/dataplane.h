// What the context registry asks of the data plane. The kernel-backed implementation lives
// in daemon/dataplane/; tests of the registry can give it any implementation.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "vnet/abi.h"
#include "vnet/v1/context.pb.h"

namespace vnet {

// One context's counters, summed over CPUs: the fast path's own struct (vnet/abi.h) is the
// one model, with the same field names in the proto, the metrics and vnetctl.
using ContextCounters = vnet_ctx_stats;

// Drop events the fast path produced, summed over contexts (bpf/lib/monitor.h).
struct DropEventCounters {
  uint64_t emitted = 0;     // put in the ring buffer
  uint64_t suppressed = 0;  // over the per-context rate: counted only
  uint64_t ring_full = 0;   // lost: the ring had no room
};

class Dataplane {
 public:
  virtual ~Dataplane() = default;
  // Loads and attaches what the data plane needs; called once, before Reconcile.
  virtual absl::Status Init() { return absl::OkStatus(); }
  // Whether this data plane can give a context these offloads (checked before an Assign or
  // Update commits, so the caller gets the refusal): e.g. BIG TCP where the kernel lacks it.
  virtual absl::Status CheckOffloads(const v1::Offloads& offloads) const {
    (void)offloads;
    return absl::OkStatus();
  }
  // Idempotent: attaching an attached context refreshes its tables.
  virtual absl::Status Attach(const v1::Context& ctx) = 0;
  // Removes every trace of the context from the fast path. Idempotent.
  virtual absl::Status Detach(const v1::Context& ctx) = 0;
  // After a restart: removes from the fast path every context whose id is not in `keep`.
  // The caller then attaches each kept context (Attach), so each gets its own result.
  virtual absl::Status RemoveOthers(const std::set<uint32_t>& keep) = 0;
  // What an attached context's offloads are in effect; NOT_FOUND when unknown.
  virtual absl::StatusOr<v1::Offloads> EffectiveOffloads(uint32_t ctx_id) const {
    return absl::NotFoundError(absl::StrCat("context ", ctx_id, ": no fast path"));
  }
  // Sets, changes or ("") removes the uplink.
  virtual absl::Status SetUplink(const std::string& ifname) {
    return absl::FailedPreconditionError(absl::StrCat("no fast path: cannot set uplink '", ifname,
                                                      "' (vnetd runs --fast_path=none)"));
  }
  // The uplink in effect, "" for none.
  virtual std::string Uplink() const { return ""; }
  // One line for `vnetctl status`.
  virtual std::string Describe() const = 0;
  // False when contexts are bookkeeping only: they then stay ASSIGNED, never ACTIVE, and
  // there are no counters.
  virtual bool attaches() const { return true; }
  // Per-context counters; id 0 holds what belongs to no context.
  virtual absl::StatusOr<ContextCounters> ReadCounters(uint32_t ctx_id) const {
    return absl::FailedPreconditionError(absl::StrCat("context ", ctx_id, ": no fast path"));
  }
  // Ids of the contexts attached now.
  virtual std::vector<uint32_t> ActiveContextIds() const { return {}; }
  // "native", "skb" or "none": how the uplink's XDP program runs.
  virtual std::string XdpMode() const { return "none"; }
  // "xdp" or "tc": which uplink hook delivers wire->guest frames; "none" without an uplink.
  virtual std::string WireDelivery() const { return "none"; }
  // The drop-event ring buffer map (owned by the data plane), -1 when there is none.
  virtual int DropEventRingFd() const { return -1; }
  // Whether the fast path produces drop events, and at most how many per second and context.
  virtual absl::Status SetDropEvents(bool on, uint32_t per_second) {
    (void)on;
    (void)per_second;
    return absl::FailedPreconditionError("no fast path: no drop events");
  }
  virtual absl::StatusOr<DropEventCounters> ReadDropEventCounters() const {
    return absl::FailedPreconditionError("no fast path: no drop events");
  }
};

// The data plane of a daemon started without a fast path (--fast_path=none): contexts are
// bookkeeping only. Reported as such, never mistaken for an attached fast path.
class NoDataplane final : public Dataplane {
 public:
  absl::Status Attach(const v1::Context&) override { return absl::OkStatus(); }
  absl::Status Detach(const v1::Context&) override { return absl::OkStatus(); }
  absl::Status RemoveOthers(const std::set<uint32_t>&) override { return absl::OkStatus(); }
  std::string Describe() const override { return "none (contexts are not attached)"; }
  bool attaches() const override { return false; }
};

}  // namespace vnet
