#include "daemon/xen/xenstore_watcher.h"

#include <poll.h>
#include <unistd.h>

// libxenstore's header has no C++ linkage guard of its own.
extern "C" {
#include <xenstore.h>
}

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "daemon/core/log.h"
#include "google/protobuf/util/message_differencer.h"

namespace vnet::xen {
namespace {

constexpr char kToken[] = "vnetd-offloads";

v1::ContextRef DeviceRef(VifId id) {
  v1::ContextRef ref;
  ref.mutable_device()->set_domain_id(id.domain);
  ref.mutable_device()->set_device_id(id.device);
  return ref;
}

}  // namespace

std::unique_ptr<XenstoreWatcher> XenstoreWatcher::Start(ContextRegistry* registry) {
  xs_handle* xs = xs_open(0);
  if (!xs) {
    LogInfo("xenstore: not reachable (%s): Xen offload negotiation is not followed",
            strerror(errno));
    return nullptr;
  }
  // This domain's id: dom0 is 0, a driver domain has its own.
  unsigned len = 0;
  char* domid = static_cast<char*>(xs_read(xs, XBT_NULL, "domid", &len));
  uint32_t self = 0;
  const bool ok = domid && absl::SimpleAtoi(absl::string_view(domid, len), &self);
  free(domid);
  if (!ok) {
    LogWarning("xenstore: cannot read this domain's id: Xen offload negotiation is not followed");
    xs_close(xs);
    return nullptr;
  }
  std::string base = absl::StrCat("/local/domain/", self, "/backend/vif");
  if (!xs_watch(xs, base.c_str(), kToken)) {
    LogWarning("xenstore: cannot watch %s (%s): Xen offload negotiation is not followed", base,
               strerror(errno));
    xs_close(xs);
    return nullptr;
  }
  int wake[2];
  if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    LogWarning("xenstore: pipe: %s", strerror(errno));
    xs_close(xs);
    return nullptr;
  }
  std::unique_ptr<XenstoreWatcher> w(new XenstoreWatcher(registry, xs, std::move(base), wake));
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  LogInfo("xenstore: following Xen offload negotiation under %s", w->base_);
  return w;
}

XenstoreWatcher::XenstoreWatcher(ContextRegistry* registry, xs_handle* xs, std::string base,
                                 int wake[2])
    : registry_(registry),
      xs_(xs),
      base_(std::move(base)),
      wake_read_(wake[0]),
      wake_write_(wake[1]) {}

XenstoreWatcher::~XenstoreWatcher() {
  const char byte = 1;
  if (write(wake_write_, &byte, 1) < 0) LogWarning("xenstore: cannot wake the watcher");
  if (thread_.joinable()) thread_.join();
  xs_unwatch(xs_, base_.c_str(), kToken);
  xs_close(xs_);
  close(wake_read_);
  close(wake_write_);
}

std::optional<std::string> XenstoreWatcher::Read(const std::string& path) {
  unsigned len = 0;
  char* v = static_cast<char*>(xs_read(xs_, XBT_NULL, path.c_str(), &len));
  if (!v) return std::nullopt;
  std::string out(v, len);
  free(v);
  return out;
}

void XenstoreWatcher::Run() {
  ReconcileAll();
  pollfd fds[2] = {{xs_fileno(xs_), POLLIN, 0}, {wake_read_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogError("xenstore: poll: %s; Xen offload negotiation no longer followed", strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    // Drain every pending event first: one connect writes many keys, reconcile once each.
    std::set<VifId> dirty;
    while (char** event = xs_check_watch(xs_)) {
      if (auto id = ParseBackendVifPath(event[XS_WATCH_PATH], base_)) dirty.insert(*id);
      free(event);
    }
    for (VifId id : dirty) Reconcile(id);
  }
}

void XenstoreWatcher::ReconcileAll() {
  for (const v1::Context& c : registry_->List()) {
    Reconcile({c.domain_id(), c.device_id()});
  }
}

void XenstoreWatcher::Reconcile(VifId id) {
  auto ctx = registry_->Get(DeviceRef(id));
  if (!ctx.ok() || absl::EndsWith(ctx->interface_name(), "-emu")) return;
  const std::string backend = absl::StrCat(base_, "/", id.domain, "/", id.device);
  auto backend_state = Read(backend + "/state");
  if (!backend_state) return;  // no such vif: not a Xen guest's context
  const std::string frontend = Read(backend + "/frontend").value_or("");
  int state = 0;
  const bool connected = !frontend.empty() &&
                         absl::SimpleAtoi(Read(frontend + "/state").value_or(""), &state) &&
                         state == kXenbusStateConnected;
  auto in = [this](const std::string& dir) {
    return [this, dir](absl::string_view key) { return Read(absl::StrCat(dir, "/", key)); };
  };
  v1::Offloads want = OffloadsFromXenstore(in(backend), in(frontend), connected);
  if (ctx->has_offloads() &&
      google::protobuf::util::MessageDifferencer::Equals(ctx->offloads(), want)) {
    return;
  }
  v1::Context patch;
  *patch.mutable_offloads() = want;
  google::protobuf::FieldMask mask;
  mask.add_paths("offloads");
  auto updated = registry_->Update(DeviceRef(id), patch, mask);
  if (!updated.ok()) {
    LogWarning("xenstore: domain %u device %u: cannot set offloads: %s", id.domain, id.device,
               updated.status().ToString());
    return;
  }
  LogInfo("xenstore: context %u (domain %u device %u, frontend %s): offloads %s", updated->id(),
          id.domain, id.device, connected ? "connected" : "not connected", want.ShortDebugString());
}

}  // namespace vnet::xen
