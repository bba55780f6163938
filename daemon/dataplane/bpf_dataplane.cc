#include "daemon/dataplane/bpf_dataplane.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/core/log.h"
#include "daemon/dataplane/bpffs.h"
#include "daemon/dataplane/device_offloads.h"
#include "daemon/dataplane/drop_event_maps.h"
#include "daemon/dataplane/gso_size.h"
#include "daemon/dataplane/link_info.h"
#include "daemon/dataplane/object_prep.h"
#include "daemon/dataplane/program_set.h"
#include "daemon/dataplane/tc_attach.h"
#include "vnet/guest_tc.skel.h"
#include "vnet/uplink_tc.skel.h"
#include "vnet/uplink_xdp.skel.h"

namespace vnet {
namespace {

constexpr char kXdpProgName[] = "vnet_uplink_xdp";

absl::Status PinProgram(bpf_program* prog, const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", bpf_program__name(prog));
  unlink(path.c_str());  // a new build replaces the old pin
  int err = bpf_program__pin(prog, path.c_str());
  if (err) return absl::ErrnoToStatus(-err, absl::StrCat("pin ", path));
  return absl::OkStatus();
}

absl::Status LibError(int err, absl::string_view what) {
  return absl::ErrnoToStatus(err < 0 ? -err : err, what);
}

// A failed open or load, with libbpf's and the verifier's last words as the cause.
absl::Status LoadError(int err, absl::string_view what) {
  const std::string cause = TakeLibbpfLog();
  if (cause.empty()) return LibError(err, what);
  return LibError(err, absl::StrCat(what, ": ", cause));
}

// Where this build's maps are pinned: one directory per map ABI version (abi.h).
std::string MapsDir(const std::string& pin_dir) {
  return absl::StrCat(pin_dir, "/maps-v", VNET_ABI_VERSION);
}

// Map pins of other ABI versions under pin_dir (an upgrade's leftovers): their programs are
// replaced as every context is attached again, which keeps the maps alive as long as needed.
void RemoveOtherMapVersions(const std::string& pin_dir) {
  const std::string keep = MapsDir(pin_dir);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(pin_dir, ec)) {
    const std::string name = e.path().filename().string();
    if ((name == "maps" || absl::StartsWith(name, "maps-v")) && e.path().string() != keep) {
      if (auto st = RemovePinDir(e.path().string()); !st.ok())
        LogWarning("cannot remove old map pins %s: %s", e.path().string(), st.ToString());
      else
        LogInfo("removed map pins of another ABI version: %s", e.path().string());
    }
  }
}

const char* ModeName(enum xdp_attach_mode m) { return m == XDP_MODE_SKB ? "skb" : "native"; }

uint32_t ModeFlag(enum xdp_attach_mode m) {
  return m == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

bool ForbiddenGuest(absl::string_view name) {
  return name.empty() || name == "lo" || absl::StartsWith(name, "ifb");
}

std::string IfName(int ifindex) {
  char buf[IF_NAMESIZE] = {};
  return if_indextoname(static_cast<unsigned>(ifindex), buf) ? std::string(buf) : std::string();
}

}  // namespace

BpfDataplane::BpfDataplane(BpfDataplaneOptions options)
    : options_(std::move(options)), tc_(options_.pin_dir + "/links") {}

BpfDataplane::~BpfDataplane() {
  absl::MutexLock lock(&mu_);
  Close();
}

void BpfDataplane::Close() {
  tables_.reset();
  if (xdp_prog_) xdp_program__close(xdp_prog_);
  xdp_prog_ = nullptr;
  xdp_plain_ = false;
  if (uplink_xdp_) vnet_uplink_xdp__destroy(uplink_xdp_);
  if (uplink_tc_) vnet_uplink_tc__destroy(uplink_tc_);
  if (guest_) vnet_guest_tc__destroy(guest_);
  uplink_xdp_ = nullptr;
  uplink_tc_ = nullptr;
  guest_ = nullptr;
}

absl::Status BpfDataplane::Ready() const {
  if (!tables_) return absl::FailedPreconditionError("BPF data plane not initialised");
  return absl::OkStatus();
}

absl::Status BpfDataplane::Init() {
  absl::MutexLock lock(&mu_);
  absl::Status st = InitLocked();
  if (!st.ok()) Close();
  return st;
}

absl::Status BpfDataplane::InitLocked() {
  if (tables_) return absl::OkStatus();
  if (options_.capacity == 0) return absl::InvalidArgumentError("capacity must be positive");
  if (auto st = EnsureBpffsMounted(); !st.ok()) return st;
  const std::string maps_dir = MapsDir(options_.pin_dir);
  const std::string progs_dir = options_.pin_dir + "/progs";
  if (auto st = MakePinDir(maps_dir); !st.ok()) return st;
  if (auto st = MakePinDir(progs_dir); !st.ok()) return st;
  if (auto st = tc_.Init(options_.tc_attach); !st.ok()) return st;
  if (auto st = CheckPinnedCapacity(maps_dir, options_.capacity); !st.ok()) return st;

  // Every map is pinned by name under maps/: the first object creates it, the others and
  // a restarted daemon reuse it (libbpf refuses a pinned map whose layout differs).
  bpf_object_open_opts open_opts{};
  open_opts.sz = sizeof(open_opts);
  open_opts.pin_root_path = maps_dir.c_str();
  CaptureLibbpfLog();
  if (auto st = CheckRequiredHelpers(); !st.ok()) return st;
  features_ = ProbeKernelFeatures();
  guest_ = OpenGuestTc(&open_opts, features_);
  uplink_tc_ = OpenUplinkTc(&open_opts, features_);
  uplink_xdp_ = vnet_uplink_xdp__open_opts(&open_opts);
  if (!guest_ || !uplink_tc_ || !uplink_xdp_) return LoadError(errno, "open BPF objects");
  if (auto st = PrepareVnetObject(guest_->obj, maps_dir, options_.capacity); !st.ok()) return st;
  TakeLibbpfLog();  // what follows a failed load is that load's own account
  if (int err = vnet_guest_tc__load(guest_)) return LoadError(err, "load guest TC program");
  if (auto st = FinishVnetObject(guest_->obj, maps_dir); !st.ok()) return st;
  if (auto st = PrepareVnetObject(uplink_tc_->obj, maps_dir, options_.capacity); !st.ok())
    return st;
  TakeLibbpfLog();
  if (int err = vnet_uplink_tc__load(uplink_tc_)) return LoadError(err, "load uplink TC program");
  if (auto st = PrepareVnetObject(uplink_xdp_->obj, maps_dir, options_.capacity); !st.ok())
    return st;
  // The XDP object is loaded by libxdp when an uplink is attached (into its dispatcher).
  if (auto st = PinProgram(guest_->progs.vnet_guest_tc, progs_dir); !st.ok()) return st;
  if (auto st = PinProgram(uplink_tc_->progs.vnet_uplink_tc, progs_dir); !st.ok()) return st;

  MapFds fds;
  fds.fdb = bpf_map__fd(guest_->maps.vnet_fdb);
  fds.ctx = bpf_map__fd(guest_->maps.vnet_ctx);
  fds.if_ctx = bpf_map__fd(guest_->maps.vnet_if_ctx);
  fds.if_ctx_more = bpf_map__fd(guest_->maps.vnet_if_ctx_more);
  fds.ip4 = bpf_map__fd(guest_->maps.vnet_ip4);
  fds.ip6 = bpf_map__fd(guest_->maps.vnet_ip6);
  fds.vlan = bpf_map__fd(guest_->maps.vnet_vlan);
  fds.stats = bpf_map__fd(guest_->maps.vnet_stats);
  fds.config = bpf_map__fd(guest_->maps.vnet_config);
  fds.xdp_tx = bpf_map__fd(guest_->maps.vnet_xdp_tx);
  fds.limit = bpf_map__fd(guest_->maps.vnet_limit);
  tables_ = std::make_unique<Tables>(fds, options_.capacity);
  RemoveOtherMapVersions(options_.pin_dir);

  // A new build takes over the guests already attached: replace their filters in place.
  const int guest_fd = bpf_program__fd(guest_->progs.vnet_guest_tc);
  for (uint32_t id : tables_->ActiveIds()) {
    auto rec = tables_->Get(id);
    if (rec.ok() && !IfName(static_cast<int>(rec->ifindex)).empty()) {
      if (auto st = tc_.Attach(static_cast<int>(rec->ifindex), guest_fd); !st.ok()) return st;
    }
  }
  if (!options_.uplink.empty()) return SetUplinkLocked(options_.uplink);
  // No uplink named: attach nothing, detach nothing. An uplink of an earlier run keeps
  // forwarding with its programs and is reported; SetUplink("") removes it.
  auto cfg = tables_->GetConfig();
  if (cfg.ok() && cfg->uplink_ifindex != 0) {
    uplink_ifindex_ = static_cast<int>(cfg->uplink_ifindex);
    uplink_ = IfName(uplink_ifindex_);
    xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(uplink_ifindex_);
    if (!libxdp_get_error(mp) && mp) {
      xdp_mode_ = ModeName(xdp_multiprog__attach_mode(mp));
      xdp_multiprog__close(mp);
    }
    delivery_ = xdp_mode_ == "none" ? "tc" : "xdp";
  }
  return absl::OkStatus();
}

std::string BpfDataplane::Uplink() const {
  absl::MutexLock lock(&mu_);
  return uplink_;
}

absl::Status BpfDataplane::SetUplink(const std::string& ifname) {
  absl::MutexLock lock(&mu_);
  if (auto st = Ready(); !st.ok()) return st;
  return SetUplinkLocked(ifname);
}

absl::Status BpfDataplane::SetUplinkLocked(const std::string& ifname) {
  auto cfg_or = tables_->GetConfig();
  if (!cfg_or.ok()) return cfg_or.status();
  vnet_config cfg = *cfg_or;
  const int old_ifindex = static_cast<int>(cfg.uplink_ifindex);
  int ifindex = 0;
  LinkInfo info;
  if (!ifname.empty()) {
    if (ForbiddenGuest(ifname)) return absl::InvalidArgumentError(absl::StrCat("uplink ", ifname));
    auto info_or = QueryLink(ifname);
    if (!info_or.ok()) return info_or.status();
    info = *info_or;
    ifindex = static_cast<int>(info.ifindex);
    auto id = tables_->ContextOfInterface(static_cast<uint32_t>(ifindex));
    if (!id.ok()) return id.status();
    if (*id != 0)
      return absl::InvalidArgumentError(absl::StrCat(ifname, " is context ", *id, "'s interface"));
  }
  if (old_ifindex != 0 && old_ifindex != ifindex) {
    if (auto st = DetachUplink(old_ifindex); !st.ok()) return st;
  }
  cfg.uplink_ifindex = static_cast<uint32_t>(ifindex);
  cfg.native_vlan = options_.native_vlan;
  cfg.uplink_mtu = info.mtu;  // read at attach: an MTU change needs SetUplink again
  std::memcpy(cfg.uplink_mac, info.mac.data(), 6);
  if (auto st = tables_->SetConfig(cfg); !st.ok()) return st;
  uplink_ = ifname;
  uplink_ifindex_ = ifindex;
  if (ifindex == 0) return absl::OkStatus();
  if (auto st = tc_.Attach(ifindex, bpf_program__fd(uplink_tc_->progs.vnet_uplink_tc)); !st.ok())
    return st;
  if (auto st = AttachDelivery(ifindex, info); !st.ok()) {
    // Refused: no half-attached uplink stays behind.
    tc_.Detach(ifindex).IgnoreError();
    cfg.uplink_ifindex = 0;
    tables_->SetConfig(cfg).IgnoreError();
    uplink_.clear();
    uplink_ifindex_ = 0;
    delivery_ = "none";
    return st;
  }
  return absl::OkStatus();
}

// The TC program alone switches everything (it has every guard the XDP program has), so
// XDP is only ever an accelerator of wire->guest unicast, attached where it is the faster.
absl::Status BpfDataplane::AttachDelivery(int ifindex, const LinkInfo& info) {
  const UplinkDelivery wanted = options_.uplink_delivery;
  if (ResolveUplinkDelivery(wanted, info) == UplinkDelivery::kTc) {
    // An XDP program of an earlier run or setting would keep redirecting: remove it.
    if (auto st = DetachXdp(ifindex); !st.ok()) return st;
    delivery_ = "tc";
    LogInfo("uplink %s: wire->guest delivered by TC (uplink_delivery %s, %s)", uplink_,
            UplinkDeliveryName(wanted), info.kind.empty() ? "device" : info.kind);
    return absl::OkStatus();
  }
  if (auto st = AttachXdp(ifindex); !st.ok()) {
    xdp_mode_ = "none";
    if (wanted == UplinkDelivery::kXdp)
      return absl::FailedPreconditionError(absl::StrCat(
          "uplink ", uplink_, ": uplink_delivery xdp, but XDP does not attach: ", st.message()));
    // auto: an uplink whose driver or kernel refuses XDP in every mode (seen on a 6.12 Xen
    // dom0) runs on TC alone, said loudly, rather than not at all.
    LogWarning("uplink %s: XDP not attached, wire->guest runs on TC alone: %s", uplink_,
               st.ToString());
    delivery_ = "tc";
    return absl::OkStatus();
  }
  delivery_ = "xdp";
  return absl::OkStatus();
}

int BpfDataplane::CurrentXdpProgId() const {
  if (xdp_prog_) return static_cast<int>(xdp_program__id(xdp_prog_));
  if (xdp_plain_) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(uplink_xdp_->progs.vnet_uplink_xdp), &info, &len) ==
        0)
      return static_cast<int>(info.id);
  }
  return 0;
}

absl::Status BpfDataplane::AttachXdp(int ifindex) {
  // What runs on the NIC now: libxdp's dispatcher (a list of programs) or, where the kernel
  // refused the dispatcher, a single "legacy" program.
  std::vector<xdp_program*> old;
  int legacy_ours_fd = -1;
  bool already = false;
  enum xdp_attach_mode existing_mode = XDP_MODE_UNSPEC;
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (libxdp_get_error(mp)) mp = nullptr;
  const int current = CurrentXdpProgId();
  if (mp) {
    existing_mode = xdp_multiprog__attach_mode(mp);
    if (xdp_multiprog__is_legacy(mp)) {
      xdp_program* main = xdp_multiprog__main_prog(mp);
      if (main && std::string(xdp_program__name(main)) == kXdpProgName) {
        if (static_cast<int>(xdp_program__id(main)) == current) already = true;
        legacy_ours_fd = xdp_program__fd(main);
      }
    } else {
      for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p;
           p = xdp_multiprog__next_prog(p, mp)) {
        if (std::string(xdp_program__name(p)) != kXdpProgName) continue;
        if (static_cast<int>(xdp_program__id(p)) == current)
          already = true;
        else
          old.push_back(p);
      }
    }
  }
  absl::Status st;
  if (already) {
    // Nothing to attach; still drop older copies below.
  } else if (legacy_ours_fd >= 0 || xdp_plain_) {
    st = AttachXdpPlain(ifindex, legacy_ours_fd, existing_mode);
  } else {
    st = AttachXdpLibxdp(ifindex, existing_mode);
  }
  if (st.ok()) {
    for (xdp_program* p : old) xdp_program__detach(p, ifindex, existing_mode, 0);
    if (already && existing_mode != XDP_MODE_UNSPEC) xdp_mode_ = ModeName(existing_mode);
  }
  if (mp) xdp_multiprog__close(mp);
  if (!st.ok()) return st;
  return PinProgram(uplink_xdp_->progs.vnet_uplink_xdp, options_.pin_dir + "/progs");
}

absl::Status BpfDataplane::AttachXdpLibxdp(int ifindex, int existing_mode) {
  if (!xdp_prog_) {
    xdp_program_opts opts{};
    opts.sz = sizeof(opts);
    opts.obj = uplink_xdp_->obj;
    opts.prog_name = kXdpProgName;
    xdp_program* p = xdp_program__create(&opts);
    if (int err = libxdp_get_error(p)) return LibError(err, "libxdp program");
    xdp_prog_ = p;
  }
  // Native where the driver supports it, generic otherwise; an existing dispatcher fixes it.
  std::vector<enum xdp_attach_mode> modes = {XDP_MODE_NATIVE, XDP_MODE_SKB};
  if (existing_mode == XDP_MODE_NATIVE || existing_mode == XDP_MODE_SKB)
    modes = {static_cast<enum xdp_attach_mode>(existing_mode)};
  int err = -EINVAL;
  for (enum xdp_attach_mode m : modes) {
    err = xdp_program__attach(xdp_prog_, ifindex, m, 0);
    if (err == 0) {
      xdp_mode_ = ModeName(m);
      return absl::OkStatus();
    }
  }
  return LibError(err, absl::StrCat("attach XDP to ifindex ", ifindex));
}

absl::Status BpfDataplane::AttachXdpPlain(int ifindex, int old_fd, int existing_mode) {
  // libxdp cannot replace a program it attached without a dispatcher, so a new build takes
  // over with an atomic XDP_FLAGS_REPLACE of the old program instead.
  if (xdp_prog_) return absl::FailedPreconditionError("XDP program already loaded by libxdp");
  if (!xdp_plain_) {
    if (int err = vnet_uplink_xdp__load(uplink_xdp_)) return LibError(err, "load uplink XDP");
    xdp_plain_ = true;
  }
  const int fd = bpf_program__fd(uplink_xdp_->progs.vnet_uplink_xdp);
  std::vector<enum xdp_attach_mode> modes = {XDP_MODE_NATIVE, XDP_MODE_SKB};
  if (old_fd >= 0) modes = {static_cast<enum xdp_attach_mode>(existing_mode)};
  int err = -EINVAL;
  for (enum xdp_attach_mode m : modes) {
    bpf_xdp_attach_opts opts{};
    opts.sz = sizeof(opts);
    uint32_t flags = ModeFlag(m);
    if (old_fd >= 0) {
      opts.old_prog_fd = old_fd;
      flags |= XDP_FLAGS_REPLACE;
    } else {
      flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
    }
    err = bpf_xdp_attach(ifindex, fd, flags, &opts);
    if (err == 0) {
      xdp_mode_ = ModeName(m);
      return absl::OkStatus();
    }
  }
  return LibError(err, absl::StrCat("attach XDP to ifindex ", ifindex));
}

absl::Status BpfDataplane::DetachUplink(int ifindex) {
  absl::Status st = tc_.Detach(ifindex);
  if (absl::Status xdp = DetachXdp(ifindex); st.ok()) st = xdp;
  if (ifindex == uplink_ifindex_) delivery_ = "none";
  return st;
}

absl::Status BpfDataplane::DetachXdp(int ifindex) {
  absl::Status st;
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (!libxdp_get_error(mp) && mp) {
    enum xdp_attach_mode mode = xdp_multiprog__attach_mode(mp);
    std::vector<xdp_program*> ours;
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p;
         p = xdp_multiprog__next_prog(p, mp))
      if (std::string(xdp_program__name(p)) == kXdpProgName) ours.push_back(p);
    for (xdp_program* p : ours) {
      int err = xdp_program__detach(p, ifindex, mode, 0);
      if (err && st.ok()) st = LibError(err, absl::StrCat("detach XDP from ifindex ", ifindex));
    }
    // Legacy (non-dispatcher) attachments are not libxdp-managed programs.
    if (xdp_multiprog__is_legacy(mp)) {
      xdp_program* main = xdp_multiprog__main_prog(mp);
      if (main && std::string(xdp_program__name(main)) == kXdpProgName)
        xdp_program__detach(main, ifindex, mode, 0);
    }
    xdp_multiprog__close(mp);
  }
  if (ifindex == uplink_ifindex_) xdp_mode_ = "none";
  return st;
}

absl::Status BpfDataplane::Attach(const v1::Context& ctx) {
  absl::MutexLock lock(&mu_);
  if (auto st = Ready(); !st.ok()) return st;
  return AttachLocked(ctx);
}

absl::Status BpfDataplane::AttachLocked(const v1::Context& ctx) {
  const std::string& name = ctx.interface_name();
  if (ForbiddenGuest(name) || name == uplink_)
    return absl::InvalidArgumentError(absl::StrCat("cannot attach a guest to '", name, "'"));
  auto info = QueryLink(name);
  if (!info.ok()) return info.status();
  // By index too: the uplink may have been renamed since it was attached.
  if (uplink_ifindex_ != 0 && static_cast<int>(info->ifindex) == uplink_ifindex_)
    return absl::InvalidArgumentError(
        absl::StrCat("cannot attach a guest to '", name, "': it is the uplink ", uplink_));
  // The guest program drops what the guest may not send: on the host's own interface (its
  // management NIC) it would cut the host off. Those carry addresses; guests' ports do not.
  if (const std::string address = RoutableAddressOf(info->name); !address.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot attach a guest to '", name, "': it has the address ", address,
        ", so it is one of the host's own interfaces, not a guest's port (a guest's interface "
        "carries no addresses but link-local ones)"));
  }
  uint32_t device_flags = 0;
  // bpf_redirect_peer works only into a veth whose peer is in another namespace.
  if (info->kind == "veth" && info->peer_in_other_netns) device_flags |= VNET_CTX_F_PEER;
  // XDP redirects only where the kernel says the device takes them (ndo_xdp_xmit ready: a
  // veth whose peer runs NAPI). Xen vifs have no ndo_xdp_xmit; taps advertise one but are
  // kept off the XDP path by design. Those and plain veths get the skb path (uplink TC).
  if (info->xdp_ndo_xmit && info->kind != "tun") device_flags |= VNET_CTX_F_XDP_TARGET;
  auto entry = MakeContextEntry(ctx, info->ifindex, device_flags);
  if (!entry.ok()) return entry.status();
  if (auto st = ApplyOffloads(name, entry->rec); !st.ok()) return st;
  auto big_tcp = ApplyBigTcp(static_cast<int>(info->ifindex), info->kind == "veth",
                             ctx.offloads().big_tcp_max_size());
  if (!big_tcp.ok()) return big_tcp.status();
  if (!*big_tcp) entry->rec.flags &= ~VNET_CTX_F_BIG_TCP;

  // A context that moved to another interface leaves the old one clean.
  auto old = tables_->Get(entry->id);
  if (!old.ok()) return old.status();
  if ((old->flags & VNET_CTX_F_ACTIVE) && old->ifindex != info->ifindex)
    LeaveInterfaceLocked(entry->id, *old).IgnoreError();

  if (auto st = tables_->Put(*entry); !st.ok()) return st;
  return tc_.Attach(static_cast<int>(info->ifindex), bpf_program__fd(guest_->progs.vnet_guest_tc));
}

// The guest's interface transmits toward the guest, so it gets the context's receive
// offloads. The record keeps each receive offload only if the interface took it, so the
// fast path's choice of delivery (bpf_redirect_peer, or the kernel's transmit path that
// completes checksums, linearises and segments) matches what the kernel does. A Xen vif's
// netback sets these features itself from the frontend's keys and may refuse ours.
absl::Status BpfDataplane::ApplyOffloads(const std::string& ifname, vnet_ctx_rec& rec) {
  DeviceOffloads want;
  want.csum = rec.flags & VNET_CTX_F_RX_CSUM;
  want.sg = rec.flags & VNET_CTX_F_RX_SG;
  want.tso4 = rec.flags & VNET_CTX_F_RX_TSO4;
  want.tso6 = rec.flags & VNET_CTX_F_RX_TSO6;
  auto got = ApplyDeviceOffloads(ifname, want);
  if (!got.ok()) return got.status();
  if (!got->csum) rec.flags &= ~VNET_CTX_F_RX_CSUM;
  if (!got->sg) rec.flags &= ~VNET_CTX_F_RX_SG;
  if (!got->tso4) rec.flags &= ~VNET_CTX_F_RX_TSO4;
  if (!got->tso6) rec.flags &= ~VNET_CTX_F_RX_TSO6;
  return absl::OkStatus();
}

absl::Status BpfDataplane::CheckOffloads(const v1::Offloads& offloads) const {
  return offloads.big_tcp_max_size() != 0 ? BigTcpSupported() : absl::OkStatus();
}

absl::StatusOr<v1::Offloads> BpfDataplane::EffectiveOffloads(uint32_t ctx_id) const {
  absl::MutexLock lock(&mu_);
  if (auto st = Ready(); !st.ok()) return st;
  auto rec = tables_->Get(ctx_id);
  if (!rec.ok()) return rec.status();
  if (!(rec->flags & VNET_CTX_F_ACTIVE))
    return absl::NotFoundError(absl::StrCat("context ", ctx_id, " not attached"));
  v1::Offloads o;
  o.set_tx_checksum(rec->flags & VNET_CTX_F_TX_CSUM);
  o.set_tso_v4(rec->flags & VNET_CTX_F_TSO4);
  o.set_tso_v6(rec->flags & VNET_CTX_F_TSO6);
  o.set_scatter_gather(rec->flags & VNET_CTX_F_SG);
  o.set_rx_checksum(rec->flags & VNET_CTX_F_RX_CSUM);
  o.set_rx_scatter_gather(rec->flags & VNET_CTX_F_RX_SG);
  o.set_rx_tso_v4(rec->flags & VNET_CTX_F_RX_TSO4);
  o.set_rx_tso_v6(rec->flags & VNET_CTX_F_RX_TSO6);
  if (rec->flags & VNET_CTX_F_BIG_TCP) {
    auto sizes = ReadGsoSizes(static_cast<int>(rec->ifindex));
    if (sizes.ok()) o.set_big_tcp_max_size(std::min(sizes->gso_max, sizes->gso_ipv4_max));
  }
  return o;
}

absl::Status BpfDataplane::Detach(const v1::Context& ctx) {
  absl::MutexLock lock(&mu_);
  if (auto st = Ready(); !st.ok()) return st;
  // The interface named now may differ from the one in the tables; clean both.
  if (!ctx.interface_name().empty() && !ForbiddenGuest(ctx.interface_name()) &&
      ctx.interface_name() != uplink_) {
    unsigned ifindex = if_nametoindex(ctx.interface_name().c_str());
    auto id = ifindex != 0 ? tables_->ContextOfInterface(ifindex) : absl::StatusOr<uint32_t>(0u);
    if (!id.ok()) return id.status();
    if (ifindex != 0 && *id == ctx.id()) {
      if (auto st = tc_.Detach(static_cast<int>(ifindex)); !st.ok()) return st;
    }
  }
  return DetachIdLocked(ctx.id());
}

absl::Status BpfDataplane::DetachIdLocked(uint32_t id) {
  auto rec = tables_->Get(id);
  if (!rec.ok()) return rec.status();
  if (auto st = LeaveInterfaceLocked(id, *rec); !st.ok()) return st;
  return tables_->Remove(id);
}

// An interface that another context holds now (its index reused) is that context's: its
// program and sizes stay.
absl::Status BpfDataplane::LeaveInterfaceLocked(uint32_t id, const vnet_ctx_rec& rec) {
  auto owner = tables_->ContextOfInterface(rec.ifindex);
  if (!owner.ok()) return owner.status();
  if (*owner != id && *owner != 0) return absl::OkStatus();
  if (rec.flags & VNET_CTX_F_ACTIVE) {
    if (auto st = tc_.Detach(static_cast<int>(rec.ifindex)); !st.ok()) return st;
  }
  if (rec.flags & VNET_CTX_F_BIG_TCP) ReleaseBigTcp(static_cast<int>(rec.ifindex));
  return absl::OkStatus();
}

absl::Status BpfDataplane::RemoveOthers(const std::set<uint32_t>& keep) {
  absl::MutexLock lock(&mu_);
  if (auto st = Ready(); !st.ok()) return st;
  return RemoveOthersLocked(keep);
}

absl::Status BpfDataplane::RemoveOthersLocked(const std::set<uint32_t>& keep) {
  absl::Status result;
  for (uint32_t id : tables_->ActiveIds()) {
    if (keep.count(id)) continue;
    if (auto st = DetachIdLocked(id); !st.ok() && result.ok()) result = st;
  }
  if (auto st = tables_->SweepOrphans(keep); !st.ok() && result.ok()) result = st;
  return result;
}

absl::Status BpfDataplane::Reconcile(const std::vector<v1::Context>& contexts) {
  absl::MutexLock lock(&mu_);
  if (auto st = Ready(); !st.ok()) return st;
  std::set<uint32_t> keep;
  for (const v1::Context& c : contexts) keep.insert(c.id());
  absl::Status result = RemoveOthersLocked(keep);
  for (const v1::Context& c : contexts) {
    absl::Status st = AttachLocked(c);
    if (!st.ok() && result.ok())
      result = absl::Status(st.code(), absl::StrCat("context ", c.id(), ": ", st.message()));
  }
  return result;
}

std::string BpfDataplane::Describe() const {
  absl::MutexLock lock(&mu_);
  if (!tables_) return "bpf (not initialised)";
  const size_t active = tables_->ActiveIds().size();
  std::string uplink = uplink_.empty() ? "none" : uplink_;
  return absl::StrCat("bpf: uplink ", uplink, " (delivery ", delivery_, ", xdp ", xdp_mode_,
                      ", tc ingress ", TcAttachModeName(tc_.mode()), "); ", active, "/",
                      options_.capacity, " contexts attached; pins ", options_.pin_dir,
                      features_.kern_ctx ? "" : "; compat TC build (kernel before 6.2)");
}

absl::StatusOr<ContextCounters> BpfDataplane::ReadCounters(uint32_t ctx_id) const {
  absl::MutexLock lock(&mu_);
  if (auto st = Ready(); !st.ok()) return st;
  return tables_->ReadCounters(ctx_id);
}

int BpfDataplane::DropEventRingFd() const {
  absl::MutexLock lock(&mu_);
  return guest_ ? bpf_map__fd(guest_->maps.vnet_drop_events) : -1;
}

absl::Status BpfDataplane::SetDropEvents(bool on, uint32_t per_second) {
  absl::MutexLock lock(&mu_);
  if (auto st = Ready(); !st.ok()) return st;
  return WriteMonitorConfig(bpf_map__fd(guest_->maps.vnet_monitor), on, per_second);
}

absl::StatusOr<DropEventCounters> BpfDataplane::ReadDropEventCounters() const {
  absl::MutexLock lock(&mu_);
  if (auto st = Ready(); !st.ok()) return st;
  return SumMonitorState(bpf_map__fd(guest_->maps.vnet_monitor_state), options_.capacity + 1);
}

std::vector<uint32_t> BpfDataplane::ActiveContextIds() const {
  absl::MutexLock lock(&mu_);
  if (!tables_) return {};
  return tables_->ActiveIds();
}

std::string BpfDataplane::XdpMode() const {
  absl::MutexLock lock(&mu_);
  return xdp_mode_;
}

std::string BpfDataplane::WireDelivery() const {
  absl::MutexLock lock(&mu_);
  return delivery_;
}

TcAttachMode BpfDataplane::TcMode() const {
  absl::MutexLock lock(&mu_);
  return tc_.mode();
}

absl::StatusOr<uint32_t> BpfDataplane::TcProgramId(int ifindex) const {
  absl::MutexLock lock(&mu_);
  return tc_.Query(ifindex);
}

// Tables over the maps pinned by an earlier run, for a teardown without a loaded program set
// (no Init, or an Init that failed, e.g. on pins of an older layout). Fds are closed by
// the caller.
std::unique_ptr<Tables> BpfDataplane::PinnedTables(std::vector<int>& fds) const {
  auto open = [&](const char* name) {
    int fd = bpf_obj_get(absl::StrCat(MapsDir(options_.pin_dir), "/", name).c_str());
    if (fd >= 0) fds.push_back(fd);
    return fd;
  };
  MapFds m;
  m.fdb = open("vnet_fdb");
  m.ctx = open("vnet_ctx");
  m.if_ctx = open("vnet_if_ctx");
  m.if_ctx_more = open("vnet_if_ctx_more");
  m.ip4 = open("vnet_ip4");
  m.ip6 = open("vnet_ip6");
  m.vlan = open("vnet_vlan");
  m.stats = open("vnet_stats");
  m.config = open("vnet_config");
  m.xdp_tx = open("vnet_xdp_tx");
  m.limit = open("vnet_limit");
  if (m.fdb < 0 || m.ctx < 0 || m.if_ctx < 0 || m.if_ctx_more < 0 || m.ip4 < 0 || m.ip6 < 0 ||
      m.vlan < 0 || m.stats < 0 || m.config < 0 || m.xdp_tx < 0 || m.limit < 0)
    return nullptr;
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(m.ctx, &info, &len) != 0 || info.max_entries < 2) return nullptr;
  return std::make_unique<Tables>(m, info.max_entries - 1);
}

absl::Status BpfDataplane::RemoveAll() {
  absl::MutexLock lock(&mu_);
  absl::Status result;
  auto keep = [&](const absl::Status& st) {
    if (!st.ok() && result.ok()) result = st;
  };
  std::vector<int> pinned_fds;
  if (!tables_) tables_ = PinnedTables(pinned_fds);
  if (tables_) {
    for (uint32_t id : tables_->ActiveIds()) keep(DetachIdLocked(id));
    auto cfg = tables_->GetConfig();
    if (cfg.ok() && cfg->uplink_ifindex != 0)
      keep(DetachUplink(static_cast<int>(cfg->uplink_ifindex)));
  }
  keep(tc_.DetachAllLinks());  // links of interfaces the tables no longer name
  Close();
  for (int fd : pinned_fds) close(fd);
  keep(RemovePinDir(options_.pin_dir));
  uplink_.clear();
  uplink_ifindex_ = 0;
  xdp_mode_ = "none";
  return result;
}

}  // namespace vnet
