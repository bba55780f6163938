// vnetd's gRPC server: config in, registry and services up, listeners open, clean shutdown.
#pragma once

#include <grpcpp/server.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/auth/audit_log.h"
#include "daemon/auth/unix_listener.h"
#include "daemon/core/context_registry.h"
#include "daemon/core/dataplane.h"
#include "daemon/ledger/buffer_ledger.h"
#include "daemon/ledger/file_journal.h"
#include "daemon/metrics/counters.h"
#include "daemon/metrics/drop_event_collector.h"
#include "daemon/metrics/metrics_server.h"
#include "daemon/metrics/rpc_metrics.h"
#include "daemon/monitor/drop_event_hub.h"
#include "daemon/monitor/ring_reader.h"
#include "daemon/service/buffer_service.h"
#include "daemon/service/context_service.h"
#include "daemon/service/daemon_service.h"
#include "daemon/service/monitor_service.h"
#include "daemon/service/stats_service.h"
#include "daemon/service/systemd_notify.h"
#include "daemon/service/write_pool.h"
#include "daemon/xen/xenstore_watcher.h"
#include "vnet/v1/daemon.pb.h"

namespace vnet {

// What vnetd holds for calls (docs/operations.md, "Limits"); tests make them small.
struct ServerLimits {
  // Threads that run the changes waiting for the disk (group commit, region files), and how
  // many changes may wait for one of them before new ones are refused RESOURCE_EXHAUSTED.
  size_t write_threads;
  size_t max_queued_writes;
  static ServerLimits Default();
};

class VnetServer {
 public:
  // Locks the state directory, restores state through `dataplane` (not owned, must outlive
  // the server) and starts listening. Health checking and reflection are on.
  static absl::StatusOr<std::unique_ptr<VnetServer>> Start(
      const v1::DaemonConfig& config, Dataplane* dataplane,
      const ServerLimits& limits = ServerLimits::Default());
  ~VnetServer();

  // Finishes in-flight calls (up to a grace period), persists, removes the socket.
  absl::Status Shutdown();

  ContextRegistry& registry() { return registry_; }
  ledger::BufferLedger& ledger() { return ledger_; }
  ledger::FileJournal& journal() { return journal_; }
  const WritePool& write_pool() const { return *writes_; }
  const std::vector<std::string>& listen_addresses() const { return listen_addresses_; }

 private:
  VnetServer(const v1::DaemonConfig& config, Dataplane* dataplane, int lock_fd);
  // Drop events: hub and ring reader when the data plane has a ring; none otherwise.
  void StartDropEvents(Dataplane* dataplane);
  std::function<metrics::DropEventFigures()> DropEventFigures(const Dataplane* dataplane) const;

  v1::DaemonConfig config_;
  int lock_fd_;
  ContextRegistry registry_;
  ledger::FileJournal journal_;  // before ledger_, which writes through it
  ledger::BufferLedger ledger_;
  std::vector<std::string> listen_addresses_;
  std::unique_ptr<auth::AuditLog> audit_log_;  // before server_: outlives the calls
  std::unique_ptr<WritePool> writes_;          // before server_: its jobs finish calls
  std::unique_ptr<ContextServiceImpl> context_service_;
  std::unique_ptr<BufferServiceImpl> buffer_service_;
  std::unique_ptr<DaemonServiceImpl> daemon_service_;
  std::unique_ptr<metrics::CounterSource> counter_source_;  // null without the BPF fast path
  metrics::RpcMetrics rpc_metrics_;
  std::unique_ptr<StatsServiceImpl> stats_service_;
  // Drop events (null without a fast path): the hub outlives the reader and the streams.
  std::unique_ptr<monitor::DropEventHub> drop_hub_;
  std::unique_ptr<monitor::RingReader> drop_reader_;
  std::unique_ptr<MonitorServiceImpl> monitor_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<auth::UnixListener> unix_listener_;       // hands connections to server_
  std::unique_ptr<xen::XenstoreWatcher> xen_watcher_;       // null: not following xenstore
  std::unique_ptr<metrics::MetricsServer> metrics_server_;  // last: stops before what it reads
  std::unique_ptr<Watchdog> watchdog_;                      // probes server_; stopped first
  bool stopped_ = false;
};

struct DaemonOptions {
  v1::DaemonConfig config;  // its fast_path chooses the data plane
};

// Detaches every program vnet attached and deletes its pins, then returns: the explicit
// teardown (a stopped or dead vnetd leaves the fast path forwarding on purpose).
// The contexts stay in the state file; the next vnetd start attaches them again.
absl::Status RemoveFastPath(const v1::DaemonConfig& config);

// Runs until SIGTERM or SIGINT; then finishes in-flight calls, persists and returns OK.
absl::Status RunDaemon(const DaemonOptions& options);

}  // namespace vnet
