// vnetd: embedded defaults, then /etc/vnet/vnetd.conf (or --config), then flags.
#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "daemon/core/config.h"
#include "daemon/core/log.h"
#include "daemon/server.h"

ABSL_FLAG(std::string, config, "",
          "config file (protobuf text); default /etc/vnet/vnetd.conf if present");
ABSL_FLAG(std::string, unix_socket, "", "Unix socket to listen on (default /run/vnet/vnetd.sock)");
ABSL_FLAG(std::string, tcp_address, "", "also listen on this TCP address, e.g. 127.0.0.1:50051");
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
ABSL_FLAG(bool, remove_fast_path, false,
          "detach every vnet program and delete its pins, then exit (contexts stay assigned)");
ABSL_FLAG(std::string, fast_path, "",
          "data plane: bpf (default: XDP/TC programs, needs root) or none (contexts are "
          "bookkeeping only)");

ABSL_FLAG(uint32_t, drop_events_per_second, 0,
          "drop events per second and context while someone watches (default 100)");
ABSL_FLAG(uint32_t, max_drop_watchers, 0, "drop-event watchers at once (default 8, at most 64)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "vnet daemon: assigns per-guest contexts over gRPC and drives the fast path.\n"
      "Usage: vnetd [--config FILE] [--unix_socket PATH] [--tcp_address HOST:PORT] ...");
  absl::ParseCommandLine(argc, argv);

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
