#include "daemon/dataplane/object_prep.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "vnet/abi.h"

namespace vnet {
namespace {

// The kernel adds BPF_F_RDONLY_PROG to every devmap but refuses that flag at creation, so
// libbpf's pin compatibility check can never accept a pinned devmap. It is shared by fd.
constexpr char kDevmap[] = "vnet_xdp_tx";

}  // namespace

absl::Status CheckPinnedCapacity(const std::string& maps_dir, uint32_t capacity) {
  // vnet_ctx holds capacity + 1 records (id 0 is never used); the other sized maps follow.
  const std::string path = maps_dir + "/vnet_ctx";
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return absl::OkStatus();  // nothing pinned yet: this vnetd sizes the maps
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  const int err = bpf_obj_get_info_by_fd(fd, &info, &len);
  close(fd);
  if (err != 0) return absl::ErrnoToStatus(-err, absl::StrCat("read ", path));
  if (info.max_entries == capacity + 1) return absl::OkStatus();
  const uint32_t pinned = info.max_entries - 1;
  return absl::FailedPreconditionError(absl::StrCat(
      "the fast path pinned under ", maps_dir, " was made for capacity ", pinned,
      ", and this vnetd has capacity ", capacity,
      ": maps in use cannot be resized. Start vnetd with capacity ", pinned,
      " again, or run `vnetd --remove_fast_path` first (guests stop forwarding until vnetd "
      "starts again with the new capacity; the contexts are kept in the state file)"));
}

absl::Status PrepareVnetObject(bpf_object* obj, const std::string& maps_dir, uint32_t capacity) {
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    const std::string name = bpf_map__name(map);
    uint32_t n = 0;
    // vnet_if_ctx keeps its VNET_IF_SLOTS: slots are found by ifindex, not by context id.
    if (name == "vnet_fdb" || name == "vnet_if_ctx_more" || name == "vnet_vlan") n = capacity;
    if (name == "vnet_ctx" || name == "vnet_stats" || name == "vnet_limit" ||
        name == "vnet_monitor_state" || name == kDevmap)
      n = capacity + 1;
    if (name == "vnet_ip4" || name == "vnet_ip6") n = capacity * VNET_MAX_ADDRS_PER_CTX;
    if (n != 0 && bpf_map__set_max_entries(map, n) != 0)
      return absl::InternalError(absl::StrCat("size map ", name));
    if (name != kDevmap) continue;
    bpf_map__set_pin_path(map, nullptr);
    const std::string path = maps_dir + "/" + kDevmap;
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) continue;  // first object: creates it, FinishVnetObject pins it
    int err = bpf_map__reuse_fd(map, fd);
    close(fd);
    if (err) return absl::ErrnoToStatus(-err, absl::StrCat("reuse ", path));
  }
  return absl::OkStatus();
}

absl::Status FinishVnetObject(bpf_object* obj, const std::string& maps_dir) {
  bpf_map* map = bpf_object__find_map_by_name(obj, kDevmap);
  if (!map) return absl::OkStatus();
  const std::string path = maps_dir + "/" + kDevmap;
  if (access(path.c_str(), F_OK) == 0) return absl::OkStatus();
  int err = bpf_map__pin(map, path.c_str());
  if (err) return absl::ErrnoToStatus(-err, absl::StrCat("pin ", path));
  return absl::OkStatus();
}

}  // namespace vnet
