// The kernel-backed data plane: loads the vnet programs, keeps their maps pinned so that the
// fast path outlives the daemon, attaches the uplink (XDP through libxdp + TC) and each
// guest interface (TC ingress: a tcx link or a cls_bpf filter), and writes the tables from
// the context pool.
//
// Lifetime: destroying a BpfDataplane closes file descriptors only. Pins, the uplink
// programs and every guest attachment stay in place, so forwarding continues while vnetd is
// stopped or dead; the next Init() reuses the pinned maps and Reconcile() brings them in
// line with the pool. RemoveAll() is the explicit full teardown.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "daemon/core/dataplane.h"
#include "daemon/dataplane/program_set.h"
#include "daemon/dataplane/tables.h"
#include "daemon/dataplane/tc_attach.h"
#include "daemon/dataplane/uplink_delivery.h"

struct vnet_uplink_xdp;
struct vnet_uplink_tc;
struct vnet_guest_tc;
struct xdp_program;

namespace vnet {

struct BpfDataplaneOptions {
  std::string pin_dir = "/sys/fs/bpf/vnet";  // maps/ and progs/ below it
  std::string uplink;                        // the physical NIC; empty: none (yet)
  uint32_t capacity = 128;                   // context ids 1..capacity
  // VLAN of untagged uplink frames (they leave untagged too); 0: every guest VLAN is tagged
  // on the wire and untagged frames belong to the host.
  uint16_t native_vlan = 0;
  // How TC programs attach: auto (tcx links where the kernel has them, else cls_bpf), or
  // one of the two forced; tcx on a kernel without it fails Init.
  TcAttachMode tc_attach = TcAttachMode::kAuto;
  // Which uplink hook delivers wire->guest (uplink_delivery.h): auto picks per uplink kind;
  // xdp that cannot attach fails SetUplink (and Init) instead of quietly running on TC.
  UplinkDelivery uplink_delivery = UplinkDelivery::kAuto;
};

class BpfDataplane final : public Dataplane {
 public:
  explicit BpfDataplane(BpfDataplaneOptions options);
  ~BpfDataplane() override;
  BpfDataplane(const BpfDataplane&) = delete;
  BpfDataplane& operator=(const BpfDataplane&) = delete;

  // Mounts bpffs if needed, loads the programs (reusing pinned maps), pins, re-attaches the
  // new guest program to contexts already in the tables, and attaches the uplink if one is
  // named. With no uplink named it attaches and detaches nothing: an uplink left by an
  // earlier run keeps forwarding (and is reported) until SetUplink("") or RemoveAll().
  absl::Status Init() override;

  absl::Status Attach(const v1::Context& ctx) override;
  absl::Status Detach(const v1::Context& ctx) override;
  absl::Status RemoveOthers(const std::set<uint32_t>& keep) override;
  // Makes the fast path hold exactly `contexts`: RemoveOthers, then Attach each.
  absl::Status Reconcile(const std::vector<v1::Context>& contexts);
  std::string Describe() const override;

  // Sets or changes the uplink; "" detaches it.
  absl::Status SetUplink(const std::string& ifname) override;
  std::string Uplink() const override;
  // Per-context counters summed over CPUs; id 0 holds what belongs to no context.
  absl::StatusOr<ContextCounters> ReadCounters(uint32_t ctx_id) const override;
  std::vector<uint32_t> ActiveContextIds() const override;
  // The offloads in effect for an attached context: what was asked, less what its
  // interface could not take (the fast path follows the same flags). NotFound if inactive.
  absl::Status CheckOffloads(const v1::Offloads& offloads) const override;
  absl::StatusOr<v1::Offloads> EffectiveOffloads(uint32_t ctx_id) const override;
  // "native", "skb" or "none": how the uplink XDP program runs.
  std::string XdpMode() const override;
  // "xdp" or "tc" once an uplink is attached (what auto resolved to), else "none".
  std::string WireDelivery() const override;
  // tcx or cls_bpf once initialised: how the TC programs are attached.
  TcAttachMode TcMode() const;
  // The id of vnet's TC program on the ingress of `ifindex` (either kind), 0 when none.
  absl::StatusOr<uint32_t> TcProgramId(int ifindex) const;
  int DropEventRingFd() const override;
  absl::Status SetDropEvents(bool on, uint32_t per_second) override;
  absl::StatusOr<DropEventCounters> ReadDropEventCounters() const override;
  // Detaches every program vnet attached (guest filters, uplink TC and XDP) and removes
  // every pin under pin_dir. Works without Init (or after a failed one) from the pins.
  absl::Status RemoveAll();

 private:
  absl::Status InitLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetUplinkLocked(const std::string& ifname) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AttachXdp(int ifindex) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AttachXdpLibxdp(int ifindex, int existing_mode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AttachXdpPlain(int ifindex, int old_fd, int existing_mode)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int CurrentXdpProgId() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AttachDelivery(int ifindex, const LinkInfo& info) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DetachUplink(int ifindex) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DetachXdp(int ifindex) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AttachLocked(const v1::Context& ctx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DetachIdLocked(uint32_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Context `id` leaves the interface of its record `rec`: the TC program and raised BIG TCP
  // sizes go, unless another context holds that interface now.
  absl::Status LeaveInterfaceLocked(uint32_t id, const vnet_ctx_rec& rec)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RemoveOthersLocked(const std::set<uint32_t>& keep)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static absl::Status ApplyOffloads(const std::string& ifname, vnet_ctx_rec& rec);
  absl::Status Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Close() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::unique_ptr<Tables> PinnedTables(std::vector<int>& fds) const;

  const BpfDataplaneOptions options_;
  mutable absl::Mutex mu_;
  vnet_guest_tc* guest_ ABSL_GUARDED_BY(mu_) = nullptr;
  vnet_uplink_tc* uplink_tc_ ABSL_GUARDED_BY(mu_) = nullptr;
  vnet_uplink_xdp* uplink_xdp_ ABSL_GUARDED_BY(mu_) = nullptr;
  xdp_program* xdp_prog_ ABSL_GUARDED_BY(mu_) = nullptr;  // loaded and attached by libxdp
  bool xdp_plain_ ABSL_GUARDED_BY(mu_) = false;  // loaded by libbpf, attached without libxdp
  std::unique_ptr<Tables> tables_ ABSL_GUARDED_BY(mu_);
  std::string uplink_ ABSL_GUARDED_BY(mu_);
  int uplink_ifindex_ ABSL_GUARDED_BY(mu_) = 0;
  std::string xdp_mode_ ABSL_GUARDED_BY(mu_) = "none";
  std::string delivery_ ABSL_GUARDED_BY(mu_) = "none";  // WireDelivery()
  KernelFeatures features_ ABSL_GUARDED_BY(mu_);
  TcAttacher tc_ ABSL_GUARDED_BY(
      mu_);  // tcx links pinned under <pin_dir>/links  // probed at Init: which TC build runs
};

}  // namespace vnet
