#include "daemon/core/config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/core/context_pool.h"
#include "daemon/core/listen_policy.h"
#include "daemon/core/uplink_policy.h"
#include "google/protobuf/text_format.h"

namespace vnet {

v1::DaemonConfig DefaultConfig() {
  v1::DaemonConfig config;
  config.set_unix_socket("/run/vnet/vnetd.sock");
  config.set_state_dir("/var/lib/vnet");
  config.set_capacity(kDefaultCapacity);
  config.set_metrics_address("127.0.0.1:9464");
  config.set_bpf_pin_dir("/sys/fs/bpf/vnet");
  config.set_native_vlan(1);
  config.set_xenstore("auto");
  config.set_fast_path("bpf");
  config.set_tc_attach("auto");
  config.set_uplink_delivery("auto");
  config.set_drop_events_per_second(kDefaultDropEventsPerSecond);
  config.set_max_drop_watchers(kDefaultMaxDropWatchers);
  config.set_max_in_flight_descriptors(kDefaultMaxInFlightDescriptors);
  config.set_max_changes_per_second(kDefaultMaxChangesPerSecond);
  return config;
}

absl::StatusOr<v1::DaemonConfig> LoadConfig(const std::string& path, bool required) {
  v1::DaemonConfig config = DefaultConfig();
  std::ifstream in(path);
  if (!in) {
    if (!required) return config;
    return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  v1::DaemonConfig from_file;
  google::protobuf::TextFormat::Parser parser;
  if (!parser.ParseFromString(text.str(), &from_file)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", path, " is not a valid vnet.v1.DaemonConfig text proto"));
  }
  config.MergeFrom(from_file);  // proto3: only fields set in the file override
  return config;
}

absl::Status ValidateConfig(const v1::DaemonConfig& config) {
  if (config.capacity() < 1 || config.capacity() > kMaxCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("capacity: ", config.capacity(), " is not in 1..", kMaxCapacity));
  }
  if (config.native_vlan() < 1 || config.native_vlan() > 4095) {
    return absl::InvalidArgumentError(absl::StrCat("native_vlan: ", config.native_vlan(),
                                                   " is not a VLAN 1..4094 (or 4095 for none)"));
  }
  if (config.drop_events_per_second() < 1 ||
      config.drop_events_per_second() > kMaxDropEventsPerSecond) {
    return absl::InvalidArgumentError(
        absl::StrCat("drop_events_per_second: ", config.drop_events_per_second(), " is not in 1..",
                     kMaxDropEventsPerSecond));
  }
  if (config.max_drop_watchers() < 1 || config.max_drop_watchers() > kMaxDropWatchers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_drop_watchers: ", config.max_drop_watchers(), " is not in 1..", kMaxDropWatchers));
  }
  if (config.max_changes_per_second() < 1 ||
      config.max_changes_per_second() > kMaxChangesPerSecond) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_changes_per_second: ", config.max_changes_per_second(), " is not in 1..",
                     kMaxChangesPerSecond));
  }
  if (config.max_in_flight_descriptors() < 1) {
    return absl::InvalidArgumentError("max_in_flight_descriptors: 0 is not at least 1");
  }
  if (config.fast_path() != "bpf" && config.fast_path() != "none") {
    return absl::InvalidArgumentError(
        absl::StrCat("fast_path: '", config.fast_path(), "' is not bpf or none"));
  }
  if (config.tc_attach() != "auto" && config.tc_attach() != "tcx" &&
      config.tc_attach() != "cls_bpf") {
    return absl::InvalidArgumentError(
        absl::StrCat("tc_attach: '", config.tc_attach(), "' is not auto, tcx or cls_bpf"));
  }
  if (config.uplink_delivery() != "auto" && config.uplink_delivery() != "xdp" &&
      config.uplink_delivery() != "tc") {
    return absl::InvalidArgumentError(
        absl::StrCat("uplink_delivery: '", config.uplink_delivery(), "' is not auto, xdp or tc"));
  }
  if (config.xenstore() != "auto" && config.xenstore() != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("xenstore: '", config.xenstore(), "' is not auto or off"));
  }
  if (!absl::StartsWith(config.state_dir(), "/")) {
    return absl::InvalidArgumentError("state_dir: must be an absolute path");
  }
  if (config.unix_socket().empty() && config.tcp_address().empty()) {
    return absl::InvalidArgumentError(
        "unix_socket and tcp_address are both empty: nothing to listen on");
  }
  if (auto s = ValidateListenSecurity(config); !s.ok()) return s;
  if (!config.uplink().empty() && !config.allowed_uplinks().empty()) {
    if (auto s = CheckUplinkAllowed(config, config.uplink()); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("uplink: ", s.message()));
    }
  }
  return absl::OkStatus();
}

ledger::LedgerLimits LedgerLimitsFrom(const v1::DaemonConfig& config) {
  ledger::LedgerLimits limits;
  if (config.max_in_flight_descriptors() != 0) {
    limits.max_in_flight_total = config.max_in_flight_descriptors();
  }
  return limits;
}

}  // namespace vnet
