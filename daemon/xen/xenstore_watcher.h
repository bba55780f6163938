// Keeps the offloads of Xen guests' contexts in line with what netback and the frontend
// negotiated, as the frontend connects and reconnects (module reload, migration, reboot),
// with nobody typing a command. A xenstore watch on this domain's backend/vif directory
// wakes it; at start it also reconciles every context, so a restarted vnetd catches up.
//
// Which contexts: those whose (domain, device) has a backend directory in xenstore and whose
// interface is not an emulated NIC (vifD.N-emu). Their offloads are owned by xenstore: an
// update by hand lasts until the next change of the frontend's state.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "daemon/core/context_registry.h"
#include "daemon/xen/xen_offloads.h"

struct xs_handle;

namespace vnet::xen {

class XenstoreWatcher {
 public:
  // nullptr when no xenstore is reachable here (not a Xen dom0, or no xenstored): logged
  // at info level, not an error, since vnet runs on any host.
  static std::unique_ptr<XenstoreWatcher> Start(ContextRegistry* registry);
  ~XenstoreWatcher();  // stops and joins the thread
  XenstoreWatcher(const XenstoreWatcher&) = delete;
  XenstoreWatcher& operator=(const XenstoreWatcher&) = delete;

 private:
  XenstoreWatcher(ContextRegistry* registry, xs_handle* xs, std::string base, int wake[2]);
  void Run();
  void ReconcileAll();
  void Reconcile(VifId id);
  std::optional<std::string> Read(const std::string& path);

  ContextRegistry* registry_;
  xs_handle* xs_;
  const std::string base_;  // /local/domain/<this domain>/backend/vif
  int wake_read_;
  int wake_write_;
  std::thread thread_;
};

}  // namespace vnet::xen
