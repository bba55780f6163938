#include "daemon/server.h"

#include <fcntl.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/auth/role_gate.h"
#include "daemon/auth/tls_identity.h"
#include "daemon/core/config.h"
#include "daemon/core/context_registry.h"
#include "daemon/core/listen_policy.h"
#include "daemon/core/log.h"
#include "daemon/core/make_dirs.h"
#include "daemon/core/uplink_policy.h"
#include "daemon/dataplane/bpf_dataplane.h"
#include "daemon/ledger/in_flight_file.h"
#include "daemon/metrics/context_collector.h"
#include "daemon/metrics/daemon_collector.h"
#include "daemon/metrics/dataplane_counter_source.h"
#include "daemon/metrics/drop_event_collector.h"
#include "daemon/metrics/ledger_collector.h"
#include "daemon/service/buffer_restore.h"
#include "daemon/service/context_service.h"
#include "daemon/service/daemon_service.h"
#include "daemon/service/request_errors.h"
#include "daemon/service/systemd_notify.h"

namespace vnet {
namespace {

// Bounds on what clients can make vnetd hold (docs/operations.md, "Limits").
// Our services use gRPC's callback API: no thread per call or stream. Reads and the buffer
// data path answer on gRPC's threads; changes that wait for the disk run on kWriteThreads
// of our own, with at most kMaxQueuedWrites waiting (then RESOURCE_EXHAUSTED, nothing
// changed). The threads let the registry's group commit gather that many changes per write.
constexpr size_t kWriteThreads = 32;
constexpr size_t kMaxQueuedWrites = 4096;
// Only reflection still uses the synchronous API (a thread per call): a few at once.
constexpr int kMaxSyncThreads = 8;
// Streams (calls) open at once on one connection.
constexpr int kMaxStreamsPerConnection = 64;
// A connection with no call open for this long is closed (its file descriptor freed).
constexpr int kMaxConnectionIdleMs = 5 * 60 * 1000;
// A connection that has not finished the HTTP/2 handshake by then is closed: idle raw
// connections cannot hold file descriptors for long.
constexpr int kHandshakeTimeoutMs = 10 * 1000;

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

// One daemon per state directory: a second one would fight over the state file and pins.
absl::StatusOr<int> LockStateDir(const std::string& dir) {
  if (auto s = MakeDirs(dir, 0750); !s.ok()) return s;
  const std::string path = dir + "/vnetd.lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("another vnetd holds ", path, ": one daemon per state directory"));
  }
  return fd;
}

// A socket file left by a daemon that died would make bind fail.
absl::Status PrepareUnixSocket(const std::string& path) {
  if (auto s = MakeDirs(DirName(path), 0755); !s.ok()) return s;
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a socket"));
    }
    unlink(path.c_str());
  }
  return absl::OkStatus();
}

int WaitForStopSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace

ServerLimits ServerLimits::Default() { return {kWriteThreads, kMaxQueuedWrites}; }

VnetServer::VnetServer(const v1::DaemonConfig& config, Dataplane* dataplane, int lock_fd)
    : config_(config),
      lock_fd_(lock_fd),
      registry_(config.capacity(), StateFile(config.state_dir()), dataplane),
      journal_(config.state_dir() + "/ledger", ledger::LedgerLimits().max_in_flight_per_context,
               ledger::CurrentBootId()),
      ledger_(LedgerLimitsFrom(config), &journal_) {}

VnetServer::~VnetServer() {
  if (!stopped_) {
    (void)Shutdown();
  } else if (lock_fd_ >= 0) {
    close(lock_fd_);
  }
}

absl::StatusOr<std::unique_ptr<VnetServer>> VnetServer::Start(const v1::DaemonConfig& config,
                                                              Dataplane* dataplane,
                                                              const ServerLimits& limits) {
  auto lock_fd = LockStateDir(config.state_dir());
  if (!lock_fd.ok()) return lock_fd.status();
  std::unique_ptr<VnetServer> self(new VnetServer(config, dataplane, *lock_fd));
  self->stopped_ = true;  // nothing to shut down until the server runs
  if (auto s = dataplane->Init(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("fast path: ", s.message()));
  }
  if (auto s = self->registry_.Start(); !s.ok()) return s;
  if (auto s = RestoreBuffers(&self->journal_, &self->ledger_, self->registry_); !s.ok()) return s;
  // An uplink set through the API comes back, unless the config names one (that wins).
  if (config.uplink().empty() && !self->registry_.uplink().empty() && dataplane->attaches()) {
    if (auto allowed = CheckUplinkAllowed(config, self->registry_.uplink()); !allowed.ok()) {
      LogWarning("uplink from the state file not attached: %s", allowed.message());
    } else if (auto s = self->registry_.SetUplink(self->registry_.uplink()); !s.ok()) {
      LogWarning("uplink %s: %s", self->registry_.uplink(), s.ToString());
    }
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  grpc::ResourceQuota quota("vnetd");
  quota.SetMaxThreads(kMaxSyncThreads);
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerConnection);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, kMaxConnectionIdleMs);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, kHandshakeTimeoutMs);
  const std::string audit_path =
      config.audit_log().empty() ? config.state_dir() + "/audit.log" : config.audit_log();
  auto audit_log = auth::AuditLog::Open(audit_path);
  if (!audit_log.ok()) return audit_log.status();
  self->audit_log_ = *std::move(audit_log);
  // The Unix socket: vnetd accepts, reads the caller's peer credentials and hands the
  // connection to gRPC under the caller's role (daemon/auth/unix_listener.h).
  if (!config.unix_socket().empty()) {
    if (auto s = PrepareUnixSocket(config.unix_socket()); !s.ok()) return s;
    auto listener = auth::UnixListener::Create(config.unix_socket(), config.unix_access(),
                                               self->audit_log_.get(), &builder);
    if (!listener.ok()) return listener.status();
    self->unix_listener_ = *std::move(listener);
    self->listen_addresses_.push_back("unix:" + config.unix_socket());
  }
  // TCP: mutual TLS, the role from the client certificate; or, explicitly allowed on
  // loopback only (ValidateListenSecurity), no TLS and one role for every local process.
  int tcp_port = 0;
  if (!config.tcp_address().empty()) {
    std::shared_ptr<grpc::ServerCredentials> credentials;
    std::shared_ptr<auth::RoleGate> gate;
    if (TlsConfigured(config)) {
      auto tls = auth::MutualTlsCredentials(config.tls());
      if (!tls.ok()) return tls.status();
      credentials = *tls;
      gate = std::make_shared<auth::RoleGate>(auth::CallerFromCertificate, self->audit_log_.get());
    } else {
      const auth::Role role =
          auth::ParseRole(config.tcp_insecure_role()).value_or(auth::Role::kReader);
      credentials = grpc::experimental::LocalServerCredentials(LOCAL_TCP);
      gate = std::make_shared<auth::RoleGate>(auth::FixedCaller({"loopback TCP without TLS", role}),
                                              self->audit_log_.get());
      LogWarning("TCP %s without TLS: every local process is %s", config.tcp_address(),
                 auth::RoleName(role));
    }
    credentials->SetAuthMetadataProcessor(gate);
    builder.AddListeningPort(config.tcp_address(), credentials, &tcp_port);
    self->listen_addresses_.push_back(config.tcp_address());
  }
  // Releases that bypass ContextService (none today) still drop the context's regions.
  ReleaseBuffersWithContexts(&self->registry_, &self->ledger_, absl::Seconds(2));
  self->writes_ = std::make_unique<WritePool>(limits.write_threads, limits.max_queued_writes,
                                              config.max_changes_per_second());
  WritePool* writes = self->writes_.get();
  self->context_service_ =
      std::make_unique<ContextServiceImpl>(&self->registry_, &self->ledger_, writes);
  self->buffer_service_ =
      std::make_unique<BufferServiceImpl>(&self->ledger_, ContextsIn(&self->registry_), writes);
  self->daemon_service_ = std::make_unique<DaemonServiceImpl>(config, self->listen_addresses_,
                                                              &self->registry_, dataplane, writes);
  builder.RegisterService(self->context_service_.get());
  builder.RegisterService(self->buffer_service_.get());
  builder.RegisterService(self->daemon_service_.get());

  // Metrics: counters from the BPF fast path (none without it), the RPC interceptor, the
  // stats service, and /metrics once the server runs.
  metrics::AttachStateFn attach_state;
  if (dataplane->attaches()) {
    self->counter_source_ =
        std::make_unique<metrics::DataplaneCounterSource>(dataplane, config.capacity());
    attach_state = metrics::DataplaneAttachState(dataplane, metrics::ViewOf(&self->registry_));
  }
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  // First, so the metrics and the audit log see the status it corrects.
  creators.push_back(NewRequestErrorInterceptorFactory());
  creators.push_back(self->rpc_metrics_.NewInterceptorFactory());
  creators.push_back(auth::NewAuditInterceptorFactory(self->audit_log_.get()));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  self->stats_service_ =
      std::make_unique<StatsServiceImpl>(&self->registry_, self->counter_source_.get());
  builder.RegisterService(self->stats_service_.get());
  self->StartDropEvents(dataplane);
  self->monitor_service_ = std::make_unique<MonitorServiceImpl>(self->drop_hub_.get());
  builder.RegisterService(self->monitor_service_.get());

  self->server_ = builder.BuildAndStart();
  if (!self->server_) return absl::UnavailableError("gRPC server failed to start");
  self->stopped_ = false;
  if (!config.tcp_address().empty() && tcp_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.tcp_address()));
  }
  if (self->unix_listener_) self->unix_listener_->Start();
  if (!config.metrics_address().empty()) {
    const ledger::BufferLedger* ledger = &self->ledger_;
    auto metrics_server = metrics::MetricsServer::Start(
        config.metrics_address(),
        {std::make_shared<metrics::ContextCollector>(metrics::ViewOf(&self->registry_),
                                                     self->counter_source_.get()),
         std::make_shared<metrics::DaemonCollector>(metrics::ViewOf(&self->registry_), attach_state,
                                                    self->counter_source_.get()),
         std::make_shared<metrics::LedgerCollector>([ledger] { return ledger->Snapshot(); }),
         std::make_shared<metrics::DropEventCollector>(self->DropEventFigures(dataplane)),
         self->rpc_metrics_.registry()});
    // Guests' networking matters more than metrics: run on and say so (Prometheus' up == 0
    // alerts too).
    if (metrics_server.ok()) {
      self->metrics_server_ = *std::move(metrics_server);
      LogInfo("metrics on http://%s/metrics", self->metrics_server_->address());
    } else {
      LogError("metrics: %s", metrics_server.status().message());
    }
  }
  if (config.xenstore() != "off") {
    self->xen_watcher_ = xen::XenstoreWatcher::Start(&self->registry_);
  }
  if (const absl::Duration interval = WatchdogInterval();
      interval > absl::ZeroDuration() && !config.unix_socket().empty()) {
    self->watchdog_ = std::make_unique<Watchdog>("unix:" + config.unix_socket(), interval);
    LogInfo("watchdog: probing the socket every %s", absl::FormatDuration(interval / 2));
  }
  return self;
}

void VnetServer::StartDropEvents(Dataplane* dataplane) {
  const int ring_fd = dataplane->DropEventRingFd();
  if (ring_fd < 0) return;
  const uint32_t per_second = config_.drop_events_per_second();
  // A vnetd that died while someone watched left the programs producing events: off until
  // a watcher comes.
  if (auto s = dataplane->SetDropEvents(false, per_second); !s.ok()) {
    LogWarning("drop events: %s", s.ToString());
  }
  monitor::DropEventHub::Options options;
  options.max_watchers = config_.max_drop_watchers();
  drop_hub_ = std::make_unique<monitor::DropEventHub>(options, [dataplane, per_second](bool on) {
    if (auto s = dataplane->SetDropEvents(on, per_second); !s.ok()) {
      LogWarning("drop events %s: %s", on ? "on" : "off", s.ToString());
    }
  });
  auto reader = monitor::RingReader::Start(ring_fd, drop_hub_.get());
  if (!reader.ok()) {
    LogError("%s; WatchDrops is unavailable", reader.status().message());
    drop_hub_.reset();
    return;
  }
  drop_reader_ = *std::move(reader);
}

std::function<metrics::DropEventFigures()> VnetServer::DropEventFigures(
    const Dataplane* dataplane) const {
  const monitor::DropEventHub* hub = drop_hub_.get();
  return [hub, dataplane] {
    metrics::DropEventFigures f;
    if (hub == nullptr) return f;
    const monitor::HubCounters c = hub->counters();
    f.watcher_drops = c.watcher_drops;
    f.watchers_refused = c.refused;
    f.watchers = c.watchers;
    if (auto fast = dataplane->ReadDropEventCounters(); fast.ok()) {
      f.emitted = fast->emitted;
      f.suppressed = fast->suppressed;
      f.ring_full = fast->ring_full;
    }
    return f;
  };
}

absl::Status VnetServer::Shutdown() {
  if (stopped_) return absl::OkStatus();
  stopped_ = true;
  watchdog_.reset();
  if (unix_listener_) unix_listener_->Stop();  // no new connections
  xen_watcher_.reset();                        // no registry update may start after this
  metrics_server_.reset();
  if (drop_hub_) drop_hub_->Close();  // drop-event streams end now, not at the grace period
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server_->Wait();
  writes_->Stop();  // every call has finished: nothing is queued any more
  absl::Status saved = registry_.Persist();
  unix_listener_.reset();  // removes the socket
  close(lock_fd_);
  lock_fd_ = -1;
  return saved;
}

absl::Status RemoveFastPath(const v1::DaemonConfig& config) {
  // Under the state directory's lock, so a running vnetd is never pulled from under.
  auto lock_fd = LockStateDir(config.state_dir());
  if (!lock_fd.ok()) return lock_fd.status();
  BpfDataplaneOptions options;
  options.pin_dir = config.bpf_pin_dir();
  options.capacity = config.capacity();
  if (auto mode = ParseTcAttachMode(config.tc_attach()); mode.ok()) options.tc_attach = *mode;
  BpfDataplane dataplane(options);  // no uplink: Init must not attach one
  // RemoveAll works without a successful Init too: pins of an older, incompatible build
  // make Init fail, and this is the way out of that.
  absl::Status init = dataplane.Init();
  if (!init.ok()) LogWarning("fast path init: %s; removing what is pinned anyway", init.ToString());
  absl::Status s = dataplane.RemoveAll();
  close(*lock_fd);
  if (s.ok()) LogInfo("fast path removed: programs detached, %s deleted", config.bpf_pin_dir());
  return s;
}

absl::Status RunDaemon(const DaemonOptions& options) {
  const v1::DaemonConfig& config = options.config;
  // Block the stop signals before any thread starts, so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Connections and streams each hold a descriptor: take what the hard limit allows (the
  // unit raises it; see docs/operations.md).
  if (rlimit nofile{};
      getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &nofile) != 0) {
      LogWarning("cannot raise the open-files limit: %s", std::strerror(errno));
    }
  }

  std::unique_ptr<Dataplane> dataplane;
  if (config.fast_path() == "bpf") {
    BpfDataplaneOptions bpf;
    bpf.pin_dir = config.bpf_pin_dir();
    bpf.uplink = config.uplink();
    bpf.capacity = config.capacity();
    bpf.native_vlan = config.native_vlan() > 4094 ? 0 : static_cast<uint16_t>(config.native_vlan());
    if (auto mode = ParseTcAttachMode(config.tc_attach()); mode.ok()) bpf.tc_attach = *mode;
    if (auto d = ParseUplinkDelivery(config.uplink_delivery()); d.ok()) bpf.uplink_delivery = *d;
    dataplane = std::make_unique<BpfDataplane>(bpf);
  } else {
    dataplane = std::make_unique<NoDataplane>();
  }
  auto server = VnetServer::Start(config, dataplane.get());
  if (!server.ok()) return server.status();
  LogInfo("vnetd %s listening on %s; %d of %d contexts in use; fast path: %s", VNET_VERSION,
          absl::StrJoin((*server)->listen_addresses(), ", "), (*server)->registry().size(),
          (*server)->registry().capacity(), dataplane->Describe());
  if (config.fast_path() == "bpf") {
    LogInfo("stopping leaves the fast path forwarding; pins stay in %s", config.bpf_pin_dir());
  }

  SdNotify("READY=1");
  const int sig = WaitForStopSignal();
  SdNotify("STOPPING=1");
  LogInfo("signal %d: finishing in-flight calls", sig);
  if (auto s = (*server)->Shutdown(); !s.ok()) {
    LogError("final persist failed: %s", s.ToString());
    return s;
  }
  LogInfo("stopped; state saved in %s", config.state_dir());
  return absl::OkStatus();
}

}  // namespace vnet
