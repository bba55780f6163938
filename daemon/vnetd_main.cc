// vnetd: embedded defaults, then /etc/vnet/vnetd.conf (or --config), then flags.
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "daemon/core/config.h"
#include "daemon/core/log.h"
#include "daemon/core/protobuf_log.h"
#include "daemon/server.h"

ABSL_FLAG(std::string, config, "",
          "config file (protobuf text); default /etc/vnet/vnetd.conf if present");
ABSL_FLAG(std::string, unix_socket, "", "Unix socket to listen on (default /run/vnet/vnetd.sock)");
ABSL_FLAG(std::string, tcp_address, "", "also listen on this TCP address, e.g. 127.0.0.1:50051");
ABSL_FLAG(std::string, tls_cert, "", "vnetd's PEM certificate for TCP (mutual TLS)");
ABSL_FLAG(std::string, tls_key, "", "its PEM private key");
ABSL_FLAG(std::string, tls_client_ca, "", "PEM CA that signs client certificates");
ABSL_FLAG(bool, tcp_insecure_loopback, false,
          "allow TCP without TLS on a loopback tcp_address (every local process then has "
          "tcp_insecure_role, default reader)");
ABSL_FLAG(std::vector<std::string>, allowed_uplinks, {},
          "interfaces that SetUplink and the uplink flag may name: comma-separated glob "
          "patterns (default: only the configured uplink)");
ABSL_FLAG(std::string, state_dir, "", "where contexts are persisted (default /var/lib/vnet)");
ABSL_FLAG(uint32_t, capacity, 0, "context pool size (default 128, at most 65535)");
ABSL_FLAG(std::string, metrics_address, "",
          "Prometheus /metrics address (default 127.0.0.1:9464; off: none)");
ABSL_FLAG(std::string, uplink, "", "uplink interface that gets the XDP program");
ABSL_FLAG(uint32_t, native_vlan, 0,
          "VLAN that crosses the uplink untagged (default 1; 4095: none, all tagged)");
ABSL_FLAG(std::string, xenstore, "",
          "auto (default): Xen guests' offloads follow xenstore where it is reachable; off");
ABSL_FLAG(std::string, bpf_pin_dir, "", "BPF pin directory (default /sys/fs/bpf/vnet)");
ABSL_FLAG(std::string, tc_attach, "",
          "how TC programs attach: auto (default: tcx links on Linux 6.6+, else cls_bpf "
          "filters), tcx or cls_bpf");
ABSL_FLAG(std::string, uplink_delivery, "",
          "which uplink hook delivers wire->guest frames: auto (default: TC for a veth "
          "uplink, XDP where the driver runs it natively, else TC), xdp or tc");
ABSL_FLAG(bool, remove_fast_path, false,
          "detach every vnet program (only vnet's: other tools' filters and programs stay) and "
          "delete its pins, then exit (contexts stay assigned)");
ABSL_FLAG(std::string, fast_path, "",
          "data plane: bpf (default: XDP/TC programs, needs root) or none (contexts are "
          "bookkeeping only)");

ABSL_FLAG(uint32_t, drop_events_per_second, 0,
          "drop events per second and context while someone watches (default 100)");
ABSL_FLAG(uint32_t, max_drop_watchers, 0, "drop-event watchers at once (default 8, at most 64)");
ABSL_FLAG(uint32_t, max_changes_per_second, 0,
          "changes started per second, all callers together; more wait in the write queue "
          "(default 500, at most 1000000)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "vnet daemon: assigns per-guest contexts over gRPC and drives the fast path.\n"
      "Usage: vnetd [--config FILE] [--unix_socket PATH] [--tcp_address HOST:PORT] ...");
  absl::ParseCommandLine(argc, argv);
  vnet::RouteProtobufLogs();
  // The Debian Abseil keeps mutex deadlock detection on, which spent about an eighth of
  // vnetd's CPU under 1000 writing clients; the tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  const std::string explicit_config = absl::GetFlag(FLAGS_config);
  auto config =
      vnet::LoadConfig(explicit_config.empty() ? vnet::kDefaultConfigPath : explicit_config,
                       /*required=*/!explicit_config.empty());
  if (!config.ok()) {
    vnet::LogError("vnetd: %s", config.status().message());
    return 2;
  }
  auto override_string = [](const std::string& value, std::string* field) {
    if (!value.empty()) *field = value;
  };
  override_string(absl::GetFlag(FLAGS_unix_socket), config->mutable_unix_socket());
  override_string(absl::GetFlag(FLAGS_tcp_address), config->mutable_tcp_address());
  override_string(absl::GetFlag(FLAGS_state_dir), config->mutable_state_dir());
  override_string(absl::GetFlag(FLAGS_tls_cert), config->mutable_tls()->mutable_server_cert_file());
  override_string(absl::GetFlag(FLAGS_tls_key), config->mutable_tls()->mutable_server_key_file());
  override_string(absl::GetFlag(FLAGS_tls_client_ca),
                  config->mutable_tls()->mutable_client_ca_file());
  if (absl::GetFlag(FLAGS_tcp_insecure_loopback)) config->set_tcp_insecure_loopback(true);
  if (const auto allowed = absl::GetFlag(FLAGS_allowed_uplinks); !allowed.empty()) {
    config->clear_allowed_uplinks();
    for (const std::string& pattern : allowed) {
      if (!pattern.empty()) config->add_allowed_uplinks(pattern);
    }
  }
  // "off" turns /metrics off (an empty flag value means "not given").
  const std::string metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (metrics_address == "off") {
    config->set_metrics_address("");
  } else if (!metrics_address.empty()) {
    config->set_metrics_address(metrics_address);
  }
  override_string(absl::GetFlag(FLAGS_uplink), config->mutable_uplink());
  override_string(absl::GetFlag(FLAGS_bpf_pin_dir), config->mutable_bpf_pin_dir());
  override_string(absl::GetFlag(FLAGS_xenstore), config->mutable_xenstore());
  override_string(absl::GetFlag(FLAGS_fast_path), config->mutable_fast_path());
  override_string(absl::GetFlag(FLAGS_tc_attach), config->mutable_tc_attach());
  override_string(absl::GetFlag(FLAGS_uplink_delivery), config->mutable_uplink_delivery());
  if (absl::GetFlag(FLAGS_capacity) != 0) config->set_capacity(absl::GetFlag(FLAGS_capacity));
  if (absl::GetFlag(FLAGS_native_vlan) != 0) {
    config->set_native_vlan(absl::GetFlag(FLAGS_native_vlan));
  }
  if (absl::GetFlag(FLAGS_drop_events_per_second) != 0) {
    config->set_drop_events_per_second(absl::GetFlag(FLAGS_drop_events_per_second));
  }
  if (absl::GetFlag(FLAGS_max_drop_watchers) != 0) {
    config->set_max_drop_watchers(absl::GetFlag(FLAGS_max_drop_watchers));
  }
  if (absl::GetFlag(FLAGS_max_changes_per_second) != 0) {
    config->set_max_changes_per_second(absl::GetFlag(FLAGS_max_changes_per_second));
  }
  if (auto s = vnet::ValidateConfig(*config); !s.ok()) {
    vnet::LogError("vnetd: config: %s", s.message());
    return 2;
  }

  if (absl::GetFlag(FLAGS_remove_fast_path)) {
    if (auto s = vnet::RemoveFastPath(*config); !s.ok()) {
      vnet::LogError("vnetd: %s", s.ToString());
      return 1;
    }
    return 0;
  }
  vnet::DaemonOptions options;
  options.config = *config;
  if (auto s = vnet::RunDaemon(options); !s.ok()) {
    vnet::LogError("vnetd: %s", s.ToString());
    return 1;
  }
  return 0;
}
