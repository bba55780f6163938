#include "daemon/xen/xen_offloads.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vnet::xen {
namespace {

// netback and netfront write "1" for on; anything else, or absence, is off.
bool On(const KeyReader& read, absl::string_view key) {
  std::optional<std::string> v = read(key);
  return v && *v == "1";
}

}  // namespace

v1::Offloads OffloadsFromXenstore(const KeyReader& backend, const KeyReader& frontend,
                                  bool frontend_connected) {
  v1::Offloads o;
  // Guest transmit: netback takes partial checksums from every frontend (it has no key to
  // refuse them), and super-packets and fragmented buffers where it says so.
  o.set_tx_checksum(true);
  o.set_scatter_gather(On(backend, "feature-sg"));
  o.set_tso_v4(On(backend, "feature-gso-tcpv4"));
  o.set_tso_v6(On(backend, "feature-gso-tcpv6"));
  if (!frontend_connected) return o;
  // Guest receive. IPv4 checksum offload is on unless the frontend opts out; IPv6 only if it
  // opts in. The fast path has one receive-checksum flag: both families must take it.
  const bool csum4 = !On(frontend, "feature-no-csum-offload");
  const bool csum6 = On(frontend, "feature-ipv6-csum-offload");
  const bool sg = On(frontend, "feature-sg");
  o.set_rx_checksum(csum4 && csum6);
  o.set_rx_scatter_gather(sg);
  // netback offers TSO to the guest only with SG, and the kernel only with checksum offload.
  o.set_rx_tso_v4(sg && csum4 && On(frontend, "feature-gso-tcpv4"));
  o.set_rx_tso_v6(sg && csum6 && On(frontend, "feature-gso-tcpv6"));
  return o;
}

std::optional<VifId> ParseBackendVifPath(absl::string_view path, absl::string_view base) {
  if (!absl::ConsumePrefix(&path, base) || !absl::ConsumePrefix(&path, "/")) return std::nullopt;
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  VifId id;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &id.domain) ||
      !absl::SimpleAtoi(parts[1], &id.device)) {
    return std::nullopt;
  }
  return id;
}

}  // namespace vnet::xen
